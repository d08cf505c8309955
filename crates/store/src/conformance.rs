//! The conformance suite: what every backend of the storage traits must do.
//!
//! A backend runs it unchanged from its own tests with
//! `clicktrail_store::config_store_conformance!(async { /* a fresh, empty store */ })`, which
//! expands to one `#[tokio::test]` per check. The checks are public functions too, so a backend
//! that needs its own test harness can call them directly.

use std::sync::Arc;

use serde_json::json;

use crate::StoreError;
use crate::config::{ConfigStore, Index, Kind, Order, Query};

#[path = "conformance_events.rs"]
mod events_checks;
pub use events_checks::*;

#[path = "conformance_sessions.rs"]
mod session_checks;
pub use session_checks::*;

#[path = "conformance_tally.rs"]
mod tally_checks;
pub use tally_checks::*;

/// Result of one check: a panic message names what diverged.
pub type Check = Result<(), StoreError>;

fn idx(name: &str) -> Index {
    Index { name: Some(name.into()), ..Index::default() }
}

/// Inserted records read back exactly; ids grow; kinds do not share records.
pub async fn insert_and_get(store: Arc<dyn ConfigStore>) -> Check {
    let a = store.insert(Kind::Category, idx("A"), json!({"name": "A", "n": 1.5})).await?;
    let b = store.insert(Kind::Category, idx("B"), json!({"name": "B"})).await?;
    assert!(b > a && a > 0, "ids must be positive and increase: {a}, {b}");
    assert_eq!(store.get(Kind::Category, a).await?, Some(json!({"name": "A", "n": 1.5})));
    assert_eq!(store.get(Kind::Offer, a).await?, None, "kinds must not share records");
    assert_eq!(store.get(Kind::Category, b + 100).await?, None);
    Ok(())
}

/// A deleted record's id is never handed out again.
pub async fn ids_are_not_reused(store: Arc<dyn ConfigStore>) -> Check {
    let a = store.insert(Kind::Postback, Index::default(), json!({})).await?;
    assert!(store.delete(Kind::Postback, a).await?);
    assert!(!store.delete(Kind::Postback, a).await?, "second delete reports nothing deleted");
    let b = store.insert(Kind::Postback, Index::default(), json!({})).await?;
    assert!(b > a, "id {a} was reused");
    Ok(())
}

/// Unique values conflict on insert and update, are found, and free up on delete.
pub async fn unique_values(store: Arc<dyn ConfigStore>) -> Check {
    let unique = |v: &str| Index { unique: Some(("email", v.into())), ..Index::default() };
    let a = store.insert(Kind::User, unique("a@x.io"), json!({"who": "a"})).await?;
    let b = store.insert(Kind::User, unique("b@x.io"), json!({"who": "b"})).await?;
    match store.insert(Kind::User, unique("a@x.io"), json!({})).await {
        Err(StoreError::Conflict { key: "email", value, .. }) => assert_eq!(value, "a@x.io"),
        other => panic!("duplicate insert must conflict, got {other:?}"),
    }
    assert!(matches!(store.update(Kind::User, b, unique("a@x.io"), json!({})).await, Err(StoreError::Conflict { .. })));
    assert_eq!(store.get(Kind::User, b).await?, Some(json!({"who": "b"})), "a failed update changes nothing");
    assert_eq!(store.find_unique(Kind::User, "a@x.io").await?, Some((a, json!({"who": "a"}))));
    assert_eq!(store.find_unique(Kind::Offer, "a@x.io").await?, None);
    assert_eq!(store.find_unique(Kind::User, "a@x.io\u{0}").await?, None, "any text is looked up, NUL included");
    store.insert(Kind::Category, unique("a@x.io"), json!({})).await?;
    assert!(store.delete(Kind::User, a).await?);
    store.insert(Kind::User, unique("a@x.io"), json!({})).await?;
    Ok(())
}

/// Updates replace the document and the index; a missing record is `NotFound`.
pub async fn update_and_put(store: Arc<dyn ConfigStore>) -> Check {
    let status = |s: &str| Index { status: Some(s.into()), ..Index::default() };
    let id = store.insert(Kind::Offer, status("active"), json!({"v": 1})).await?;
    store.update(Kind::Offer, id, status("paused"), json!({"v": 2})).await?;
    assert_eq!(store.get(Kind::Offer, id).await?, Some(json!({"v": 2})));
    let q = Query { statuses: vec!["paused".into()], ..Query::default() };
    assert_eq!(store.list(Kind::Offer, &q).await?.total, 1);
    assert!(matches!(
        store.update(Kind::Offer, id + 1, Index::default(), json!({})).await,
        Err(StoreError::NotFound { id: missing, .. }) if missing == id + 1
    ));
    store.put(Kind::Network, 1, Index::default(), json!({"name": "N"})).await?;
    store.put(Kind::Network, 1, Index::default(), json!({"name": "M"})).await?;
    assert_eq!(store.get(Kind::Network, 1).await?, Some(json!({"name": "M"})));
    Ok(())
}

