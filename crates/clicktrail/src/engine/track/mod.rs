//! The click path: tracking links, impressions, enrichment, uniqueness, caps, and the buffer.
//!
//! [`Tracker`] is what the tracking handlers call. It resolves the offer and affiliate from the
//! in-memory [`crate::engine::snapshot::Snapshot`], runs the [`pipeline`] steps, hands the event to the
//! [`buffer`], and says where the visitor goes. Nothing here touches the store on the request
//! path except through the shared counters.

pub mod buffer;
pub mod caps;
pub mod enrich;
pub mod pipeline;

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use chrono::{Duration, Utc};
use clicktrail_domain::click::{Click, ClickId, Impression, Rejection};
use clicktrail_domain::offer::{Offer, RedirectMode};
use clicktrail_domain::tracking;
pub use clicktrail_store::{ClickCondition, ClickField, ClickQuery};
use clicktrail_store::{Config, EventStore, SharedCounters, StoreError};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;

use self::buffer::{BufferError, Event, EventBuffer};
use self::enrich::{AgentParser, GeoIp};
use self::pipeline::Visit;
use crate::engine::snapshot::{Snapshot, Snapshots};

/// Where a click goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// To the offer, the way the offer wants.
    Offer {
        /// The destination, macros substituted.
        url: String,
        /// How to send the visitor.
        mode: RedirectMode,
    },
    /// To a fallback URL (the offer's, else the network's).
    Fallback(String),
    /// Nowhere: a short "not found" page.
    NotFound,
}

/// The result of tracking a click.
#[derive(Debug, Clone)]
pub struct Tracked {
    /// The click id.
    pub click_id: ClickId,
    /// Offer id from the link.
    pub offer_id: i64,
    /// Affiliate id from the link.
    pub affiliate_id: i64,
    /// Why the click did not reach the offer, if it did not.
    pub rejection: Option<Rejection>,
    /// Where the visitor goes.
    pub outcome: Outcome,
    /// Days the click cookie should live (the offer's attribution window).
    pub cookie_days: u16,
}

/// Settings of the click path.
#[derive(Debug, Clone)]
pub struct TrackerOptions {
    /// How long a visitor's click stays "seen" for uniqueness.
    pub unique_window: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// The click path's state.
pub struct Tracker {
    snapshots: Arc<Snapshots>,
    counters: Arc<dyn SharedCounters>,
    events: Arc<dyn EventStore>,
    geo: ArcSwap<GeoIp>,
    agents: AgentParser,
    buffer: EventBuffer,
    options: TrackerOptions,
    hop_key: [u8; 32],
    restored_caps: Mutex<HashSet<i64>>,
    /// The counters' generation the windows and caps were seeded in.
    generation: std::sync::atomic::AtomicU64,
}

type HmacSha256 = Hmac<Sha256>;

/// Id of the hop-signing secret in the configuration store.
const HOP_SECRET_ID: i64 = 1;

impl Tracker {
    /// Loads the configuration snapshot, restores unique windows and caps from the events, and is ready.
    pub async fn start(
        config: Config,
        events: Arc<dyn EventStore>,
        counters: Arc<dyn SharedCounters>,
        buffer: EventBuffer,
        geo: GeoIp,
        options: TrackerOptions,
    ) -> Result<Self, StoreError> {
        let hop_key = config.secret(HOP_SECRET_ID, crate::random::bytes).await?;
        let snapshots = Arc::new(Snapshots::load(config).await?);
        let tracker = Self {
            snapshots,
            counters,
            events,
            geo: ArcSwap::from_pointee(geo),
            agents: AgentParser::default(),
            buffer,
            options,
            hop_key,
            restored_caps: Mutex::default(),
            generation: std::sync::atomic::AtomicU64::new(0),
        };
        let generation = tracker.counters.generation().await?;
        tracker.generation.store(generation, std::sync::atomic::Ordering::SeqCst);
        tracker.restore_unique().await?;
        tracker.restore_caps().await?;
        Ok(tracker)
    }

    /// The in-memory configuration.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// The country the GeoIP database places `ip` in, if any.
    pub fn country_of(&self, ip: IpAddr) -> Option<clicktrail_domain::geo::CountryCode> {
        self.geo.load().lookup(ip).country
    }

