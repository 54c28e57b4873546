//! `tresor audit verify` and `tresor audit export`: recompute the whole Merkle
//! tree from the stored entries, check it against every signed checkpoint (and
//! optionally a checkpoint a DPO saved earlier), and export entries as CSV or
//! JSON lines. Pure logic over a `Store`; progress goes to a callback, never
//! to the terminal.
//!
//! Architecture invariant: verification trusts nothing in the database but
//! the signatures. Sequence numbers, bodies, leaf hashes, the indexed columns
//! and the checkpoint rows are all checked against each other, and the first
//! broken index (or checkpoint size) is named.

use std::borrow::Cow;
use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use crate::audit::append::indexed_department;
use crate::audit::checkpoint::{Checkpoint, open_signed};
use crate::audit::merkle::{Hash, TreeBuilder, leaf_hash};
use crate::audit::{Action, Actor, Outcome};
use crate::store::{AuditFilter, Store, StoreError, StoredAuditEntry};

/// Rows per store read. Large enough that the per-query cost vanishes, small
/// enough that a page of bodies stays a few MiB.
pub const PAGE_SIZE: u32 = 10_000;

/// What a successful verification covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries verified (the tree size).
    pub entries: u64,
    /// Entries whose body was pruned: only their leaf hash went into the tree.
    pub pruned_bodies: u64,
    /// Stored checkpoints whose signature and root verified.
    pub checkpoints_verified: u64,
    /// The recomputed root over all `entries`.
    pub root: Hash,
    /// Size of the largest stored checkpoint, if any.
    pub latest_checkpoint_size: Option<u64>,
    /// Its signed root (equal to the tree recomputed up to its size).
    pub latest_checkpoint_root: Option<Hash>,
}

/// Why the log did not verify. Every variant names the first bad index or
/// checkpoint size that the sequential scan met.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// An index is missing: entries were deleted or renumbered.
    #[error("entry {expected} is missing: the next stored entry is {found} (entries deleted or renumbered)")]
    SequenceGap { expected: u64, found: u64 },
    /// The log head counts more entries than are stored: the tail was deleted.
    #[error("entries from index {log_size} on are missing: the log head counts {head_size} entries (tail deleted)")]
    TailMissing { log_size: u64, head_size: u64 },
    /// The body does not hash to the stored leaf hash (an edited entry), does
    /// not parse, or carries another sequence number (a moved entry).
    #[error("entry {index} was altered: its body does not match its leaf hash or its position")]
    BodyMismatch { index: u64 },
    /// An indexed column (what DPO queries filter on) differs from the hashed
    /// body: an entry hidden from or moved between queries.
    #[error("entry {index} was altered: column {column} does not match the hashed body")]
    ColumnMismatch { index: u64, column: &'static str },
    /// A stored checkpoint's signature does not verify with the trusted key,
    /// or its signed size is not the size it is stored under.
    #[error("checkpoint at size {size} does not verify: {problem}")]
    CheckpointSignature { size: u64, problem: String },
    /// The root recomputed from the first `size` entries differs from the
    /// signed one: leaves before `size` were altered, reordered or replaced.
    #[error("checkpoint at size {size} does not match the entries: the recomputed root differs")]
    CheckpointRootMismatch { size: u64 },
    /// A signed checkpoint covers more entries than are stored.
    #[error(
        "checkpoint at size {size} lies beyond the end of the log ({log_size} entries): \
         entries from index {log_size} on were removed"
    )]
    CheckpointBeyondLog { size: u64, log_size: u64 },
    /// The saved checkpoint (`--checkpoint FILE`) is not a checkpoint signed
    /// by the trusted key.
    #[error("the saved checkpoint does not verify: {problem}")]
    SavedCheckpointSignature { problem: String },
    /// The saved checkpoint verified but this log is not an extension of it:
    /// its root differs at that size, or the log is shorter now.
    #[error("the saved checkpoint at size {saved_size} is not a prefix of this log")]
    SavedCheckpointInconsistent { saved_size: u64 },
    /// Writing an export failed.
    #[error("writing the export failed: {0}")]
    Write(#[from] std::io::Error),
    /// The runtime shut down while verifying.
    #[error("verification was cancelled")]
    Cancelled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rows of stored cosignatures `newest_cosigned` looks through.
const COSIGNATURE_ROWS: u32 = 1_000_000;

/// The newest stored checkpoint with a valid cosignature by `witness`:
/// its size and the cosignature's time. Run after [`verify_log`], which
/// checked every stored checkpoint against the log.
pub async fn newest_cosigned(
    store: &dyn Store,
    witness: &crate::audit::cosignature::CosignerKey,
) -> Result<Option<(u64, DateTime<Utc>)>, VerifyError> {
    let verifier_key = witness.verifier_key();
    for (size, _, lines) in
        store.recent_cosignatures(COSIGNATURE_ROWS).await?.into_iter().filter(|(_, key, _)| *key == verifier_key)
    {
        let Some(note) = store.checkpoint_note(size).await? else {
            continue;
        };
        if let Ok(timestamp) = crate::audit::cosignature::verify_cosignature(&format!("{note}{lines}"), witness) {
            let time = i64::try_from(timestamp).ok().and_then(|seconds| DateTime::from_timestamp(seconds, 0));
            return Ok(Some((size, time.unwrap_or_default())));
        }
    }
    Ok(None)
}

/// Output format of [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV with the header [`CSV_HEADER`].
    Csv,
    /// One JSON object per line: the entry body plus `leaf_hash`.
    JsonLines,
}

