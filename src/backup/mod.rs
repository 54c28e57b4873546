//! Backup and restore of a SQLite vault (`tresor backup`, `tresor backup
//! verify`, `tresor restore`) and the erasure list that keeps erased
//! citizens erased across restores (`erasure_list`).
//!
//! A backup is one tar file: the database as SQLite's online backup API
//! copies it inside one read transaction (a consistent snapshot while the
//! vault serves), the blob file of every complete file that snapshot names,
//! cut at the length the snapshot indexes, and `manifest.json` last (format,
//! versions, time, audit tree size and newest signed checkpoint, SHA-256 and
//! size of every member). Keys are never read and never written: the archive
//! holds the database and blob files only. PostgreSQL is backed up with
//! `pg_dump` (file chunks are rows there); `create` refuses it.
//!
//! Architecture invariant: nothing is half-written. The archive is a
//! temporary file renamed into place after its last fsync; a restore is
//! built and fully checked in a temporary directory inside the target and
//! moved into place only then. The audit log of a backup is checked by the
//! one verifier, `audit::verify::verify_log`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::audit::verify::{VerifyError, verify_log};
use crate::ids::{CitizenId, FileId};
use crate::store::StoreError;
use crate::store::sqlite::SqliteStore;

pub mod erasure_list;
pub mod progress;

pub use erasure_list::{ErasureList, ErasureListError};

/// The archive's format name and the version this build writes and reads.
pub const FORMAT: &str = "tresor-backup";
pub const FORMAT_VERSION: u32 = 1;
/// Member names inside the archive.
pub const DATABASE_MEMBER: &str = "tresor.sqlite";
pub const BLOB_MEMBER_PREFIX: &str = "blobs/";
pub const MANIFEST_MEMBER: &str = "manifest.json";

/// Pages copied per step of the online backup (4 KiB pages: 16 MiB).
const PAGES_PER_STEP: i32 = 4096;
/// How long the backup waits for the live database's locks.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest manifest read (10,000 files take about 1.3 MB).
const MANIFEST_LIMIT: u64 = 256 * 1024 * 1024;
/// Progress is reported at least every this many bytes.
const PROGRESS_EVERY_BYTES: u64 = 8 * 1024 * 1024;
/// A restore builds the vault in a directory of this prefix inside the target.
const RESTORE_STAGING_PREFIX: &str = ".tresor-restore-";

/// What the manifest says about the backup. `members` lists every other
/// member of the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub tresor_version: String,
    pub created_at: DateTime<Utc>,
    /// Always `sqlite` (PostgreSQL is backed up with pg_dump).
    pub backend: String,
    /// The newest database migration applied in the snapshot.
    pub schema_version: i64,
    pub audit: ManifestAudit,
    /// Complete files in the snapshot (each with a blob member unless empty).
    pub files: u64,
    pub members: Vec<ManifestMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestAudit {
    /// Entries in the snapshot's audit log.
    pub tree_size: u64,
    /// The newest signed checkpoint note in the snapshot, if any.
    pub checkpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestMember {
    pub name: String,
    pub size: u64,
    /// SHA-256 of the member's bytes, lowercase hex.
    pub sha256: String,
}

/// The stage a long run is in, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Copying database pages (done / total pages).
    Snapshot,
    /// Writing the archive (bytes).
    Archive,
    /// Reading and checking an archive (bytes).
    Read,
    /// Verifying the audit log (entries).
    AuditLog,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Snapshot => "database snapshot (pages)",
            Stage::Archive => "writing the archive",
            Stage::Read => "reading the archive",
            Stage::AuditLog => "verifying the audit log (entries)",
        }
    }
}

/// Progress of a long run: (stage, done, total).
pub type Progress = Arc<dyn Fn(Stage, u64, u64) + Send + Sync>;

