//! SQLite implementation of `Store` (placeholder until implemented).
use super::*;
pub struct SqliteStore;
impl SqliteStore {
    pub async fn connect(_url: &str) -> Result<Self> {
        Err(StoreError::UnsupportedUrl)
    }
}
