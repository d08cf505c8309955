//! The ClickHouse backend of the events: clicks and impressions in `MergeTree` tables
//! partitioned by month, 15-minute rollups kept by materialized views in a `SummingMergeTree`,
//! and every report's traffic summed by `GROUP BY` — from the rollups where they hold the
//! query's fields, from the raw events for the rest.
//!
//! Written for Debian's ClickHouse 18.16 (the one that installs here) and current ClickHouse:
//! plain HTTP with JSON lines, settings as URL parameters, values quoted into statements
//! ([`http::quote`]; 18.16 has no query parameters).
//!
//! - A batch is one insert per table; a retry first asks whether the batch's rows already
//!   landed (by the batch id every row carries), so a retried insert never counts twice.
//! - Raw events older than the retention go by dropping their month's partition, and by a
//!   delete for the rest of the month; converted clicks were copied to `clicks_kept` when they
//!   converted, and the rollups are never touched.

#![forbid(unsafe_code)]

pub mod http;
mod rows;
mod schema;
mod tally;

use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use clicktrail_domain::click::{Click, ClickId, Impression};
use clicktrail_store::StoreError;
use clicktrail_store::events::{
    AcceptedCount, BUCKET_SECONDS, ClickCondition, ClickField, ClickQuery, EventBatch, EventStore, RollupRow,
};
use clicktrail_store::tally::{Tallies, TallyQuery};
use serde::Deserialize;

pub use http::Server;
use http::quote;
use rows::{ClickDocRow, ClickRow, ImpressionRow, columns, tsv, units_text};
pub use schema::Layout;

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("clickhouse: {e}"))
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis().max(0)
}

/// The events store on one ClickHouse server, or on the shards of a cluster.
#[derive(Clone)]
pub struct ClickHouseEvents {
    /// Where statements go (in a cluster: one shard, through its `Distributed` tables).
    server: Server,
    /// Every server holding rows (one, or each shard).
    shards: Vec<Server>,
    layout: Layout,
    /// The batch the last append was given, while the writer holds it: a retry of it is known.
    last_batch: Arc<Mutex<Option<LastBatch>>>,
}

/// An append in progress: its batch, the id its rows carry and the tables that took them.
struct LastBatch {
    batch: Weak<EventBatch>,
    id: String,
    landed: Vec<&'static str>,
}

#[derive(Deserialize)]
struct Doc {
    doc: String,
}

#[derive(Deserialize)]
struct Count {
    n: u64,
}

/// A click a stream answers, before its document is read.
#[derive(Deserialize)]
struct Chosen {
    ts_ms: u64,
    id: String,
}