/// No progress display.
pub fn no_progress() -> Progress {
    Arc::new(|_, _, _| {})
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "tresor backup copies the SQLite database only; this vault uses PostgreSQL, where file chunks are rows of \
         the database, so pg_dump holds everything: follow \"Backup and restore\" > \"PostgreSQL\" in the README \
         (pg_dump --format=custom, and the key directory with its erasure list backed up separately)"
    )]
    Postgres,
    #[error("the database URL is neither sqlite:// nor postgres://")]
    UnsupportedUrl,
    #[error("sqlite::memory: is a throwaway database: there is nothing to back up or restore into")]
    InMemory,
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} exists already: a backup never overwrites a file")]
    OutputExists(PathBuf),
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
    #[error("SQLite: {context}: {message}")]
    Sqlite { context: String, message: String },
    #[error(
        "file {file} of the snapshot has a blob of {found} bytes, fewer than the {expected} its chunks index \
         (the database's blob directory is damaged)"
    )]
    BlobShort { file: String, expected: u64, found: u64 },
    #[error("file {0} was deleted while the backup was taken; run the backup again")]
    BlobVanished(String),
    #[error("{path} is not a complete tresor backup: {problem}")]
    Corrupt { path: PathBuf, problem: String },
    #[error("{path}: member {member} does not match the manifest: {problem}")]
    MemberMismatch { path: PathBuf, member: String, problem: String },
    #[error("the database in {path} fails SQLite's integrity check: {problem}")]
    Integrity { path: PathBuf, problem: String },
    #[error("the audit log in {path} does not verify: {source}")]
    AuditLog { path: PathBuf, source: VerifyError },
    #[error(
        "the backup's database is at migration {backup}, newer than this tresor knows ({known}): restore it \
         with tresor {version} or later"
    )]
    SchemaTooNew { backup: i64, known: i64, version: String },
    #[error(
        "{dir} is not empty ({entry}): tresor restore only restores into an empty data directory (the key \
         directory and the erasure list may be there)"
    )]
    TargetNotEmpty { dir: PathBuf, entry: String },
    #[error(transparent)]
    ErasureList(#[from] ErasureListError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = BackupError> = std::result::Result<T, E>;

fn io_error(context: impl Into<String>) -> impl FnOnce(io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

fn sqlite_error(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BackupError {
    let context = context.into();
    move |error| BackupError::Sqlite { context, message: error.to_string() }
}

/// The SQLite database file a `database_url` names; PostgreSQL and
/// in-memory URLs are refused with their own message.
pub fn sqlite_database_path(database_url: &str) -> Result<PathBuf> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return Err(BackupError::Postgres);
    }
    if !database_url.starts_with("sqlite:") {
        return Err(BackupError::UnsupportedUrl);
    }
    if database_url.contains(":memory:") || database_url.contains("mode=memory") {
        return Err(BackupError::InMemory);
    }
    let options =
        sqlx::sqlite::SqliteConnectOptions::from_str(database_url).map_err(|_| BackupError::UnsupportedUrl)?;
    Ok(options.get_filename().to_path_buf())
}

/// The blob directory beside a SQLite database (as `store::sqlite` names it).
fn blob_dir_of(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".blobs");
    PathBuf::from(name)
}

// --- tresor backup -----------------------------------------------------------

/// What a finished backup holds.
#[derive(Debug, Clone)]
pub struct BackupSummary {
    pub manifest: Manifest,
    /// Size of the archive file.
    pub archive_bytes: u64,
}

/// Back the SQLite vault at `database_url` up into a new file `out` (never
/// overwritten), while it serves. Blocking work runs on blocking threads.
pub async fn create(database_url: &str, out: &Path, progress: Progress) -> Result<BackupSummary> {
    let database = sqlite_database_path(database_url)?;
    let out = out.to_path_buf();
    tokio::task::spawn_blocking(move || create_blocking(&database, &out, progress))
        .await
        .map_err(|error| BackupError::Io { context: "the backup stopped".into(), source: io::Error::other(error) })?
}

/// A complete file of the snapshot: its id and the blob length its chunks index.
struct SnapshotFile {
    id: FileId,
    length: u64,
    /// The blob opened while the snapshot's read transaction was open.
    blob: Option<File>,
}

