//! [`SessionStore`] on PostgreSQL (used when no Redis is configured).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_store::{SessionRecord, SessionStore, StoreError};
use tokio_postgres::error::SqlState;

use crate::{PgStore, backend, count, from_ms, ms, storable};

#[async_trait]
impl SessionStore for PgStore {
    async fn create(&self, id: &str, record: &SessionRecord) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO sessions (id, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                &[&id, &record.user_id, &record.csrf, &ms(record.created_at), &ms(record.expires_at)],
            )
            .await
            .map(drop)
            .map_err(|e| {
                if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
                    StoreError::Conflict { kind: "session", key: "id", value: String::new() }
                } else {
                    backend(e)
                }
            })
    }

    async fn get(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError> {
        if !storable(id) {
            return Ok(None);
        }
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT user_id, csrf, created_at, expires_at FROM sessions WHERE id = $1 AND expires_at > $2",
                &[&id, &ms(now)],
            )
            .await
            .map_err(backend)?;
        Ok(row.map(|r| SessionRecord {
            user_id: r.get(0),
            csrf: r.get(1),
            created_at: from_ms(r.get(2)),
            expires_at: from_ms(r.get(3)),
        }))
    }

    async fn extend(&self, id: &str, expires_at: DateTime<Utc>) -> Result<bool, StoreError> {
        if !storable(id) {
            return Ok(false);
        }
        let n = self
            .client()
            .await?
            .execute("UPDATE sessions SET expires_at = $2 WHERE id = $1", &[&id, &ms(expires_at)])
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        if !storable(id) {
            return Ok(false);
        }
        let n = self.client().await?.execute("DELETE FROM sessions WHERE id = $1", &[&id]).await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn delete_user(&self, user_id: i64) -> Result<u64, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .await
            .map_err(backend)?;
        Ok(count(i64::try_from(n).unwrap_or(i64::MAX)))
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM sessions WHERE expires_at <= $1", &[&ms(now)])
            .await
            .map_err(backend)?;
        Ok(count(i64::try_from(n).unwrap_or(i64::MAX)))
    }
}