/// Waits (up to 3 s) until the store's version differs from `from`; the new version.
async fn version_after(store: &dyn ConfigStore, from: i64, what: &str) -> Result<i64, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let now = store.version().await?;
        if now != from {
            return Ok(now);
        }
        assert!(std::time::Instant::now() < deadline, "the version did not move within 3 s of {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The version moves after every insert, update, put and delete of a record other than an API
/// key (asynchronously is allowed: a backend may learn of a commit a moment later), and an API
/// key's use does not move it.
pub async fn version_follows_changes(store: Arc<dyn ConfigStore>) -> Check {
    // A backend may count its own start once (it cannot know what changed before it listened).
    let mut v = store.version().await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    v = store.version().await?.max(v);
    let id = store.insert(Kind::Offer, Index::default(), json!({"v": 1})).await?;
    v = version_after(store.as_ref(), v, "an insert").await?;
    store.update(Kind::Offer, id, Index::default(), json!({"v": 2})).await?;
    v = version_after(store.as_ref(), v, "an update").await?;
    store.put(Kind::Network, 1, Index::default(), json!({"name": "N"})).await?;
    v = version_after(store.as_ref(), v, "a put").await?;
    assert!(store.delete(Kind::Offer, id).await?);
    v = version_after(store.as_ref(), v, "a delete").await?;
    let key = store.insert(Kind::ApiKey, Index::default(), json!({"used": 0})).await?;
    store.update(Kind::ApiKey, key, Index::default(), json!({"used": 1})).await?;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(store.version().await?, v, "an API key's use must not reload every node's catalog");
    Ok(())
}

/// Every filter, the orders, and pagination with a total.
pub async fn list_filters_and_pages(store: Arc<dyn ConfigStore>) -> Check {
    let rows = [
        ("Alpha", "active", "affiliate", Some(10), Some(1), 3),
        ("beta", "paused", "affiliate", Some(10), Some(2), 1),
        ("Gamma", "active", "advertiser", Some(11), None, 2),
        ("ALPHABET", "closed", "affiliate", None, Some(1), 0),
    ];
    let mut ids = Vec::new();
    for (name, status, role, owner, r, pos) in rows {
        let index = Index {
            name: Some(name.into()),
            status: Some(status.into()),
            role: Some(role.into()),
            owner_id: owner,
            ref_id: r,
            position: Some(pos),
            unique: None,
        };
        ids.push(store.insert(Kind::User, index, json!({"name": name})).await?);
    }
    let names = |page: crate::Page<(i64, serde_json::Value)>| -> Vec<String> {
        page.items.iter().map(|(_, d)| d["name"].as_str().unwrap_or_default().to_owned()).collect()
    };
    let all = store.list(Kind::User, &Query::default()).await?;
    assert_eq!((all.total, names(all)), (4, vec!["Alpha".into(), "beta".into(), "Gamma".into(), "ALPHABET".into()]));
    let q = Query { statuses: vec!["active".into(), "paused".into()], ..Query::default() };
    assert_eq!(store.list(Kind::User, &q).await?.total, 3);
    let q = Query { role: Some("affiliate".into()), owner_id: Some(10), ..Query::default() };
    assert_eq!(names(store.list(Kind::User, &q).await?), ["Alpha", "beta"]);
    let q = Query { ref_id: Some(1), ..Query::default() };
    assert_eq!(names(store.list(Kind::User, &q).await?), ["Alpha", "ALPHABET"]);
    let q = Query { name_contains: Some("alpha".into()), ..Query::default() };
    assert_eq!(names(store.list(Kind::User, &q).await?), ["Alpha", "ALPHABET"]);
    let q = Query { name_contains: Some("%".into()), ..Query::default() };
    assert_eq!(store.list(Kind::User, &q).await?.total, 0, "search text is literal, not a pattern");
    let q = Query { name_contains: Some("Al\u{0}".into()), ..Query::default() };
    assert_eq!(store.list(Kind::User, &q).await?.total, 0, "any text is searched for, NUL included");
    let q = Query { ids: Some(vec![ids[2], ids[0], 9999]), ..Query::default() };
    assert_eq!(names(store.list(Kind::User, &q).await?), ["Alpha", "Gamma"]);
    let q = Query { ids: Some(vec![]), ..Query::default() };
    assert_eq!(store.list(Kind::User, &q).await?.total, 0);
    let q = Query { order: Order::Position, ..Query::default() };
    assert_eq!(names(store.list(Kind::User, &q).await?), ["ALPHABET", "beta", "Gamma", "Alpha"]);
    let q = Query { order: Order::IdDesc, offset: 1, limit: Some(2), ..Query::default() };
    let page = store.list(Kind::User, &q).await?;
    assert_eq!(page.total, 4, "total counts every match, not the page");
    assert_eq!(names(page), ["Gamma", "beta"]);
    let q = Query { offset: 10, limit: Some(2), ..Query::default() };
    let page = store.list(Kind::User, &q).await?;
    assert_eq!((page.total, page.items.len()), (4, 0));
    Ok(())
}

/// Concurrent inserts all succeed with distinct ids.
pub async fn concurrent_inserts(store: Arc<dyn ConfigStore>) -> Check {
    let mut tasks = Vec::new();
    for i in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.insert(Kind::Coupon, Index::default(), json!({"i": i})).await }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.map_err(|e| StoreError::Backend(e.to_string()))??);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 32);
    assert_eq!(store.list(Kind::Coupon, &Query::default()).await?.total, 32);
    store.ping().await
}

/// Expands to one `#[tokio::test]` per conformance check, each on a fresh store from `$make`
/// (an expression evaluating to a future of `Arc<dyn ConfigStore>`).
#[macro_export]
macro_rules! config_store_conformance {
    ($make:expr) => {
        $crate::conformance_tests!($make, ConfigStore;
            insert_and_get, ids_are_not_reused, unique_values, update_and_put,
            list_filters_and_pages, concurrent_inserts, version_follows_changes);
    };
}

/// One `#[tokio::test]` per check, each given a fresh `Arc<dyn $trait>` from `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr, $trait:ident; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store: ::std::sync::Arc<dyn $crate::$trait> = $make.await;
                $crate::conformance::$check(store).await.expect(stringify!($check));
            }
        )+
    };
}
