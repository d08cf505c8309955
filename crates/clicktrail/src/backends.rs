//! The one place backends are chosen: every store the server uses, built from the settings of
//! SPEC §6. Unset means embedded — SQLite in the data directory for configuration, conversions,
//! the postback outbox and events, and in-process counters. `database_url` moves
//! configuration, conversions, the outbox and (without Redis) the panel sessions to
//! PostgreSQL; `clickhouse_url` moves clicks, impressions and their rollups to ClickHouse;
//! `redis_url` moves unique windows, caps, rate limits, login throttles and the panel sessions
//! to Redis; with `clickhouse_cluster`, events are sharded over that cluster (`clickhouse_url`
//! then names every shard). A backend that cannot serve is a clear start-up error rather than
//! a silent fallback to the embedded store.

use std::sync::Arc;

use anyhow::Context;
use clicktrail_store::{
    Config, ConfigStore, ConversionStore, EventStore, JobQueue, MemoryCounters, SessionStore, SharedCounters,
};
use clicktrail_store_clickhouse::ClickHouseEvents;
use clicktrail_store_postgres::PgStore;
use clicktrail_store_redis::{Redis, RedisCounters, RedisSessions};
use clicktrail_store_sqlite::{SqliteEvents, SqliteStore};

use crate::settings::Settings;

/// Every store of a running server.
#[derive(Clone)]
pub struct Backends {
    /// Configuration records.
    pub config: Config,
    /// Conversions.
    pub conversions: Arc<dyn ConversionStore>,
    /// The postback outbox.
    pub jobs: Arc<dyn JobQueue>,
    /// Clicks, impressions and their rollups.
    pub events: Arc<dyn EventStore>,
    /// Unique windows, caps, rate limits and login throttles.
    pub counters: Arc<dyn SharedCounters>,
    /// Panel sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// What each store is, for `clicktrail migrate` and the start-up log.
    pub described: Vec<String>,
}

/// Refuses settings that cannot describe a backend.
fn refuse_unsupported(settings: &Settings) -> anyhow::Result<()> {
    if settings.clickhouse_cluster.is_some() && settings.clickhouse_url.is_none() {
        anyhow::bail!(
            "clickhouse_cluster (CLICKTRAIL_CLICKHOUSE_CLUSTER) is set without clickhouse_url: name the shards' \
             HTTP interfaces there (comma-separated, http://shard1:8123/clicktrail,http://shard2:8123/clicktrail)"
        );
    }
    Ok(())
}

/// The events store: ClickHouse or SQLite, and what it is.
async fn open_events(settings: &Settings) -> anyhow::Result<(Arc<dyn EventStore>, String)> {
    if let Some(url) = &settings.clickhouse_url {
        let urls: Vec<String> = url.expose().split(',').map(|u| shown(u.trim())).collect();
        let (events, what) = match &settings.clickhouse_cluster {
            Some(cluster) => (
                ClickHouseEvents::connect_cluster(url.expose(), cluster).await,
                format!("ClickHouse cluster {cluster} over {}", urls.join(", ")),
            ),
            None => (ClickHouseEvents::connect(url.expose()).await, format!("ClickHouse {}", urls.join(", "))),
        };
        let events = events.with_context(|| {
            format!("cannot reach ClickHouse at clickhouse_url (CLICKTRAIL_CLICKHOUSE_URL) {}", urls.join(", "))
        })?;
        return Ok((Arc::new(events), format!("clicks, impressions, rollups: {what}")));
    }
    let events = SqliteEvents::open(&settings.data_dir)
        .with_context(|| format!("cannot open the events store in {}", settings.data_dir.display()))?;
    let events_db = settings.data_dir.join(clicktrail_store_sqlite::EVENTS_FILE);
    Ok((Arc::new(events), format!("clicks, impressions, rollups: SQLite {}", events_db.display())))
}

/// Where a URL points, without its password (for logs).
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(a key=value connection string)".to_owned(),
    }
}

/// The configuration stores: PostgreSQL or SQLite.
enum ConfigBackend {
    Postgres(Arc<PgStore>, String),
    Sqlite(Arc<SqliteStore>),
}

async fn open_config_backend(settings: &Settings) -> anyhow::Result<ConfigBackend> {
    refuse_unsupported(settings)?;
    if let Some(url) = &settings.database_url {
        let store = PgStore::connect(url.expose()).await.with_context(|| {
            format!(
                "cannot reach PostgreSQL at database_url (CLICKTRAIL_DATABASE_URL) {} (is it running, and the database created?)",
                shown(url.expose())
            )
        })?;
        return Ok(ConfigBackend::Postgres(Arc::new(store), shown(url.expose())));
    }
    let store = Arc::new(SqliteStore::open(&settings.data_dir).with_context(|| {
        format!("cannot open the store in {} (check the path and its permissions)", settings.data_dir.display())
    })?);
    Ok(ConfigBackend::Sqlite(store))
}