impl ClickHouseEvents {
    /// Connects to `clickhouse_url` (`http://host:8123/database`), creating the database and
    /// applying the schema it lacks.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::on(Server::from_url(url)?).await
    }

    /// The store on a server already chosen (tests pick a database of their own).
    pub async fn on(server: Server) -> Result<Self, StoreError> {
        let store = Self { shards: vec![server.clone()], server, layout: Layout::Single, last_batch: Arc::default() };
        store.migrate().await?;
        Ok(store)
    }

    /// The store on the shards of the `remote_servers` cluster `cluster`: `urls` is every
    /// shard's HTTP interface and database (comma-separated, the same database on each), the
    /// first one the one statements go through. Creates the local tables and the
    /// `Distributed` tables over them on every shard.
    pub async fn connect_cluster(urls: &str, cluster: &str) -> Result<Self, StoreError> {
        let shards = urls.split(',').map(|u| Server::from_url(u.trim())).collect::<Result<Vec<_>, _>>()?;
        Self::on_shards(shards, cluster).await
    }

    /// The store on shards already chosen.
    pub async fn on_shards(shards: Vec<Server>, cluster: &str) -> Result<Self, StoreError> {
        let Some(first) = shards.first().cloned() else {
            return Err(backend("a cluster needs at least one shard's URL"));
        };
        if cluster.is_empty() || !cluster.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(backend(format!("clickhouse_cluster {cluster:?} is not a cluster name")));
        }
        if shards.iter().any(|s| s.database != first.database) {
            return Err(backend("every shard's URL must name the same database"));
        }
        let layout = Layout::Shard { cluster: cluster.to_owned(), database: first.database.clone() };
        let store = Self { server: first.clone(), shards, layout, last_batch: Arc::default() };
        // The database first (on every shard), then whether this server knows the cluster.
        for shard in &store.shards {
            shard.execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS {}", shard.database)).await?;
        }
        let sql = format!("SELECT count() AS n FROM system.clusters WHERE cluster = {}", quote(cluster));
        if store.server.rows::<Count>(&sql).await?.first().is_none_or(|c| c.n == 0) {
            return Err(backend(format!("the server knows no remote_servers cluster {cluster:?}")));
        }
        store.migrate().await?;
        Ok(store)
    }

    /// Creates the database and applies every schema version it lacks; refuses a schema from a
    /// newer build. Returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<u32>, StoreError> {
        let mut applied = Vec::new();
        for shard in &self.shards {
            for version in self.migrate_server(shard).await? {
                if !applied.contains(&version) {
                    applied.push(version);
                }
            }
        }
        Ok(applied)
    }

    async fn migrate_server(&self, server: &Server) -> Result<Vec<u32>, StoreError> {
        let db = &server.database;
        server.execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS {db}")).await?;
        server
            .execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied_at DateTime) ENGINE = TinyLog",
            )
            .await?;
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let newest = server.rows::<Version>("SELECT max(version) AS v FROM schema_migrations").await?;
        let newest = newest.first().map_or(0, |r| r.v);
        let all = schema::migrations(&self.layout);
        let known = all.last().map_or(0, |(v, _)| *v);
        if newest > known {
            return Err(backend(format!(
                "the database's schema (version {newest}) is newer than this build (version {known}); run the newer build"
            )));
        }
        let mut applied = Vec::new();
        for (version, statements) in all.into_iter().filter(|(v, _)| *v > newest) {
            // Every statement is IF NOT EXISTS: nodes migrating together, or a migration cut
            // short, simply run them again.
            for sql in statements {
                // Filling a new table from ten million events takes minutes on a small server.
                let limit = std::time::Duration::from_secs(3_600);
                server.execute_for(&sql, limit).await.map_err(|e| backend(format!("migration {version}: {e}")))?;
            }
            server.execute(&format!("INSERT INTO schema_migrations VALUES ({version}, now())")).await?;
            applied.push(version);
        }
        if !applied.is_empty() {
            tracing::info!(?applied, "applied ClickHouse migrations");
        }
        Ok(applied)
    }

    /// How many rows of a table each shard holds (one number for a single server).
    pub async fn rows_per_shard(&self, table: &str) -> Result<Vec<u64>, StoreError> {
        if !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(backend(format!("{table:?} is not a table")));
        }
        let mut out = Vec::new();
        for shard in &self.shards {
            let sql = format!("SELECT count() AS n FROM {table}{}", self.layout.local());
            out.push(shard.rows::<Count>(&sql).await?.first().map_or(0, |c| c.n));
        }
        Ok(out)
    }

    /// Whether every server holding rows answers (in a cluster, each shard: writes through a
    /// `Distributed` table wait for all of them), naming the first that does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        for (n, shard) in self.shards.iter().enumerate() {
            if let Err(e) = shard.execute("SELECT 1").await {
                return Err(if self.shards.len() > 1 {
                    StoreError::Backend(format!("clickhouse shard {} of {}: {e}", n + 1, self.shards.len()))
                } else {
                    e
                });
            }
        }
        Ok(())
    }

    /// Inserts one table's rows of a batch, retrying on failure; before each retry (and before
    /// the first attempt of a batch the writer tries again) it counts the batch's rows already
    /// there (one insert of a few thousand rows is one part: all of it landed or none), so a
    /// retry never doubles them.
    #[allow(clippy::too_many_arguments)]
    async fn insert_once(
        &self,
        table: &str,
        columns: &str,
        body: String,
        rows: u64,
        batch: &str,
        span: (i64, i64),
        retried_batch: bool,
    ) -> Result<(), StoreError> {
        let mut last = None;
        for attempt in 0..4u32 {
            if attempt > 0 || retried_batch {
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                let sql = format!(
                    "SELECT count() AS n FROM {table} WHERE ts_ms >= {} AND ts_ms <= {} AND batch = {}",
                    span.0,
                    span.1,
                    quote(batch)
                );
                match self.server.rows::<Count>(&sql).await {
                    Ok(found) if found.first().is_some_and(|c| c.n >= rows) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            match self.server.insert(table, columns, body.clone()).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, table, attempt, "ClickHouse insert failed; retrying");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| backend("insert failed")))
    }

    /// Rows of `id` and `doc`, the documents by their click ids.
    async fn id_docs(&self, sql: &str) -> Result<impl Iterator<Item = (String, String)>, StoreError> {
        #[derive(Deserialize)]
        struct IdDoc {
            id: String,
            doc: String,
        }
        Ok(self.server.rows::<IdDoc>(sql).await?.into_iter().map(|r| (r.id, r.doc)))
    }

    async fn docs<T: for<'de> Deserialize<'de>>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        let docs = self.server.rows::<Doc>(sql).await?;
        docs.into_iter()
            .map(|d| {
                serde_json::from_str(&d.doc).map_err(|e| StoreError::Corrupt {
                    kind: "event",
                    id: 0,
                    message: e.to_string(),
                })
            })
            .collect()
    }
}

