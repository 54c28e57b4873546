//! What the store reports: [`StoreError`] without driver types, refused
//! writes typed as [`Conflict`], and the mapping of sqlx's errors (each
//! backend maps constraint violations to conflicts first).

/// What the store reports. It carries no driver types: outages are told
/// apart from other database failures where the driver's error is mapped
/// (`From<sqlx::Error>`, `sqlite::audit`), and refused writes are typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A write the schema or the store refused (see [`Conflict`]).
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The database could not be reached or did not answer in time (an
    /// outage, a restart, a lock held too long): nothing was changed and the
    /// same call may succeed in a moment. The HTTP layer answers 503
    /// `store_unavailable`.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure (the driver's message).
    #[error("database error: {0}")]
    Database(String),
    /// A blocking database call ended without an answer (its thread panicked).
    #[error("database worker failed: {0}")]
    Worker(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("unsupported database url (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

/// A write that was refused, by a rule of the schema or of the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A row with this key exists already; the constraint as PostgreSQL
    /// names it (`citizens_pkey`, `audit_checkpoints_pkey`, ...).
    #[error("already exists ({0})")]
    Duplicate(String),
    /// A row it refers to does not exist (foreign key).
    #[error("a referenced row is missing")]
    MissingReference,
    /// A CHECK constraint failed; its name.
    #[error("check {0} failed")]
    Check(String),
    /// The file is not a pending upload (gone, or completed already).
    #[error("the file is not a pending upload")]
    FileNotPending,
    /// The file's chunks are not all there.
    #[error("the file's chunks are incomplete")]
    FileChunksIncomplete,
    /// Another process extended the stored audit tree first.
    #[error("the stored audit tree moved")]
    AuditTreeMoved,
    /// A checkpoint size beyond what the store can hold.
    #[error("checkpoint size out of range")]
    CheckpointSize,
}

impl StoreError {
    /// Whether this is an outage ([`StoreError::Unavailable`]): pool
    /// timeouts and a closed pool; I/O and TLS errors (refused, reset,
    /// closed connections); PostgreSQL class 08 (connection exception),
    /// 57P01/57P02/57P03 (admin shutdown, crash shutdown, cannot connect
    /// now), 53300 (too many connections), 55P03 and 57014 (our
    /// `lock_timeout` and `statement_timeout` ran out), 25006 (a read-only
    /// server: a standby during a failover); SQLite BUSY and LOCKED (another
    /// connection holds the lock past the busy timeout), from sqlx and rusqlite.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    /// Decoding problems mean the stored data is malformed; outages are
    /// `Unavailable`; everything else is a database error. (Constraint
    /// violations are mapped to conflicts by each backend first.)
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!("column {index}: {source}")),
            sqlx::Error::ColumnNotFound(column) => StoreError::Corrupt(format!("column {column} missing")),
            sqlx::Error::Decode(source) => StoreError::Corrupt(source.to_string()),
            other if sqlx_error_is_unavailable(&other) => StoreError::Unavailable(other.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(error.to_string())
    }
}

/// PostgreSQL SQLSTATEs that mean "not now" rather than "not so" (see
/// [`StoreError::is_unavailable`]); class 08 is matched by its prefix.
const POSTGRES_UNAVAILABLE_CODES: [&str; 7] = ["57P01", "57P02", "57P03", "53300", "55P03", "57014", "25006"];

/// SQLite's primary result codes SQLITE_BUSY and SQLITE_LOCKED (sqlx reports
/// the extended code; its low byte is the primary one).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

fn sqlx_error_is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(database_error) => {
            if let Some(postgres) = database_error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let code = postgres.code();
                code.starts_with("08") || POSTGRES_UNAVAILABLE_CODES.contains(&code)
            } else if database_error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                database_error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// Maps a driver error that is not a constraint violation (see
/// `From<sqlx::Error>`).
pub(super) fn driver_error(error: sqlx::Error) -> StoreError {
    error.into()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::time::Duration;

    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    use super::*;
    use crate::store::sqlite;

    /// Real SQLite errors from sqlx: a write lock held by another connection
    /// (BUSY, extended code) is an outage; a constraint failure is not.
    #[tokio::test]
    async fn sqlite_busy_from_sqlx_is_unavailable_and_a_constraint_is_not() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", directory.path().join("t.db").display()))
            .expect("url")
            .create_if_missing(true)
            .busy_timeout(Duration::ZERO);
        let mut holder = SqliteConnection::connect_with(&options).await.expect("first connection");
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(&mut holder).await.expect("create");
        sqlx::query("INSERT INTO t VALUES (1)").execute(&mut holder).await.expect("insert");
        let duplicate = sqlx::query("INSERT INTO t VALUES (1)").execute(&mut holder).await.expect_err("duplicate");
        assert!(!StoreError::from(duplicate).is_unavailable(), "a constraint failure is no outage");

        sqlx::query("BEGIN IMMEDIATE").execute(&mut holder).await.expect("take the write lock");
        let mut waiter = SqliteConnection::connect_with(&options).await.expect("second connection");
        let busy = sqlx::query("BEGIN IMMEDIATE").execute(&mut waiter).await.expect_err("the lock is held");
        assert!(StoreError::from(busy).is_unavailable(), "SQLITE_BUSY is an outage");
    }

    #[test]
    fn connection_failures_are_unavailable_and_data_problems_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let sqlite =
            |code| sqlite::audit::sqlite_error(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None));
        for unavailable in [
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::from(sqlx::Error::Io(refused)),
            StoreError::from(sqlx::Error::Io(reset)),
            sqlite(rusqlite::ffi::SQLITE_BUSY),
            sqlite(rusqlite::ffi::SQLITE_LOCKED),
        ] {
            assert!(unavailable.is_unavailable(), "{unavailable:?}");
        }
        for failure in [
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Conflict(Conflict::Duplicate("citizens_pkey".to_owned())),
            StoreError::Corrupt("audit_head row is missing".to_owned()),
            StoreError::Worker("panicked".to_owned()),
            StoreError::UnsupportedUrl,
            sqlite(rusqlite::ffi::SQLITE_CONSTRAINT),
            sqlite(rusqlite::ffi::SQLITE_CORRUPT),
        ] {
            assert!(!failure.is_unavailable(), "{failure:?}");
        }
    }
}
