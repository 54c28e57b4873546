//! PostgreSQL implementation of `Store` (placeholder until implemented).
use super::*;
pub struct PostgresStore;
impl PostgresStore {
    pub async fn connect(_url: &str) -> Result<Self> {
        Err(StoreError::UnsupportedUrl)
    }
}
