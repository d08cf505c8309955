//! The demo's traffic: 30 days of visits sent through the real click path and conversion
//! engine, in time order. Visitors come from addresses the GeoIP database places in the
//! offers' countries (a few from elsewhere, refused as a real network would refuse them), with
//! the browsers and phones of real traffic and a share of bots; affiliates send to their
//! favourite offers with campaign sub-ids and traffic sources; some visitors come back (not
//! unique); accepted clicks convert by the offer's payout type — leads, sales with an amount,
//! an order id each (a few sent twice) — and some conversions arrive pending or rejected.
//! Clicks are written in durable mode, so each conversion finds its click.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use clicktrail_domain::money::PayoutType;
use clicktrail_domain::offer::{Offer, OfferStatus};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::app::AppState;
use crate::engine::convert::Inbound;
use crate::engine::track::pipeline::Visit;

/// Days of traffic.
pub const DAYS: i64 = 30;

/// Countries visitors come from: code, weight, `Accept-Language`.
const COUNTRIES: &[(&str, u32, &str)] = &[
    ("US", 30, "en-US,en;q=0.9"),
    ("DE", 12, "de-DE,de;q=0.9,en;q=0.6"),
    ("GB", 9, "en-GB,en;q=0.9"),
    ("CA", 7, "en-CA,en;q=0.9,fr-CA;q=0.5"),
    ("FR", 8, "fr-FR,fr;q=0.9,en;q=0.5"),
    ("IN", 8, "en-IN,hi;q=0.8"),
    ("BR", 7, "pt-BR,pt;q=0.9"),
    ("AT", 3, "de-AT,de;q=0.9"),
    ("CH", 3, "de-CH,fr-CH;q=0.8"),
    ("JP", 4, "ja-JP,ja;q=0.9"),
];

/// User agents with weights: desktops, phones and tablets, and bots (filtered on the offers
/// that filter bots).
const AGENTS: &[(&str, u32)] = &[
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        24,
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        9,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 5),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        5,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        24,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        14,
    ),
    (
        "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        7,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1",
        4,
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 2),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", 1),
    ("python-requests/2.32.3", 1),
];

const CAMPAIGNS: &[&str] = &["spring_sale", "retargeting", "lookalike_1pct", "brand_search", "native_test"];
const SOURCES: &[&str] = &["Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"];
/// The address the demo's advertisers send postbacks from.
const ADVERTISER_SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));

/// What the traffic came to.
#[derive(Debug, Default)]
pub struct Summary {
    /// Clicks tracked.
    pub clicks: u64,
    /// Clicks sent to the offer.
    pub accepted: u64,
    /// Refused clicks by reason.
    pub refused: BTreeMap<&'static str, u64>,
    /// Impressions tracked.
    pub impressions: u64,
    /// Conversions by status.
    pub conversions: BTreeMap<String, u64>,
    /// Repeated order ids answered as duplicates.
    pub duplicates: u64,
}

/// A visitor: address, browser, language.
#[derive(Clone)]
struct Visitor {
    ip: IpAddr,
    agent: &'static str,
    language: &'static str,
}

/// A conversion waiting for its moment.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: DateTime<Utc>,
    order: u64,
    click_id: String,
    event: Option<&'static str>,
    amount: Option<String>,
    status: Option<&'static str>,
    repeat: bool,
}

fn weighted<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut pick = rng.random_range(0..total.max(1));
    for (item, weight) in items {
        if pick < *weight {
            return *item;
        }
        pick -= weight;
    }
    items[0].0
}

