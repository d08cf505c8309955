//! Conversions: advertisers' postbacks and pixels in, priced and guarded conversions stored,
//! status changes, and the affiliate postbacks they cause (queued in the same transaction and
//! sent by [`delivery`]).

pub mod delivery;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use clicktrail_domain::catalog::Coupon;
use clicktrail_domain::click::{Click, ClickId};
use clicktrail_domain::conversion::{self, Conversion, MoneyOverrides, StatusChange};
use clicktrail_domain::money::{Currency, Money};
use clicktrail_domain::offer::{ConversionStatus, Offer, OfferEvent};
use clicktrail_domain::postback::{self, Postback, PostbackEvent, PostbackStatus};
use clicktrail_domain::user::Role;
pub use clicktrail_store::Attempt;
use clicktrail_store::{
    Config, ConversionQuery, ConversionStore, EventStore, JobQueue, Limit, NewJob, Recorded, SharedCounters,
};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::engine::access::Caller;
use crate::engine::snapshot::Snapshots;
use crate::engine::track::caps::{self, ConversionScope};
use crate::error::{Error, ErrorKind, Result};

/// Clicks younger than this may still be in the write buffer.
const RECENT_CLICK_MS: i64 = 10_000;

/// What an advertiser's postback or pixel says.
#[derive(Debug, Clone, Default)]
pub struct Inbound {
    /// `click_id` or `transaction_id`.
    pub click_id: Option<String>,
    /// `offer_id` (for coupon-only conversions and the pixel).
    pub offer_id: Option<String>,
    /// `event`.
    pub event: Option<String>,
    /// `amount`: the sale amount.
    pub amount: Option<String>,
    /// `payout` override.
    pub payout: Option<String>,
    /// `revenue` override.
    pub revenue: Option<String>,
    /// `status`.
    pub status: Option<String>,
    /// `txid`: the advertiser's order id.
    pub txid: Option<String>,
    /// `coupon_code`.
    pub coupon_code: Option<String>,
    /// `currency`.
    pub currency: Option<String>,
    /// `token`.
    pub token: Option<String>,
}

impl Inbound {
    /// Reads the parameters of a postback (query or form), ignoring unknown ones.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut i = Self::default();
        for (k, v) in pairs {
            // An empty value is no value: it never clears what another name of the same field
            // gave (`click_id=…&transaction_id=`).
            let Some(v) = Some(v.trim().to_owned()).filter(|v| !v.is_empty()) else { continue };
            let v = Some(v);
            match k.as_str() {
                "click_id" | "transaction_id" => i.click_id = v,
                "offer_id" => i.offer_id = v,
                "event" | "goal" => i.event = v,
                "amount" | "sale_amount" => i.amount = v,
                "payout" => i.payout = v,
                "revenue" => i.revenue = v,
                "status" => i.status = v,
                "txid" | "order_id" => i.txid = v,
                "coupon_code" | "coupon" => i.coupon_code = v,
                "currency" => i.currency = v,
                "token" => i.token = v,
                _ => {}
            }
        }
        i
    }
}

/// The result of an inbound conversion.
#[derive(Debug, Clone)]
pub struct Received {
    /// The conversion (the first one, for a duplicate).
    pub conversion: Conversion,
    /// Whether the order id was already recorded for the offer.
    pub duplicate: bool,
}

/// The conversion engine.
pub struct Conversions {
    config: Config,
    store: Arc<dyn ConversionStore>,
    events: Arc<dyn EventStore>,
    snapshots: Arc<Snapshots>,
    counters: Arc<dyn SharedCounters>,
    jobs: Arc<dyn JobQueue>,
    /// Conversion-cap counters already restored from the store by this process.
    restored_caps: tokio::sync::Mutex<HashSet<String>>,
    wake: Arc<tokio::sync::Notify>,
}

fn money(field: &str, raw: &Option<String>) -> Result<Option<Money>> {
    raw.as_deref().map(|v| Money::parse(v).map_err(|e| Error::invalid(field, e.message))).transpose()
}

