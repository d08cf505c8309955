//! The events capability: clicks and impressions, written in batches with their rollups.
//!
//! `append` writes raw events and adds them to 15-minute UTC rollups in one transaction, so a
//! report never sees an event without its rollup or the reverse. Every time zone offset in use
//! is a multiple of 15 minutes, so local days and hours are exact unions of buckets.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Click, ClickId, Impression};
use rust_decimal::Decimal;

use crate::StoreError;
use crate::tally::{Tallies, TallyQuery};

/// Seconds in a rollup bucket.
pub const BUCKET_SECONDS: i64 = 900;

/// The start of the bucket holding `at`.
pub fn bucket_start(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(BUCKET_SECONDS) * BUCKET_SECONDS;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// Events written together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventBatch {
    /// Clicks, accepted or not.
    pub clicks: Vec<Click>,
    /// Impressions.
    pub impressions: Vec<Impression>,
}

impl EventBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.clicks.is_empty() && self.impressions.is_empty()
    }

    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.clicks.len() + self.impressions.len()
    }
}

/// One row of the 15-minute rollup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollupRow {
    /// Bucket start (UTC).
    pub bucket: DateTime<Utc>,
    /// Offer.
    pub offer_id: i64,
    /// Affiliate.
    pub affiliate_id: i64,
    /// `source_id` as sent.
    pub source_id: String,
    /// Country code, or empty.
    pub country: String,
    /// `desktop`, `mobile`, `tablet`, or empty.
    pub device_type: String,
    /// OS family, or empty.
    pub os: String,
    /// Impressions counted (known offer and affiliate).
    pub impressions: u64,
    /// Clicks counted in statistics (not filtered).
    pub clicks: u64,
    /// Of those, unique.
    pub unique_clicks: u64,
    /// Clicks sent on to the offer.
    pub accepted: u64,
    /// Clicks refused for any reason.
    pub rejected: u64,
    /// Clicks filtered as bots.
    pub filtered: u64,
    /// CPC payout.
    pub payout: Decimal,
    /// CPC revenue.
    pub revenue: Decimal,
}

/// Accepted clicks of one offer and affiliate in one bucket (to restore caps after a restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedCount {
    /// Bucket start.
    pub bucket: DateTime<Utc>,
    /// Offer.
    pub offer_id: i64,
    /// Affiliate.
    pub affiliate_id: i64,
    /// Clicks sent on.
    pub accepted: u64,
}

/// Persistence of tracking events.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Writes a batch and its rollups atomically. (Shared, so a backend can move it to a worker
    /// thread and the caller can retry the same batch without copying it.)
    async fn append(&self, batch: Arc<EventBatch>) -> Result<(), StoreError>;

    /// One click.
    async fn click(&self, id: ClickId) -> Result<Option<Click>, StoreError>;

    /// Clicks in `[from, to)`, oldest first, at most `limit`.
    async fn clicks(&self, from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Result<Vec<Click>, StoreError>;

    /// Moves everything written into the store's main files (SQLite: a WAL checkpoint), so a
    /// stopped store is whole in them; called at shutdown.
    async fn checkpoint(&self) -> Result<(), StoreError>;

    /// Answers when the store can be read (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// How many clicks are stored (raw, all time).
    async fn click_count(&self) -> Result<u64, StoreError>;

    /// Raw impressions in `[from, to)`, oldest first, at most `limit`.
    async fn impressions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Impression>, StoreError>;

    /// Rollup rows of buckets in `[from, to)`.
    async fn rollups(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<RollupRow>, StoreError>;

    /// Traffic (impressions, clicks, unique clicks, CPC and CPM money) summed by the query's
    /// fields and, if asked, by time; conversions are the conversion store's.
    async fn traffic_tally(&self, query: &TallyQuery) -> Result<Tallies, StoreError>;

    /// Folds what was recorded before `through` into the coarse rollups now. Backends do it in
    /// the background as time passes; tallies are the same before and after.
    async fn compact(&self, through: DateTime<Utc>) -> Result<(), StoreError>;

    /// Accepted clicks per bucket, offer and affiliate since `since`.
    async fn accepted_since(&self, since: DateTime<Utc>) -> Result<Vec<AcceptedCount>, StoreError>;

    /// Unique-window keys and times of clicks since `since`, oldest first.
    async fn sightings_since(&self, since: DateTime<Utc>) -> Result<Vec<(u64, DateTime<Utc>)>, StoreError>;

    /// Marks a click as converted: it is then kept forever.
    async fn mark_converted(&self, id: ClickId) -> Result<bool, StoreError>;

    /// Removes raw clicks and impressions older than `cutoff`, except converted clicks;
    /// rollups stay. Returns the clicks removed.
    async fn purge_before(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
}