fn create_blocking(database: &Path, out: &Path, progress: Progress) -> Result<BackupSummary> {
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.to_path_buf()));
    }
    if out.exists() {
        return Err(BackupError::OutputExists(out.to_path_buf()));
    }
    let out_dir = match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // The snapshot and the archive are written beside the output (same file
    // system, so the final rename is atomic); both go away on any error.
    let work = tempfile::Builder::new()
        .prefix(".tresor-backup-")
        .tempdir_in(&out_dir)
        .map_err(io_error(format!("creating a work directory in {}", out_dir.display())))?;
    let snapshot_path = work.path().join(DATABASE_MEMBER);
    let mut files = snapshot(database, &snapshot_path, &progress)?;
    let facts = snapshot_facts(&snapshot_path)?;

    let created_at = Utc::now();
    let mut temporary = tempfile::Builder::new()
        .prefix(".tresor-backup-")
        .suffix(".tar.partial")
        .tempfile_in(&out_dir)
        .map_err(io_error(format!("creating a temporary file in {}", out_dir.display())))?;
    let snapshot_size = std::fs::metadata(&snapshot_path).map_err(io_error("reading the snapshot's size"))?.len();
    let total = snapshot_size + files.iter().map(|file| file.length).sum::<u64>();
    let mut members = Vec::new();
    let manifest;
    {
        let mut builder = tar::Builder::new(BufWriter::with_capacity(1 << 20, temporary.as_file_mut()));
        let mut written = 0u64;
        let snapshot_file = File::open(&snapshot_path).map_err(io_error("opening the snapshot"))?;
        members.push(append_member(
            &mut builder,
            DATABASE_MEMBER,
            snapshot_file,
            snapshot_size,
            created_at,
            &mut written,
            total,
            &progress,
        )?);
        let blob_dir = blob_dir_of(database);
        for file in &mut files {
            if file.length == 0 {
                continue;
            }
            let blob = match file.blob.take() {
                Some(blob) => blob,
                None => match File::open(blob_dir.join(file.id.as_str())) {
                    Ok(blob) => blob,
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {
                        return Err(BackupError::BlobVanished(file.id.to_string()));
                    }
                    Err(error) => return Err(io_error(format!("opening the blob of file {}", file.id))(error)),
                },
            };
            let found = blob.metadata().map_err(io_error("reading a blob's size"))?.len();
            if found < file.length {
                return Err(BackupError::BlobShort { file: file.id.to_string(), expected: file.length, found });
            }
            let name = format!("{BLOB_MEMBER_PREFIX}{}", file.id);
            // Only the bytes the snapshot indexes: a later append is not ours.
            members.push(append_member(
                &mut builder,
                &name,
                blob.take(file.length),
                file.length,
                created_at,
                &mut written,
                total,
                &progress,
            )?);
        }
        manifest = Manifest {
            format: FORMAT.to_owned(),
            format_version: FORMAT_VERSION,
            tresor_version: env!("CARGO_PKG_VERSION").to_owned(),
            created_at,
            backend: "sqlite".to_owned(),
            schema_version: facts.schema_version,
            audit: ManifestAudit { tree_size: facts.tree_size, checkpoint: facts.checkpoint.clone() },
            files: files.len() as u64,
            members,
        };
        let text = serde_json::to_vec_pretty(&manifest).map_err(|error| BackupError::Io {
            context: "writing the manifest".into(),
            source: io::Error::other(error),
        })?;
        let mut header = member_header(text.len() as u64, created_at);
        builder.append_data(&mut header, MANIFEST_MEMBER, text.as_slice()).map_err(io_error("writing the manifest"))?;
        let mut writer = builder.into_inner().map_err(io_error("finishing the archive"))?;
        writer.flush().map_err(io_error("writing the archive"))?;
    }
    temporary.as_file().sync_all().map_err(io_error("syncing the archive"))?;
    let archive_bytes = temporary.as_file().metadata().map_err(io_error("reading the archive's size"))?.len();
    temporary.persist_noclobber(out).map_err(|error| {
        if error.error.kind() == io::ErrorKind::AlreadyExists {
            BackupError::OutputExists(out.to_path_buf())
        } else {
            io_error(format!("moving the archive to {}", out.display()))(error.error)
        }
    })?;
    sync_directory(&out_dir)?;
    Ok(BackupSummary { manifest, archive_bytes })
}

