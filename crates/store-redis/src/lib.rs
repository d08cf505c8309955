//! The Redis backend: unique-click windows, exact caps, rate limits and login throttles
//! ([`RedisCounters`]), and panel sessions ([`RedisSessions`]), shared by every node.
//!
//! Every change is one Lua script or one command, so it is atomic on the server; a script
//! touches only keys of one hash slot (the keys of one [`Limit`] list share the `{…}` tag the
//! engine puts in them), so a Redis Cluster takes the same scripts. Every key is created with
//! its expiry in the same step: nothing outlives its period. [`ConnectionManager`] multiplexes
//! one connection per node and reconnects after a Redis restart; what the restart lost is put
//! back by the engine, which sees [`SharedCounters::generation`] change and seeds again from the
//! event and conversion stores (seeding never adds, so no count doubles).
//!
//! [`Limit`]: clicktrail_store::Limit
//! [`ConnectionManager`]: redis::aio::ConnectionManager
//! [`SharedCounters::generation`]: clicktrail_store::SharedCounters::generation

#![forbid(unsafe_code)]

mod counters;
mod sessions;

pub use counters::RedisCounters;
pub use sessions::RedisSessions;

use clicktrail_store::StoreError;
use redis::aio::ConnectionManager;

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

/// A connection to one Redis server (or cluster node) and the prefix of every key written.
#[derive(Clone)]
pub struct Redis {
    connection: ConnectionManager,
    namespace: String,
}

impl Redis {
    /// Connects to `url` (`redis://host:port/db`); every key starts with `namespace:` so
    /// several networks, or several test runs, can share one server.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        if namespace.is_empty() || namespace.contains(['{', '}', ' ']) {
            return Err(StoreError::Backend(format!("redis: the key prefix {namespace:?} must be a plain word")));
        }
        let client = redis::Client::open(url).map_err(backend)?;
        // Fail fast while Redis is away: a click that needs it must not hang on reconnects
        // (it waits for at most one retry, 100 ms later); the manager keeps reconnecting.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_millis(500)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(std::time::Duration::from_millis(100));
        let connection = ConnectionManager::new_with_config(client, config).await.map_err(backend)?;
        Ok(Self { connection, namespace: namespace.to_owned() })
    }

    fn key(&self, part: &str, name: &str) -> String {
        format!("{}:{part}:{name}", self.namespace)
    }

    fn conn(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// Whether the server answers (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let pong: String = redis::cmd("PING").query_async(&mut self.conn()).await.map_err(backend)?;
        if pong == "PONG" { Ok(()) } else { Err(StoreError::Backend(format!("redis: PING answered {pong}"))) }
    }
}
