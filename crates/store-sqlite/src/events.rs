//! [`EventStore`] on SQLite: `events.db` beside the configuration database, so click writes
//! never wait on configuration writes (SQLite has one writer per file).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Click, ClickId, Device, Geo, Impression, Rejection, TrackingParams};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::money::Money;
use clicktrail_domain::offer::{DeviceType, OsFamily};
use clicktrail_domain::report::{Dimension, Totals};
use clicktrail_store::StoreError;
use clicktrail_store::events::{AcceptedCount, BUCKET_SECONDS, EventBatch, EventStore, RollupRow, bucket_start};
use clicktrail_store::tally::{Grain, Piece, Tallies, TallyQuery};
use rusqlite::{Connection, Row, params};

use crate::fold;
use crate::migrate::{EVENT_MIGRATIONS, migrate_with};
use crate::tally::{self, Select, Table, raw_column, rollup_column};
use crate::{backend, configure, count, decimal_units, from_ms, from_units, ms, to_units};

/// Name of the events database file inside the data directory.
pub const EVENTS_FILE: &str = "events.db";

fn money(units: i64) -> Money {
    Money::new(from_units(units)).unwrap_or(Money::ZERO)
}

/// The events store.
#[derive(Clone)]
pub struct SqliteEvents {
    writer: WriterThread,
    reader: Arc<Mutex<Connection>>,
}

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// The one thread that writes `events.db`. It runs at a lower scheduling priority (nice +10)
/// than the threads serving requests, so a large batch never delays a click's answer; under
/// full load it still gets its share, and a full buffer pushes back on the requests.
#[derive(Clone)]
struct WriterThread {
    jobs: std::sync::mpsc::Sender<WriteJob>,
}