/// The CSV header line, without its line break.
pub const CSV_HEADER: &str =
    "sequence,time,actor_kind,actor_id,action,outcome,subject,department,service,reason,leaf_hash";

/// Recompute the whole tree in sequence order, a page at a time, checking:
/// sequences `0..n` are gapless; every present body hashes to its stored leaf
/// hash, parses, carries its own index and agrees with the indexed columns;
/// at every stored checkpoint size the recomputed root equals the signed root
/// and the signature verifies with `public_key` (key name = the checkpoint's
/// origin); `saved` (a signed checkpoint note kept outside the database), if
/// given, verifies and matches the root at its size.
///
/// The log may grow while this runs: it verifies the entries that existed
/// when it started. `progress(done, total)` is called after every page.
pub async fn verify_log(
    store: &dyn Store,
    public_key: &[u8; 32],
    saved: Option<&str>,
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Result<VerifyReport, VerifyError> {
    // Refuse a bad saved checkpoint before scanning millions of rows.
    let saved = saved
        .map(|note| {
            open_signed(note, note_key_name(note), public_key)
                .map_err(|error| VerifyError::SavedCheckpointSignature { problem: error.to_string() })
        })
        .transpose()?;
    // Checkpoints first, then the size: a checkpoint is stored only after its
    // entries, so every checkpoint read here lies within the size read next.
    let checkpoints = store.checkpoints().await?;
    let head_size = store.audit_size().await?;

    let mut tree = TreeCheck::new(*public_key, checkpoints, saved);
    tree.check_current_size()?;
    progress(0, head_size);

    let all = AuditFilter::default();
    let mut page = if head_size > 0 { store.audit_entries(&all, PAGE_SIZE, None).await? } else { Vec::new() };
    loop {
        // Entries appended after `head_size` was read are not part of this run.
        let within = page.partition_point(|row| u64::try_from(row.sequence).is_ok_and(|sequence| sequence < head_size));
        let is_last_page = within < page.len() || page.len() < PAGE_SIZE as usize;
        let next_after = match page[..within].last() {
            Some(last) if !is_last_page => u64::try_from(last.sequence).ok(),
            _ => None,
        };
        page.truncate(within);
        // Hash and parse this page on a blocking thread while this task keeps
        // reading the next one: the SQLite driver hands rows over a small
        // channel, so the read only advances while it is polled.
        let check_page = tokio::task::spawn_blocking(move || {
            let checked = page.iter().try_for_each(|row| tree.push(row));
            (tree, checked)
        });
        let fetch_next = async {
            match next_after {
                Some(after) => Some(store.audit_entries(&all, PAGE_SIZE, Some(after)).await),
                None => None,
            }
        };
        let (next_page, checked_page) = tokio::join!(fetch_next, check_page);
        let checked;
        (tree, checked) = match checked_page {
            Ok(result) => result,
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(_) => return Err(VerifyError::Cancelled),
        };
        checked?;
        progress(tree.builder.size(), head_size);
        match next_page {
            Some(next_page) => page = next_page?,
            None => break,
        }
    }
    tree.finish(head_size)
}

/// Export the entries matching `filter` (typically a time range `[from,
/// until)`) in sequence order. Bodies are checked against their leaf hashes
/// and columns on the way; pruned entries export their columns with an empty
/// reason. Returns the number of entries written.
pub async fn export(
    store: &dyn Store,
    filter: &AuditFilter,
    format: ExportFormat,
    out: &mut (dyn Write + Send),
) -> Result<u64, VerifyError> {
    if format == ExportFormat::Csv {
        writeln!(out, "{CSV_HEADER}")?;
    }
    let mut written = 0u64;
    let mut after = None;
    loop {
        let page = store.audit_entries(filter, PAGE_SIZE, after).await?;
        for row in &page {
            let index = stored_index(row)?;
            let entry = checked_body(index, row)?;
            match format {
                ExportFormat::Csv => write_csv_row(out, row, entry.as_ref())?,
                ExportFormat::JsonLines => write_json_line(out, index, row)?,
            }
            written += 1;
        }
        match page.last() {
            Some(last) if page.len() == PAGE_SIZE as usize => after = Some(stored_index(last)?),
            _ => break,
        }
    }
    out.flush()?;
    Ok(written)
}

/// The running verification: the tree so far and the checkpoints still ahead.
struct TreeCheck {
    public_key: [u8; 32],
    builder: TreeBuilder,
    /// Stored checkpoints (size, signed note), ascending by size.
    checkpoints: Vec<(u64, String)>,
    next_checkpoint: usize,
    saved: Option<Checkpoint>,
    pruned_bodies: u64,
    checkpoints_verified: u64,
    latest_checkpoint_size: Option<u64>,
    latest_checkpoint_root: Option<Hash>,
}

impl TreeCheck {
    fn new(public_key: [u8; 32], checkpoints: Vec<(u64, String)>, saved: Option<Checkpoint>) -> Self {
        TreeCheck {
            public_key,
            builder: TreeBuilder::new(),
            checkpoints,
            next_checkpoint: 0,
            saved,
            pruned_bodies: 0,
            checkpoints_verified: 0,
            latest_checkpoint_size: None,
            latest_checkpoint_root: None,
        }
    }

    /// Add the next stored row as leaf `builder.size()`.
    fn push(&mut self, row: &StoredAuditEntry) -> Result<(), VerifyError> {
        let index = self.builder.size();
        let sequence = stored_index(row)?;
        if sequence != index {
            return Err(VerifyError::SequenceGap { expected: index, found: sequence });
        }
        let stored_leaf: Hash = row.leaf_hash.as_slice().try_into().map_err(|_| VerifyError::BodyMismatch { index })?;
        if checked_body(index, row)?.is_none() {
            self.pruned_bodies += 1;
        }
        self.builder.push(stored_leaf);
        self.check_current_size()
    }

    /// Check every checkpoint (stored or saved) whose size is the tree size now.
    fn check_current_size(&mut self) -> Result<(), VerifyError> {
        let size = self.builder.size();
        while let Some((checkpoint_size, note)) = self.checkpoints.get(self.next_checkpoint) {
            if *checkpoint_size != size {
                break;
            }
            let checkpoint = self.open_stored(*checkpoint_size, note)?;
            if checkpoint.root != self.builder.root() {
                return Err(VerifyError::CheckpointRootMismatch { size });
            }
            self.checkpoints_verified += 1;
            self.latest_checkpoint_size = Some(size);
            self.latest_checkpoint_root = Some(checkpoint.root);
            self.next_checkpoint += 1;
        }
        if let Some(saved) = &self.saved
            && saved.size == size
            && saved.root != self.builder.root()
        {
            return Err(VerifyError::SavedCheckpointInconsistent { saved_size: size });
        }
        Ok(())
    }

    /// After the last entry: nothing signed may lie beyond it.
    fn finish(self, head_size: u64) -> Result<VerifyReport, VerifyError> {
        let log_size = self.builder.size();
        if let Some((size, note)) = self.checkpoints.get(self.next_checkpoint) {
            // A forged row is reported as forged, not as a truncation.
            self.open_stored(*size, note)?;
            return Err(VerifyError::CheckpointBeyondLog { size: *size, log_size });
        }
        if let Some(saved) = &self.saved
            && saved.size > log_size
        {
            return Err(VerifyError::SavedCheckpointInconsistent { saved_size: saved.size });
        }
        if log_size < head_size {
            return Err(VerifyError::TailMissing { log_size, head_size });
        }
        Ok(VerifyReport {
            entries: log_size,
            pruned_bodies: self.pruned_bodies,
            checkpoints_verified: self.checkpoints_verified,
            root: self.builder.root(),
            latest_checkpoint_size: self.latest_checkpoint_size,
            latest_checkpoint_root: self.latest_checkpoint_root,
        })
    }

    /// A stored checkpoint, verified with the trusted key under its own origin
    /// as key name, and signed for exactly the size it is stored under.
    fn open_stored(&self, size: u64, note: &str) -> Result<Checkpoint, VerifyError> {
        let checkpoint = open_signed(note, note_key_name(note), &self.public_key)
            .map_err(|error| VerifyError::CheckpointSignature { size, problem: error.to_string() })?;
        if checkpoint.size != size {
            return Err(VerifyError::CheckpointSignature {
                size,
                problem: format!("the signed note is for tree size {}", checkpoint.size),
            });
        }
        Ok(checkpoint)
    }
}

/// The key name tresor signs under is the checkpoint origin, the first line.
/// Taken from the unverified text only to pick the signature line; the
/// signature then covers the origin too.
fn note_key_name(note: &str) -> &str {
    note.split('\n').next().unwrap_or_default()
}

fn stored_index(row: &StoredAuditEntry) -> Result<u64, VerifyError> {
    u64::try_from(row.sequence)
        .map_err(|_| VerifyError::Store(StoreError::Corrupt("audit_entries.sequence: negative".to_owned())))
}

/// The fields of a stored body that verification compares, borrowed from
/// the body where possible: parsing a full `AuditEntry` (flattened event,
/// every id and field name allocated) costs several times more, and verify
/// parses millions. Unknown members are skipped, as `AuditEntry` does.
#[derive(Deserialize)]
struct BodyView<'a> {
    sequence: u64,
    time: DateTime<Utc>,
    actor: Actor,
    action: Action,
    #[serde(borrow)]
    targets: TargetsView<'a>,
    outcome: Outcome,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct TargetsView<'a> {
    #[serde(borrow, default)]
    subject: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    department: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    service: Option<Cow<'a, str>>,
}

