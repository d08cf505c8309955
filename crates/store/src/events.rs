//! The events capability: clicks and impressions, written in batches with their rollups.
//!
//! `append` writes raw events and adds them to 15-minute UTC rollups in one transaction, so a
//! report never sees an event without its rollup or the reverse. Every time zone offset in use
//! is a multiple of 15 minutes, so local days and hours are exact unions of buckets.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Click, ClickId, Impression};
use clicktrail_domain::offer::DeviceType;
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

/// A field of a raw click that a [`ClickQuery`] can match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClickField {
    /// Offer id.
    Offer,
    /// Affiliate id.
    Affiliate,
    /// Creative id.
    Creative,
    /// Offer URL (landing page) id.
    OfferUrl,
    /// Country code (`US`).
    Country,
    /// Device class: `desktop`, `mobile`, `tablet`.
    DeviceType,
    /// Mobile carrier.
    Carrier,
    /// Operating system name as detected (`Android`).
    OsName,
    /// Device brand.
    Brand,
    /// Device model.
    Model,
    /// Browser name.
    Browser,
    /// Language.
    Language,
    /// Connection type.
    ConnectionType,
    /// Campaign.
    Campaign,
    /// `source_id`.
    Source,
    /// Sub-id 1–5 (0–4).
    Sub(u8),
    /// Coupon code.
    CouponCode,
}

impl ClickField {
    /// The column a backend keeps the field in, the same name in every backend's tables.
    pub fn column(self) -> &'static str {
        match self {
            Self::Offer => "offer_id",
            Self::Affiliate => "affiliate_id",
            Self::Creative => "creative_id",
            Self::OfferUrl => "url_id",
            Self::Country => "country",
            Self::DeviceType => "device_type",
            Self::Carrier => "carrier",
            Self::OsName => "os_name",
            Self::Brand => "brand",
            Self::Model => "model",
            Self::Browser => "browser",
            Self::Language => "language",
            Self::ConnectionType => "connection_type",
            Self::Campaign => "campaign",
            Self::Source => "source_id",
            Self::Sub(0) => "sub1",
            Self::Sub(1) => "sub2",
            Self::Sub(2) => "sub3",
            Self::Sub(3) => "sub4",
            Self::Sub(_) => "sub5",
            Self::CouponCode => "coupon_code",
        }
    }

    /// Whether the field holds a number (compared exactly) rather than text (compared without
    /// regard to ASCII case).
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Offer | Self::Affiliate | Self::Creative | Self::OfferUrl)
    }
}

/// One condition of a [`ClickQuery`]: a field has a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickCondition {
    /// The field.
    pub field: ClickField,
    /// The value; `None` names nothing a click can have (a filter that matches no click).
    pub value: Option<String>,
}

impl ClickCondition {
    /// Whether a click has this value: numbers exactly, text without regard to ASCII case.
    pub fn matches(&self, c: &Click) -> bool {
        let Some(value) = &self.value else { return false };
        let number = |have: Option<i64>| have.is_some_and(|h| value.parse::<i64>().ok() == Some(h));
        let text = |have: &str| have.eq_ignore_ascii_case(value);
        match self.field {
            ClickField::Offer => number(Some(c.offer_id)),
            ClickField::Affiliate => number(Some(c.affiliate_id)),
            ClickField::Creative => number(c.params.creative_id.map(i64::from)),
            ClickField::OfferUrl => number(c.params.url_id.map(i64::from)),
            ClickField::Country => text(c.geo.country.as_ref().map_or("", |x| x.as_str())),
            ClickField::DeviceType => text(c.device.device_type.map_or("", DeviceType::as_str)),
            ClickField::Carrier => text(&c.geo.carrier),
            ClickField::OsName => text(&c.device.os_name),
            ClickField::Brand => text(&c.device.brand),
            ClickField::Model => text(&c.device.model),
            ClickField::Browser => text(&c.device.browser),
            ClickField::Language => text(&c.language),
            ClickField::ConnectionType => text(&c.geo.connection_type),
            ClickField::Campaign => text(&c.params.campaign),
            ClickField::Source => text(&c.params.source_id),
            ClickField::Sub(i) => c.params.subs.get(usize::from(i)).is_some_and(|s| text(s)),
            ClickField::CouponCode => text(&c.params.coupon_code),
        }
    }
}

/// Raw clicks in `[from, to)`, oldest first, at most `limit`: those of the given offers and
/// affiliates (when set) that meet every filter field — values of one field are alternatives —
/// and no exclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickQuery {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Only these offers (an empty list matches nothing).
    pub offers: Option<Vec<i64>>,
    /// Only these affiliates (an empty list matches nothing).
    pub affiliates: Option<Vec<i64>>,
    /// Conditions that must hold: one per field at least.
    pub filters: Vec<ClickCondition>,
    /// Conditions that drop a click.
    pub exclusions: Vec<ClickCondition>,
    /// Most clicks returned.
    pub limit: usize,
}

impl ClickQuery {
    /// Every click of a period, at most `limit`.
    pub fn between(from: DateTime<Utc>, to: DateTime<Utc>, limit: usize) -> Self {
        Self { from, to, offers: None, affiliates: None, filters: Vec::new(), exclusions: Vec::new(), limit }
    }

    /// The filters grouped by field, in the order fields first appear.
    pub fn filter_groups(&self) -> Vec<(ClickField, Vec<&ClickCondition>)> {
        let mut groups: Vec<(ClickField, Vec<&ClickCondition>)> = Vec::new();
        for f in &self.filters {
            match groups.iter_mut().find(|(field, _)| *field == f.field) {
                Some((_, list)) => list.push(f),
                None => groups.push((f.field, vec![f])),
            }
        }
        groups
    }

    /// Whether a click is one the query asks for (apart from its period and limit): the
    /// meaning every backend's query must have.
    pub fn matches(&self, c: &Click) -> bool {
        self.offers.as_ref().is_none_or(|o| o.contains(&c.offer_id))
            && self.affiliates.as_ref().is_none_or(|a| a.contains(&c.affiliate_id))
            && self.filter_groups().iter().all(|(_, alternatives)| alternatives.iter().any(|f| f.matches(c)))
            && !self.exclusions.iter().any(|x| x.matches(c))
    }
}

/// How a store would rather be written to: the least time the writer should wait for a batch
/// to grow, and the least events a batch may hold (ClickHouse wants a few large inserts a
/// second, not hundreds of small ones). The settings raise these, never lower them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Batching {
    /// Least linger before a batch is written (default mode).
    pub linger: std::time::Duration,
    /// Least events a batch may hold.
    pub batch_size: usize,
}

/// Persistence of tracking events.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// How this store would rather be written to (none: as the settings say).
    fn batching(&self) -> Batching {
        Batching::default()
    }

    /// Writes a batch and its rollups atomically. (Shared, so a backend can move it to a worker
    /// thread and the caller can retry the same batch without copying it.)
    async fn append(&self, batch: Arc<EventBatch>) -> Result<(), StoreError>;

    /// One click.
    async fn click(&self, id: ClickId) -> Result<Option<Click>, StoreError>;

    /// The clicks a query asks for, oldest first.
    async fn clicks(&self, query: &ClickQuery) -> Result<Vec<Click>, StoreError>;

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
