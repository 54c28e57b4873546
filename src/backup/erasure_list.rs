//! The erasure list: one line per citizen who erased their account, kept
//! with the keys (default `<key_dir>/erased-citizens`), outside the database
//! and outside every backup. An erasure is appended and fsync'd before the
//! account is deleted and the erasure acknowledged; `tresor restore` and
//! every start of `tresor serve` delete the citizens it names, so restoring
//! a backup taken before an erasure never makes that citizen readable again.
//!
//! Format: text, a comment line first, then `<citizen id> <RFC 3339 time>`
//! per line. A last line without its line break is a write torn by a crash
//! before the fsync (that erasure was never acknowledged): reading applies
//! it if its id is whole and ignores it otherwise, and the next append cuts
//! it off. Any other malformed line is an error naming its line number: the
//! list is never silently misread.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::ids::CitizenId;

const HEADER: &str = "# tresor erasure list: citizens who erased their account (id, time). \
                      Applied at every restore and start. Never edit; back it up with the keys.\n";

#[derive(Debug, thiserror::Error)]
pub enum ErasureListError {
    #[error(
        "the erasure list {path} does not exist. It lists the citizens who erased their accounts and is kept with \
         the keys: restore it from the key backup first. Only if no citizen ever erased an account, create it \
         empty (touch {path})"
    )]
    Missing { path: PathBuf },
    #[error("the erasure list {path}: {context}: {source}")]
    Io { path: PathBuf, context: &'static str, source: std::io::Error },
    #[error("the erasure list {path} is malformed at line {line}: expected a citizen id (32 lowercase hex characters)")]
    Malformed { path: PathBuf, line: usize },
}

pub type Result<T, E = ErasureListError> = std::result::Result<T, E>;

/// The erasure list at one path. Appends from one process are serialised.
#[derive(Debug)]
pub struct ErasureList {
    path: PathBuf,
    append_lock: Mutex<()>,
}

impl ErasureList {
    pub fn new(path: PathBuf) -> Self {
        Self { path, append_lock: Mutex::new(()) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, context: &'static str) -> impl FnOnce(std::io::Error) -> ErasureListError + '_ {
        move |source| ErasureListError::Io { path: self.path.clone(), context, source }
    }

    /// Create the list empty (its header only) if it does not exist yet;
    /// durable when it returns.
    pub fn ensure_exists(&self) -> Result<()> {
        let _guard = self.append_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.path.exists() {
            return Ok(());
        }
        let mut file = self.open_for_append()?;
        if file.metadata().map_err(self.io("reading its size"))?.len() == 0 {
            file.write_all(HEADER.as_bytes()).map_err(self.io("writing"))?;
        }
        file.sync_all().map_err(self.io("syncing"))?;
        self.sync_directory()
    }

    /// Append `citizen`, durably (file and directory fsync'd) before it
    /// returns: only then may the erasure be acknowledged.
    pub fn append(&self, citizen: &CitizenId, at: DateTime<Utc>) -> Result<()> {
        let _guard = self.append_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut file = self.open_for_append()?;
        let mut length = file.metadata().map_err(self.io("reading its size"))?.len();
        let whole = self.end_of_last_whole_line(&mut file, length)?;
        if whole < length {
            // A torn last line (a crash before its fsync: that erasure was
            // never acknowledged) is cut off, so that no line is ever
            // malformed.
            file.set_len(whole).map_err(self.io("cutting a torn last line"))?;
            length = whole;
        }
        let mut line = String::new();
        if length == 0 {
            line.push_str(HEADER);
        }
        line.push_str(&format!("{citizen} {}\n", at.to_rfc3339_opts(SecondsFormat::Micros, true)));
        // O_APPEND: one write at the end, whatever another process appended.
        file.write_all(line.as_bytes()).map_err(self.io("appending"))?;
        file.sync_all().map_err(self.io("syncing"))?;
        if length == 0 {
            self.sync_directory()?;
        }
        Ok(())
    }

    /// Every citizen on the list, in the order erased (a citizen erased twice
    /// appears twice). A missing list is [`ErasureListError::Missing`].
    pub fn read(&self) -> Result<Vec<CitizenId>> {
        let text = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(ErasureListError::Missing { path: self.path.clone() });
            }
            Err(error) => return Err(self.io("reading")(error)),
        };
        let complete = text.ends_with(b"\n");
        let lines: Vec<&[u8]> = text.split(|byte| *byte == b'\n').collect();
        // `split` yields an empty piece after a final line break.
        let count = if complete { lines.len() - 1 } else { lines.len() };
        let mut citizens = Vec::new();
        for (index, line) in lines.iter().take(count).enumerate() {
            let is_torn_tail = !complete && index + 1 == count;
            let line = String::from_utf8_lossy(line);
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let id = line.split_whitespace().next().unwrap_or_default();
            match id.parse::<CitizenId>() {
                Ok(citizen) => citizens.push(citizen),
                Err(_) if is_torn_tail => {
                    tracing::warn!(path = %self.path.display(), "ignoring a torn last line of the erasure list");
                }
                Err(_) => return Err(ErasureListError::Malformed { path: self.path.clone(), line: index + 1 }),
            }
        }
        Ok(citizens)
    }

