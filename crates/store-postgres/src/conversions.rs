//! [`ConversionStore`] and [`JobQueue`] on PostgreSQL: a conversion and its outbox jobs in one
//! transaction; jobs claimed by any node with `FOR UPDATE SKIP LOCKED` and a lease.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_store::tally::{Tallies, TallyQuery};
use clicktrail_store::{
    Attempt, ConversionQuery, ConversionStore, Job, JobNext, JobQueue, JobsFor, NewJob, Page, Recorded, StoreError,
};
use deadpool_postgres::GenericClient;

use crate::config::{Args, bind, refs};
use crate::{PgStore, backend, count, from_ms, ms, to_units};

use clicktrail_store::conversions::{conversion_doc as to_doc, conversion_from_doc as from_doc};

async fn insert_jobs(client: &impl GenericClient, jobs: &[NewJob]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let now = ms(Utc::now());
    let statement = client
        .prepare(
            "INSERT INTO jobs (kind, subject, payload, idempotency_key, run_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(backend)?;
    for j in jobs {
        client
            .execute(
                &statement,
                &[&j.kind, &j.subject, &j.payload.to_string(), &j.idempotency_key, &ms(j.run_at), &now],
            )
            .await
            .map_err(backend)?;
    }
    Ok(())
}

async fn find_txid(client: &impl GenericClient, offer_id: i64, txid: &str) -> Result<Option<Conversion>, StoreError> {
    let row = client
        .query_opt("SELECT id, doc FROM conversions WHERE offer_id = $1 AND txid = $2", &[&offer_id, &txid])
        .await
        .map_err(backend)?;
    row.map(|r| from_doc(r.get(0), r.get(1))).transpose()
}

/// What a conversion adds to its rollups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Counted {
    offer_id: i64,
    affiliate_id: i64,
    status: String,
    is_lead: bool,
    created_at: i64,
    payout: i64,
    revenue: i64,
}

impl Counted {
    fn of(c: &Conversion) -> Self {
        Self {
            offer_id: c.offer_id,
            affiliate_id: c.affiliate_id,
            status: c.status.as_str().to_owned(),
            is_lead: c.is_lead,
            created_at: ms(c.created_at),
            payout: to_units(c.payout),
            revenue: to_units(c.revenue),
        }
    }
}

/// Adds (`sign` 1) or takes away (-1) conversions in the hourly and daily rollups, row by row
/// in key order, so concurrent transactions lock rollup rows in one order and never deadlock.
async fn roll(client: &impl GenericClient, changes: &[(&Counted, i64)]) -> Result<(), StoreError> {
    let mut cells = Vec::new();
    for (c, sign) in changes {
        for grain in [3_600_i32, 86_400] {
            let bucket = c.created_at.div_euclid(i64::from(grain) * 1000) * i64::from(grain);
            cells.push((
                (grain, bucket, c.offer_id, c.affiliate_id, c.status.clone(), c.is_lead),
                *sign,
                c.payout,
                c.revenue,
            ));
        }
    }
    cells.sort_by(|a, b| a.0.cmp(&b.0));
    let upsert = client
        .prepare(
            "INSERT INTO conversion_rollups (grain, bucket, offer_id, affiliate_id, status, is_lead, conversions, payout, revenue)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8::BIGINT, $9::BIGINT)
             ON CONFLICT (grain, bucket, offer_id, affiliate_id, status, is_lead) DO UPDATE SET
                conversions = conversion_rollups.conversions + excluded.conversions,
                payout = conversion_rollups.payout + excluded.payout,
                revenue = conversion_rollups.revenue + excluded.revenue",
        )
        .await
        .map_err(backend)?;
    let empty = client
        .prepare(
            "DELETE FROM conversion_rollups WHERE grain = $1 AND bucket = $2 AND offer_id = $3 AND affiliate_id = $4
             AND status = $5 AND is_lead = $6 AND conversions = 0 AND payout = 0 AND revenue = 0",
        )
        .await
        .map_err(backend)?;
    for ((grain, bucket, offer, affiliate, status, lead), sign, payout, revenue) in &cells {
        let key: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [grain, bucket, offer, affiliate, status, lead];
        client
            .execute(
                &upsert,
                &[key[0], key[1], key[2], key[3], key[4], key[5], sign, &(sign * payout), &(sign * revenue)],
            )
            .await
            .map_err(backend)?;
        if *sign < 0 {
            client.execute(&empty, &key).await.map_err(backend)?;
        }
    }
    Ok(())
}

