//! The accessibility feedback messages (`feedback_messages`): stored as
//! written, read newest first by data-protection officers.

use sqlx::{Pool, Row};

use super::{Db, db_error};
use crate::store::error::driver_error;
use crate::store::records::{time_from_micros, time_to_micros};
use crate::store::{FeedbackRecord, Result};

pub(super) async fn insert(pool: &Pool<Db>, record: &FeedbackRecord) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO feedback_messages (received_at, lang, message, contact) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(time_to_micros(record.received_at))
    .bind(record.lang.as_str())
    .bind(record.message.as_str())
    .bind(record.contact.as_str())
    .fetch_one(pool)
    .await
    .map_err(db_error)?;
    row.try_get::<i64, _>("id").map_err(driver_error)
}

pub(super) async fn newest_first(pool: &Pool<Db>, limit: u32, before_id: Option<i64>) -> Result<Vec<FeedbackRecord>> {
    sqlx::query(
        "SELECT id, received_at, lang, message, contact FROM feedback_messages \
         WHERE id < $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(db_error)?
    .iter()
    .map(|row| {
        Ok(FeedbackRecord {
            id: row.try_get("id").map_err(driver_error)?,
            received_at: time_from_micros(
                "feedback_messages.received_at",
                row.try_get("received_at").map_err(driver_error)?,
            )?,
            lang: row.try_get("lang").map_err(driver_error)?,
            message: row.try_get("message").map_err(driver_error)?,
            contact: row.try_get("contact").map_err(driver_error)?,
        })
    })
    .collect()
}
