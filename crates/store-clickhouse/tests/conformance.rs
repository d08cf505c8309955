//! The storage conformance suite on ClickHouse: the server of `TEST_CLICKHOUSE_SERVER`
//! (`scripts/clickhouse/start.sh`'s first shard when unset), each test in a database of its own.
//! A server that cannot be reached fails the tests; none is skipped.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use clicktrail_store::EventStore;
use clicktrail_store_clickhouse::{ClickHouseEvents, Server};

async fn store() -> ClickHouseEvents {
    use std::hash::{BuildHasher, RandomState};
    let server = std::env::var("TEST_CLICKHOUSE_SERVER").unwrap_or_else(|_| "http://127.0.0.1:18123".to_owned());
    let database = format!("ct_test_{:016x}", RandomState::new().hash_one(std::time::SystemTime::now()));
    let url = format!("{}/{database}", server.trim_end_matches('/'));
    let server = Server::from_url(&url).expect("TEST_CLICKHOUSE_SERVER");
    ClickHouseEvents::on(server).await.unwrap_or_else(|e| panic!("ClickHouse at {url} is needed for these tests: {e}"))
}

clicktrail_store::event_store_conformance!(async { Arc::new(store().await) as Arc<dyn EventStore> });

/// `n` clicks a second apart, starting an hour ago, on offer 7 and affiliate 3.
fn clicks_an_hour_ago(n: u8) -> Vec<clicktrail_domain::click::Click> {
    let at = chrono::Utc::now() - chrono::Duration::hours(1);
    (0..n)
        .map(|i| clicktrail_store::conformance::sample_click(at + chrono::Duration::seconds(i64::from(i)), i, 7, 3))
        .collect()
}

/// The same suite on two shards of a cluster (`TEST_CLICKHOUSE_SHARDS`, comma-separated, and
/// `TEST_CLICKHOUSE_CLUSTER`; start.sh's two servers and cluster when unset): every read and
/// write through `Distributed` tables.
mod two_shards {
    use super::*;

    pub async fn store() -> ClickHouseEvents {
        use std::hash::{BuildHasher, RandomState};
        let shards = std::env::var("TEST_CLICKHOUSE_SHARDS")
            .unwrap_or_else(|_| "http://127.0.0.1:18123,http://127.0.0.1:18124".to_owned());
        let cluster = std::env::var("TEST_CLICKHOUSE_CLUSTER").unwrap_or_else(|_| "clicktrail_test".to_owned());
        let database = format!("ct_test_{:016x}", RandomState::new().hash_one(std::time::SystemTime::now()));
        let urls: Vec<String> =
            shards.split(',').map(|s| format!("{}/{database}", s.trim().trim_end_matches('/'))).collect();
        ClickHouseEvents::connect_cluster(&urls.join(","), &cluster).await.unwrap_or_else(|e| {
            panic!("the ClickHouse shards {shards} (cluster {cluster}) are needed for these tests: {e}")
        })
    }

    clicktrail_store::event_store_conformance!(async { Arc::new(store().await) as Arc<dyn EventStore> });

    /// Clicks land on both shards, and each click on one only.
    #[tokio::test]
    async fn clicks_spread_over_the_shards() {
        let store = store().await;
        let clicks = clicks_an_hour_ago(64);
        store.append(Arc::new(clicktrail_store::EventBatch { clicks, impressions: vec![] })).await.expect("append");
        let per_shard = store.rows_per_shard("clicks").await.expect("counts");
        assert_eq!(per_shard.iter().sum::<u64>(), 64, "{per_shard:?}");
        assert!(per_shard.iter().all(|n| *n > 0), "both shards hold clicks: {per_shard:?}");
        assert_eq!(store.click_count().await.expect("count"), 64);
    }
}

/// The event writer retries a batch whose append failed with the same batch: whatever of it
/// had already landed is not written again.
#[tokio::test]
async fn a_retried_batch_is_written_once() {
    let store = store().await;
    let at = chrono::Utc::now() - chrono::Duration::hours(1);
    let clicks = clicks_an_hour_ago(10);
    let first = clicks[0].id;
    let batch = Arc::new(clicktrail_store::EventBatch { clicks, impressions: vec![] });
    store.append(batch.clone()).await.expect("append");
    store.append(batch.clone()).await.expect("the writer's retry");
    assert_eq!(store.click_count().await.expect("count"), 10);
    let rolled: u64 = store
        .rollups(at - chrono::Duration::hours(1), chrono::Utc::now())
        .await
        .expect("rollups")
        .iter()
        .map(|r| r.clicks)
        .sum();
    assert_eq!(rolled, 10);
    // A new batch with the same clicks is new traffic to the store (the writer never sends one).
    store.append(Arc::new((*batch).clone())).await.expect("another batch");
    assert_eq!(store.click_count().await.expect("count"), 20);
    assert_eq!(store.click(first).await.expect("lookup").map(|c| c.id), Some(first));
}

/// Applying the schema again changes nothing.
#[tokio::test]
async fn migrations_are_idempotent() {
    let store = store().await;
    assert!(store.migrate().await.expect("again").is_empty());
}

/// Every statement the store sends — schema, inserts, every kind of read, retention — also
/// runs on current ClickHouse: the conformance checks' statements, recorded on 18.16, are
/// replayed on PyPI's `chdb` (an in-process current ClickHouse). Needs python3 with chdb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_runs_on_current_clickhouse() {
    use clicktrail_store::conformance;
    clicktrail_store_clickhouse::http::record_statements();
    conformance::events_round_trip(Arc::new(store().await)).await.expect("round trip");
    conformance::click_queries_match_their_meaning(Arc::new(store().await)).await.expect("click queries");
    conformance::rollups_sum_buckets(Arc::new(store().await)).await.expect("rollups");
    conformance::restart_state(Arc::new(store().await)).await.expect("restart state");
    conformance::purge_keeps_converted_and_rollups(Arc::new(store().await)).await.expect("purge");
    conformance::tallies_equal_raw_sums(Arc::new(store().await)).await.expect("tallies");
    let sent = clicktrail_store_clickhouse::http::recorded_statements();
    assert!(sent.len() > 50, "the checks sent their statements: {}", sent.len());
    let dir = std::env::temp_dir().join(format!("clicktrail-chdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let file = dir.join("statements.jsonl");
    let lines: Vec<String> = sent.iter().map(|s| serde_json::to_string(s).expect("json")).collect();
    std::fs::write(&file, lines.join("\n")).expect("written");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/clickhouse/replay_on_chdb.py");
    let out = std::process::Command::new("python3").arg(&script).arg(&file).output().expect("python3 runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "current ClickHouse refused a statement (is PyPI's chdb installed?):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout));
}