/// The body of `row`, checked against the leaf hash, its index and the
/// indexed columns; None if the body was pruned.
fn checked_body(index: u64, row: &StoredAuditEntry) -> Result<Option<BodyView<'_>>, VerifyError> {
    let Some(body) = row.body.as_deref() else { return Ok(None) };
    if leaf_hash(body).as_slice() != row.leaf_hash.as_slice() {
        return Err(VerifyError::BodyMismatch { index });
    }
    let entry: BodyView<'_> = serde_json::from_slice(body).map_err(|_| VerifyError::BodyMismatch { index })?;
    if entry.sequence != index {
        return Err(VerifyError::BodyMismatch { index });
    }
    check_columns(index, row, &entry)?;
    Ok(Some(entry))
}

/// The indexed columns must be the copies the store made from the body when it
/// was appended (`audit::append`); DPO and citizen queries trust
/// them.
fn check_columns(index: u64, row: &StoredAuditEntry, entry: &BodyView<'_>) -> Result<(), VerifyError> {
    let mismatch = |column| Err(VerifyError::ColumnMismatch { index, column });
    let actor_id = entry.actor.id();
    let department = indexed_department(&entry.actor, entry.targets.department.as_deref());
    if row.time != entry.time {
        return mismatch("time");
    }
    if row.actor_kind != entry.actor.kind().as_str() {
        return mismatch("actor_kind");
    }
    if row.actor_id.as_deref() != actor_id {
        return mismatch("actor_id");
    }
    if row.action != entry.action.as_str() {
        return mismatch("action");
    }
    if row.outcome != entry.outcome.as_str() {
        return mismatch("outcome");
    }
    if row.subject.as_deref() != entry.targets.subject.as_deref() {
        return mismatch("subject");
    }
    if row.department.as_deref() != department {
        return mismatch("department");
    }
    if row.service.as_deref() != entry.targets.service.as_deref() {
        return mismatch("service");
    }
    Ok(())
}