/// Addresses the GeoIP database places in each country, found by sampling the IPv4 space; an
/// empty map when there is no database (every click then has no country).
fn address_pools(state: &AppState, rng: &mut StdRng) -> HashMap<&'static str, Vec<Ipv4Addr>> {
    const PER_COUNTRY: usize = 24;
    let mut pools: HashMap<&'static str, Vec<Ipv4Addr>> = HashMap::new();
    for _ in 0..400_000 {
        let ip = Ipv4Addr::from(rng.random::<u32>());
        if crate::engine::convert::delivery::is_internal(IpAddr::V4(ip)) {
            continue;
        }
        let Some(country) = state.tracker.country_of(IpAddr::V4(ip)) else { continue };
        let Some((code, _, _)) = COUNTRIES.iter().find(|(c, _, _)| *c == country.as_str()) else { continue };
        let pool = pools.entry(code).or_default();
        if pool.len() < PER_COUNTRY {
            pool.push(ip);
        }
        if pools.len() == COUNTRIES.len() && pools.values().all(|p| p.len() == PER_COUNTRY) {
            break;
        }
    }
    pools
}

/// A new visitor, from one of `countries` most of the time when the offer targets some.
fn new_visitor(rng: &mut StdRng, pools: &HashMap<&'static str, Vec<Ipv4Addr>>, countries: &[&str]) -> Visitor {
    let targeted: Vec<(&(&str, u32, &str), u32)> =
        COUNTRIES.iter().filter(|(c, _, _)| countries.contains(c) && pools.contains_key(c)).map(|e| (e, e.1)).collect();
    let anywhere: Vec<(&(&str, u32, &str), u32)> =
        COUNTRIES.iter().filter(|(c, _, _)| pools.is_empty() || pools.contains_key(c)).map(|e| (e, e.1)).collect();
    let &(code, _, language) =
        if !targeted.is_empty() && rng.random_bool(0.93) { weighted(rng, &targeted) } else { weighted(rng, &anywhere) };
    let ip = match pools.get(code).filter(|p| !p.is_empty()) {
        // Another host of a network the database places there.
        Some(pool) => {
            let base = pool[rng.random_range(0..pool.len())].octets();
            Ipv4Addr::new(base[0], base[1], base[2], rng.random_range(1..255))
        }
        None => loop {
            let ip = Ipv4Addr::from(rng.random::<u32>());
            if !crate::engine::convert::delivery::is_internal(IpAddr::V4(ip)) {
                break ip;
            }
        },
    };
    Visitor { ip: IpAddr::V4(ip), agent: weighted(rng, AGENTS), language }
}

/// Click times over the past [`DAYS`] days: busier in the afternoon, quieter at weekends,
/// growing over the month; oldest first.
fn timeline(rng: &mut StdRng, clicks: usize, now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let span_ms = DAYS * 86_400_000;
    let start = now - Duration::milliseconds(span_ms);
    let mut times = Vec::with_capacity(clicks);
    while times.len() < clicks {
        let offset = rng.random_range(0..span_ms - 5_000);
        let at = start + Duration::milliseconds(offset);
        let hour = f64::from(at.hour()) + f64::from(at.minute()) / 60.0;
        let daily = 0.3 + 0.7 * (((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin() + 1.0) / 2.0;
        let weekly = if at.weekday().number_from_monday() >= 6 { 0.75 } else { 1.0 };
        let growth = 0.7 + 0.6 * offset as f64 / span_ms as f64;
        if rng.random::<f64>() * 1.3 < daily * weekly * growth {
            times.push(at);
        }
    }
    times.sort();
    times
}

/// What a click on an offer of this payout type may turn into: the event and the chance.
fn outcomes(payout: PayoutType) -> &'static [(Option<&'static str>, f64)] {
    match payout {
        PayoutType::Cpa => &[(None, 0.04), (Some("lead"), 0.05)],
        PayoutType::Cpl => &[(Some("lead"), 0.10)],
        PayoutType::Cps | PayoutType::Revshare => &[(None, 0.035), (Some("sale"), 0.01)],
        PayoutType::Cpc | PayoutType::Cpm => &[(Some("lead"), 0.01)],
    }
}