    /// Whether the event store answers (`/readyz`).
    pub async fn ping_events(&self) -> Result<(), clicktrail_store::StoreError> {
        self.events.ping().await
    }

    /// The in-memory configuration, shared.
    pub fn snapshots_arc(&self) -> Arc<Snapshots> {
        self.snapshots.clone()
    }

    /// The buffer's write mode.
    pub fn buffer(&self) -> &EventBuffer {
        &self.buffer
    }

    /// Swaps in another GeoIP database (after `geoip install`).
    pub fn set_geoip(&self, geo: GeoIp) {
        self.geo.store(Arc::new(geo));
    }

    /// Reloads the snapshot after a configuration change, restoring caps of newly capped offers.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        self.snapshots.reload().await?;
        self.restore_caps().await
    }

    /// Seeds the unique windows and click caps again when the shared counters lost what they
    /// held (Redis restarted without its data): true when it did. Seeding never adds to a
    /// counter, so nodes that see the loss together do not double any count.
    pub async fn follow_counters(&self) -> Result<bool, StoreError> {
        use std::sync::atomic::Ordering;
        let generation = self.counters.generation().await?;
        if self.generation.swap(generation, Ordering::SeqCst) == generation {
            return Ok(false);
        }
        self.restored_caps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.restore_unique().await?;
        self.restore_caps().await?;
        Ok(true)
    }

    async fn restore_unique(&self) -> Result<(), StoreError> {
        let now = Utc::now();
        let sightings = self.events.sightings_since(now - self.options.unique_window).await?;
        // Many at once (a sighting only moves a key's last-seen time forward, so their order
        // does not matter): a shared store batches them instead of one round trip each.
        let window = self.options.unique_window;
        for chunk in sightings.chunks(4096) {
            let mut pending = tokio::task::JoinSet::new();
            for &(key, at) in chunk {
                let counters = self.counters.clone();
                pending.spawn(async move { counters.first_in_window(key, at, window).await });
            }
            while let Some(done) = pending.join_next().await {
                done.map_err(|e| StoreError::Backend(format!("a restore task failed: {e}")))??;
            }
        }
        if !sightings.is_empty() {
            tracing::info!(clicks = sightings.len(), "restored unique-click windows");
        }
        Ok(())
    }