fn write_csv_row(
    out: &mut (dyn Write + Send),
    row: &StoredAuditEntry,
    entry: Option<&BodyView<'_>>,
) -> std::io::Result<()> {
    let reason = entry.and_then(|entry| entry.reason.as_deref()).unwrap_or("");
    writeln!(out, "{}", csv_row(row, reason))
}

/// One entry as a line of the CSV export (the columns of `CSV_HEADER`,
/// without the newline): the same line for `tresor audit export` and the
/// DPO page's export.
pub fn csv_row(row: &StoredAuditEntry, reason: &str) -> String {
    let cells = [
        row.sequence.to_string(),
        row.time.to_rfc3339_opts(SecondsFormat::Micros, true),
        row.actor_kind.clone(),
        row.actor_id.clone().unwrap_or_default(),
        row.action.clone(),
        row.outcome.clone(),
        row.subject.clone().unwrap_or_default(),
        row.department.clone().unwrap_or_default(),
        row.service.clone().unwrap_or_default(),
        reason.to_owned(),
        hex::encode(&row.leaf_hash),
    ];
    let line: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
    line.join(",")
}

/// One RFC 4180 cell. A cell a spreadsheet would evaluate as a formula
/// (leading `=`, `+`, `-`, `@`, tab or CR) gets a leading `'` (OWASP's advice
/// on CSV injection): the ids in the log are not supposed to start that way,
/// and a DPO opens these files in a spreadsheet.
/// One CSV cell, safe to open in a spreadsheet: a cell that starts like a
/// formula (= + - @, or tab/carriage return) gets a leading `'`, and cells
/// with separators, quotes or line breaks are quoted (RFC 4180). Shared by
/// `tresor audit export` and the DPO export.
pub fn csv_cell(value: &str) -> String {
    let guarded =
        if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_owned() };
    if guarded.contains([',', '"', '\n', '\r']) { format!("\"{}\"", guarded.replace('"', "\"\"")) } else { guarded }
}