fn column(field: ClickField) -> &'static str {
    field.column()
}

/// A condition as SQL that is true or false, never NULL (so `NOT` of it is exact too).
fn condition(c: &ClickCondition) -> String {
    let col = column(c.field);
    let Some(value) = &c.value else { return "0".to_owned() };
    if c.field.is_numeric() {
        match value.parse::<i64>() {
            Ok(n) => format!("ifNull({col} = {n}, 0)"),
            Err(_) => "0".to_owned(),
        }
    } else {
        format!("lowerUTF8({col}) = {}", quote(&value.to_lowercase()))
    }
}

fn one_of(col: &str, ids: &[i64]) -> String {
    if ids.is_empty() {
        return "0".to_owned();
    }
    format!("{col} IN ({})", ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
}

fn click_conditions(q: &ClickQuery) -> Vec<String> {
    let mut out = vec![format!("ts_ms >= {}", ms(q.from)), format!("ts_ms < {}", ms(q.to))];
    if let Some(offers) = &q.offers {
        out.push(one_of("offer_id", offers));
    }
    if let Some(affiliates) = &q.affiliates {
        out.push(one_of("affiliate_id", affiliates));
    }
    for (_, alternatives) in q.filter_groups() {
        out.push(format!("({})", alternatives.iter().map(|c| condition(c)).collect::<Vec<_>>().join(" OR ")));
    }
    for x in &q.exclusions {
        out.push(format!("NOT ({})", condition(x)));
    }
    out
}

/// The first instant of the month of `at` (UTC).
fn month_start(at: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(at.year(), at.month(), 1, 0, 0, 0).single().unwrap_or(at)
}

#[async_trait]
impl EventStore for ClickHouseEvents {
    fn batching(&self) -> clicktrail_store::Batching {
        // Every insert is a part on disk (and one in each rollup): a few inserts a second.
        clicktrail_store::Batching { linger: std::time::Duration::from_millis(250), batch_size: 16_384 }
    }

    async fn append(&self, batch: Arc<EventBatch>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        // The writer retries a batch that failed with the same batch: it keeps its id, the
        // tables that took it are not written again, and the others are asked first whether
        // their rows landed (an insert that timed out may have).
        let (id, retry, landed) = {
            let mut last = self.last_batch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match last.as_ref() {
                Some(l) if Weak::ptr_eq(&l.batch, &Arc::downgrade(&batch)) => (l.id.clone(), true, l.landed.clone()),
                _ => {
                    let id = format!("{:016x}", rand::random::<u64>());
                    *last = Some(LastBatch { batch: Arc::downgrade(&batch), id: id.clone(), landed: Vec::new() });
                    (id, false, Vec::new())
                }
            }
        };
        let mut inserts: Vec<(&'static str, String, String, u64, (i64, i64))> = Vec::new();
        if !batch.clicks.is_empty() {
            let times = batch.clicks.iter().map(|c| i64::try_from(c.id.unix_ms()).unwrap_or(0));
            let span = (times.clone().min().unwrap_or(0), times.max().unwrap_or(0));
            let rows: Vec<ClickRow<'_>> = batch.clicks.iter().map(|c| ClickRow::of(c, &id)).collect();
            inserts.push(("clicks", columns(&rows[0])?, tsv(&rows)?, rows.len() as u64, span));
            let docs = batch.clicks.iter().map(|c| ClickDocRow::of(c, &id)).collect::<Result<Vec<_>, _>>()?;
            inserts.push(("click_docs", columns(&docs[0])?, tsv(&docs)?, docs.len() as u64, span));
        }
        if !batch.impressions.is_empty() {
            let rows = batch.impressions.iter().map(|i| ImpressionRow::of(i, &id)).collect::<Result<Vec<_>, _>>()?;
            let times = batch.impressions.iter().map(|i| ms(i.at));
            let span = (times.clone().min().unwrap_or(0), times.max().unwrap_or(0));
            inserts.push(("impressions", columns(&rows[0])?, tsv(&rows)?, rows.len() as u64, span));
        }
        for (table, columns, body, rows, span) in inserts {
            if landed.contains(&table) {
                continue;
            }
            self.insert_once(table, &columns, body, rows, &id, span, retry).await?;
            let mut last = self.last_batch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(l) = last.as_mut().filter(|l| l.id == id) {
                l.landed.push(table);
            }
        }
        Ok(())
    }

    async fn click(&self, id: ClickId) -> Result<Option<Click>, StoreError> {
        let at = i64::try_from(id.unix_ms()).unwrap_or(0);
        let hex = quote(&id.to_hex());
        let sql = format!(
            "SELECT doc FROM (
                SELECT doc FROM click_docs WHERE ts_ms = {at} AND id = {hex}
                UNION ALL SELECT doc FROM clicks_kept WHERE ts_ms = {at} AND id = {hex}) LIMIT 1"
        );
        Ok(self.docs::<Click>(&sql).await?.into_iter().next())
    }

    async fn clicks(&self, query: &ClickQuery) -> Result<Vec<Click>, StoreError> {
        if query.limit == 0 || query.to <= query.from {
            return Ok(Vec::new());
        }
        let conditions = click_conditions(query).join(" AND ");
        // The first `limit` matches in time order, raw and kept (kept clicks are copies of
        // converted ones, and the only copy of those older than the retention). The raw ones
        // are looked for in the range's first hour before the whole of it: a stream without
        // selective filters finds them there (here an hour holds 14,000 clicks) and reads a
        // 300th of the range; a selective one pays one short query more.
        let limit = query.limit;
        let first_hour = ms(query.from).saturating_add(3_600_000);
        let raw = async {
            let top = |extra: String| {
                format!("SELECT ts_ms, id FROM clicks WHERE {conditions}{extra} ORDER BY ts_ms, id LIMIT {limit}")
            };
            let early = self.server.rows::<Chosen>(&top(format!(" AND ts_ms < {first_hour}"))).await?;
            if early.len() >= limit || first_hour >= ms(query.to) {
                return Ok(early);
            }
            self.server.rows::<Chosen>(&top(String::new())).await
        };
        let kept = format!("SELECT ts_ms, id FROM clicks_kept WHERE {conditions} ORDER BY ts_ms, id LIMIT {limit}");
        let kept = self.server.rows::<Chosen>(&kept);
        let (raw, kept) = tokio::try_join!(raw, kept)?;
        let mut chosen: Vec<Chosen> = raw.into_iter().chain(kept).collect();
        chosen.sort_by(|a, b| (a.ts_ms, &a.id).cmp(&(b.ts_ms, &b.id)));
        chosen.dedup_by(|a, b| a.id == b.id);
        chosen.truncate(limit);
        let (Some(first), Some(last)) = (chosen.first(), chosen.last()) else { return Ok(Vec::new()) };
        // Their documents: the stretch from the first to the last when they are most of it,
        // else by their times written out, which ClickHouse narrows by the primary key to the
        // granules holding them (18.16 does not for a `GLOBAL IN` over another table).
        let span = format!("ts_ms >= {} AND ts_ms <= {}", first.ts_ms, last.ts_ms);
        let in_span = self.server.rows::<Count>(&format!("SELECT count() AS n FROM click_docs WHERE {span}")).await?;
        let mut docs: std::collections::HashMap<String, String> =
            if in_span.first().is_some_and(|c| c.n <= 4 * limit as u64) {
                self.id_docs(&format!("SELECT id, doc FROM click_docs WHERE {span}")).await?.collect()
            } else {
                let mut times: Vec<u64> = chosen.iter().map(|c| c.ts_ms).collect();
                times.dedup();
                // One list (four side by side took longer here: ClickHouse spreads a query over
                // the cores itself), as an array: 18.16 makes a set of a long literal tuple
                // slowly, and uses the index for a subquery's set too.
                let list = times.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
                let sql = format!("SELECT id, doc FROM click_docs PREWHERE ts_ms IN (SELECT arrayJoin([{list}]))");
                self.id_docs(&sql).await?.collect()
            };
        // What raw documents lack (kept clicks past the retention) from the kept copies.
        let missing: Vec<&Chosen> = chosen.iter().filter(|c| !docs.contains_key(&c.id)).collect();
        if !missing.is_empty() {
            let times = missing.iter().map(|c| c.ts_ms.to_string()).collect::<Vec<_>>().join(", ");
            let ids = missing.iter().map(|c| quote(&c.id)).collect::<Vec<_>>().join(", ");
            let sql = format!("SELECT id, doc FROM clicks_kept PREWHERE ts_ms IN ({times}) AND id IN ({ids})");
            docs.extend(self.id_docs(&sql).await?);
        }
        chosen
            .iter()
            .filter_map(|c| docs.remove(&c.id))
            .map(|doc| {
                serde_json::from_str(&doc).map_err(|e| StoreError::Corrupt {
                    kind: "event",
                    id: 0,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        // Every insert is on the server's disk once it is answered.
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        ClickHouseEvents::ping(self).await
    }

    async fn click_count(&self) -> Result<u64, StoreError> {
        let sql = "SELECT count() AS n FROM (SELECT id FROM clicks UNION ALL
                   SELECT id FROM clicks_kept WHERE id GLOBAL NOT IN (SELECT id FROM clicks))";
        Ok(self.server.rows::<Count>(sql).await?.first().map_or(0, |c| c.n))
    }

    async fn impressions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Impression>, StoreError> {
        let sql = format!(
            "SELECT doc FROM impressions WHERE ts_ms >= {} AND ts_ms < {} ORDER BY ts_ms LIMIT {limit}",
            ms(from),
            ms(to)
        );
        self.docs(&sql).await
    }

    async fn rollups(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<RollupRow>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            bucket: i64,
            offer_id: i64,
            affiliate_id: i64,
            source_id: String,
            country: String,
            device_type: String,
            os: String,
            impressions: u64,
            clicks: u64,
            unique_clicks: u64,
            accepted: u64,
            rejected: u64,
            filtered: u64,
            payout: String,
            revenue: String,
        }
        let sql = format!(
            "SELECT bucket, offer_id, affiliate_id, source_id, country, device_type, os,
                sum(impressions) AS impressions, sum(clicks) AS clicks, sum(unique_clicks) AS unique_clicks,
                sum(accepted) AS accepted, sum(rejected) AS rejected, sum(filtered) AS filtered,
                toString(sum(payout)) AS payout, toString(sum(revenue)) AS revenue
             FROM rollup_traffic WHERE bucket >= {} AND bucket < {}
             GROUP BY bucket, offer_id, affiliate_id, source_id, country, device_type, os
             ORDER BY bucket, offer_id, affiliate_id, source_id, country, device_type, os",
            from.timestamp().max(0),
            to.timestamp().max(0)
        );
        Ok(self
            .server
            .rows::<Row>(&sql)
            .await?
            .into_iter()
            .map(|r| RollupRow {
                bucket: DateTime::from_timestamp(r.bucket, 0).unwrap_or_default(),
                offer_id: r.offer_id,
                affiliate_id: r.affiliate_id,
                source_id: r.source_id,
                country: r.country,
                device_type: r.device_type,
                os: r.os,
                impressions: r.impressions,
                clicks: r.clicks,
                unique_clicks: r.unique_clicks,
                accepted: r.accepted,
                rejected: r.rejected,
                filtered: r.filtered,
                payout: units_text(&r.payout),
                revenue: units_text(&r.revenue),
            })
            .collect())
    }

    async fn traffic_tally(&self, query: &TallyQuery) -> Result<Tallies, StoreError> {
        tally::traffic_tally(&self.server, query).await
    }

    async fn compact(&self, _through: DateTime<Utc>) -> Result<(), StoreError> {
        // ClickHouse merges parts itself; reads never depend on it.
        Ok(())
    }

    async fn accepted_since(&self, since: DateTime<Utc>) -> Result<Vec<AcceptedCount>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            bucket: i64,
            offer_id: i64,
            affiliate_id: i64,
            accepted: u64,
        }
        let from = since.timestamp().div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        let sql = format!(
            "SELECT bucket, offer_id, affiliate_id, sum(accepted) AS accepted FROM rollup_traffic
             WHERE bucket >= {} GROUP BY bucket, offer_id, affiliate_id HAVING accepted > 0",
            from.max(0)
        );
        Ok(self
            .server
            .rows::<Row>(&sql)
            .await?
            .into_iter()
            .map(|r| AcceptedCount {
                bucket: DateTime::from_timestamp(r.bucket, 0).unwrap_or_default(),
                offer_id: r.offer_id,
                affiliate_id: r.affiliate_id,
                accepted: r.accepted,
            })
            .collect())
    }

    async fn sightings_since(&self, since: DateTime<Utc>) -> Result<Vec<(u64, DateTime<Utc>)>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            unique_key: u64,
            ts_ms: i64,
        }
        let sql = format!("SELECT unique_key, ts_ms FROM clicks WHERE ts_ms >= {} ORDER BY ts_ms, id", ms(since));
        Ok(self
            .server
            .rows::<Row>(&sql)
            .await?
            .into_iter()
            .map(|r| (r.unique_key, DateTime::from_timestamp_millis(r.ts_ms).unwrap_or_default()))
            .collect())
    }

    async fn mark_converted(&self, id: ClickId) -> Result<bool, StoreError> {
        let at = i64::try_from(id.unix_ms()).unwrap_or(0);
        let hex = quote(&id.to_hex());
        let found = format!("SELECT count() AS n FROM clicks_kept WHERE ts_ms = {at} AND id = {hex}");
        if self.server.rows::<Count>(&found).await?.first().is_some_and(|c| c.n > 0) {
            return Ok(true);
        }
        // Copied while the raw click is there, with its document; a kept click is never purged.
        let columns = schema::click_columns_but_doc().join(", ");
        self.server
            .execute(&format!(
                "INSERT INTO clicks_kept ({columns}, doc) SELECT {columns},
                    (SELECT any(doc) FROM click_docs WHERE ts_ms = {at} AND id = {hex}) AS doc
                 FROM clicks WHERE ts_ms = {at} AND id = {hex} LIMIT 1"
            ))
            .await?;
        Ok(self.server.rows::<Count>(&found).await?.first().is_some_and(|c| c.n > 0))
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let cut = ms(cutoff);
        let gone = format!(
            "SELECT count() AS n FROM clicks WHERE ts_ms < {cut}
             AND id GLOBAL NOT IN (SELECT id FROM clicks_kept WHERE ts_ms < {cut})"
        );
        let removed = self.server.rows::<Count>(&gone).await?.first().map_or(0, |c| c.n);
        // Whole months before the cutoff's go by dropping their partitions (no TTL in 18.16),
        // on every shard.
        #[derive(Deserialize)]
        struct Part {
            partition: String,
        }
        let first_kept = month_start(cutoff).format("%Y%m").to_string();
        let month = ms(month_start(cutoff));
        for shard in &self.shards {
            for table in ["clicks", "click_docs", "impressions"].map(|t| format!("{t}{}", self.layout.local())) {
                let parts = format!(
                    "SELECT DISTINCT partition FROM system.parts WHERE database = {} AND table = {} AND active
                     AND partition < {}",
                    quote(&shard.database),
                    quote(&table),
                    quote(&first_kept)
                );
                for part in shard.rows::<Part>(&parts).await? {
                    if part.partition.chars().all(|c| c.is_ascii_digit()) {
                        shard.execute(&format!("ALTER TABLE {table} DROP PARTITION {}", part.partition)).await?;
                    }
                }
                // The rest of the cutoff's month: a delete, waited for.
                let pending = format!("SELECT count() AS n FROM {table} WHERE ts_ms >= {month} AND ts_ms < {cut}");
                if month < cut && shard.rows::<Count>(&pending).await?.first().is_some_and(|c| c.n > 0) {
                    shard
                        .execute(&format!("ALTER TABLE {table} DELETE WHERE ts_ms >= {month} AND ts_ms < {cut}"))
                        .await?;
                    wait_for_mutations(shard, &table).await?;
                }
            }
        }
        Ok(removed)
    }
}

/// Waits (up to a minute) until a table's deletes have run on a server.
async fn wait_for_mutations(server: &Server, table: &str) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT count() AS n FROM system.mutations WHERE database = {} AND table = {} AND is_done = 0",
        quote(&server.database),
        quote(table)
    );
    for _ in 0..600 {
        if server.rows::<Count>(&sql).await?.first().is_none_or(|c| c.n == 0) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(backend(format!("a delete on {table} did not finish within a minute")))
}
