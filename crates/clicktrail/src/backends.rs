//! The one place backends are chosen: every store the server uses, built from the settings of
//! SPEC §6. Unset means embedded — SQLite in the data directory for configuration, conversions,
//! the postback outbox and events, and in-process counters. A backend URL names an engine this
//! build does not speak yet, so a set one is a clear start-up error rather than a silent
//! fallback to the embedded store.

use std::sync::Arc;

use anyhow::Context;
use clicktrail_store::{
    Config, ConfigStore, ConversionStore, EventStore, JobQueue, MemoryCounters, SessionStore, SharedCounters,
};
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

/// Refuses a configured backend this build cannot reach.
fn refuse_unsupported(settings: &Settings) -> anyhow::Result<()> {
    let set = [
        ("database_url", settings.database_url.is_some(), "PostgreSQL"),
        ("clickhouse_url", settings.clickhouse_url.is_some(), "ClickHouse"),
        ("clickhouse_cluster", settings.clickhouse_cluster.is_some(), "ClickHouse"),
        ("redis_url", settings.redis_url.is_some(), "Redis"),
    ];
    if let Some((name, _, engine)) = set.iter().find(|(_, on, _)| *on) {
        anyhow::bail!(
            "{name} (CLICKTRAIL_{}) is set, but this build runs on the embedded store only: {engine} is not \
             supported yet. Unset it to use the embedded store in the data directory.",
            name.to_ascii_uppercase()
        );
    }
    Ok(())
}

/// The configuration store and the panel sessions beside it (commands that change records
/// offline: a password set there ends the user's sessions).
pub fn open_config(settings: &Settings) -> anyhow::Result<(Config, Arc<dyn SessionStore>)> {
    let (config, store) = open_sqlite(settings)?;
    let sessions: Arc<dyn SessionStore> = store;
    Ok((config, sessions))
}

fn open_sqlite(settings: &Settings) -> anyhow::Result<(Config, Arc<SqliteStore>)> {
    refuse_unsupported(settings)?;
    let store = Arc::new(SqliteStore::open(&settings.data_dir).with_context(|| {
        format!("cannot open the store in {} (check the path and its permissions)", settings.data_dir.display())
    })?);
    Ok((Config::new(store.clone()), store))
}

impl Backends {
    /// Opens (creating and migrating where needed) every store the settings name.
    pub fn open(settings: &Settings) -> anyhow::Result<Self> {
        let (config, store) = open_sqlite(settings)?;
        let events = SqliteEvents::open(&settings.data_dir)
            .with_context(|| format!("cannot open the events store in {}", settings.data_dir.display()))?;
        let db = store.path().map_or_else(|| "memory".to_owned(), |p| p.display().to_string());
        let events_db = settings.data_dir.join(clicktrail_store_sqlite::EVENTS_FILE);
        Ok(Self {
            config,
            conversions: store.clone(),
            jobs: store.clone(),
            sessions: store,
            events: Arc::new(events),
            counters: Arc::new(MemoryCounters::new()),
            described: vec![
                format!("configuration, conversions, postback outbox, panel sessions: SQLite {db}"),
                format!("clicks, impressions, rollups: SQLite {}", events_db.display()),
                "unique windows, caps, rate limits, login throttles: in this process".to_owned(),
            ],
        })
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
    use crate::settings::Secret;

    #[test]
    fn a_backend_this_build_lacks_is_a_clear_error() {
        let settings = Settings { redis_url: Some(Secret::new("redis://127.0.0.1:6379/0")), ..Settings::default() };
        let error = refuse_unsupported(&settings).expect_err("refused").to_string();
        assert!(error.contains("redis_url (CLICKTRAIL_REDIS_URL)") && error.contains("Redis"), "{error}");
        assert!(refuse_unsupported(&Settings::default()).is_ok());
    }
}
