//! Checks of [`SessionStore`]: sessions found by id until they expire or are ended.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};

use super::Check;
use crate::StoreError;
use crate::sessions::{SessionRecord, SessionStore};

fn record(user_id: i64, minutes: i64) -> SessionRecord {
    // Now, to the second: a backend whose server expires keys by its own clock (Redis) keeps
    // them for the test.
    let now = Utc::now().timestamp();
    let created_at = Utc.timestamp_opt(now, 0).single().unwrap_or_default();
    SessionRecord {
        user_id,
        csrf: format!("csrf-{user_id}-{minutes}"),
        created_at,
        expires_at: created_at + Duration::minutes(minutes),
    }
}

/// A session reads back until it expires; an extended one lives longer; an id is never
/// taken twice.
pub async fn sessions_live_and_expire(store: Arc<dyn SessionStore>) -> Check {
    let s = record(7, 30);
    let at = s.created_at;
    store.create("a", &s).await?;
    assert_eq!(store.get("a", at).await?, Some(s.clone()));
    assert_eq!(store.get("b", at).await?, None, "an unknown id finds nothing");
    assert_eq!(store.get("A", at).await?, None, "ids are exact");
    assert_eq!(store.get("a\u{0}", at).await?, None, "any id is looked up, NUL included");
    assert!(!store.delete("a\u{0}").await?);
    assert_eq!(store.get("a", s.expires_at).await?, None, "gone once expired");
    let clash = store.create("a", &record(8, 30)).await;
    assert!(matches!(clash, Err(StoreError::Conflict { .. })), "an id is never reused: {clash:?}");
    assert_eq!(store.get("a", at).await?.map(|r| r.user_id), Some(7), "the clash changed nothing");
    assert!(store.extend("a", at + Duration::hours(2)).await?);
    assert_eq!(store.get("a", at + Duration::minutes(90)).await?.map(|r| r.user_id), Some(7));
    assert!(!store.extend("missing", at).await?);
    Ok(())
}

/// Logout ends one session; closing a user or changing its password ends all of its
/// sessions and no one else's; expired sessions are purged.
pub async fn sessions_end(store: Arc<dyn SessionStore>) -> Check {
    let at = record(1, 0).created_at;
    for (id, user, minutes) in [("a1", 1, 30), ("a2", 1, 30), ("b1", 2, 30), ("old", 3, 1)] {
        store.create(id, &record(user, minutes)).await?;
    }
    assert!(store.delete("a1").await?);
    assert!(!store.delete("a1").await?, "already gone");
    assert_eq!(store.get("a1", at).await?, None);
    store.create("a3", &record(1, 30)).await?;
    assert_eq!(store.delete_user(1).await?, 2);
    assert_eq!(store.get("a2", at).await?, None);
    assert!(store.get("b1", at).await?.is_some(), "other users keep theirs");
    assert_eq!(store.purge(at + Duration::minutes(5)).await?, 1, "only the expired one");
    assert!(store.get("b1", at).await?.is_some());
    Ok(())
}

/// Expands to one test per session-store check, each on a fresh store from `$make`.
#[macro_export]
macro_rules! session_store_conformance {
    ($make:expr) => {
        $crate::conformance_tests!($make, SessionStore; sessions_live_and_expire, sessions_end);
    };
}
