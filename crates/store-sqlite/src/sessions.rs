//! [`SessionStore`] on SQLite: the `sessions` table of the configuration database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_store::{SessionRecord, SessionStore, StoreError};
use rusqlite::{OptionalExtension, params};

use crate::{SqliteStore, backend, count, from_ms, ms};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, id: &str, record: &SessionRecord) -> Result<(), StoreError> {
        let (id, r) = (id.to_owned(), record.clone());
        self.with(move |conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO sessions (id, user_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (id) DO NOTHING",
                    params![id, r.user_id, r.csrf, ms(r.created_at), ms(r.expires_at)],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::Conflict { kind: "session", key: "id", value: String::new() });
            }
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            conn.prepare_cached(
                "SELECT user_id, csrf, created_at, expires_at FROM sessions WHERE id = ?1 AND expires_at > ?2",
            )
            .map_err(backend)?
            .query_row(params![id, ms(now)], |r| {
                Ok(SessionRecord {
                    user_id: r.get(0)?,
                    csrf: r.get(1)?,
                    created_at: from_ms(r.get(2)?),
                    expires_at: from_ms(r.get(3)?),
                })
            })
            .optional()
            .map_err(backend)
        })
        .await
    }

    async fn extend(&self, id: &str, expires_at: DateTime<Utc>) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            conn.prepare_cached("UPDATE sessions SET expires_at = ?2 WHERE id = ?1")
                .and_then(|mut s| s.execute(params![id, ms(expires_at)]))
                .map(|n| n > 0)
                .map_err(backend)
        })
        .await
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            conn.execute("DELETE FROM sessions WHERE id = ?1", params![id]).map(|n| n > 0).map_err(backend)
        })
        .await
    }

    async fn delete_user(&self, user_id: i64) -> Result<u64, StoreError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM sessions WHERE user_id = ?1", params![user_id])
                .map(|n| count(n as i64))
                .map_err(backend)
        })
        .await
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", params![ms(now)])
                .map(|n| count(n as i64))
                .map_err(backend)
        })
        .await
    }
}