/// Sends `clicks` clicks (and about one and a half times as many impressions) through the
/// engine; `progress` hears about every quarter.
pub async fn generate(state: &AppState, clicks: usize, progress: impl Fn(&str)) -> anyhow::Result<Summary> {
    let mut rng = StdRng::from_os_rng();
    let now = Utc::now();
    let pools = address_pools(state, &mut rng);
    if pools.is_empty() {
        progress("no GeoIP database: the demo's clicks have no country, so geo-targeted offers refuse them");
    }
    let snapshot = state.tracker.snapshots().snapshot();
    let mut offers: Vec<Arc<Offer>> = snapshot.offers.values().cloned().collect();
    offers.sort_by_key(|o| o.id);
    let mut affiliates: Vec<i64> = snapshot.affiliates.keys().copied().collect();
    affiliates.sort_unstable();
    anyhow::ensure!(!offers.is_empty() && !affiliates.is_empty(), "the demo network has no offers or affiliates");
    // The offers each affiliate may run: public ones, and those it was approved or invited to.
    let runnable: Vec<Vec<usize>> = affiliates
        .iter()
        .map(|a| (0..offers.len()).filter(|&o| live(&offers[o]) && offers[o].spec.runnable_by(*a)).collect())
        .collect();
    let affiliate_weights: Vec<(usize, u32)> =
        (0..affiliates.len()).map(|i| (i, [30, 20, 15, 15, 12, 8].get(i).copied().unwrap_or(5))).collect();

    let mut summary = Summary::default();
    let mut pending: BinaryHeap<Reverse<Due>> = BinaryHeap::new();
    let mut recent: Vec<(usize, usize, Visitor)> = Vec::new();
    let mut orders = 0_u64;
    let times = timeline(&mut rng, clicks, now);
    let mut reported = 0;
    for (chunk_index, chunk) in times.chunks(64).enumerate() {
        convert_due(state, &mut pending, chunk[0], &mut summary).await;
        let mut tasks = tokio::task::JoinSet::new();
        for &at in chunk {
            let (affiliate, offer, visitor) = if !recent.is_empty() && rng.random_bool(0.2) {
                recent[rng.random_range(0..recent.len())].clone()
            } else {
                let affiliate = weighted(&mut rng, &affiliate_weights);
                // Each affiliate runs mostly its favourites among the offers it may run; a few
                // clicks go to offers it may not (or that are paused) and are refused.
                let mine = &runnable[affiliate];
                let offer = if !mine.is_empty() && rng.random_bool(0.97) {
                    let favourites = mine.len().min(8);
                    let start = affiliate * 3;
                    if rng.random_bool(0.75) {
                        mine[(start + rng.random_range(0..favourites)) % mine.len()]
                    } else {
                        mine[rng.random_range(0..mine.len())]
                    }
                } else {
                    rng.random_range(0..offers.len())
                };
                let countries: Vec<&str> = offers[offer].spec.geo.iter().map(|c| c.as_str()).collect();
                (affiliate, offer, new_visitor(&mut rng, &pools, &countries))
            };
            if recent.len() < 400 {
                recent.push((affiliate, offer, visitor.clone()));
            } else {
                let slot = rng.random_range(0..recent.len());
                recent[slot] = (affiliate, offer, visitor.clone());
            }
            let mut query = vec![
                ("sub1".to_owned(), CAMPAIGNS[rng.random_range(0..CAMPAIGNS.len())].to_owned()),
                ("sub2".to_owned(), format!("placement_{}", rng.random_range(1..=12))),
                ("source_id".to_owned(), SOURCES[rng.random_range(0..SOURCES.len())].to_owned()),
            ];
            if rng.random_bool(0.3) {
                query.push(("sub3".to_owned(), format!("ad_{}", rng.random_range(100..140))));
            }
            let visit = |at: DateTime<Utc>| Visit {
                offer: offers[offer].id.to_string(),
                affiliate: affiliates[affiliate].to_string(),
                query: query.clone(),
                ip: visitor.ip,
                user_agent: visitor.agent.to_owned(),
                referer: format!("https://publisher{}.example/", affiliate + 1),
                accept_language: visitor.language.to_owned(),
                at,
            };
            // One or two impressions of the ad before the click.
            for before in 0..rng.random_range(1..=2) {
                let tracker = state.tracker.clone();
                let seen = visit(at - Duration::seconds(5 + before * 40));
                tasks.spawn(async move { (None, tracker.impression(seen).await.map(|()| None)) });
            }
            let tracker = state.tracker.clone();
            let clicked = visit(at);
            let payout = offers[offer].spec.payout_type;
            tasks.spawn(async move { (Some((at, payout)), tracker.click(clicked).await.map(Some)) });
        }
        while let Some(joined) = tasks.join_next().await {
            let (click, result) = joined?;
            let tracked = result.map_err(|e| anyhow::anyhow!("the click path refused the demo's traffic: {e}"))?;
            let (Some((at, payout)), Some(tracked)) = (click, tracked) else {
                summary.impressions += 1;
                continue;
            };
            summary.clicks += 1;
            if let Some(refusal) = tracked.rejection {
                *summary.refused.entry(refusal.message()).or_default() += 1;
                continue;
            }
            summary.accepted += 1;
            for &(event, chance) in outcomes(payout) {
                if !rng.random_bool(chance) {
                    continue;
                }
                // Minutes to days after the click; not yet if that is still to come.
                let delay = Duration::seconds(120 + (rng.random::<f64>().powi(3) * 3.0 * 86_400.0) as i64);
                if at + delay >= now {
                    continue;
                }
                orders += 1;
                let sale = matches!(payout, PayoutType::Cps | PayoutType::Revshare) && event != Some("lead");
                pending.push(Reverse(Due {
                    at: at + delay,
                    order: orders,
                    click_id: tracked.click_id.to_hex(),
                    event,
                    amount: sale.then(|| format!("{:.2}", rng.random_range(19.9..249.0))),
                    // About one in eight arrives pending and one in thirteen rejected; one order
                    // in sixty is sent twice.
                    status: if orders % 8 == 3 {
                        Some("pending")
                    } else if orders % 13 == 5 {
                        Some("rejected")
                    } else {
                        None
                    },
                    repeat: orders % 60 == 7,
                }));
            }
        }
        let done = ((chunk_index + 1) * 64).min(clicks);
        let quarter = done * 4 / clicks.max(1);
        if quarter > reported {
            reported = quarter;
            let converted: u64 = summary.conversions.values().sum();
            progress(&format!(
                "{:>3}%  {done} clicks, {} impressions, {converted} conversions",
                quarter * 25,
                summary.impressions
            ));
        }
    }
    convert_due(state, &mut pending, now, &mut summary).await;
    Ok(summary)
}

