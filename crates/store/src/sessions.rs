//! The panel-session capability: who is logged in, by the hash of a session's secret.
//!
//! A session is found by the SHA-256 of the secret in its cookie, never the secret itself, so
//! a copy of the store logs nobody in. The embedded backend keeps sessions in the configuration
//! database; scaled out they live in Redis (SPEC §7), behind this same trait.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreError;

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The logged-in user.
    pub user_id: i64,
    /// The synchronizer token every form of this session carries (CSRF).
    pub csrf: String,
    /// When it was created (at login).
    pub created_at: DateTime<Utc>,
    /// When it ends unless used again (sliding expiry).
    pub expires_at: DateTime<Utc>,
}

/// Persistence of panel sessions.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session under `id` (the hash of its secret); an id already taken is a
    /// conflict and leaves that session as it was.
    async fn create(&self, id: &str, record: &SessionRecord) -> Result<(), StoreError>;

    /// The session `id`, unless it is unknown or expired at `now`.
    async fn get(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError>;

    /// Moves a live session's expiry to `expires_at`; false when it is gone.
    async fn extend(&self, id: &str, expires_at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Ends one session (logout); false when it was already gone.
    async fn delete(&self, id: &str) -> Result<bool, StoreError>;

    /// Ends every session of a user (password changed, account closed); returns how many.
    async fn delete_user(&self, user_id: i64) -> Result<u64, StoreError>;

    /// Forgets sessions expired before `now`; returns how many.
    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Sessions in this process's memory: for tests and for tools that run without a store.
#[derive(Debug, Default)]
pub struct MemorySessions {
    sessions: std::sync::Mutex<std::collections::HashMap<String, SessionRecord>>,
}

impl MemorySessions {
    /// No sessions.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, SessionRecord>> {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn create(&self, id: &str, record: &SessionRecord) -> Result<(), StoreError> {
        let mut sessions = self.lock();
        if sessions.contains_key(id) {
            return Err(StoreError::Conflict { kind: "session", key: "id", value: String::new() });
        }
        sessions.insert(id.to_owned(), record.clone());
        Ok(())
    }

    async fn get(&self, id: &str, now: DateTime<Utc>) -> Result<Option<SessionRecord>, StoreError> {
        Ok(self.lock().get(id).filter(|s| s.expires_at > now).cloned())
    }

    async fn extend(&self, id: &str, expires_at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.lock().get_mut(id).map(|s| s.expires_at = expires_at).is_some())
    }

    async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.lock().remove(id).is_some())
    }

    async fn delete_user(&self, user_id: i64) -> Result<u64, StoreError> {
        let mut sessions = self.lock();
        let before = sessions.len();
        sessions.retain(|_, s| s.user_id != user_id);
        Ok((before - sessions.len()) as u64)
    }

    async fn purge(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut sessions = self.lock();
        let before = sessions.len();
        sessions.retain(|_, s| s.expires_at > now);
        Ok((before - sessions.len()) as u64)
    }
}
