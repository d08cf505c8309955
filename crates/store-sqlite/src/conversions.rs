//! [`ConversionStore`] and [`JobQueue`] on SQLite, in the configuration database (one
//! transaction covers a conversion and its outbox jobs).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::Totals;
use clicktrail_store::tally::{Grain, Piece, Tallies, TallyQuery};
use clicktrail_store::{
    Attempt, ConversionQuery, ConversionStore, Job, JobNext, JobQueue, JobsFor, NewJob, Page, Recorded, StoreError,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use crate::tally::{self, Select, Table, raw_column, rollup_column};
use crate::{SqliteStore, backend, count, from_ms, ms, saturating_add, split_sum, to_units};

use clicktrail_store::conversions::{conversion_doc as to_doc, conversion_from_doc as from_doc};

fn insert_jobs(tx: &Transaction<'_>, jobs: &[NewJob]) -> Result<(), StoreError> {
    let now = ms(Utc::now());
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO jobs (kind, subject, payload, idempotency_key, run_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(backend)?;
    for j in jobs {
        stmt.execute(params![j.kind, j.subject, j.payload.to_string(), j.idempotency_key, ms(j.run_at), now])
            .map_err(backend)?;
    }
    Ok(())
}

fn find_txid(conn: &Connection, offer_id: i64, txid: &str) -> Result<Option<Conversion>, StoreError> {
    let row: Option<(i64, String)> = conn
        .query_row("SELECT id, doc FROM conversions WHERE offer_id = ?1 AND txid = ?2", params![offer_id, txid], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(backend)?;
    row.map(|(id, doc)| from_doc(id, &doc)).transpose()
}

/// What a conversion adds to its rollups.
struct Counted {
    created_at: i64,
    offer_id: i64,
    affiliate_id: i64,
    status: String,
    is_lead: bool,
    payout: i64,
    revenue: i64,
}

impl Counted {
    fn of(c: &Conversion) -> Self {
        Self {
            created_at: ms(c.created_at),
            offer_id: c.offer_id,
            affiliate_id: c.affiliate_id,
            status: c.status.as_str().to_owned(),
            is_lead: c.is_lead,
            payout: to_units(c.payout),
            revenue: to_units(c.revenue),
        }
    }
}

/// Adds (`sign` 1) or takes away (`sign` -1) a conversion in the hourly and daily rollups.
fn roll(tx: &Transaction<'_>, c: &Counted, sign: i64) -> Result<(), StoreError> {
    for grain in [3_600_i64, 86_400] {
        let bucket = c.created_at.div_euclid(grain * 1000) * grain;
        let key = params![grain, bucket, c.offer_id, c.affiliate_id, c.status, c.is_lead];
        tx.prepare_cached(concat!(
            "INSERT INTO conversion_rollups (grain, bucket, offer_id, affiliate_id, status, is_lead, conversions, payout, revenue)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT DO UPDATE SET conversions = conversions + excluded.conversions, ",
            saturating_add!("payout"),
            ", ",
            saturating_add!("revenue")
        ))
        .map_err(backend)?
        .execute(params![grain, bucket, c.offer_id, c.affiliate_id, c.status, c.is_lead, sign, sign * c.payout, sign * c.revenue])
        .map_err(backend)?;
        tx.prepare_cached(
            "DELETE FROM conversion_rollups WHERE grain = ?1 AND bucket = ?2 AND offer_id = ?3 AND affiliate_id = ?4
             AND status = ?5 AND is_lead = ?6 AND conversions = 0 AND payout = 0 AND revenue = 0",
        )
        .map_err(backend)?
        .execute(key)
        .map_err(backend)?;
    }
    Ok(())
}

fn conversion_totals(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Totals> {
    Ok(Totals {
        leads: count(r.get(at)?),
        conversions: count(r.get(at + 1)?),
        payout: split_sum(r, at + 2)?,
        revenue: split_sum(r, at + 4)?,
        ..Totals::default()
    })
}

fn conversion_tally(conn: &Connection, query: &TallyQuery) -> Result<Tallies, StoreError> {
    let tables: Vec<Table> = if query.beyond_offer_and_affiliate().is_empty() {
        [86_400, 3_600]
            .into_iter()
            .map(|seconds| Table {
                grain: Grain { seconds, filled_to_ms: None },
                from: "conversion_rollups",
                condition: format!("grain = {seconds}"),
            })
            .collect()
    } else {
        Vec::new()
    };
    let statuses: Vec<Value> = query.statuses.iter().map(|s| Value::Text(s.as_str().to_owned())).collect();
    let status_in = format!("status IN ({})", vec!["?"; statuses.len()].join(", "));
    if statuses.is_empty() {
        return Ok(Tallies::default());
    }
    let time = |expr: &str| query.by_time.then(|| expr.to_owned());
    tally::over(
        query,
        &tables,
        |table, piece, out| {
            let mut args: Vec<Value> = vec![(piece.from_ms / 1000).into(), (piece.to_ms / 1000).into()];
            args.extend(statuses.iter().cloned());
            let mut select = Select {
                from: table.from,
                conditions: vec![table.condition.clone(), "bucket >= ?".into(), "bucket < ?".into(), status_in.clone()],
                args,
                time: time("bucket"),
                columns: tally::columns(query, rollup_column)?,
                sums: concat!(
                    "sum(CASE WHEN is_lead = 1 THEN conversions ELSE 0 END), ",
                    "sum(CASE WHEN is_lead = 1 THEN 0 ELSE conversions END), ",
                    crate::money_columns!(money_sum)
                ),
            };
            tally::filter(&mut select, query, rollup_column)?;
            tally::read(conn, &select, query, piece.from_ms, conversion_totals, out)
        },
        |piece: &Piece, out| {
            let mut args: Vec<Value> = vec![piece.from_ms.into(), piece.to_ms.into()];
            args.extend(statuses.iter().cloned());
            let mut select = Select {
                from: "conversions",
                conditions: vec!["created_at >= ?".into(), "created_at < ?".into(), status_in.clone()],
                args,
                time: time("created_at / 900000 * 900"),
                columns: tally::columns(query, raw_column)?,
                sums: concat!("sum(is_lead), sum(1 - is_lead), ", crate::money_columns!(money_sum)),
            };
            tally::filter(&mut select, query, raw_column)?;
            tally::read(conn, &select, query, piece.from_ms, conversion_totals, out)
        },
    )
}

#[async_trait]
impl ConversionStore for SqliteStore {
    async fn conversion_tally(&self, query: &TallyQuery) -> Result<Tallies, StoreError> {
        let query = query.clone();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let tallies = conversion_tally(&tx, &query)?;
            tx.commit().map_err(backend)?;
            Ok(tallies)
        })
        .await
    }

    async fn record(&self, mut conversion: Conversion, jobs: JobsFor) -> Result<Recorded, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            if let Some(txid) = &conversion.txid
                && let Some(first) = find_txid(&tx, conversion.offer_id, txid)?
            {
                return Ok(Recorded::Duplicate(first));
            }
            // The document is stored without its id (the row has it), so one insert does.
            conversion.id = 0;
            let c = &conversion;
            tx.execute(
                "INSERT INTO conversions (offer_id, affiliate_id, status, created_at, txid, doc, is_lead, payout, revenue,
                    source_id, country, device_type, os, sub1, sub2, sub3, sub4, sub5)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                params![c.offer_id, c.affiliate_id, c.status.as_str(), ms(c.created_at), c.txid, to_doc(c)?, c.is_lead,
                    to_units(c.payout), to_units(c.revenue), c.source_id, c.country, c.device, c.os,
                    c.subs[0], c.subs[1], c.subs[2], c.subs[3], c.subs[4]],
            )
            .map_err(backend)?;
            let id = tx.last_insert_rowid();
            roll(&tx, &Counted::of(c), 1)?;
            conversion.id = id;
            insert_jobs(&tx, &jobs(&conversion))?;
            tx.commit().map_err(backend)?;
            Ok(Recorded::New(conversion))
        })
        .await
    }

    async fn conversion(&self, id: i64) -> Result<Option<Conversion>, StoreError> {
        self.with(move |conn| {
            let doc: Option<String> = conn
                .query_row("SELECT doc FROM conversions WHERE id = ?1", params![id], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            doc.map(|d| from_doc(id, &d)).transpose()
        })
        .await
    }

    async fn conversions(&self, query: &ConversionQuery) -> Result<Page<Conversion>, StoreError> {
        let q = query.clone();
        self.with(move |conn| {
            let mut sql = String::from("1 = 1");
            let mut args: Vec<Value> = Vec::new();
            let mut eq = |column: &str, v: Value| {
                sql.push_str(&format!(" AND {column} ?"));
                args.push(v);
            };
            if let Some(o) = q.offer_id {
                eq("offer_id =", Value::Integer(o));
            }
            if let Some(a) = q.affiliate_id {
                eq("affiliate_id =", Value::Integer(a));
            }
            if let Some(s) = q.status {
                eq("status =", Value::Text(s.as_str().into()));
            }
            if let Some(f) = q.from {
                eq("created_at >=", Value::Integer(ms(f)));
            }
            if let Some(t) = q.to {
                eq("created_at <", Value::Integer(ms(t)));
            }
            if let Some(ids) = &q.offer_ids {
                sql.push_str(" AND offer_id IN (SELECT value FROM json_each(?))");
                args.push(Value::Text(serde_json::Value::from(ids.clone()).to_string()));
            }
            let total: i64 = conn
                .query_row(&format!("SELECT count(*) FROM conversions WHERE {sql}"), params_from_iter(&args), |r| r.get(0))
                .map_err(backend)?;
            let limit = q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
            let mut stmt = conn
                .prepare(&format!("SELECT id, doc FROM conversions WHERE {sql} ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}"))
                .map_err(backend)?;
            let rows = stmt.query_map(params_from_iter(&args), |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(backend)?;
            let mut items = Vec::new();
            for row in rows {
                let (id, doc) = row.map_err(backend)?;
                items.push(from_doc(id, &doc)?);
            }
            Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
        })
        .await
    }

    async fn change(&self, conversion: &Conversion, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        let c = conversion.clone();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let before: Option<Counted> = tx
                .query_row(
                    "SELECT created_at, offer_id, affiliate_id, status, is_lead, payout, revenue FROM conversions WHERE id = ?1",
                    params![c.id],
                    |r| {
                        Ok(Counted {
                            created_at: r.get(0)?,
                            offer_id: r.get(1)?,
                            affiliate_id: r.get(2)?,
                            status: r.get(3)?,
                            is_lead: r.get(4)?,
                            payout: r.get(5)?,
                            revenue: r.get(6)?,
                        })
                    },
                )
                .optional()
                .map_err(backend)?;
            let Some(before) = before else {
                return Err(StoreError::NotFound { kind: "conversion", id: c.id });
            };
            tx.execute(
                "UPDATE conversions SET status = ?1, doc = ?2, is_lead = ?3, payout = ?4, revenue = ?5 WHERE id = ?6",
                params![c.status.as_str(), to_doc(&c)?, c.is_lead, to_units(c.payout), to_units(c.revenue), c.id],
            )
            .map_err(backend)?;
            roll(&tx, &before, -1)?;
            roll(&tx, &Counted::of(&c), 1)?;
            insert_jobs(&tx, &jobs)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn count(
        &self,
        offer_id: i64,
        affiliate_id: Option<i64>,
        since: DateTime<Utc>,
        statuses: &[ConversionStatus],
    ) -> Result<u64, StoreError> {
        let statuses = serde_json::Value::from(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()).to_string();
        self.with(move |conn| {
            conn.query_row(
                "SELECT count(*) FROM conversions WHERE offer_id = ?1 AND (?2 IS NULL OR affiliate_id = ?2)
                 AND created_at >= ?3 AND status IN (SELECT value FROM json_each(?4))",
                params![offer_id, affiliate_id, ms(since), statuses],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(backend)
        })
        .await
    }
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            insert_jobs(&tx, &jobs)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn claim(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        let kind = kind.to_owned();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let jobs = {
                let mut stmt = tx
                    .prepare_cached(
                        "SELECT id, kind, subject, payload, idempotency_key, attempts, created_at FROM jobs
                         WHERE kind = ?1 AND state = 'queued' AND run_at <= ?2 AND locked_until <= ?2
                         ORDER BY run_at, id LIMIT ?3",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![kind, ms(now), i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                        let payload: String = r.get(3)?;
                        Ok(Job {
                            id: r.get(0)?,
                            kind: r.get(1)?,
                            subject: r.get(2)?,
                            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                            idempotency_key: r.get(4)?,
                            attempts: r.get(5)?,
                            created_at: from_ms(r.get(6)?),
                        })
                    })
                    .map_err(backend)?;
                rows.collect::<Result<Vec<_>, _>>().map_err(backend)?
            };
            for j in &jobs {
                tx.execute("UPDATE jobs SET locked_until = ?1 WHERE id = ?2", params![ms(now + lease), j.id])
                    .map_err(backend)?;
            }
            tx.commit().map_err(backend)?;
            Ok(jobs)
        })
        .await
    }

    async fn finish(&self, job_id: i64, attempt: Attempt, next: JobNext) -> Result<(), StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            tx.execute(
                "INSERT INTO job_attempts (job_id, subject, at, url, status, latency_ms, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![job_id, attempt.subject, ms(attempt.at), attempt.url, attempt.status, attempt.latency_ms as i64, attempt.outcome, attempt.detail],
            )
            .map_err(backend)?;
            match next {
                JobNext::Delivered => tx.execute("UPDATE jobs SET state = 'delivered', attempts = attempts + 1, locked_until = 0 WHERE id = ?1", params![job_id]),
                JobNext::Failed => tx.execute("UPDATE jobs SET state = 'failed', attempts = attempts + 1, locked_until = 0 WHERE id = ?1", params![job_id]),
                JobNext::RetryAt(at) => tx.execute(
                    "UPDATE jobs SET run_at = ?2, attempts = attempts + 1, locked_until = 0 WHERE id = ?1",
                    params![job_id, ms(at)],
                ),
            }
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn next_due(&self, kind: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let kind = kind.to_owned();
        self.with(move |conn| {
            let due: Option<i64> = conn
                .query_row(
                    "SELECT min(max(run_at, locked_until)) FROM jobs WHERE kind = ?1 AND state = 'queued'",
                    params![kind],
                    |r| r.get(0),
                )
                .map_err(backend)?;
            Ok(due.map(from_ms))
        })
        .await
    }

    async fn attempts(&self, subject: &str) -> Result<Vec<Attempt>, StoreError> {
        let subject = subject.to_owned();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT job_id, subject, at, url, status, latency_ms, outcome, detail FROM job_attempts WHERE subject = ?1 ORDER BY id")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![subject], |r| {
                    Ok(Attempt {
                        job_id: r.get(0)?,
                        subject: r.get(1)?,
                        at: from_ms(r.get(2)?),
                        url: r.get(3)?,
                        status: r.get(4)?,
                        latency_ms: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                        outcome: r.get(6)?,
                        detail: r.get(7)?,
                    })
                })
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }
}