/// Records every conversion due by `until`, at its own moment.
async fn convert_due(
    state: &AppState,
    pending: &mut BinaryHeap<Reverse<Due>>,
    until: DateTime<Utc>,
    summary: &mut Summary,
) {
    while pending.peek().is_some_and(|Reverse(d)| d.at <= until) {
        let Some(Reverse(due)) = pending.pop() else { break };
        let input = Inbound {
            click_id: Some(due.click_id.clone()),
            event: due.event.map(str::to_owned),
            amount: due.amount.clone(),
            status: due.status.map(str::to_owned),
            txid: Some(format!("ORD-{:06}", due.order)),
            ..Inbound::default()
        };
        let sends = if due.repeat { 2 } else { 1 };
        for _ in 0..sends {
            match state.conversions.receive_at(input.clone(), ADVERTISER_SERVER, due.at).await {
                Ok(received) if received.duplicate => summary.duplicates += 1,
                Ok(received) => {
                    *summary.conversions.entry(received.conversion.status.as_str().to_owned()).or_default() += 1
                }
                Err(e) => tracing::warn!(error = %e.message, "a demo conversion was refused"),
            }
        }
    }
}

/// Whether an offer takes traffic.
fn live(offer: &Offer) -> bool {
    offer.spec.status == OfferStatus::Active
}