#[async_trait]
impl ConversionStore for PgStore {
    async fn record(&self, mut conversion: Conversion, jobs: JobsFor) -> Result<Recorded, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        if let Some(txid) = &conversion.txid
            && let Some(first) = find_txid(&tx, conversion.offer_id, txid).await?
        {
            return Ok(Recorded::Duplicate(first));
        }
        // The document is stored without its id (the row has it).
        conversion.id = 0;
        let c = &conversion;
        // Two nodes recording one order id at once: the second waits for the first and then
        // inserts nothing, and reads the first's conversion back.
        let inserted = tx
            .query_opt(
                "INSERT INTO conversions (offer_id, affiliate_id, status, created_at, txid, doc, is_lead, payout, revenue,
                    source_id, country, device_type, os, sub1, sub2, sub3, sub4, sub5)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                 ON CONFLICT (offer_id, txid) WHERE txid IS NOT NULL DO NOTHING
                 RETURNING id",
                &[
                    &c.offer_id,
                    &c.affiliate_id,
                    &c.status.as_str(),
                    &ms(c.created_at),
                    &c.txid,
                    &to_doc(c)?,
                    &c.is_lead,
                    &to_units(c.payout),
                    &to_units(c.revenue),
                    &c.source_id,
                    &c.country,
                    &c.device,
                    &c.os,
                    &c.subs[0],
                    &c.subs[1],
                    &c.subs[2],
                    &c.subs[3],
                    &c.subs[4],
                ],
            )
            .await
            .map_err(backend)?;
        let Some(row) = inserted else {
            let txid = conversion.txid.clone().unwrap_or_default();
            let first = find_txid(&tx, conversion.offer_id, &txid)
                .await?
                .ok_or_else(|| StoreError::Backend("postgres: a clashing order id vanished".into()))?;
            return Ok(Recorded::Duplicate(first));
        };
        conversion.id = row.get(0);
        roll(&tx, &[(&Counted::of(&conversion), 1)]).await?;
        insert_jobs(&tx, &jobs(&conversion)).await?;
        tx.commit().await.map_err(backend)?;
        Ok(Recorded::New(conversion))
    }

    async fn conversion(&self, id: i64) -> Result<Option<Conversion>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT doc FROM conversions WHERE id = $1", &[&id])
            .await
            .map_err(backend)?;
        row.map(|r| from_doc(id, r.get(0))).transpose()
    }

    async fn conversions(&self, q: &ConversionQuery) -> Result<Page<Conversion>, StoreError> {
        let mut args: Args = Vec::new();
        let mut sql = String::from("TRUE");
        if let Some(o) = q.offer_id {
            sql.push_str(&format!(" AND offer_id = {}", bind(&mut args, o)));
        }
        if let Some(a) = q.affiliate_id {
            sql.push_str(&format!(" AND affiliate_id = {}", bind(&mut args, a)));
        }
        if let Some(s) = q.status {
            sql.push_str(&format!(" AND status = {}", bind(&mut args, s.as_str())));
        }
        if let Some(f) = q.from {
            sql.push_str(&format!(" AND created_at >= {}", bind(&mut args, ms(f))));
        }
        if let Some(t) = q.to {
            sql.push_str(&format!(" AND created_at < {}", bind(&mut args, ms(t))));
        }
        if let Some(ids) = &q.offer_ids {
            sql.push_str(&format!(" AND offer_id = ANY({})", bind(&mut args, ids.clone())));
        }
        let client = self.client().await?;
        let total: i64 = client
            .query_one(&format!("SELECT count(*) FROM conversions WHERE {sql}"), &refs(&args))
            .await
            .map_err(backend)?
            .get(0);
        let limit = q.limit.map_or_else(|| "ALL".to_owned(), |l| l.min(i64::MAX as u64).to_string());
        let offset = q.offset.min(i64::MAX as u64);
        let rows = client
            .query(
                &format!(
                    "SELECT id, doc FROM conversions WHERE {sql} ORDER BY created_at DESC, id DESC LIMIT {limit} OFFSET {offset}"
                ),
                &refs(&args),
            )
            .await
            .map_err(backend)?;
        let items = rows.iter().map(|r| from_doc(r.get(0), r.get(1))).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, total: count(total) })
    }

    async fn change(&self, c: &Conversion, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let before = tx
            .query_opt(
                "SELECT offer_id, affiliate_id, status, is_lead, created_at, payout, revenue FROM conversions
                 WHERE id = $1 FOR UPDATE",
                &[&c.id],
            )
            .await
            .map_err(backend)?
            .map(|r| Counted {
                offer_id: r.get(0),
                affiliate_id: r.get(1),
                status: r.get(2),
                is_lead: r.get(3),
                created_at: r.get(4),
                payout: r.get(5),
                revenue: r.get(6),
            });
        let Some(before) = before else {
            return Err(StoreError::NotFound { kind: "conversion", id: c.id });
        };
        tx.execute(
            "UPDATE conversions SET status = $1, doc = $2, is_lead = $3, payout = $4, revenue = $5 WHERE id = $6",
            &[&c.status.as_str(), &to_doc(c)?, &c.is_lead, &to_units(c.payout), &to_units(c.revenue), &c.id],
        )
        .await
        .map_err(backend)?;
        let mut after = Counted::of(c);
        // The row's own values, not the caller's copy, are what the rollups hold.
        after.offer_id = before.offer_id;
        after.affiliate_id = before.affiliate_id;
        after.created_at = before.created_at;
        roll(&tx, &[(&before, -1), (&after, 1)]).await?;
        insert_jobs(&tx, &jobs).await?;
        tx.commit().await.map_err(backend)
    }

    async fn conversion_tally(&self, query: &TallyQuery) -> Result<Tallies, StoreError> {
        crate::tally::conversion_tally(&self.client().await?, query).await
    }

    async fn count(
        &self,
        offer_id: i64,
        affiliate_id: Option<i64>,
        since: DateTime<Utc>,
        statuses: &[ConversionStatus],
    ) -> Result<u64, StoreError> {
        let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let n: i64 = self
            .client()
            .await?
            .query_one(
                "SELECT count(*) FROM conversions WHERE offer_id = $1 AND ($2::BIGINT IS NULL OR affiliate_id = $2)
                 AND created_at >= $3 AND status = ANY($4)",
                &[&offer_id, &affiliate_id, &ms(since), &statuses],
            )
            .await
            .map_err(backend)?
            .get(0);
        Ok(count(n))
    }
}

