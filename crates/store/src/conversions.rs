//! The conversions and job-queue capabilities.
//!
//! A conversion and the postback deliveries it causes are written in one transaction (the
//! outbox pattern), so a conversion is never recorded without its postbacks, nor the reverse.
//! Deliveries are jobs: claimed with a lease, finished as delivered, retried later, or failed,
//! every attempt logged.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::offer::ConversionStatus;

use crate::tally::{Tallies, TallyQuery};
use crate::{Page, StoreError};

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What runs it (`postback`).
    pub kind: String,
    /// What it concerns, for reading its attempts back (`conversion:12`).
    pub subject: String,
    /// The work.
    pub payload: serde_json::Value,
    /// Sent with every attempt, so a receiver can drop repeats.
    pub idempotency_key: String,
    /// When it is first due.
    pub run_at: DateTime<Utc>,
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// The work.
    pub payload: serde_json::Value,
    /// Idempotency key.
    pub idempotency_key: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attempt {
    /// The job.
    pub job_id: i64,
    /// The job's subject.
    pub subject: String,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Where to.
    pub url: String,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// How long it took.
    pub latency_ms: u64,
    /// `delivered`, `retry` or `failed`.
    pub outcome: String,
    /// The error, or the start of the answer.
    pub detail: String,
}

/// What becomes of a job after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobNext {
    /// Done.
    Delivered,
    /// Try again then.
    RetryAt(DateTime<Utc>),
    /// Give up.
    Failed,
}

/// The outcome of recording a conversion.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Stored, with its id.
    New(Conversion),
    /// The offer already has a conversion with this order id: nothing was written.
    Duplicate(Conversion),
}

/// Filters of a conversion list; every set filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionQuery {
    /// This offer.
    pub offer_id: Option<i64>,
    /// This affiliate.
    pub affiliate_id: Option<i64>,
    /// One of these offers (an advertiser's); an empty list matches nothing.
    pub offer_ids: Option<Vec<i64>>,
    /// This status.
    pub status: Option<ConversionStatus>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
    /// Records to skip.
    pub offset: u64,
    /// Most records.
    pub limit: Option<u64>,
}

/// Builds the jobs of a conversion once its id is known.
pub type JobsFor = Box<dyn FnOnce(&Conversion) -> Vec<NewJob> + Send>;

/// Persistence of conversions.
#[async_trait]
pub trait ConversionStore: Send + Sync + 'static {
    /// Records a new conversion (its id assigned) and the jobs `jobs` makes for it, atomically;
    /// a repeated order id for the offer writes nothing and returns the first conversion.
    async fn record(&self, conversion: Conversion, jobs: JobsFor) -> Result<Recorded, StoreError>;

    /// One conversion.
    async fn conversion(&self, id: i64) -> Result<Option<Conversion>, StoreError>;

    /// Conversions, newest first.
    async fn conversions(&self, query: &ConversionQuery) -> Result<Page<Conversion>, StoreError>;

    /// Replaces a conversion (a status change) and enqueues jobs, atomically.
    async fn change(&self, conversion: &Conversion, jobs: Vec<NewJob>) -> Result<(), StoreError>;

    /// Conversions (leads apart) and their money, of the query's statuses, summed by its fields
    /// and, if asked, by time.
    async fn conversion_tally(&self, query: &TallyQuery) -> Result<Tallies, StoreError>;

    /// Conversions of an offer (and affiliate) since a time with one of `statuses`.
    async fn count(
        &self,
        offer_id: i64,
        affiliate_id: Option<i64>,
        since: DateTime<Utc>,
        statuses: &[ConversionStatus],
    ) -> Result<u64, StoreError>;
}

/// Persistence of background jobs.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Queues jobs that belong to no conversion (a postback's test fire).
    async fn enqueue(&self, jobs: Vec<NewJob>) -> Result<(), StoreError>;

    /// Claims up to `limit` due jobs of `kind`, hiding them from other claims for `lease`.
    async fn claim(
        &self,
        kind: &str,
        now: DateTime<Utc>,
        limit: usize,
        lease: chrono::Duration,
    ) -> Result<Vec<Job>, StoreError>;

    /// Records an attempt and what becomes of the job.
    async fn finish(&self, job_id: i64, attempt: Attempt, next: JobNext) -> Result<(), StoreError>;

    /// When the next job of `kind` is due, if any is waiting.
    async fn next_due(&self, kind: &str) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Attempts for a subject, oldest first.
    async fn attempts(&self, subject: &str) -> Result<Vec<Attempt>, StoreError>;
}

/// A conversion as the document a backend stores (its id is the row's, not the document's).
pub fn conversion_doc(c: &Conversion) -> Result<String, StoreError> {
    serde_json::to_string(c).map_err(|e| StoreError::Corrupt { kind: "conversion", id: c.id, message: e.to_string() })
}

/// A stored conversion document, with its row's id.
pub fn conversion_from_doc(id: i64, text: &str) -> Result<Conversion, StoreError> {
    let mut c: Conversion = serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        kind: "conversion",
        id,
        message: e.to_string(),
    })?;
    c.id = id;
    Ok(c)
}