impl WriterThread {
    fn spawn(mut conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("clicktrail-events-writer".into())
            .spawn(move || {
                lower_priority();
                // Between writes, and every second when idle, fold finished quarter hours into
                // the coarse rollups, a small step at a time.
                let mut behind = true;
                let mut folded_to = i64::MIN;
                // Consecutive steps that left more to fold.
                let mut steps = 0_u64;
                const BACKLOG_STEPS: u64 = 100;
                loop {
                    let job = if behind {
                        match queue.try_recv() {
                            Ok(job) => Some(job),
                            Err(std::sync::mpsc::TryRecvError::Empty) => None,
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                        }
                    } else {
                        match queue.recv_timeout(std::time::Duration::from_secs(1)) {
                            Ok(job) => Some(job),
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    };
                    if let Some(job) = job {
                        job(&mut conn);
                    }
                    let due = fold::due_now();
                    if behind || due > folded_to {
                        behind = fold::step(&mut conn, due).unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "cannot fold rollups; trying again shortly");
                            false
                        });
                        if !behind {
                            folded_to = due;
                        }
                        // A long backlog (a store from before the coarse rollups, a bulk
                        // import) takes a while: say when it starts and ends.
                        let before = steps;
                        steps = if behind { steps + 1 } else { 0 };
                        if steps == BACKLOG_STEPS {
                            tracing::info!(
                                "folding past traffic into day and hour rollups; reports read finer data meanwhile"
                            );
                        } else if steps == 0 && before >= BACKLOG_STEPS {
                            tracing::info!("rollups folded");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the events writer: {e}")))?;
        Ok(Self { jobs })
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| StoreError::Backend("the events writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Backend("the events writer stopped mid-write".into()))?
    }
}

/// Nice +10 for the calling thread (best effort: without the right, it stays as it is).
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    // The crate maps 0..99 onto nice 20..-20; 25 is about nice +10.
    if let Ok(value) = ThreadPriorityValue::try_from(25u8)
        && let Err(e) = thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
    {
        tracing::debug!(error = ?e, "cannot lower the events writer's priority");
    }
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

#[derive(Hash, PartialEq, Eq)]
struct RollupKey {
    bucket: i64,
    offer_id: i64,
    affiliate_id: i64,
    source_id: String,
    country: String,
    device_type: &'static str,
    os: &'static str,
}

#[derive(Default)]
struct RollupSums {
    impressions: i64,
    clicks: i64,
    unique_clicks: i64,
    accepted: i64,
    rejected: i64,
    filtered: i64,
    payout: i64,
    revenue: i64,
}

fn rollup_key(
    at: DateTime<Utc>,
    offer_id: i64,
    affiliate_id: i64,
    params: &TrackingParams,
    geo: &Geo,
    device: &Device,
) -> RollupKey {
    RollupKey {
        bucket: bucket_start(at).timestamp(),
        offer_id,
        affiliate_id,
        source_id: params.source_id.clone(),
        country: geo.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        device_type: device.device_type.map_or("", DeviceType::as_str),
        os: device.os.map_or("", OsFamily::as_str),
    }
}

/// Traffic on ids that name nothing is kept raw but never counted.
fn counted(rejection: Option<Rejection>) -> bool {
    !matches!(rejection, Some(Rejection::UnknownOffer | Rejection::UnknownAffiliate))
}

fn rollups_of(batch: &EventBatch) -> HashMap<RollupKey, RollupSums> {
    let mut sums: HashMap<RollupKey, RollupSums> = HashMap::new();
    for c in batch.clicks.iter().filter(|c| counted(c.rejection)) {
        let s = sums.entry(rollup_key(c.at, c.offer_id, c.affiliate_id, &c.params, &c.geo, &c.device)).or_default();
        if !c.is_filter {
            s.clicks += 1;
            s.unique_clicks += i64::from(c.is_unique);
        }
        s.accepted += i64::from(c.rejection.is_none());
        s.rejected += i64::from(c.rejection.is_some());
        s.filtered += i64::from(c.is_filter);
        s.payout += to_units(c.payout);
        s.revenue += to_units(c.revenue);
    }
    for i in batch.impressions.iter().filter(|i| i.rejection.is_none()) {
        let s = sums.entry(rollup_key(i.at, i.offer_id, i.affiliate_id, &i.params, &i.geo, &i.device)).or_default();
        s.impressions += 1;
        s.payout += decimal_units(i.payout);
        s.revenue += decimal_units(i.revenue);
    }
    sums
}

const INSERT_CLICK: &str =
    "INSERT INTO clicks (id, ts, offer_id, affiliate_id, error_code, is_unique, is_robot, is_filter,
    unique_key, source_id, campaign, sub1, sub2, sub3, sub4, sub5, coupon_code, creative_id, url_id, deep_link, ip,
    user_agent, referer, accept_language, language, country, region, city, isp, carrier, organization, connection_type,
    device_type, os, os_name, os_version, browser, browser_version, brand, model, is_mobile, is_tablet, idfa,
    google_ad_id, android_id, query, payout, revenue)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,
    ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43, ?44, ?45, ?46,
    ?47, ?48)";

const CLICK_COLUMNS: &str = "id, ts, offer_id, affiliate_id, error_code, is_unique, is_robot, is_filter, source_id,
    campaign, sub1, sub2, sub3, sub4, sub5, coupon_code, creative_id, url_id, deep_link, ip, user_agent, referer,
    accept_language, language, country, region, city, isp, carrier, organization, connection_type, device_type, os,
    os_name, os_version, browser, browser_version, brand, model, is_mobile, is_tablet, idfa, google_ad_id, android_id,
    query, payout, revenue";

fn insert_click(stmt: &mut rusqlite::CachedStatement<'_>, c: &Click) -> rusqlite::Result<usize> {
    let p = &c.params;
    let d = &c.device;
    let g = &c.geo;
    let query = serde_json::to_string(&p.extra).unwrap_or_else(|_| "[]".into());
    stmt.execute(rusqlite::params![
        c.id.to_bytes().to_vec(),
        ms(c.at),
        c.offer_id,
        c.affiliate_id,
        c.rejection.map_or(0, Rejection::code),
        c.is_unique,
        c.is_robot,
        c.is_filter,
        c.unique_key() as i64,
        p.source_id,
        p.campaign,
        p.subs[0],
        p.subs[1],
        p.subs[2],
        p.subs[3],
        p.subs[4],
        p.coupon_code,
        p.creative_id,
        p.url_id,
        p.deep_link,
        c.ip.to_string(),
        c.user_agent,
        c.referer,
        c.accept_language,
        c.language,
        g.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        g.region,
        g.city,
        g.isp,
        g.carrier,
        g.organization,
        g.connection_type,
        d.device_type.map_or("", DeviceType::as_str),
        d.os.map_or("", OsFamily::as_str),
        d.os_name,
        d.os_version,
        d.browser,
        d.browser_version,
        d.brand,
        d.model,
        d.is_mobile,
        d.is_tablet,
        p.idfa,
        p.google_ad_id,
        p.android_id,
        query,
        to_units(c.payout),
        to_units(c.revenue),
    ])
}

/// Reads a row of `CLICK_COLUMNS` (by position: a lookup by name scans every column name).
fn read_click(r: &Row<'_>) -> rusqlite::Result<Click> {
    let id: Vec<u8> = r.get(0)?;
    let mut bytes = [0u8; 16];
    if id.len() == 16 {
        bytes.copy_from_slice(&id);
    }
    let text = |i: usize| r.get::<_, String>(i);
    let query: String = text(44)?;
    let ip: String = text(19)?;
    let error: u16 = r.get(4)?;
    Ok(Click {
        id: ClickId::from_bytes(bytes),
        at: from_ms(r.get(1)?),
        offer_id: r.get(2)?,
        affiliate_id: r.get(3)?,
        params: TrackingParams {
            subs: [text(10)?, text(11)?, text(12)?, text(13)?, text(14)?],
            source_id: text(8)?,
            creative_id: r.get(16)?,
            url_id: r.get(17)?,
            campaign: text(9)?,
            coupon_code: text(15)?,
            idfa: text(41)?,
            google_ad_id: text(42)?,
            android_id: text(43)?,
            deep_link: text(18)?,
            extra: if query == "[]" { Vec::new() } else { serde_json::from_str(&query).unwrap_or_default() },
        },
        ip: ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        user_agent: text(20)?,
        referer: text(21)?,
        accept_language: text(22)?,
        language: text(23)?,
        device: Device {
            device_type: DeviceType::parse(&text(31)?),
            os: OsFamily::parse(&text(32)?),
            os_name: text(33)?,
            os_version: text(34)?,
            browser: text(35)?,
            browser_version: text(36)?,
            brand: text(37)?,
            model: text(38)?,
            is_mobile: r.get(39)?,
            is_tablet: r.get(40)?,
        },
        geo: Geo {
            country: CountryCode::parse(&text(24)?).ok(),
            region: text(25)?,
            city: text(26)?,
            isp: text(27)?,
            carrier: text(28)?,
            organization: text(29)?,
            connection_type: text(30)?,
        },
        is_unique: r.get(5)?,
        is_robot: r.get(6)?,
        is_filter: r.get(7)?,
        rejection: Rejection::from_code(error),
        payout: money(r.get(45)?),
        revenue: money(r.get(46)?),
    })
}

fn append_batch(conn: &mut Connection, batch: &EventBatch) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let oldest = batch.clicks.iter().map(|c| c.at).chain(batch.impressions.iter().map(|i| i.at)).min();
    let late = match oldest {
        Some(oldest) => fold::late(&tx, ms(oldest))?,
        None => None,
    };
    {
        let mut stmt = tx.prepare_cached(INSERT_CLICK).map_err(backend)?;
        for c in &batch.clicks {
            insert_click(&mut stmt, c).map_err(backend)?;
        }
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO impressions (ts, offer_id, affiliate_id, error_code, creative_id, source_id, sub1, sub2,
                 sub3, sub4, sub5, ip, country, device_type, os, payout, revenue)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
            )
            .map_err(backend)?;
        for i in &batch.impressions {
            let p = &i.params;
            stmt.execute(params![
                ms(i.at),
                i.offer_id,
                i.affiliate_id,
                i.rejection.map_or(0, Rejection::code),
                p.creative_id,
                p.source_id,
                p.subs[0],
                p.subs[1],
                p.subs[2],
                p.subs[3],
                p.subs[4],
                i.ip.to_string(),
                i.geo.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
                i.device.device_type.map_or("", DeviceType::as_str),
                i.device.os.map_or("", OsFamily::as_str),
                decimal_units(i.payout),
                decimal_units(i.revenue),
            ])
            .map_err(backend)?;
        }
        let mut stmt = tx
            .prepare_cached(concat!(
                "INSERT INTO rollup_clicks (bucket, offer_id, affiliate_id, source_id, country, device_type, os,
                    impressions, clicks, unique_clicks, accepted, rejected, filtered, payout, revenue)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                 ON CONFLICT (bucket, offer_id, affiliate_id, source_id, country, device_type, os) DO UPDATE SET
                    impressions = impressions + excluded.impressions, clicks = clicks + excluded.clicks,
                    unique_clicks = unique_clicks + excluded.unique_clicks, accepted = accepted + excluded.accepted,
                    rejected = rejected + excluded.rejected, filtered = filtered + excluded.filtered,
                    ",
                crate::saturating_add!("payout"),
                ", ",
                crate::saturating_add!("revenue")
            ))
            .map_err(backend)?;
        for (k, s) in rollups_of(batch) {
            stmt.execute(params![
                k.bucket,
                k.offer_id,
                k.affiliate_id,
                k.source_id,
                k.country,
                k.device_type,
                k.os,
                s.impressions,
                s.clicks,
                s.unique_clicks,
                s.accepted,
                s.rejected,
                s.filtered,
                s.payout,
                s.revenue
            ])
            .map_err(backend)?;
        }
    }
    if let Some(late) = &late {
        fold::add_late(&tx, late)?;
    }
    tx.commit().map_err(backend)
}

