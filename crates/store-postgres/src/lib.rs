//! The PostgreSQL backend: configuration records, conversions with their rollup-free tallies,
//! the postback outbox and (when no Redis holds them) panel sessions, shared by every node.
//!
//! Connections come from a pool that checks each one before handing it out
//! ([`RecyclingMethod::Verified`]), so a database restart costs the requests in flight and
//! nothing after. Migrations run under an advisory lock, so nodes starting together apply each
//! one once. A conversion and its outbox jobs share one transaction; jobs are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease, so several nodes deliver each postback once.

#![forbid(unsafe_code)]

mod changes;
mod config;
mod conversions;
mod sessions;
mod tally;

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clicktrail_domain::money::Money;
use clicktrail_store::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use rust_decimal::Decimal;
use tokio_postgres::NoTls;

/// The schema, in order; `schema_migrations` records which are applied.
pub const MIGRATIONS: &[(i32, &str)] =
    &[(1, include_str!("migrations/0001_schema.sql")), (2, include_str!("migrations/0002_config_changes.sql"))];

/// Any key of `pg_advisory_lock` the migrations take, the same on every node.
const MIGRATION_LOCK: i64 = 0x636c_6963_6b74_7261;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("postgres: {e}"))
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn to_units(m: Money) -> i64 {
    clicktrail_store::units::units(m.amount())
}

/// A `sum()` of a units column, read as text (PostgreSQL sums `BIGINT` into `NUMERIC`, which
/// never overflows), as an amount.
fn units_sum(text: Option<&str>) -> Decimal {
    text.map_or(Decimal::ZERO, clicktrail_store::units::units_sum)
}

/// Whether a text can be stored or matched: PostgreSQL's `TEXT` holds no NUL character, so a
/// value with one matches nothing (and binding it would be an error, not an empty answer).
fn storable(text: &str) -> bool {
    !text.contains('\0')
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The PostgreSQL store: one pool of connections to one database.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    changes: Arc<changes::Changes>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`, or key=value form) and
    /// applies the migrations this build has and the database lacks.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("postgres: database_url is not a connection string: {e}")))?;
        Self::connect_with(config).await
    }

    /// Connects with a prepared configuration (tests choose a schema with `options`).
    pub async fn connect_with(mut config: tokio_postgres::Config) -> Result<Self, StoreError> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("clicktrail");
        }
        let changes = Arc::new(changes::Changes::new(config.clone()));
        let manager =
            Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Verified });
        let pool = Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(backend)?;
        let store = Self { pool, changes };
        store.migrate().await?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(backend)
    }

    /// Applies every migration the database lacks, under a lock all nodes share; refuses a
    /// database migrated by a newer build. Returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(backend)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
        )
        .await
        .map_err(backend)?;
        let newest: Option<i32> =
            tx.query_one("SELECT max(version) FROM schema_migrations", &[]).await.map_err(backend)?.get(0);
        let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
        if let Some(newest) = newest
            && newest > known
        {
            return Err(StoreError::Backend(format!(
                "postgres: the database's schema (version {newest}) is newer than this build (version {known}); \
                 run the newer build"
            )));
        }
        let mut applied = Vec::new();
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| newest.is_none_or(|n| *v > n)) {
            tx.batch_execute(sql).await.map_err(|e| backend(format!("migration {version}: {e}")))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                &[version, &ms(Utc::now())],
            )
            .await
            .map_err(backend)?;
            applied.push(*version);
        }
        tx.commit().await.map_err(backend)?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied PostgreSQL migrations");
        }
        Ok(applied)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await.map(drop).map_err(backend)
    }
}