    async fn restore_caps(&self) -> Result<(), StoreError> {
        let snapshot = self.snapshots.snapshot();
        let pending: Vec<_> = {
            let done = self.restored_caps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            snapshot.offers.values().filter(|o| caps::has_click_caps(o) && !done.contains(&o.id)).cloned().collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let tz = snapshot.network.timezone.tz();
        let counts = self.events.accepted_since(caps::restore_since(now, tz)).await?;
        for offer in &pending {
            for (key, count, expires) in caps::restore_additions(offer, &counts, now, tz) {
                self.counters.seed(&key, count, expires).await?;
            }
        }
        let mut done = self.restored_caps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        done.extend(pending.iter().map(|o| o.id));
        Ok(())
    }

    /// Tracks a click: every step, the event handed to the buffer, and where the visitor goes.
    pub async fn click(&self, visit: Visit) -> Result<Tracked, TrackError> {
        let snapshot = self.snapshots.snapshot();
        let mut click = self.parse(&visit);
        self.enrich(&mut click);
        self.mark_unique(&mut click).await?;
        let offer = snapshot.offers.get(&click.offer_id).map(Arc::as_ref);
        click.rejection = self.decide(&snapshot, offer, &mut click).await?.err();
        let outcome = route(&snapshot, offer, &mut click);
        outcome_counter(click.rejection).increment(1);
        let tracked = Tracked {
            click_id: click.id,
            offer_id: click.offer_id,
            affiliate_id: click.affiliate_id,
            rejection: click.rejection,
            outcome,
            cookie_days: offer.map_or(30, |o| o.spec.guards.attribution_window_days),
        };
        self.buffer.submit(Event::Click(Box::new(click))).await?;
        Ok(tracked)
    }

    /// Step 1, parse: the tracking parameters and a new time-ordered click id.
    fn parse(&self, visit: &Visit) -> Click {
        let unix_ms = u64::try_from(visit.at.timestamp_millis()).unwrap_or(0);
        let id = ClickId::new(unix_ms, rand::random());
        pipeline::new_click(visit, id, pipeline::parse_params(&visit.query))
    }

    /// Steps 2 and 3, geo, device and bot: what the IP and the user agent say.
    fn enrich(&self, click: &mut Click) {
        click.geo = self.geo.load().lookup(click.ip);
        let agent = self.agents.parse(&click.user_agent);
        click.device = agent.device.clone();
        click.is_robot = agent.is_robot;
    }

    /// Step 4, unique: first in the window for its visitor. When the shared counters cannot
    /// answer (Redis is down) the click still goes through, counted as not unique: a visitor
    /// must never meet an error page because a tally is unavailable, and an unknown is not
    /// counted as new. (Caps are different: a capped offer's click waits for the counters.)
    async fn mark_unique(&self, click: &mut Click) -> Result<(), StoreError> {
        click.is_unique =
            match self.counters.first_in_window(click.unique_key(), click.at, self.options.unique_window).await {
                Ok(first) => first,
                Err(e) => {
                    metrics::counter!("clicktrail_unique_check_failures_total").increment(1);
                    warn_at_most_every_10s(&e);
                    false
                }
            };
        Ok(())
    }

    /// Step 5, access, targeting, caps: the click's verdict; caps are taken only by a click
    /// that passes everything else, all of them or none.
    async fn decide(
        &self,
        snapshot: &Snapshot,
        offer: Option<&Offer>,
        click: &mut Click,
    ) -> Result<Result<(), Rejection>, StoreError> {
        let affiliate = snapshot.affiliates.get(&click.affiliate_id);
        let verdict = pipeline::check(offer, affiliate.map(Arc::as_ref), click);
        if let (Ok(()), Some(offer)) = (verdict, offer) {
            let limits = caps::click_limits(offer, click.affiliate_id, click.at, snapshot.network.timezone.tz());
            if !limits.is_empty() && self.counters.acquire(&limits).await?.is_some() {
                return Ok(Err(Rejection::CapReached));
            }
        }
        Ok(verdict)
    }

    /// Tracks an impression (never refused a GIF; unknown or inactive parties are not counted).
    pub async fn impression(&self, visit: Visit) -> Result<(), TrackError> {
        let snapshot = self.snapshots.snapshot();
        let params = pipeline::parse_params(&visit.query);
        let offer_id = pipeline::path_id(&visit.offer);
        let affiliate_id = pipeline::path_id(&visit.affiliate);
        let offer = snapshot.offers.get(&offer_id).map(Arc::as_ref);
        let affiliate = snapshot.affiliates.get(&affiliate_id).map(Arc::as_ref);
        let agent = self.agents.parse(&visit.user_agent);
        let rejection = tracking::check_parties(offer, affiliate)
            .err()
            .or((agent.is_robot && offer.is_some_and(|o| o.spec.filter_bots)).then_some(Rejection::FilteredBot));
        metrics::counter!("clicktrail_impressions_total", "outcome" => rejection.map_or("accepted", Rejection::label))
            .increment(1);
        let (payout, revenue) = match (rejection, offer) {
            (None, Some(offer)) => tracking::impression_money(offer, affiliate_id),
            _ => Default::default(),
        };
        let impression = Impression {
            at: visit.at,
            offer_id,
            affiliate_id,
            params,
            ip: visit.ip,
            device: agent.device.clone(),
            geo: self.geo.load().lookup(visit.ip),
            rejection,
            payout,
            revenue,
        };
        self.buffer.submit(Event::Impression(Box::new(impression))).await?;
        Ok(())
    }

    /// The visitor's address: the peer, or, behind a trusted proxy, the nearest untrusted
    /// address of `X-Forwarded-For`.
    pub fn client_ip(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        client_ip(peer, forwarded_for, &self.options.trusted_proxies)
    }

    /// A signature of a hop URL, so `/h` never redirects anywhere we did not choose.
    pub fn sign_hop(&self, url: &str) -> String {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.hop_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(url.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether a hop signature is ours (constant-time).
    pub fn verify_hop(&self, url: &str, signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else { return false };
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.hop_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(url.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The events store.
    pub fn events(&self) -> &Arc<dyn EventStore> {
        &self.events
    }

    /// The raw clicks a query asks for, oldest first (narrow it to the caller first:
    /// [`crate::engine::access::Caller::narrow_clicks`]).
    pub async fn clicks(&self, query: &ClickQuery) -> Result<Vec<Click>, StoreError> {
        self.events.clicks(query).await
    }

    /// One raw click.
    pub async fn raw_click(&self, id: ClickId) -> Result<Option<Click>, StoreError> {
        self.events.click(id).await
    }
}

/// Step 6, destination: where an accepted click goes (and what it earns), or the fallback of a
/// refused one.
fn route(snapshot: &Snapshot, offer: Option<&Offer>, click: &mut Click) -> Outcome {
    match (click.rejection, offer) {
        (None, Some(offer)) => {
            let (payout, revenue) = tracking::click_money(offer, click.affiliate_id, click);
            click.payout = payout;
            click.revenue = revenue;
            Outcome::Offer { url: tracking::destination(offer, click), mode: offer.spec.redirect_mode }
        }
        _ => {
            let fallback =
                offer.and_then(|o| o.spec.fallback_url.clone()).or_else(|| snapshot.network.fallback_url.clone());
            fallback.map_or(Outcome::NotFound, |u| Outcome::Fallback(u.as_str().to_owned()))
        }
    }
}

/// Logs a failed unique check, once in ten seconds at most (a Redis outage would otherwise
/// log every click).
fn warn_at_most_every_10s(error: &StoreError) {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(i64::MIN);
    let now = chrono::Utc::now().timestamp();
    let last = LAST.load(std::sync::atomic::Ordering::Relaxed);
    if now.saturating_sub(last) >= 10
        && LAST
            .compare_exchange(last, now, std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(%error, "the shared counters cannot tell unique clicks; counting clicks as not unique until they answer");
    }
}

/// Why tracking failed (never the visitor's fault).
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The buffer is closed or the commit was not confirmed.
    #[error(transparent)]
    Buffer(#[from] BufferError),
    /// The shared counters failed.
    #[error(transparent)]
    Counters(#[from] StoreError),
}

/// The click counter of an outcome, registered once (a label lookup per click costs more than
/// the increment).
fn outcome_counter(rejection: Option<Rejection>) -> &'static metrics::Counter {
    static COUNTERS: std::sync::OnceLock<Vec<metrics::Counter>> = std::sync::OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        std::iter::once("accepted")
            .chain(Rejection::ALL.iter().map(|r| r.label()))
            .map(|outcome| metrics::counter!("clicktrail_clicks_total", "outcome" => outcome))
            .collect()
    });
    let index = rejection.and_then(|r| Rejection::ALL.iter().position(|x| *x == r)).map_or(0, |i| i + 1);
    &counters[index]
}

/// The visitor's address (see [`Tracker::client_ip`]).
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.iter().any(|n| n.contains(&peer)) {
        return peer;
    }
    let Some(header) = forwarded_for else { return peer };
    let mut client = peer;
    for hop in header.split(',').rev() {
        match hop.trim().parse::<IpAddr>().map(canonical) {
            Ok(ip) => {
                client = ip;
                if !trusted.iter().any(|n| n.contains(&ip)) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// IPv4-mapped IPv6 addresses as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether this node takes the hour's turn at `job`: the first node to count it in the shared
/// counters does (the count expires after two hours), so several nodes do hourly work once an
/// hour between them. A node that dies mid-job leaves it to the next hour's taker (the jobs are
/// idempotent: "older than", "not yet"). Counters that cannot answer let the node go ahead.
pub async fn takes_the_hour(counters: &dyn SharedCounters, job: &str, now: chrono::DateTime<Utc>) -> bool {
    let hour = now.timestamp().div_euclid(3600);
    match counters.add(&format!("turn:{job}:{hour}"), 1, now + Duration::hours(2)).await {
        Ok(n) => n == 1,
        Err(e) => {
            tracing::warn!(error = %e, job, "cannot take the hourly turn; doing the work");
            true
        }
    }
}

/// Removes raw events past the network's retention, hourly: one node of several each hour.
pub fn spawn_retention(catalog_owner: Arc<Tracker>, events: Arc<dyn EventStore>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if !takes_the_hour(catalog_owner.counters.as_ref(), "retention", Utc::now()).await {
                continue;
            }
            let days = catalog_owner.snapshots.snapshot().network.raw_click_retention_days;
            let cutoff = Utc::now() - Duration::days(i64::from(days));
            match events.purge_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(clicks = n, days, "removed raw clicks past retention"),
                Err(e) => tracing::error!(error = %e, "retention purge failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_node_takes_each_hour() {
        let counters = clicktrail_store::MemoryCounters::default();
        let at = Utc::now();
        assert!(takes_the_hour(&counters, "retention", at).await, "the first node of the hour");
        assert!(!takes_the_hour(&counters, "retention", at).await, "a second node the same hour");
        assert!(takes_the_hour(&counters, "other", at).await, "another job is another turn");
        assert!(takes_the_hour(&counters, "retention", at + Duration::hours(1)).await, "the next hour");
    }

    #[test]
    fn forwarded_for_only_behind_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_ip(ip("203.0.113.7"), Some("1.2.3.4"), &trusted),
            ip("203.0.113.7"),
            "untrusted peers cannot claim an address"
        );
        assert_eq!(client_ip(ip("127.0.0.1"), Some("1.2.3.4"), &trusted), ip("1.2.3.4"));
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some("9.9.9.9, 1.2.3.4, 10.0.0.5"), &trusted),
            ip("1.2.3.4"),
            "the nearest untrusted hop"
        );
        assert_eq!(client_ip(ip("127.0.0.1"), Some("garbage"), &trusted), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("::ffff:203.0.113.9"), None, &trusted), ip("203.0.113.9"));
    }

    /// Seeding caps at start is idempotent: starting twice on the same (shared) counters leaves
    /// each cap at what the events store recorded, not twice that.
    #[tokio::test]
    async fn restarts_on_shared_counters_do_not_inflate_caps() {
        let dir = tempfile::tempdir().unwrap();
        let settings = crate::Settings { data_dir: dir.path().into(), ..crate::Settings::default() };
        let backends = crate::backends::Backends::open(&settings).await.unwrap();
        let config = backends.config.clone();
        crate::bootstrap::run(&config, &settings).await.unwrap();
        let (_, op) = crate::cli::open_network(&settings).await.unwrap();
        let body = serde_json::json!({"name": "Capped", "destination_url": "https://shop.example/",
            "payout": 1, "payout_type": "cpc", "revenue": 2, "caps": {"offer": {"daily_clicks": 100, "monthly_clicks": 1000}}});
        let offer: Offer = crate::engine::manage::create(&config, &op, body).await.unwrap();
        let affiliate: crate::engine::manage::users::Affiliate =
            crate::engine::manage::create(&config, &op, serde_json::json!({"name": "A"})).await.unwrap();
        let affiliate_id = clicktrail_store::Entity::id(&affiliate);
        let now = Utc::now();
        let clicks = (0..3u8)
            .map(|n| {
                let mut c = clicktrail_store::conformance::sample_click(now, n, offer.id, affiliate_id);
                c.id = ClickId::new(u64::try_from(now.timestamp_millis()).unwrap_or(0) + u64::from(n), [n; 10]);
                c
            })
            .collect();
        backends.events.append(Arc::new(clicktrail_store::EventBatch { clicks, impressions: vec![] })).await.unwrap();
        let tz = config.network().await.unwrap().unwrap().timezone.tz();
        let keys: Vec<String> = caps::click_limits(&offer, affiliate_id, now, tz).into_iter().map(|l| l.key).collect();
        assert_eq!(keys.len(), 2, "a day and a month cap");
        for start in 1..=2 {
            let options = buffer::BufferOptions {
                capacity: 16,
                batch_size: 16,
                linger: std::time::Duration::from_millis(1),
                mode: buffer::WriteMode::Default,
            };
            let (events_buffer, _writer) = EventBuffer::start(backends.events.clone(), options);
            let options = TrackerOptions { unique_window: Duration::hours(24), trusted_proxies: Vec::new() };
            let tracker = Tracker::start(
                config.clone(),
                backends.events.clone(),
                backends.counters.clone(),
                events_buffer,
                GeoIp::open(&[]).unwrap(),
                options,
            )
            .await
            .unwrap();
            drop(tracker);
            for key in &keys {
                assert_eq!(backends.counters.get(key, Utc::now()).await.unwrap(), 3, "start {start}: {key}");
            }
        }
    }
}
