//! [`ConversionStore`] and [`JobQueue`] on SQLite, in the configuration database (one
//! transaction covers a conversion and its outbox jobs).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_store::{
    Attempt, ConversionQuery, ConversionStore, Job, JobNext, JobQueue, JobsFor, NewJob, Page, Recorded, StoreError,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params, params_from_iter};

use crate::{SqliteStore, backend};

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(v).unwrap_or_default()
}

fn to_doc(c: &Conversion) -> Result<String, StoreError> {
    serde_json::to_string(c).map_err(|e| StoreError::Corrupt { kind: "conversion", id: c.id, message: e.to_string() })
}

fn from_doc(id: i64, text: &str) -> Result<Conversion, StoreError> {
    let mut c: Conversion = serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        kind: "conversion",
        id,
        message: e.to_string(),
    })?;
    c.id = id;
    Ok(c)
}

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

#[async_trait]
impl ConversionStore for SqliteStore {
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
            tx.execute(
                "INSERT INTO conversions (offer_id, affiliate_id, status, created_at, txid, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![conversion.offer_id, conversion.affiliate_id, conversion.status.as_str(), ms(conversion.created_at), conversion.txid, to_doc(&conversion)?],
            )
            .map_err(backend)?;
            conversion.id = tx.last_insert_rowid();
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
            let n = tx
                .execute(
                    "UPDATE conversions SET status = ?1, doc = ?2 WHERE id = ?3",
                    params![c.status.as_str(), to_doc(&c)?, c.id],
                )
                .map_err(backend)?;
            if n == 0 {
                return Err(StoreError::NotFound { kind: "conversion", id: c.id });
            }
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
