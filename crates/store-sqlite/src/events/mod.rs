//! [`EventStore`] on SQLite: `events.db` beside the configuration database, so click writes
//! never wait on configuration writes (SQLite has one writer per file).
//!
//! - [`writer`]: the one writing thread and a batch's transaction;
//! - [`codec`]: rows to and from clicks and impressions;
//! - [`rollups`]: the 15-minute rollups and traffic tallies over every grain;
//! - [`clicks`]: raw-click queries (filters pushed into SQL, rollups skipping what cannot match).

mod clicks;
mod codec;
mod rollups;
mod writer;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Click, ClickId, Impression};
use clicktrail_store::StoreError;
use clicktrail_store::events::{AcceptedCount, BUCKET_SECONDS, ClickQuery, EventBatch, EventStore, RollupRow};
use clicktrail_store::tally::{Tallies, TallyQuery};
use rusqlite::{Connection, params};

pub(crate) use self::codec::id_bound_ms;
use self::codec::{CLICK_COLUMNS, IMPRESSION_COLUMNS, id_bound, read_click, read_impression};
use self::writer::WriterThread;
use crate::fold;
use crate::migrate::{EVENT_MIGRATIONS, migrate_with};
use crate::{backend, configure, count, from_ms, from_units, ms};

/// Name of the events database file inside the data directory.
pub const EVENTS_FILE: &str = "events.db";

/// The events store.
#[derive(Clone)]
pub struct SqliteEvents {
    writer: WriterThread,
    reader: Arc<Mutex<Connection>>,
}

fn open_connection(path: Option<&Path>) -> Result<Connection, StoreError> {
    let conn = match path {
        Some(p) => Connection::open(p).map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", p.display())))?,
        None => Connection::open_in_memory().map_err(backend)?,
    };
    configure(&conn)?;
    Ok(conn)
}

impl SqliteEvents {
    /// Opens (creating if needed) `events.db` in `data_dir` and applies its migrations.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        crate::create_data_dir(data_dir)?;
        let path = data_dir.join(EVENTS_FILE);
        crate::private_database(&path)?;
        let mut writer = open_connection(Some(&path))?;
        migrate_with(&mut writer, EVENT_MIGRATIONS)?;
        let reader = open_connection(Some(&path))?;
        // A report that groups raw clicks sorts them: with helper threads SQLite's sorter
        // uses the other cores (10 M clicks by three fields, 15.4 → 9.5 s here).
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(4);
        reader.pragma_update(None, "threads", i64::try_from(cores).unwrap_or(1)).map_err(backend)?;
        Ok(Self { writer: WriterThread::spawn(writer)?, reader: Arc::new(Mutex::new(reader)) })
    }

    async fn with<R: Send + 'static>(
        conn: &Arc<Mutex<Connection>>,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let conn = conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}

#[async_trait]
impl EventStore for SqliteEvents {
    async fn append(&self, batch: Arc<EventBatch>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.writer.run(move |conn| writer::append_batch(conn, &batch)).await
    }