fn status(raw: &str) -> Result<ConversionStatus> {
    match raw.to_ascii_lowercase().as_str() {
        "approved" | "approve" | "1" => Ok(ConversionStatus::Approved),
        "pending" | "hold" | "2" => Ok(ConversionStatus::Pending),
        "rejected" | "reject" | "declined" | "0" => Ok(ConversionStatus::Rejected),
        _ => Err(Error::invalid("status", format!("'{raw}' is not one of approved, pending, rejected"))),
    }
}

/// The start of the local day and month of `now` in `tz`, as UTC instants.
fn period_starts(now: DateTime<Utc>, tz: chrono_tz::Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&tz).date_naive();
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let month = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    (start(local), start(month))
}

/// The conversion-cap counters of a conversion of `affiliate_id` on `offer` at `at`, each with
/// the affiliate its count is restricted to (none for the offer's own caps).
fn cap_limits(offer: &Offer, affiliate_id: i64, at: DateTime<Utc>, tz: chrono_tz::Tz) -> Vec<(Limit, Option<i64>)> {
    [(ConversionScope::Offer, None), (ConversionScope::Affiliate, Some(affiliate_id))]
        .into_iter()
        .flat_map(|(scope, who)| {
            caps::conversion_limits(offer, affiliate_id, scope, at, tz).into_iter().map(move |limit| (limit, who))
        })
        .collect()
}

/// Which postbacks a status fires: `conversion` always on record, and the one named by status.
fn events_for(status: ConversionStatus, recorded: bool) -> Vec<PostbackEvent> {
    let mut out = Vec::new();
    if recorded {
        out.push(PostbackEvent::Conversion);
    }
    match status {
        ConversionStatus::Approved => out.push(PostbackEvent::Approved),
        ConversionStatus::Rejected => out.push(PostbackEvent::Rejected),
        ConversionStatus::Pending => {}
    }
    out
}

/// Jobs delivering the affiliate's postbacks for `events`; for each event an offer-specific
/// postback replaces the global one.
pub fn postback_jobs(
    postbacks: &[Arc<Postback>],
    c: &Conversion,
    events: &[PostbackEvent],
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    let mut jobs = Vec::new();
    for &event in events {
        let live: Vec<&Postback> = postbacks
            .iter()
            .map(Arc::as_ref)
            .filter(|p| {
                p.spec.status == PostbackStatus::Active
                    && p.spec.event == event
                    && p.spec.affiliate_id == Some(c.affiliate_id)
            })
            .collect();
        let specific: Vec<&&Postback> = live.iter().filter(|p| p.spec.offer_id == Some(c.offer_id)).collect();
        let chosen: Vec<&Postback> = if specific.is_empty() {
            live.iter().filter(|p| p.spec.offer_id.is_none()).copied().collect()
        } else {
            specific.into_iter().copied().collect()
        };
        for p in chosen {
            let url = postback::render(&p.spec.url, c, event);
            jobs.push(NewJob {
                kind: delivery::KIND.into(),
                subject: format!("conversion:{}", c.id),
                payload: json!({"url": url, "postback_id": p.id, "affiliate_id": c.affiliate_id, "event": event.as_str()}),
                idempotency_key: format!("ct-{}-{}-{}-{}", c.id, p.id, event.as_str(), c.history.len()),
                run_at: now,
            });
        }
    }
    jobs
}

/// What a conversion search asks for; the caller's own narrowing is added by the engine.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// This offer.
    pub offer_id: Option<i64>,
    /// This affiliate.
    pub affiliate_id: Option<i64>,
    /// This status.
    pub status: Option<ConversionStatus>,
    /// Recorded at or after.
    pub from: Option<DateTime<Utc>>,
    /// Recorded before.
    pub to: Option<DateTime<Utc>>,
    /// 1-based page.
    pub page: u64,
    /// Conversions per page.
    pub per_page: u64,
}

/// A page of conversions.
#[derive(Debug, Clone)]
pub struct Found {
    /// The conversions, newest first.
    pub items: Vec<Conversion>,
    /// How many match in all.
    pub total: u64,
}

/// Who a conversion belongs to.
struct Attribution {
    click: Option<Click>,
    coupon: Option<Coupon>,
    offer_id: i64,
    affiliate_id: i64,
}