/// Copy the live database into `target` with the online backup API inside
/// one read transaction (so the copy is one snapshot and never restarts
/// when the vault writes), and open the blob of every complete file of that
/// snapshot before the transaction ends.
fn snapshot(database: &Path, target: &Path, progress: &Progress) -> Result<Vec<SnapshotFile>> {
    let source =
        Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(sqlite_error(format!("opening {}", database.display())))?;
    source.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error("setting the busy timeout"))?;
    source.execute_batch("BEGIN DEFERRED").map_err(sqlite_error("starting the read transaction"))?;
    // The first read fixes the snapshot: every later read and every page the
    // backup copies belong to it.
    let mut files = Vec::new();
    {
        let mut statement = source
            .prepare(
                "SELECT f.id, COALESCE(MAX(c.blob_offset + c.sealed_length), 0) FROM files f \
                 LEFT JOIN file_chunks c ON c.file_id = f.id WHERE f.status = 'complete' GROUP BY f.id ORDER BY f.id",
            )
            .map_err(sqlite_error("listing the files"))?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))
            .map_err(sqlite_error("listing the files"))?;
        for row in rows {
            let (id, length) = row.map_err(sqlite_error("listing the files"))?;
            let id = FileId::from_str(&id).map_err(|_| BackupError::Sqlite {
                context: "listing the files".into(),
                message: format!("a stored file id is malformed: {id:?}"),
            })?;
            let length = u64::try_from(length).map_err(|_| BackupError::Sqlite {
                context: "listing the files".into(),
                message: format!("file {id} has a negative length"),
            })?;
            files.push(SnapshotFile { id, length, blob: None });
        }
    }
    // A file deleted after this snapshot loses its blob right after its
    // commit: open the blobs now, while the window is a few milliseconds
    // (an open file outlives its removal). Beyond the descriptor limit the
    // rest are opened while archiving.
    let descriptors = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = usize::try_from(descriptors.saturating_sub(256)).unwrap_or(usize::MAX);
    let blob_dir = blob_dir_of(database);
    for file in files.iter_mut().filter(|file| file.length > 0).take(room) {
        file.blob = match File::open(blob_dir.join(file.id.as_str())) {
            Ok(blob) => Some(blob),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(BackupError::BlobVanished(file.id.to_string()));
            }
            Err(error) => return Err(io_error(format!("opening the blob of file {}", file.id))(error)),
        };
    }
    let mut copy = Connection::open(target).map_err(sqlite_error("creating the snapshot"))?;
    {
        let backup = rusqlite::backup::Backup::new(&source, &mut copy).map_err(sqlite_error("starting the backup"))?;
        loop {
            let step = backup.step(PAGES_PER_STEP).map_err(sqlite_error("copying database pages"))?;
            let state = backup.progress();
            let total = u64::try_from(state.pagecount).unwrap_or(0);
            let remaining = u64::try_from(state.remaining).unwrap_or(0);
            progress(Stage::Snapshot, total.saturating_sub(remaining), total);
            match step {
                rusqlite::backup::StepResult::Done => break,
                rusqlite::backup::StepResult::More => {}
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    source.execute_batch("COMMIT").map_err(sqlite_error("ending the read transaction"))?;
    drop(source);
    // The archive holds one self-contained file: no write-ahead log beside
    // it. Uploads that were unfinished at the snapshot have no blob in the
    // archive; they would be swept anyway, so they are left out now.
    copy.execute_batch(
        "PRAGMA journal_mode = DELETE; PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON;
         DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE status = 'pending');
         DELETE FROM files WHERE status = 'pending';",
    )
    .map_err(sqlite_error("finishing the snapshot"))?;
    drop(copy);
    Ok(files)
}

/// The facts of a snapshot the manifest records.
struct SnapshotFacts {
    schema_version: i64,
    tree_size: u64,
    checkpoint: Option<String>,
}

fn snapshot_facts(database: &Path) -> Result<SnapshotFacts> {
    let connection = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(sqlite_error(format!("opening {}", database.display())))?;
    let schema_version: i64 = connection
        .query_row("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success", [], |row| row.get(0))
        .map_err(sqlite_error("reading the schema version"))?;
    let last_sequence: i64 = connection
        .query_row("SELECT last_sequence FROM audit_head WHERE id = 1", [], |row| row.get(0))
        .map_err(sqlite_error("reading the audit log's size"))?;
    let checkpoint: Option<String> = connection
        .query_row("SELECT signed_note FROM audit_checkpoints ORDER BY size DESC LIMIT 1", [], |row| row.get(0))
        .optional()
        .map_err(sqlite_error("reading the newest checkpoint"))?;
    Ok(SnapshotFacts { schema_version, tree_size: u64::try_from(last_sequence + 1).unwrap_or(0), checkpoint })
}

fn member_header(size: u64, created_at: DateTime<Utc>) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(created_at.timestamp()).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    header
}

#[allow(clippy::too_many_arguments)]
fn append_member<W: Write>(
    builder: &mut tar::Builder<W>,
    name: &str,
    reader: impl Read,
    size: u64,
    created_at: DateTime<Utc>,
    written: &mut u64,
    total: u64,
    progress: &Progress,
) -> Result<ManifestMember> {
    let mut header = member_header(size, created_at);
    let mut hashing = HashingReader::new(reader, *written, total, Stage::Archive, progress.clone());
    builder
        .append_data(&mut header, name, &mut hashing)
        .map_err(io_error(format!("writing {name} into the archive")))?;
    if hashing.count != size {
        return Err(BackupError::Io {
            context: format!("writing {name} into the archive"),
            source: io::Error::new(io::ErrorKind::UnexpectedEof, format!("{} of {size} bytes read", hashing.count)),
        });
    }
    *written += size;
    Ok(ManifestMember { name: name.to_owned(), size, sha256: hex::encode(hashing.context.finish()) })
}

