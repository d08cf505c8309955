//! The storage conformance suite on PostgreSQL: the server of `TEST_DATABASE_URL` (the local
//! one when unset), each test in a schema of its own. A server that cannot be reached fails
//! the tests; none is skipped.

#![allow(clippy::expect_used)]

use std::str::FromStr;
use std::sync::Arc;

use clicktrail_store_postgres::PgStore;

fn url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A store in a new, empty schema.
async fn store() -> PgStore {
    store_named().await.0
}

/// A store in a new, empty schema, the schema's name (also its connections' application name)
/// and the configuration that reaches it.
async fn store_named() -> (PgStore, String, tokio_postgres::Config) {
    use std::hash::{BuildHasher, RandomState};
    let url = url();
    let schema = format!("ct_test_{:016x}", RandomState::new().hash_one(std::time::SystemTime::now()));
    let config = tokio_postgres::Config::from_str(&url).expect("TEST_DATABASE_URL");
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed for these tests: {e}"));
    tokio::spawn(connection);
    client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("a schema");
    let mut config = config;
    config.options(format!("-c search_path={schema}"));
    config.application_name(&schema);
    (PgStore::connect_with(config.clone()).await.expect("the store"), schema, config)
}

/// A plain connection, for what the tests do behind the store's back.
async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

mod config {
    use clicktrail_store::ConfigStore;

    use super::*;

    clicktrail_store::config_store_conformance!(async { Arc::new(store().await) as Arc<dyn ConfigStore> });
}

mod sessions {
    use clicktrail_store::SessionStore;

    use super::*;

    clicktrail_store::session_store_conformance!(async { Arc::new(store().await) as Arc<dyn SessionStore> });
}

mod conversions {
    use clicktrail_store::{ConversionStore, JobQueue};

    use super::*;

    clicktrail_store::conversion_store_conformance!(async {
        let store = Arc::new(store().await);
        (store.clone() as Arc<dyn ConversionStore>, store as Arc<dyn JobQueue>)
    });
}

/// Migrations: applied once, and a database from a newer build is refused.
#[tokio::test]
async fn migrations_are_idempotent_and_refuse_newer_schemas() {
    let (store, schema, config) = store_named().await;
    assert!(store.migrate().await.expect("again").is_empty(), "nothing new to apply");
    admin()
        .await
        .batch_execute(&format!("INSERT INTO {schema}.schema_migrations (version, applied_at) VALUES (99, 0)"))
        .await
        .expect("a newer version");
    let refused = PgStore::connect_with(config).await.err().expect("a newer schema is refused");
    assert!(refused.to_string().contains("newer than this build"), "{refused}");
}

/// Two nodes claiming the same outbox at once never get the same job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_share_the_outbox_without_double_work() {
    use chrono::{Duration, Utc};
    use clicktrail_store::{JobQueue, NewJob};
    let (one, _, config) = store_named().await;
    let two = PgStore::connect_with(config).await.expect("a second node");
    let jobs: Vec<NewJob> = (0..200)
        .map(|i| NewJob {
            kind: "postback".into(),
            subject: format!("conversion:{i}"),
            payload: serde_json::json!({"i": i}),
            idempotency_key: format!("k{i}"),
            run_at: Utc::now() - Duration::seconds(1),
        })
        .collect();
    one.enqueue(jobs).await.expect("enqueue");
    let claim = |store: PgStore| async move {
        let mut got = Vec::new();
        loop {
            let batch = store.claim("postback", Utc::now(), 7, Duration::seconds(60)).await.expect("claim");
            if batch.is_empty() {
                return got;
            }
            got.extend(batch.into_iter().map(|j| j.id));
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(claim(one)), tokio::spawn(claim(two)));
    let (a, b) = (a.expect("node one"), b.expect("node two"));
    let mut all: Vec<i64> = a.iter().chain(&b).copied().collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), a.len() + b.len(), "no job was claimed twice");
    assert_eq!(all.len(), 200, "every job was claimed");
}

/// Connections the server drops (a restart, an administrator) are replaced before use.
#[tokio::test]
async fn the_pool_survives_dropped_connections() {
    use clicktrail_store::ConfigStore;
    let (store, schema, _) = store_named().await;
    store.ping().await.expect("up");
    let killed: i64 = admin()
        .await
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
            &[&schema],
        )
        .await
        .expect("terminate")
        .get(0);
    assert!(killed > 0, "the store's connections were found");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for _ in 0..3 {
        store.ping().await.expect("a fresh connection answers");
    }
    assert!(store.get(clicktrail_store::Kind::Offer, 1).await.expect("reads").is_none());
}