    async fn click(&self, id: ClickId) -> Result<Option<Click>, StoreError> {
        Self::with(&self.reader, move |conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {CLICK_COLUMNS} FROM clicks WHERE id = ?1")).map_err(backend)?;
            let mut rows = stmt.query_map(params![id.to_bytes().to_vec()], read_click).map_err(backend)?;
            rows.next().transpose().map_err(backend)
        })
        .await
    }

    async fn clicks(&self, query: &ClickQuery) -> Result<Vec<Click>, StoreError> {
        let query = query.clone();
        Self::with(&self.reader, move |conn| clicks::select(conn, &query)).await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        self.writer.run(crate::checkpoint).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Self::with(&self.reader, |conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)).await
    }

    async fn click_count(&self) -> Result<u64, StoreError> {
        Self::with(&self.reader, |conn| {
            conn.query_row("SELECT count(*) FROM clicks", [], |r| r.get(0)).map(count).map_err(backend)
        })
        .await
    }

    async fn impressions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Impression>, StoreError> {
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {IMPRESSION_COLUMNS} FROM impressions WHERE ts >= ?1 AND ts < ?2 ORDER BY ts LIMIT ?3"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![ms(from), ms(to), i64::try_from(limit).unwrap_or(i64::MAX)], read_impression)
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn rollups(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<RollupRow>, StoreError> {
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT bucket, offer_id, affiliate_id, source_id, country, device_type, os, impressions, clicks,
                        unique_clicks, accepted, rejected, filtered, payout, revenue
                     FROM rollup_clicks WHERE bucket >= ?1 AND bucket < ?2
                     ORDER BY bucket, offer_id, affiliate_id, source_id, country, device_type, os",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![from.timestamp(), to.timestamp()], |r| {
                    Ok(RollupRow {
                        bucket: DateTime::from_timestamp(r.get(0)?, 0).unwrap_or_default(),
                        offer_id: r.get(1)?,
                        affiliate_id: r.get(2)?,
                        source_id: r.get(3)?,
                        country: r.get(4)?,
                        device_type: r.get(5)?,
                        os: r.get(6)?,
                        impressions: count(r.get(7)?),
                        clicks: count(r.get(8)?),
                        unique_clicks: count(r.get(9)?),
                        accepted: count(r.get(10)?),
                        rejected: count(r.get(11)?),
                        filtered: count(r.get(12)?),
                        payout: from_units(r.get(13)?),
                        revenue: from_units(r.get(14)?),
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn traffic_tally(&self, query: &TallyQuery) -> Result<Tallies, StoreError> {
        let query = query.clone();
        Self::with(&self.reader, move |conn| {
            // One read transaction: the marks and every table seen at the same moment.
            let tx = conn.transaction().map_err(backend)?;
            let tallies = rollups::traffic_tally(&tx, &query)?;
            tx.commit().map_err(backend)?;
            Ok(tallies)
        })
        .await
    }

    async fn compact(&self, through: DateTime<Utc>) -> Result<(), StoreError> {
        self.writer.run(move |conn| fold::through(conn, ms(through))).await
    }

    async fn accepted_since(&self, since: DateTime<Utc>) -> Result<Vec<AcceptedCount>, StoreError> {
        let from = since.timestamp().div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT bucket, offer_id, affiliate_id, sum(accepted) FROM rollup_clicks
                     WHERE bucket >= ?1 GROUP BY bucket, offer_id, affiliate_id HAVING sum(accepted) > 0",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![from], |r| {
                    Ok(AcceptedCount {
                        bucket: DateTime::from_timestamp(r.get(0)?, 0).unwrap_or_default(),
                        offer_id: r.get(1)?,
                        affiliate_id: r.get(2)?,
                        accepted: count(r.get(3)?),
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn sightings_since(&self, since: DateTime<Utc>) -> Result<Vec<(u64, DateTime<Utc>)>, StoreError> {
        Self::with(&self.reader, move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT unique_key, ts FROM clicks WHERE id >= ?1 ORDER BY id").map_err(backend)?;
            let rows = stmt
                .query_map(params![id_bound(since)], |r| Ok((r.get::<_, i64>(0)? as u64, from_ms(r.get(1)?))))
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn mark_converted(&self, id: ClickId) -> Result<bool, StoreError> {
        self.writer
            .run(move |conn| {
                conn.execute("UPDATE clicks SET converted = 1 WHERE id = ?1", params![id.to_bytes().to_vec()])
                    .map(|n| n > 0)
                    .map_err(backend)
            })
            .await
    }

    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.writer
            .run(move |conn| {
                let tx = conn.transaction().map_err(backend)?;
                let removed = tx
                    .execute("DELETE FROM clicks WHERE id < ?1 AND converted = 0", params![id_bound(cutoff)])
                    .map_err(backend)?;
                tx.execute("DELETE FROM impressions WHERE ts < ?1", params![ms(cutoff)]).map_err(backend)?;
                tx.commit().map_err(backend)?;
                Ok(removed as u64)
            })
            .await
    }
}
