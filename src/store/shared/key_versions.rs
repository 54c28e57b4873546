//! The wrapped keys (citizens' DEKs, form drafts' keys) by KEK version, for
//! `tresor keys rotate-kek`: count them, read a batch still wrapped under an
//! older version, and replace a wrapping only where the row still holds the
//! wrapping that was read (so a concurrent change is never overwritten).

use std::collections::BTreeMap;

use sqlx::{Pool, Row, Transaction};

use super::{Db, db_error};
use crate::store::error::driver_error;
use crate::store::{KeyRewrap, Result, StoreError, WrappedKeyRecord, WrappedKeyTable};

pub(super) async fn versions_in_use(pool: &Pool<Db>) -> Result<BTreeMap<u32, u64>> {
    let mut counts = BTreeMap::new();
    for table in [WrappedKeyTable::Citizens, WrappedKeyTable::FormDrafts] {
        let query = match table {
            WrappedKeyTable::Citizens => "SELECT kek_version, COUNT(*) AS n FROM citizens GROUP BY kek_version",
            WrappedKeyTable::FormDrafts => "SELECT kek_version, COUNT(*) AS n FROM form_drafts GROUP BY kek_version",
        };
        for row in sqlx::query(query).fetch_all(pool).await.map_err(db_error)? {
            let version = version_of(row.try_get("kek_version").map_err(driver_error)?)?;
            let n: i64 = row.try_get("n").map_err(driver_error)?;
            *counts.entry(version).or_insert(0) += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(counts)
}

pub(super) async fn not_under(
    pool: &Pool<Db>,
    table: WrappedKeyTable,
    version: u32,
    after: Option<&[u8]>,
    limit: u32,
) -> Result<Vec<WrappedKeyRecord>> {
    // The key column is text for citizens (32 lowercase hex characters, so
    // every collation orders them alike) and bytes for drafts.
    let rows = match table {
        WrappedKeyTable::Citizens => {
            let after = after.map(|bytes| String::from_utf8_lossy(bytes).into_owned()).unwrap_or_default();
            sqlx::query(
                "SELECT id AS key, kek_version, wrapped_dek AS wrapped FROM citizens \
                 WHERE kek_version <> $1 AND ($2 OR id > $3) ORDER BY id LIMIT $4",
            )
            .bind(i64::from(version))
            .bind(after.is_empty())
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        }
        WrappedKeyTable::FormDrafts => {
            sqlx::query(
                "SELECT id_hash AS key, kek_version, wrapped_key AS wrapped FROM form_drafts \
                 WHERE kek_version <> $1 AND ($2 OR id_hash > $3) ORDER BY id_hash LIMIT $4",
            )
            .bind(i64::from(version))
            .bind(after.is_none())
            .bind(after.unwrap_or_default().to_vec())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        }
    }
    .map_err(db_error)?;
    rows.iter()
        .map(|row| {
            let key = match table {
                WrappedKeyTable::Citizens => row.try_get::<String, _>("key").map_err(driver_error)?.into_bytes(),
                WrappedKeyTable::FormDrafts => row.try_get::<Vec<u8>, _>("key").map_err(driver_error)?,
            };
            Ok(WrappedKeyRecord {
                table,
                key,
                kek_version: version_of(row.try_get("kek_version").map_err(driver_error)?)?,
                wrapped: row.try_get("wrapped").map_err(driver_error)?,
            })
        })
        .collect()
}

/// In one transaction; a row whose wrapping changed since it was read (or
/// that is gone) is left alone. Returns how many rows were replaced.
pub(super) async fn rewrap(mut tx: Transaction<'static, Db>, rewraps: &[KeyRewrap]) -> Result<u64> {
    let mut replaced = 0;
    for rewrap in rewraps {
        let table = rewrap.old.table;
        let statement = match table {
            WrappedKeyTable::Citizens => sqlx::query(
                "UPDATE citizens SET wrapped_dek = $1, kek_version = $2 \
                 WHERE id = $3 AND kek_version = $4 AND wrapped_dek = $5",
            )
            .bind(rewrap.wrapped.as_slice())
            .bind(i64::from(rewrap.kek_version))
            .bind(String::from_utf8_lossy(&rewrap.old.key).into_owned()),
            WrappedKeyTable::FormDrafts => sqlx::query(
                "UPDATE form_drafts SET wrapped_key = $1, kek_version = $2 \
                 WHERE id_hash = $3 AND kek_version = $4 AND wrapped_key = $5",
            )
            .bind(rewrap.wrapped.as_slice())
            .bind(i64::from(rewrap.kek_version))
            .bind(rewrap.old.key.clone()),
        };
        let done = statement
            .bind(i64::from(rewrap.old.kek_version))
            .bind(rewrap.old.wrapped.as_slice())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        replaced += done.rows_affected();
    }
    tx.commit().await.map_err(db_error)?;
    Ok(replaced)
}

fn version_of(stored: i64) -> Result<u32> {
    u32::try_from(stored).map_err(|_| StoreError::Corrupt(format!("kek_version {stored} out of range")))
}
