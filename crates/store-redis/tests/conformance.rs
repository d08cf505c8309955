//! The storage conformance suite on Redis: the server of `TEST_REDIS_URL` (the local one when
//! unset). A server that cannot be reached fails the tests; none is skipped.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use clicktrail_store_redis::{Redis, RedisCounters, RedisSessions};

/// A connection under a namespace of its own, so tests running side by side share nothing.
async fn redis() -> Redis {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let namespace = format!("ct-test-{:016x}", rand_u64());
    Redis::connect(&url, &namespace).await.unwrap_or_else(|e| panic!("Redis at {url} is needed for these tests: {e}"))
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

mod counters {
    use clicktrail_store::SharedCounters;

    use super::*;

    clicktrail_store::counters_conformance!(async {
        Arc::new(RedisCounters::new(redis().await)) as Arc<dyn SharedCounters>
    });

    /// The generation mark is the same for every node until the server loses it.
    #[tokio::test]
    async fn every_node_reads_one_generation() {
        let redis = redis().await;
        let one = RedisCounters::new(redis.clone());
        let two = RedisCounters::new(redis);
        let first = one.generation().await.expect("generation");
        assert_eq!(two.generation().await.expect("generation"), first);
        assert_eq!(one.generation().await.expect("generation"), first, "stable while the server keeps it");
    }
}

mod sessions {
    use clicktrail_store::SessionStore;

    use super::*;

    clicktrail_store::session_store_conformance!(async {
        Arc::new(RedisSessions::new(redis().await)) as Arc<dyn SessionStore>
    });
}