/// Hashes (SHA-256) and counts what is read through it, reporting progress.
struct HashingReader<R> {
    inner: R,
    context: ring::digest::Context,
    count: u64,
    base: u64,
    total: u64,
    stage: Stage,
    progress: Progress,
    reported: u64,
}

impl<R> HashingReader<R> {
    fn new(inner: R, base: u64, total: u64, stage: Stage, progress: Progress) -> Self {
        Self {
            inner,
            context: ring::digest::Context::new(&ring::digest::SHA256),
            count: 0,
            base,
            total,
            stage,
            progress,
            reported: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.context.update(&buffer[..read]);
        self.count += read as u64;
        if self.count - self.reported >= PROGRESS_EVERY_BYTES || read == 0 {
            self.reported = self.count;
            (self.progress)(self.stage, self.base + self.count, self.total);
        }
        Ok(read)
    }
}

fn sync_directory(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error(format!("syncing the directory {}", dir.display())))
}

// --- reading an archive ------------------------------------------------------

/// What reading an archive found: its manifest, checked against every member.
struct ReadArchive {
    manifest: Manifest,
}

/// Counts the bytes read from the archive file (for progress).
struct CountingReader<R> {
    inner: R,
    count: u64,
    reported: u64,
    total: u64,
    progress: Progress,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.count += read as u64;
        if self.count - self.reported >= PROGRESS_EVERY_BYTES {
            self.reported = self.count;
            (self.progress)(Stage::Read, self.count, self.total);
        }
        Ok(read)
    }
}