async fn open_redis(settings: &Settings) -> anyhow::Result<Option<(Redis, String)>> {
    let Some(url) = &settings.redis_url else { return Ok(None) };
    let redis = Redis::connect(url.expose(), &settings.redis_prefix)
        .await
        .with_context(|| format!("cannot reach Redis at redis_url (CLICKTRAIL_REDIS_URL) {}", shown(url.expose())))?;
    redis.ping().await.with_context(|| format!("Redis at {} does not answer", shown(url.expose())))?;
    Ok(Some((redis, shown(url.expose()))))
}

/// The configuration store and the panel sessions beside it (commands that change records
/// offline: a password set there ends the user's sessions).
pub async fn open_config(settings: &Settings) -> anyhow::Result<(Config, Arc<dyn SessionStore>)> {
    let redis = open_redis(settings).await?;
    let (config, sessions, _) = config_and_sessions(settings, redis).await?;
    Ok((config, sessions))
}

type ConfigParts = (Config, Arc<dyn SessionStore>, ConfigBackend);

async fn config_and_sessions(settings: &Settings, redis: Option<(Redis, String)>) -> anyhow::Result<ConfigParts> {
    let backend = open_config_backend(settings).await?;
    let (config, own_sessions): (Config, Arc<dyn SessionStore>) = match &backend {
        ConfigBackend::Postgres(store, _) => (Config::new(store.clone()), store.clone()),
        ConfigBackend::Sqlite(store) => (Config::new(store.clone()), store.clone()),
    };
    let sessions = match redis {
        Some((redis, _)) => Arc::new(RedisSessions::new(redis)) as Arc<dyn SessionStore>,
        None => own_sessions,
    };
    Ok((config, sessions, backend))
}

impl Backends {
    /// Opens (creating and migrating where needed) every store the settings name.
    pub async fn open(settings: &Settings) -> anyhow::Result<Self> {
        let redis = open_redis(settings).await?;
        let (config, sessions, backend) = config_and_sessions(settings, redis.clone()).await?;
        let mut described = Vec::new();
        let sessions_where = if redis.is_some() { "" } else { ", panel sessions" };
        let (conversions, jobs): (Arc<dyn ConversionStore>, Arc<dyn JobQueue>) = match backend {
            ConfigBackend::Postgres(store, url) => {
                described
                    .push(format!("configuration, conversions, postback outbox{sessions_where}: PostgreSQL {url}"));
                (store.clone(), store)
            }
            ConfigBackend::Sqlite(store) => {
                let db = store.path().map_or_else(|| "memory".to_owned(), |p| p.display().to_string());
                described.push(format!("configuration, conversions, postback outbox{sessions_where}: SQLite {db}"));
                (store.clone(), store)
            }
        };
        let (events, what) = open_events(settings).await?;
        described.push(what);
        let counters: Arc<dyn SharedCounters> = match redis {
            Some((redis, url)) => {
                described
                    .push(format!("unique windows, caps, rate limits, login throttles, panel sessions: Redis {url}"));
                Arc::new(RedisCounters::new(redis))
            }
            None => {
                described.push("unique windows, caps, rate limits, login throttles: in this process".to_owned());
                Arc::new(MemoryCounters::new())
            }
        };
        Ok(Self { config, conversions, jobs, sessions, events, counters, described })
    }

    /// Moves everything written into each store's main files (at shutdown).
    pub async fn checkpoint(&self) {
        let config: &Arc<dyn ConfigStore> = self.config.store();
        for (name, done) in [("events", self.events.checkpoint().await), ("configuration", config.checkpoint().await)] {
            if let Err(e) = done {
                tracing::warn!(error = %e, "cannot checkpoint the {name} store; its -wal file still holds recent writes");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_needs_its_shards() {
        let settings = Settings { clickhouse_cluster: Some("shards".into()), ..Settings::default() };
        let error = refuse_unsupported(&settings).expect_err("refused").to_string();
        assert!(
            error.contains("clickhouse_cluster (CLICKTRAIL_CLICKHOUSE_CLUSTER)") && error.contains("clickhouse_url"),
            "{error}"
        );
        assert!(refuse_unsupported(&Settings::default()).is_ok());
    }

    #[test]
    fn logs_never_show_a_password() {
        assert_eq!(shown("postgres://ct:hunter2@db:5432/ct"), "postgres://ct:***@db:5432/ct");
        assert_eq!(shown("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert!(!shown("host=db password=hunter2").contains("hunter2"));
    }
}