    /// The length of the file up to and including its last line break.
    fn end_of_last_whole_line(&self, file: &mut File, length: u64) -> Result<u64> {
        let mut end = length;
        let mut buffer = [0u8; 4096];
        while end > 0 {
            let start = end.saturating_sub(buffer.len() as u64);
            let piece = &mut buffer[..usize::try_from(end - start).unwrap_or(0)];
            file.seek(SeekFrom::Start(start)).map_err(self.io("reading"))?;
            file.read_exact(piece).map_err(self.io("reading"))?;
            if let Some(at) = piece.iter().rposition(|byte| *byte == b'\n') {
                return Ok(start + at as u64 + 1);
            }
            end = start;
        }
        Ok(0)
    }

    fn open_for_append(&self) -> Result<File> {
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.path).map_err(self.io("opening"))
    }

    fn sync_directory(&self) -> Result<()> {
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(directory).and_then(|dir| dir.sync_all()).map_err(self.io("syncing its directory"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn citizen(byte: char) -> CitizenId {
        std::iter::repeat_n(byte, 32).collect::<String>().parse().expect("valid id")
    }

    #[test]
    fn appended_citizens_are_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let list = ErasureList::new(dir.path().join("erased-citizens"));
        assert!(matches!(list.read(), Err(ErasureListError::Missing { .. })));
        list.ensure_exists().expect("create");
        assert!(list.read().expect("empty list").is_empty());
        list.append(&citizen('a'), Utc::now()).expect("append");
        list.append(&citizen('b'), Utc::now()).expect("append");
        assert_eq!(list.read().expect("read"), vec![citizen('a'), citizen('b')]);
    }

    #[test]
    fn a_torn_last_line_is_ignored_and_the_next_append_stays_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("erased-citizens");
        std::fs::write(&path, format!("{HEADER}{} 2026-01-01T00:00:00Z\n{}", citizen('a'), "bbbb")).expect("write");
        let list = ErasureList::new(path.clone());
        assert_eq!(list.read().expect("torn tail ignored"), vec![citizen('a')]);
        list.append(&citizen('c'), Utc::now()).expect("append");
        assert_eq!(list.read().expect("read"), vec![citizen('a'), citizen('c')]);
    }

    #[test]
    fn a_malformed_complete_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("erased-citizens");
        std::fs::write(&path, format!("{HEADER}{}\nnot-an-id\n", citizen('a'))).expect("write");
        let error = ErasureList::new(path).read().expect_err("malformed");
        assert!(matches!(error, ErasureListError::Malformed { line: 3, .. }), "{error}");
    }
}