/// Read the whole archive: the database goes to `database`, blobs to
/// `blob_dir` (or are only hashed when None); every member is hashed and
/// checked against the manifest, which must come last.
fn read_archive(archive: &Path, database: &Path, blob_dir: Option<&Path>, progress: &Progress) -> Result<ReadArchive> {
    let corrupt = |problem: String| BackupError::Corrupt { path: archive.to_path_buf(), problem };
    let file = File::open(archive).map_err(io_error(format!("opening {}", archive.display())))?;
    let total = file.metadata().map_err(io_error(format!("reading {}", archive.display())))?.len();
    let counting = CountingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        count: 0,
        reported: 0,
        total,
        progress: progress.clone(),
    };
    let mut tar = tar::Archive::new(counting);
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let entries = tar.entries().map_err(|error| corrupt(format!("not a tar archive ({error})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|error| corrupt(format!("truncated or damaged ({error})")))?;
        if manifest.is_some() {
            return Err(corrupt("a member follows the manifest".into()));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(corrupt("a member is not a regular file".into()));
        }
        let name = entry
            .path()
            .ok()
            .and_then(|path| path.to_str().map(str::to_owned))
            .ok_or_else(|| corrupt("a member's name is not valid".into()))?;
        let size = entry.header().size().map_err(|_| corrupt(format!("member {name} has a damaged header")))?;
        if seen.contains_key(&name) {
            return Err(corrupt(format!("member {name} appears twice")));
        }
        if name == MANIFEST_MEMBER {
            if size > MANIFEST_LIMIT {
                return Err(corrupt("the manifest is too large".into()));
            }
            let mut text = Vec::new();
            (&mut entry)
                .take(MANIFEST_LIMIT)
                .read_to_end(&mut text)
                .map_err(|error| corrupt(format!("truncated or damaged ({error})")))?;
            if text.len() as u64 != size {
                return Err(corrupt("truncated in the manifest".into()));
            }
            let parsed: Manifest = serde_json::from_slice(&text)
                .map_err(|error| corrupt(format!("the manifest is not valid ({error})")))?;
            if parsed.format != FORMAT {
                return Err(corrupt(format!("the manifest names the format {:?}", parsed.format)));
            }
            if parsed.format_version != FORMAT_VERSION {
                return Err(corrupt(format!(
                    "format version {} (this tresor reads version {FORMAT_VERSION}; use the tresor that made it, {})",
                    parsed.format_version, parsed.tresor_version
                )));
            }
            if parsed.backend != "sqlite" {
                return Err(corrupt(format!("backend {:?} (only sqlite archives exist)", parsed.backend)));
            }
            manifest = Some(parsed);
            continue;
        }
        let destination: Option<PathBuf> = if name == DATABASE_MEMBER {
            Some(database.to_path_buf())
        } else if let Some(id) = name.strip_prefix(BLOB_MEMBER_PREFIX) {
            let id = FileId::from_str(id).map_err(|_| corrupt(format!("unexpected member {name}")))?;
            blob_dir.map(|dir| dir.join(id.as_str()))
        } else {
            return Err(corrupt(format!("unexpected member {name}")));
        };
        let mut hashing = HashingReader::new(&mut entry, 0, 0, Stage::Read, no_progress());
        let copied = match &destination {
            Some(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut out =
                    BufWriter::new(options.open(path).map_err(io_error(format!("creating {}", path.display())))?);
                let copied = io::copy(&mut hashing, &mut out);
                out.flush().map_err(io_error(format!("writing {}", path.display())))?;
                copied
            }
            None => io::copy(&mut hashing, &mut io::sink()),
        }
        .map_err(|error| corrupt(format!("truncated or damaged in member {name} ({error})")))?;
        if copied != size {
            return Err(corrupt(format!("truncated in member {name} ({copied} of {size} bytes)")));
        }
        seen.insert(name, (size, hex::encode(hashing.context.finish())));
    }
    let manifest =
        manifest.ok_or_else(|| corrupt("no manifest (the archive is truncated or not a tresor backup)".into()))?;
    let listed: BTreeSet<&str> = manifest.members.iter().map(|member| member.name.as_str()).collect();
    if listed.len() != manifest.members.len() {
        return Err(corrupt("the manifest lists a member twice".into()));
    }
    for member in &manifest.members {
        let mismatch = |problem: String| BackupError::MemberMismatch {
            path: archive.to_path_buf(),
            member: member.name.clone(),
            problem,
        };
        match seen.get(&member.name) {
            None => return Err(mismatch("missing from the archive".into())),
            Some((size, _)) if *size != member.size => {
                return Err(mismatch(format!("{size} bytes, the manifest says {}", member.size)));
            }
            Some((_, sha256))
                if !bool::from(subtle::ConstantTimeEq::ct_eq(sha256.as_bytes(), member.sha256.as_bytes())) =>
            {
                return Err(mismatch("its SHA-256 differs from the manifest's".into()));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = seen.keys().find(|name| !listed.contains(name.as_str())) {
        return Err(corrupt(format!("member {extra} is not in the manifest")));
    }
    if !seen.contains_key(DATABASE_MEMBER) {
        return Err(corrupt("no database member".into()));
    }
    progress(Stage::Read, total, total);
    Ok(ReadArchive { manifest })
}

/// The newest migration this build knows.
fn newest_known_migration() -> i64 {
    sqlx::migrate!("migrations/sqlite").iter().map(|migration| migration.version).max().unwrap_or(0)
}

/// SQLite's integrity and foreign-key checks, and the database against the
/// manifest: schema version, audit size and checkpoint, and exactly one blob
/// member of the indexed length per complete file.
fn check_database(archive: &Path, database: &Path, manifest: &Manifest) -> Result<()> {
    let corrupt = |problem: String| BackupError::Corrupt { path: archive.to_path_buf(), problem };
    let integrity = |problem: String| BackupError::Integrity { path: archive.to_path_buf(), problem };
    let connection = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|error| integrity(error.to_string()))?;
    let problems: Vec<String> = connection
        .prepare("PRAGMA integrity_check")
        .and_then(|mut statement| statement.query_map([], |row| row.get::<_, String>(0))?.collect())
        .map_err(|error| integrity(error.to_string()))?;
    if problems != ["ok"] {
        return Err(integrity(problems.into_iter().take(5).collect::<Vec<_>>().join("; ")));
    }
    let dangling: i64 = connection
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| row.get(0))
        .map_err(|error| integrity(error.to_string()))?;
    if dangling > 0 {
        return Err(integrity(format!("{dangling} rows refer to rows that are missing")));
    }
    drop(connection);
    let facts = snapshot_facts(database).map_err(|error| integrity(error.to_string()))?;
    if facts.schema_version != manifest.schema_version {
        return Err(corrupt(format!(
            "the database is at migration {}, the manifest says {}",
            facts.schema_version, manifest.schema_version
        )));
    }
    let known = newest_known_migration();
    if facts.schema_version > known {
        return Err(BackupError::SchemaTooNew {
            backup: facts.schema_version,
            known,
            version: manifest.tresor_version.clone(),
        });
    }
    if facts.tree_size != manifest.audit.tree_size || facts.checkpoint != manifest.audit.checkpoint {
        return Err(corrupt("the audit log's size or newest checkpoint differs from the manifest".into()));
    }
    let connection = Connection::open_with_flags(database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|error| integrity(error.to_string()))?;
    let files: Vec<(String, i64)> = connection
        .prepare(
            "SELECT f.id, COALESCE(MAX(c.blob_offset + c.sealed_length), 0) FROM files f \
             LEFT JOIN file_chunks c ON c.file_id = f.id WHERE f.status = 'complete' GROUP BY f.id",
        )
        .and_then(|mut statement| statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect())
        .map_err(|error| integrity(error.to_string()))?;
    let expected: BTreeMap<String, u64> = files
        .iter()
        .filter(|(_, length)| *length > 0)
        .map(|(id, length)| (format!("{BLOB_MEMBER_PREFIX}{id}"), u64::try_from(*length).unwrap_or(0)))
        .collect();
    let found: BTreeMap<String, u64> = manifest
        .members
        .iter()
        .filter(|member| member.name.starts_with(BLOB_MEMBER_PREFIX))
        .map(|member| (member.name.clone(), member.size))
        .collect();
    if files.len() as u64 != manifest.files || expected != found {
        return Err(corrupt("the blob members do not match the files the database indexes".into()));
    }
    Ok(())
}

/// Verify the audit log of a database with the one verifier, against the
/// trusted signing key and, if given, a checkpoint saved before the backup.
async fn check_audit_log(
    archive: &Path,
    store: &SqliteStore,
    public_key: &[u8; 32],
    saved_checkpoint: Option<&str>,
    manifest: &Manifest,
    progress: &Progress,
) -> Result<crate::audit::verify::VerifyReport> {
    let audit_error = |source: VerifyError| BackupError::AuditLog { path: archive.to_path_buf(), source };
    let progress = progress.clone();
    let report =
        verify_log(store, public_key, saved_checkpoint, &mut move |done, total| progress(Stage::AuditLog, done, total))
            .await
            .map_err(audit_error)?;
    if report.entries != manifest.audit.tree_size {
        return Err(BackupError::Corrupt {
            path: archive.to_path_buf(),
            problem: format!(
                "the audit log has {} entries, the manifest says {}",
                report.entries, manifest.audit.tree_size
            ),
        });
    }
    Ok(report)
}

// --- tresor backup verify ----------------------------------------------------

/// What a verified archive holds.
#[derive(Debug, Clone)]
pub struct VerifySummary {
    pub manifest: Manifest,
    pub audit: crate::audit::verify::VerifyReport,
}

/// Check an archive completely: every member against the manifest, the
/// database's integrity, the blobs against the database's index, and the
/// audit log against the signing key (`public_key`) and, if given, a
/// checkpoint saved earlier. Nothing outside a temporary directory is written.
pub async fn verify(
    archive: &Path,
    public_key: &[u8; 32],
    saved_checkpoint: Option<&str>,
    progress: Progress,
) -> Result<VerifySummary> {
    let work = tempfile::Builder::new()
        .prefix(".tresor-verify-")
        .tempdir()
        .map_err(io_error("creating a temporary directory"))?;
    let database = work.path().join(DATABASE_MEMBER);
    let (manifest, database) = {
        let archive = archive.to_path_buf();
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || {
            let read = read_archive(&archive, &database, None, &progress)?;
            check_database(&archive, &database, &read.manifest)?;
            Ok::<_, BackupError>((read.manifest, database))
        })
        .await
        .map_err(|error| BackupError::Io {
            context: "verification stopped".into(),
            source: io::Error::other(error),
        })??
    };
    let store = SqliteStore::connect(&format!("sqlite://{}", database.display())).await?;
    let audit = check_audit_log(archive, &store, public_key, saved_checkpoint, &manifest, &progress).await;
    store.close().await;
    drop(store);
    Ok(VerifySummary { manifest, audit: audit? })
}

// --- tresor restore ----------------------------------------------------------

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreSummary {
    pub manifest: Manifest,
    pub audit: crate::audit::verify::VerifyReport,
    /// The restored database file.
    pub database: PathBuf,
    /// Citizens on the erasure list that the backup still held, now deleted.
    pub erased: u64,
}

/// Where a restore goes and what it keeps.
pub struct RestoreTarget<'a> {
    /// The configured `database_url` (must be SQLite).
    pub database_url: &'a str,
    /// Paths that may already be in the data directory: the key directory
    /// and the erasure list.
    pub allowed: Vec<PathBuf>,
    pub erasure_list: &'a ErasureList,
}