/// Step 2, guards that refuse outright: the offer's token and its inbound IP allow-list.
fn guard(offer: &Offer, input: &Inbound, from: IpAddr) -> Result<()> {
    let offer_id = offer.id;
    if let Some(expected) = &offer.spec.guards.token {
        let given = input.token.as_deref().unwrap_or("");
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(Error::forbidden("token: missing or wrong for this offer"));
        }
    }
    let allow = &offer.spec.guards.ip_allowlist;
    if !allow.is_empty() && !allow.iter().any(|n| n.contains(&from)) {
        return Err(Error::forbidden(format!("postbacks for offer {offer_id} are not accepted from {from}")));
    }
    Ok(())
}

/// Step 3, what the postback asks for, parsed: the event, amounts, status, currency, order id.
struct Terms<'o> {
    event: Option<&'o OfferEvent>,
    sale: Option<Money>,
    overrides: MoneyOverrides,
    requested: Option<ConversionStatus>,
    currency: Option<Currency>,
    txid: Option<String>,
}

impl<'o> Terms<'o> {
    fn parse(offer: &'o Offer, input: &Inbound) -> Result<Self> {
        let offer_id = offer.id;
        let event = match &input.event {
            Some(code) => Some(
                offer
                    .spec
                    .events
                    .iter()
                    .find(|e| e.code.as_str().eq_ignore_ascii_case(code))
                    .ok_or_else(|| Error::invalid("event", format!("offer {offer_id} has no event '{code}'")))?,
            ),
            None => None,
        };
        let sale = money("amount", &input.amount)?;
        let overrides =
            MoneyOverrides { payout: money("payout", &input.payout)?, revenue: money("revenue", &input.revenue)? };
        let requested = input.status.as_deref().map(status).transpose()?;
        let currency = input
            .currency
            .as_deref()
            .map(|c| Currency::parse(c).map_err(|e| Error::invalid("currency", e.message)))
            .transpose()?;
        let txid = input.txid.as_deref().map(conversion::parse_txid).transpose()?;

        Ok(Self { event, sale, overrides, requested, currency, txid })
    }
}

/// A conversion's initial status and money.
struct Priced {
    status: ConversionStatus,
    reason: String,
    payout: Money,
    revenue: Money,
}

/// Step 6, the conversion to record, with what it copies from its click.
fn draft(
    offer: &Offer,
    attribution: &Attribution,
    terms: Terms<'_>,
    priced: Priced,
    from: IpAddr,
    now: DateTime<Utc>,
) -> Conversion {
    let Terms { event, sale, currency, txid, .. } = terms;
    let Priced { status, reason, payout, revenue } = priced;
    let (offer_id, affiliate_id) = (attribution.offer_id, attribution.affiliate_id);
    let (click, coupon) = (&attribution.click, &attribution.coupon);
    let mut c = Conversion {
        id: 0,
        click_id: None,
        offer_id,
        affiliate_id,
        event: event.map(|e| e.code.to_string()),
        is_lead: event.is_some_and(|e| e.is_lead),
        status,
        reason: reason.clone(),
        payout,
        revenue,
        sale_amount: sale,
        currency: currency.unwrap_or(offer.spec.currency),
        txid,
        coupon_code: coupon
            .as_ref()
            .map(|c| c.spec.code.to_string())
            .or_else(|| click.as_ref().map(|c| c.params.coupon_code.clone()).filter(|c| !c.is_empty())),
        created_at: now,
        updated_at: now,
        click_at: None,
        subs: Default::default(),
        source_id: String::new(),
        country: String::new(),
        device: String::new(),
        os: String::new(),
        postback_ip: from.to_string(),
        history: vec![StatusChange { at: now, from: None, to: status, reason, by_user_id: None }],
    };
    if let Some(click) = &click {
        conversion::copy_click(&mut c, click);
    }
    c
}