fn job(r: &tokio_postgres::Row) -> Job {
    let payload: String = r.get(3);
    let attempts: i32 = r.get(5);
    Job {
        id: r.get(0),
        kind: r.get(1),
        subject: r.get(2),
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        idempotency_key: r.get(4),
        attempts: u32::try_from(attempts).unwrap_or(0),
        created_at: from_ms(r.get(6)),
    }
}

#[async_trait]
impl JobQueue for PgStore {
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        insert_jobs(&tx, &jobs).await?;
        tx.commit().await.map_err(backend)
    }

    async fn claim(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<Job>, StoreError> {
        // Rows another node is claiming are skipped, not waited for; the lease (not a held
        // lock) keeps a claimed job from others while it is delivered.
        let rows = self
            .client()
            .await?
            .query(
                "UPDATE jobs SET locked_until = $4 WHERE id IN (
                    SELECT id FROM jobs
                    WHERE kind = $1 AND state = 'queued' AND run_at <= $2 AND locked_until <= $2
                    ORDER BY run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, kind, subject, payload, idempotency_key, attempts, created_at, run_at",
                &[&kind, &ms(now), &i64::try_from(limit).unwrap_or(i64::MAX), &ms(now + lease)],
            )
            .await
            .map_err(backend)?;
        let mut jobs: Vec<(i64, Job)> = rows.iter().map(|r| (r.get::<_, i64>(7), job(r))).collect();
        jobs.sort_by_key(|(run_at, j)| (*run_at, j.id));
        Ok(jobs.into_iter().map(|(_, j)| j).collect())
    }

    async fn finish(&self, job_id: i64, attempt: Attempt, next: JobNext) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        tx.execute(
            "INSERT INTO job_attempts (job_id, subject, at, url, status, latency_ms, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                &job_id,
                &attempt.subject,
                &ms(attempt.at),
                &attempt.url,
                &attempt.status.map(i32::from),
                &i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX),
                &attempt.outcome,
                &attempt.detail,
            ],
        )
        .await
        .map_err(backend)?;
        match next {
            JobNext::Delivered => {
                tx.execute(
                    "UPDATE jobs SET state = 'delivered', attempts = attempts + 1, locked_until = 0 WHERE id = $1",
                    &[&job_id],
                )
                .await
            }
            JobNext::Failed => {
                tx.execute(
                    "UPDATE jobs SET state = 'failed', attempts = attempts + 1, locked_until = 0 WHERE id = $1",
                    &[&job_id],
                )
                .await
            }
            JobNext::RetryAt(at) => {
                tx.execute(
                    "UPDATE jobs SET run_at = $2, attempts = attempts + 1, locked_until = 0 WHERE id = $1",
                    &[&job_id, &ms(at)],
                )
                .await
            }
        }
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn next_due(&self, kind: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let due: Option<i64> = self
            .client()
            .await?
            .query_one(
                "SELECT min(greatest(run_at, locked_until)) FROM jobs WHERE kind = $1 AND state = 'queued'",
                &[&kind],
            )
            .await
            .map_err(backend)?
            .get(0);
        Ok(due.map(from_ms))
    }

    async fn attempts(&self, subject: &str) -> Result<Vec<Attempt>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT job_id, subject, at, url, status, latency_ms, outcome, detail FROM job_attempts
                 WHERE subject = $1 ORDER BY id",
                &[&subject],
            )
            .await
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| Attempt {
                job_id: r.get(0),
                subject: r.get(1),
                at: from_ms(r.get(2)),
                url: r.get(3),
                status: r.get::<_, Option<i32>>(4).and_then(|s| u16::try_from(s).ok()),
                latency_ms: u64::try_from(r.get::<_, i64>(5)).unwrap_or(0),
                outcome: r.get(6),
                detail: r.get(7),
            })
            .collect())
    }
}