/// Restore `archive` into the empty data directory of `target`: read and
/// check it completely in a staging directory inside the target, verify the
/// audit log, delete every citizen on the erasure list, then move the
/// database and its blobs into place. On any error nothing is left but an
/// empty directory.
pub async fn restore(
    archive: &Path,
    target: RestoreTarget<'_>,
    public_key: &[u8; 32],
    saved_checkpoint: Option<&str>,
    progress: Progress,
) -> Result<RestoreSummary> {
    let database = sqlite_database_path(target.database_url)?;
    let data_dir = match database.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = database.file_name().map(|name| name.to_owned()).ok_or(BackupError::UnsupportedUrl)?;
    std::fs::create_dir_all(&data_dir).map_err(io_error(format!("creating {}", data_dir.display())))?;
    check_empty(&data_dir, &target.allowed, None)?;
    // The list is read before anything is written: without it, no restore.
    let erased_citizens: Vec<CitizenId> = target.erasure_list.read()?;

    let staging = tempfile::Builder::new()
        .prefix(RESTORE_STAGING_PREFIX)
        .tempdir_in(&data_dir)
        .map_err(io_error(format!("creating a staging directory in {}", data_dir.display())))?;
    let staged_database = staging.path().join(&file_name);
    let staged_blobs = blob_dir_of(&staged_database);
    std::fs::create_dir(&staged_blobs).map_err(io_error("creating the staging blob directory"))?;
    let manifest = {
        let archive = archive.to_path_buf();
        let progress = progress.clone();
        let staged_database = staged_database.clone();
        let staged_blobs = staged_blobs.clone();
        tokio::task::spawn_blocking(move || {
            let read = read_archive(&archive, &staged_database, Some(&staged_blobs), &progress)?;
            check_database(&archive, &staged_database, &read.manifest)?;
            Ok::<_, BackupError>(read.manifest)
        })
        .await
        .map_err(|error| BackupError::Io { context: "the restore stopped".into(), source: io::Error::other(error) })??
    };
    let store = SqliteStore::connect(&format!("sqlite://{}", staged_database.display())).await?;
    let outcome = async {
        let audit = check_audit_log(archive, &store, public_key, saved_checkpoint, &manifest, &progress).await?;
        let mut erased = 0u64;
        let unique: BTreeSet<&CitizenId> = erased_citizens.iter().collect();
        for citizen in unique {
            if crate::store::Store::delete_citizen(&store, citizen).await? {
                erased += 1;
            }
        }
        Ok::<_, BackupError>((audit, erased))
    }
    .await;
    store.close().await;
    drop(store);
    let (audit, erased) = outcome?;
    // Fold the write-ahead log into the database so that one file moves.
    let connection = Connection::open(&staged_database).map_err(sqlite_error("opening the restored database"))?;
    connection
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(sqlite_error("checkpointing the restored database"))?;
    drop(connection);
    for suffix in ["-wal", "-shm"] {
        let mut name = staged_database.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
    File::open(&staged_database).and_then(|file| file.sync_all()).map_err(io_error("syncing the restored database"))?;
    sync_directory(&staged_blobs)?;
    // Still empty? Then blobs first, the database last: the database's
    // appearance is what makes the restore visible.
    check_empty(&data_dir, &target.allowed, Some(staging.path()))?;
    let final_blobs = blob_dir_of(&database);
    std::fs::rename(&staged_blobs, &final_blobs)
        .map_err(io_error(format!("moving blobs to {}", final_blobs.display())))?;
    std::fs::rename(&staged_database, &database)
        .map_err(io_error(format!("moving the database to {}", database.display())))?;
    sync_directory(&data_dir)?;
    drop(staging);
    Ok(RestoreSummary { manifest, audit, database, erased })
}

/// The data directory may hold only the allowed paths (key directory,
/// erasure list) and this restore's own staging directory. Leftovers of an
/// interrupted restore are removed.
fn check_empty(dir: &Path, allowed: &[PathBuf], own_staging: Option<&Path>) -> Result<()> {
    let allowed: Vec<PathBuf> = allowed.iter().filter_map(|path| std::fs::canonicalize(path).ok()).collect();
    let entries = std::fs::read_dir(dir).map_err(io_error(format!("reading {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("reading {}", dir.display())))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(RESTORE_STAGING_PREFIX) {
            if own_staging != Some(entry.path().as_path()) && entry.path().is_dir() {
                std::fs::remove_dir_all(entry.path())
                    .map_err(io_error(format!("removing the leftover {}", entry.path().display())))?;
            }
            continue;
        }
        let path = std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path());
        if !allowed.contains(&path) {
            return Err(BackupError::TargetNotEmpty {
                dir: dir.to_path_buf(),
                entry: name.to_string_lossy().into_owned(),
            });
        }
    }
    Ok(())
}