impl Conversions {
    /// The engine over its stores; `wake` is notified when postbacks are queued.
    pub fn new(
        config: Config,
        store: Arc<dyn ConversionStore>,
        events: Arc<dyn EventStore>,
        snapshots: Arc<Snapshots>,
        counters: Arc<dyn SharedCounters>,
        jobs: Arc<dyn JobQueue>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self { config, store, events, snapshots, counters, jobs, restored_caps: tokio::sync::Mutex::default(), wake }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn ConversionStore> {
        &self.store
    }

    /// The affiliate's postback configurations, from the in-memory snapshot.
    fn postbacks_of(&self, affiliate_id: i64) -> Vec<Arc<Postback>> {
        self.snapshots.snapshot().postbacks.get(&affiliate_id).cloned().unwrap_or_default()
    }

    /// Records an advertiser's conversion.
    pub async fn receive(&self, input: Inbound, from: IpAddr) -> Result<Received> {
        self.receive_at(input, from, Utc::now()).await
    }

    /// Records a conversion as if it arrived at `now` (the demo's past traffic; guards, caps
    /// and the attribution window are judged at that instant).
    pub async fn receive_at(&self, input: Inbound, from: IpAddr, now: DateTime<Utc>) -> Result<Received> {
        let snapshot = self.snapshots.snapshot();
        let attribution = self.attribute(&input, now).await?;
        let offer: Arc<Offer> = snapshot
            .offers
            .get(&attribution.offer_id)
            .cloned()
            .ok_or_else(|| Error::not_found("offer", attribution.offer_id))?;
        guard(&offer, &input, from)?;
        let terms = Terms::parse(&offer, &input)?;
        let tz = snapshot.network.timezone.tz();
        let mut priced = self.price(&offer, &attribution, &terms, now, tz).await?;
        let mut taken = Vec::new();
        if priced.status != ConversionStatus::Rejected {
            match self.take_caps(&offer, attribution.affiliate_id, now, tz).await? {
                Ok(limits) => taken = limits,
                Err(cap) => {
                    priced.status = ConversionStatus::Rejected;
                    priced.reason = cap;
                }
            }
        }
        let c = draft(&offer, &attribution, terms, priced, from, now);
        self.record(c, attribution.click.as_ref(), &taken, now).await
    }

    /// Step 1, attribution: the click, or the coupon's affiliate (and the offer it names or
    /// the postback names).
    async fn attribute(&self, input: &Inbound, now: DateTime<Utc>) -> Result<Attribution> {
        let (click, coupon) = match (&input.click_id, &input.coupon_code) {
            (Some(raw), _) => {
                let id = ClickId::parse(raw).map_err(|e| Error::invalid("click_id", e.message))?;
                let click = self.find_click(id, now).await?.ok_or_else(|| Error::not_found("click", raw))?;
                (Some(click), None)
            }
            (None, Some(code)) => {
                let code = code.trim().to_ascii_uppercase();
                let coupon: Coupon = self.config.find(&code).await?.ok_or_else(|| Error::not_found("coupon", &code))?;
                (None, Some(coupon))
            }
            (None, None) => return Err(Error::invalid("click_id", "is required (or coupon_code)")),
        };
        let (offer_id, affiliate_id) = match (&click, &coupon) {
            (Some(c), _) => (c.offer_id, c.affiliate_id),
            (None, Some(coupon)) => {
                let asked = input
                    .offer_id
                    .as_deref()
                    .map(|o| {
                        o.parse::<i64>().map_err(|_| Error::invalid("offer_id", format!("'{o}' is not an offer id")))
                    })
                    .transpose()?;
                let offer = match (coupon.spec.offer_id, asked) {
                    (Some(fixed), Some(asked)) if fixed != asked => {
                        return Err(Error::invalid("coupon_code", format!("is not valid for offer {asked}")));
                    }
                    (Some(fixed), _) => fixed,
                    (None, Some(asked)) => asked,
                    (None, None) => {
                        return Err(Error::invalid("offer_id", "is required with a coupon valid for every offer"));
                    }
                };
                (offer, coupon.spec.affiliate_id)
            }
            (None, None) => unreachable!("one of click and coupon is set above"),
        };
        Ok(Attribution { click, coupon, offer_id, affiliate_id })
    }

    /// Steps 4 and 5, status and money: the initial status, and what the conversion pays
    /// (nothing on a refused click).
    async fn price(
        &self,
        offer: &Offer,
        attribution: &Attribution,
        terms: &Terms<'_>,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Result<Priced> {
        let (offer_id, affiliate_id) = (offer.id, attribution.affiliate_id);
        let (_, month_start) = period_starts(now, tz);
        // Only tiers need this month's count.
        let approved_this_month = if offer.spec.tiers.is_empty() {
            0
        } else {
            self.store.count(offer_id, Some(affiliate_id), month_start, &[ConversionStatus::Approved]).await?
        };
        let (status, reason) =
            conversion::initial_status(offer, attribution.click.as_ref().map(Into::into), now, terms.requested);
        let (payout, revenue) = if reason == conversion::CLICK_REFUSED {
            (Money::ZERO, Money::ZERO)
        } else {
            conversion::price(offer, affiliate_id, terms.event, terms.sale, approved_this_month, terms.overrides)
        };
        Ok(Priced { status, reason, payout, revenue })
    }

    /// Step 7, record: the conversion and its postback jobs in one write (a repeated order id
    /// gives its cap units back), then the click marked converted and the worker woken.
    async fn record(
        &self,
        c: Conversion,
        click: Option<&Click>,
        taken: &[Limit],
        now: DateTime<Utc>,
    ) -> Result<Received> {
        let affiliate_id = c.affiliate_id;
        let postbacks = self.postbacks_of(affiliate_id);
        // A conversion on a refused click fires its `rejected` postbacks only.
        let recorded_event = c.reason != conversion::CLICK_REFUSED;
        let jobs = move |c: &Conversion| postback_jobs(&postbacks, c, &events_for(c.status, recorded_event), now);
        let recorded = match self.store.record(c, Box::new(jobs)).await {
            Ok(recorded) => recorded,
            Err(e) => {
                self.give_back(taken).await;
                return Err(e.into());
            }
        };
        let (conversion, duplicate) = match recorded {
            Recorded::New(c) => (c, false),
            Recorded::Duplicate(c) => {
                self.give_back(taken).await;
                (c, true)
            }
        };
        if !duplicate {
            if let Some(click) = click
                && let Err(e) = self.events.mark_converted(click.id).await
            {
                tracing::warn!(error = %e, click = %click.id, "cannot mark the click converted");
            }
            self.wake.notify_one();
            metrics::counter!("clicktrail_conversions_total", "status" => conversion.status.as_str()).increment(1);
        } else {
            metrics::counter!("clicktrail_conversions_duplicate_total").increment(1);
        }
        Ok(Received { conversion, duplicate })
    }

    /// Returns cap units taken for a conversion that was not recorded.
    async fn give_back(&self, taken: &[Limit]) {
        if !taken.is_empty()
            && let Err(e) = self.counters.release(taken).await
        {
            tracing::warn!(error = %e, "cannot give back conversion-cap units");
        }
    }

    /// The click, waiting briefly for one made in the last seconds: in the default write mode
    /// a click is answered before its batch is written, and a fast postback may beat it.
    async fn find_click(&self, id: ClickId, now: DateTime<Utc>) -> Result<Option<clicktrail_domain::click::Click>> {
        let age_ms = now.timestamp_millis() - i64::try_from(id.unix_ms()).unwrap_or(i64::MAX);
        let recent = (-5_000..RECENT_CLICK_MS).contains(&age_ms);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            if let Some(click) = self.events.click(id).await? {
                return Ok(Some(click));
            }
            if !recent || std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Takes one unit of every conversion cap of the offer for `affiliate_id` now, all or
    /// none: the counters taken, or the reason the conversion is over a cap.
    async fn take_caps(
        &self,
        offer: &Offer,
        affiliate_id: i64,
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Result<Result<Vec<Limit>, String>> {
        let limits = cap_limits(offer, affiliate_id, now, tz);
        if limits.is_empty() {
            return Ok(Ok(Vec::new()));
        }
        self.restore_caps(offer.id, &limits, now, tz).await?;
        let limits: Vec<Limit> = limits.into_iter().map(|(limit, _)| limit).collect();
        Ok(match self.counters.acquire(&limits).await? {
            None => Ok(limits),
            Some(full) => Err(caps::conversion_cap_reason(&limits[full])),
        })
    }

    /// Forgets which conversion caps were seeded, so each is seeded again from the store at
    /// its next use (after the shared counters lost their values).
    pub async fn forget_seeded_caps(&self) {
        self.restored_caps.lock().await.clear();
    }

    /// Restores conversion-cap counters of the current day and month from the store the first
    /// time this process uses them (approved and pending conversions since the period began).
    async fn restore_caps(
        &self,
        offer_id: i64,
        limits: &[(Limit, Option<i64>)],
        now: DateTime<Utc>,
        tz: chrono_tz::Tz,
    ) -> Result<()> {
        let mut restored = self.restored_caps.lock().await;
        let (day_start, month_start) = period_starts(now, tz);
        let counted = [ConversionStatus::Approved, ConversionStatus::Pending];
        for (limit, affiliate) in limits {
            if restored.contains(&limit.key) {
                continue;
            }
            let since = if limit.key.contains(":day:") { day_start } else { month_start };
            let count = self.store.count(offer_id, *affiliate, since, &counted).await?;
            if count > 0 {
                self.counters.seed(&limit.key, count, limit.expires_at).await?;
            }
            restored.insert(limit.key.clone());
        }
        Ok(())
    }

    /// A conversion the caller may see.
    pub async fn get(&self, caller: &Caller, id: i64) -> Result<Conversion> {
        caller.require(clicktrail_domain::key::Scope::ReadConversions)?;
        let c = self.store.conversion(id).await?.ok_or_else(|| Error::not_found("conversion", id))?;
        if caller.sees_conversion(&c, &self.snapshots.snapshot()) {
            Ok(c)
        } else {
            Err(Error::not_found("conversion", id))
        }
    }

    /// A page of the conversions the caller may see, newest first.
    pub async fn search(&self, caller: &Caller, search: Search) -> Result<Found> {
        caller.require(clicktrail_domain::key::Scope::ReadConversions)?;
        let mut query = ConversionQuery {
            offer_id: search.offer_id,
            affiliate_id: search.affiliate_id,
            status: search.status,
            from: search.from,
            to: search.to,
            offset: (search.page.max(1) - 1).saturating_mul(search.per_page),
            limit: Some(search.per_page),
            ..ConversionQuery::default()
        };
        caller.narrow_conversions(&mut query, &self.snapshots.snapshot());
        let page = self.store.conversions(&query).await?;
        Ok(Found { items: page.items, total: page.total })
    }

    /// Every delivery attempt of a conversion's affiliate postbacks (not for advertisers:
    /// postbacks go to affiliates).
    pub async fn deliveries(&self, caller: &Caller, id: i64) -> Result<Vec<Attempt>> {
        let c = self.get(caller, id).await?;
        if caller.role() == Role::Advertiser {
            return Err(Error::forbidden("Postback deliveries go to affiliates; advertisers cannot read them."));
        }
        Ok(self.jobs.attempts(&format!("conversion:{}", c.id)).await?)
    }

    /// Approves, rejects or moves back to pending (admins, and the offer's advertiser).
    pub async fn change_status(
        &self,
        caller: &Caller,
        id: i64,
        to: ConversionStatus,
        reason: String,
    ) -> Result<Conversion> {
        let mut c = self.get(caller, id).await?;
        caller.require_reviewer()?;
        if c.status == to {
            return Ok(c);
        }
        let now = Utc::now();
        c.history.push(StatusChange {
            at: now,
            from: Some(c.status),
            to,
            reason: reason.clone(),
            by_user_id: Some(caller.user.id),
        });
        c.status = to;
        c.reason = reason;
        c.updated_at = now;
        let postbacks = self.postbacks_of(c.affiliate_id);
        let jobs = postback_jobs(&postbacks, &c, &events_for(to, false), now);
        let counted = |s: ConversionStatus| s != ConversionStatus::Rejected;
        let from = c.history.last().and_then(|h| h.from).unwrap_or(to);
        let snapshot = self.snapshots.snapshot();
        let mut limits = Vec::new();
        if let Some(offer) = snapshot.offers.get(&c.offer_id)
            && counted(from) != counted(to)
        {
            // Only the counters of the current day and month matter; older ones admit nothing.
            let tz = snapshot.network.timezone.tz();
            let then: HashSet<String> =
                cap_limits(offer, c.affiliate_id, c.created_at, tz).into_iter().map(|(l, _)| l.key).collect();
            let current: Vec<(Limit, Option<i64>)> =
                cap_limits(offer, c.affiliate_id, now, tz).into_iter().filter(|(l, _)| then.contains(&l.key)).collect();
            self.restore_caps(offer.id, &current, now, tz).await?;
            limits = current.into_iter().map(|(l, _)| l).collect();
        }
        self.store.change(&c, jobs).await?;
        // The caps follow the status: a rejected conversion frees its place, a reinstated one
        // takes it again (a person's decision, so even over the cap).
        if counted(to) {
            for limit in &limits {
                self.counters.add(&limit.key, 1, limit.expires_at).await?;
            }
        } else {
            self.give_back(&limits).await;
        }
        self.wake.notify_one();
        Ok(c)
    }
}

/// The log subject of a postback's test fires.
pub fn test_subject(postback_id: i64) -> String {
    format!("postback:{postback_id}:test")
}

impl Conversions {
    /// Queues a test fire of a postback the caller may manage: its URL filled in from a sample
    /// conversion (click id `TEST`, order `TEST-…`, the offer's payout for the affiliate),
    /// sent, signed and logged like a real delivery under [`test_subject`]. Returns the URL.
    pub async fn test_fire(&self, caller: &Caller, postback_id: i64) -> Result<String> {
        let postback: Postback = crate::engine::manage::get(&self.config, caller, postback_id).await?;
        let affiliate_id =
            postback.spec.affiliate_id.ok_or_else(|| Error::invalid("postback", "names no affiliate"))?;
        let snapshot = self.snapshots.snapshot();
        let offer = postback.spec.offer_id.and_then(|id| snapshot.offers.get(&id)).or_else(|| {
            let mut runnable: Vec<_> = snapshot.offers.values().filter(|o| o.spec.runnable_by(affiliate_id)).collect();
            runnable.sort_by_key(|o| o.id);
            runnable.into_iter().next()
        });
        let now = Utc::now();
        let sample = Conversion {
            id: 0,
            click_id: Some("TEST".into()),
            offer_id: offer.map_or(0, |o| o.id),
            affiliate_id,
            event: None,
            is_lead: false,
            status: ConversionStatus::Approved,
            reason: String::new(),
            payout: offer.map_or(Money::ZERO, |o| o.spec.payout_for(affiliate_id)),
            revenue: Money::ZERO,
            sale_amount: None,
            currency: snapshot.network.currency,
            txid: Some(format!("TEST-{}", now.timestamp())),
            coupon_code: None,
            created_at: now,
            updated_at: now,
            click_at: Some(now),
            subs: Default::default(),
            source_id: String::new(),
            country: String::new(),
            device: String::new(),
            os: String::new(),
            postback_ip: String::new(),
            history: Vec::new(),
        };
        let url = postback::render(&postback.spec.url, &sample, postback.spec.event);
        let job = NewJob {
            kind: delivery::KIND.into(),
            subject: test_subject(postback_id),
            payload: json!({"url": url, "postback_id": postback_id, "affiliate_id": affiliate_id, "event": postback.spec.event.as_str(), "test": true}),
            idempotency_key: format!("ct-test-{postback_id}-{}", now.timestamp_millis()),
            run_at: now,
        };
        self.jobs.enqueue(vec![job]).await?;
        self.wake.notify_one();
        Ok(url)
    }

    /// The log of a postback's test fires (and the caller may see the postback).
    pub async fn test_fires(&self, caller: &Caller, postback_id: i64) -> Result<Vec<Attempt>> {
        let _: Postback = crate::engine::manage::get(&self.config, caller, postback_id).await?;
        Ok(self.jobs.attempts(&test_subject(postback_id)).await?)
    }
}

/// A wrong status in a request body.
pub fn parse_status(raw: &str) -> Result<ConversionStatus> {
    status(raw).map_err(|e| Error { kind: ErrorKind::Invalid, ..e })
}
