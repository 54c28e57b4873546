//! Sealed file chunks of the SQLite store, kept in one append-only file per
//! uploaded file in a directory beside the database. SQLite's own guidance
//! is that large blobs are faster as files; in WAL mode a blob in the
//! database is written twice (log, then checkpoint). The database keeps the
//! chunk index (offset and length per chunk), the pending/complete status and
//! every decision; these files only hold sealed bytes (never plaintext).
//!
//! Durability: chunks of a pending upload are not synced (a crash leaves a
//! pending file that the sweep removes); the blob file and its directory are
//! synced before the evidence that completes it commits.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::ids::FileId;

use super::{Result, StoreError};

#[derive(Debug, Clone)]
pub struct BlobDir {
    dir: PathBuf,
}

fn io_error(context: &str, error: io::Error) -> StoreError {
    StoreError::Corrupt(format!("blob storage: {context}: {error}"))
}

impl BlobDir {
    pub fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| io_error("create directory", e))?;
        Ok(Self { dir })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Write `bytes` at `offset` of the file's blob (created if missing).
    pub async fn write_at(&self, file: &FileId, offset: u64, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(file.as_str());
        run_blocking(move || {
            let blob = OpenOptions::new().create(true).write(true).truncate(false).open(&path)?;
            blob.write_all_at(&bytes, offset)
        })
        .await
        .map_err(|e| io_error("write", e))
    }

    /// Cut the blob back to `length` bytes (undo a failed append).
    pub async fn truncate(&self, file: &FileId, length: u64) -> Result<()> {
        let path = self.path(file.as_str());
        run_blocking(move || OpenOptions::new().write(true).open(&path)?.set_len(length))
            .await
            .map_err(|e| io_error("truncate", e))
    }

    pub async fn read_at(&self, file: &FileId, offset: u64, length: usize) -> Result<Vec<u8>> {
        let path = self.path(file.as_str());
        run_blocking(move || {
            let blob = File::open(&path)?;
            let mut bytes = vec![0u8; length];
            blob.read_exact_at(&mut bytes, offset)?;
            Ok(bytes)
        })
        .await
        .map_err(|e| io_error("read", e))
    }

    /// fsync the blob and the directory entry, before the completing commit.
    pub async fn sync(&self, file: &FileId) -> Result<()> {
        let path = self.path(file.as_str());
        let dir = self.dir.clone();
        run_blocking(move || {
            match File::open(&path) {
                Ok(blob) => blob.sync_all()?,
                // An upload of only an empty chunk has no bytes, hence no file.
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
            File::open(&dir)?.sync_all()
        })
        .await
        .map_err(|e| io_error("sync", e))
    }

    /// Remove blobs; missing ones are fine (already gone).
    pub async fn remove(&self, files: Vec<String>) {
        let dir = self.dir.clone();
        let result = run_blocking(move || {
            for file in files {
                match std::fs::remove_file(dir.join(&file)) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        })
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not remove a blob file; the sweep retries");
        }
    }

    /// Names of blob files last modified before `before` (candidates for the
    /// orphan sweep: blobs whose database rows are gone after a crash).
    pub async fn names_older_than(&self, before: std::time::SystemTime) -> Result<Vec<String>> {
        let dir = self.dir.clone();
        run_blocking(move || {
            let mut names = Vec::new();
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let modified = entry.metadata()?.modified()?;
                if modified < before
                    && let Some(name) = entry.file_name().to_str()
                    && name.parse::<FileId>().is_ok()
                {
                    names.push(name.to_owned());
                }
            }
            Ok(names)
        })
        .await
        .map_err(|e| io_error("list", e))
    }
}

async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(io::Error::other)?
}