/// The body exactly as hashed, with `"leaf_hash"` appended as its last member;
/// for a pruned entry, its columns.
fn write_json_line(out: &mut (dyn Write + Send), index: u64, row: &StoredAuditEntry) -> Result<(), VerifyError> {
    let leaf_hash = hex::encode(&row.leaf_hash);
    match row.body.as_deref() {
        Some(body) => {
            // `checked_body` parsed it as an object; the canonical body has no
            // whitespace, so it ends in its closing brace.
            let Some(members) = body.strip_suffix(b"}") else {
                return Err(VerifyError::BodyMismatch { index });
            };
            out.write_all(members)?;
            writeln!(out, ",\"leaf_hash\":\"{leaf_hash}\"}}")?;
        }
        None => {
            let line = serde_json::json!({
                "sequence": row.sequence,
                "time": row.time.to_rfc3339_opts(SecondsFormat::Micros, true),
                "actor_kind": row.actor_kind,
                "actor_id": row.actor_id,
                "action": row.action,
                "outcome": row.outcome,
                "subject": row.subject,
                "department": row.department,
                "service": row.service,
                "reason": null,
                "body_pruned": true,
                "leaf_hash": leaf_hash,
            });
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_guarded() {
        assert_eq!(csv_cell("wohngeld"), "wohngeld");
        assert_eq!(csv_cell(""), "");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("@sum"), "'@sum");
    }

    #[test]
    fn key_name_is_the_first_line() {
        assert_eq!(note_key_name("tresor.example/audit\n5\nAAAA\n\n— x y\n"), "tresor.example/audit");
        assert_eq!(note_key_name(""), "");
    }
}