fn id_bound(at: DateTime<Utc>) -> Vec<u8> {
    id_bound_ms(ms(at))
}

#[async_trait]
impl EventStore for SqliteEvents {
    async fn append(&self, batch: Arc<EventBatch>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.writer.run(move |conn| append_batch(conn, &batch)).await
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

    async fn clicks(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Result<Vec<Click>, StoreError> {
        Self::with(&self.reader, move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {CLICK_COLUMNS} FROM clicks WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![id_bound(from), id_bound(to), i64::try_from(limit).unwrap_or(i64::MAX)], read_click)
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
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
                .prepare_cached(
                    "SELECT ts, offer_id, affiliate_id, error_code, creative_id, source_id, sub1, sub2, sub3, sub4, sub5,
                        ip, country, device_type, os, payout, revenue
                     FROM impressions WHERE ts >= ?1 AND ts < ?2 ORDER BY ts LIMIT ?3",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![ms(from), ms(to), i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                    let ip: String = r.get(11)?;
                    let country: String = r.get(12)?;
                    let device_type: String = r.get(13)?;
                    let os: String = r.get(14)?;
                    Ok(Impression {
                        at: from_ms(r.get(0)?),
                        offer_id: r.get(1)?,
                        affiliate_id: r.get(2)?,
                        rejection: Rejection::from_code(r.get(3)?),
                        params: TrackingParams {
                            creative_id: r.get(4)?,
                            source_id: r.get(5)?,
                            subs: [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?],
                            ..TrackingParams::default()
                        },
                        ip: ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
                        device: Device { device_type: DeviceType::parse(&device_type), os: OsFamily::parse(&os), ..Device::default() },
                        geo: Geo { country: CountryCode::parse(&country).ok(), ..Geo::default() },
                        payout: from_units(r.get(15)?),
                        revenue: from_units(r.get(16)?),
                    })
                })
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
            let tallies = traffic_tally(&tx, &query)?;
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

/// The smallest set of rollups holding every field a query needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cube {
    /// Offer and affiliate: `rollup_offer_days`, `rollup_offer_hours`, `rollup_clicks`.
    Offer,
    /// The key of `rollup_clicks`: `rollup_days`, `rollup_clicks`.
    Full,
    /// Offer, affiliate and one more field: `rollup_field_days`.
    Field(Dimension, u8),
    /// Anything else: raw events only.
    Raw,
}

impl Cube {
    fn for_query(query: &TallyQuery) -> Self {
        use Dimension as D;
        let others = query.beyond_offer_and_affiliate();
        if others.is_empty() {
            Cube::Offer
        } else if let [only] = others.as_slice()
            && let Some(code) = tally::field_code(*only)
        {
            Cube::Field(*only, code)
        } else if others.iter().all(|d| matches!(d, D::Source | D::Country | D::Device | D::Os)) {
            Cube::Full
        } else {
            Cube::Raw
        }
    }

    /// Its tables, coarsest first, given the fold marks (offer, full, fields, subs).
    fn tables(self, marks: [Option<i64>; 4]) -> Vec<Table> {
        // A fold not yet started holds nothing: its rows cover nothing.
        let filled = |m: Option<i64>| Some(m.unwrap_or(i64::MIN));
        let quarters = Table {
            grain: Grain { seconds: BUCKET_SECONDS, filled_to_ms: None },
            from: "rollup_clicks",
            condition: String::new(),
        };
        match self {
            Cube::Offer => vec![
                Table {
                    grain: Grain { seconds: 86_400, filled_to_ms: filled(marks[0]) },
                    from: "rollup_offer_days",
                    condition: String::new(),
                },
                Table {
                    grain: Grain { seconds: 3_600, filled_to_ms: filled(marks[0]) },
                    from: "rollup_offer_hours",
                    condition: String::new(),
                },
                quarters,
            ],
            Cube::Full => vec![
                Table {
                    grain: Grain { seconds: 86_400, filled_to_ms: filled(marks[1]) },
                    from: "rollup_days",
                    condition: String::new(),
                },
                quarters,
            ],
            Cube::Field(field, code) => {
                let (mark, finer) = match field {
                    Dimension::Sub(_) => (marks[3], None),
                    _ => (marks[2], Some(quarters)),
                };
                let days = Table {
                    grain: Grain { seconds: 86_400, filled_to_ms: filled(mark) },
                    from: "rollup_field_days",
                    condition: format!("field = {code}"),
                };
                std::iter::once(days).chain(finer).collect()
            }
            Cube::Raw => Vec::new(),
        }
    }
}

fn traffic_totals(r: &Row<'_>, at: usize) -> rusqlite::Result<Totals> {
    Ok(Totals {
        impressions: count(r.get(at)?),
        clicks: count(r.get(at + 1)?),
        unique_clicks: count(r.get(at + 2)?),
        payout: crate::split_sum(r, at + 3)?,
        revenue: crate::split_sum(r, at + 5)?,
        ..Totals::default()
    })
}

const ROLLUP_SUMS: &str =
    concat!("sum(impressions), sum(clicks), sum(unique_clicks), ", crate::money_columns!(money_sum));

fn traffic_tally(conn: &Connection, query: &TallyQuery) -> Result<Tallies, StoreError> {
    let cube = Cube::for_query(query);
    let tables = cube.tables(fold::marks(conn)?);
    let time = |expr: &str| query.by_time.then(|| expr.to_owned());
    tally::over(
        query,
        &tables,
        |table, piece, out| {
            // In `rollup_field_days` the one extra field is in `value`.
            let rollup_column = |d: Dimension| match cube {
                Cube::Field(field, _) if d == field && table.from == "rollup_field_days" => Some("value".to_owned()),
                _ => rollup_column(d),
            };
            let mut conditions = vec!["bucket >= ?".to_owned(), "bucket < ?".to_owned()];
            if !table.condition.is_empty() {
                conditions.push(table.condition.clone());
            }
            let mut select = Select {
                from: table.from,
                conditions,
                args: vec![(piece.from_ms / 1000).into(), (piece.to_ms / 1000).into()],
                time: time("bucket"),
                columns: tally::columns(query, rollup_column)?,
                sums: ROLLUP_SUMS,
            };
            tally::filter(&mut select, query, rollup_column)?;
            tally::read(conn, &select, query, piece.from_ms, traffic_totals, out)
        },
        |piece: &Piece, out| {
            let mut clicks = Select {
                from: "clicks",
                conditions: vec!["id >= ?".into(), "id < ?".into(), tally::raw_clicks_counted()],
                args: vec![id_bound_ms(piece.from_ms).into(), id_bound_ms(piece.to_ms).into()],
                time: time("ts / 900000 * 900"),
                columns: tally::columns(query, raw_column)?,
                sums: tally::RAW_CLICK_READ_SUMS,
            };
            tally::filter(&mut clicks, query, raw_column)?;
            tally::read(conn, &clicks, query, piece.from_ms, traffic_totals, out)?;
            let mut impressions = Select {
                from: "impressions",
                conditions: vec!["ts >= ?".into(), "ts < ?".into(), tally::RAW_IMPRESSIONS_COUNTED.into()],
                args: vec![piece.from_ms.into(), piece.to_ms.into()],
                time: time("ts / 900000 * 900"),
                columns: tally::columns(query, raw_column)?,
                sums: tally::RAW_IMPRESSION_READ_SUMS,
            };
            tally::filter(&mut impressions, query, raw_column)?;
            tally::read(conn, &impressions, query, piece.from_ms, traffic_totals, out)
        },
    )
}

/// The smallest click id of a millisecond: ranges of ids are ranges of time.
pub(crate) fn id_bound_ms(ms: i64) -> Vec<u8> {
    ClickId::floor(u64::try_from(ms).unwrap_or(0)).to_bytes().to_vec()
}
