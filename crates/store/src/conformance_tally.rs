//! Conformance checks of the tallies (see [`crate::conformance`]): whatever rollups a backend
//! reads, a tally equals the sums of the raw events, before and after folding, with events
//! arriving late, across cuts of a zone's hours and dates, for every kind of field.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use clicktrail_domain::click::{Click, Impression, Rejection};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::money::Money;
use clicktrail_domain::offer::{ConversionStatus, DeviceType, OsFamily};
use clicktrail_domain::report::{Dimension, Key, Shape, Tally, Totals};
use rust_decimal::Decimal;

use super::Check;
use super::events_checks::sample_click;
use crate::events::{EventBatch, EventStore};
use crate::tally::{Tallies, TallyQuery};
use crate::{ConversionStore, JobQueue};

fn day(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).single().unwrap_or_default()
}

/// What one event says on every field (for the sums computed here by hand).
struct Seen {
    at: DateTime<Utc>,
    offer: i64,
    affiliate: i64,
    source: String,
    country: String,
    device: String,
    os: String,
    subs: [String; 5],
    totals: Totals,
}

impl Seen {
    fn value(&self, d: Dimension) -> Key {
        match d {
            Dimension::Offer => Key::Id(self.offer),
            Dimension::Affiliate => Key::Id(self.affiliate),
            Dimension::Source => Key::Text(self.source.clone()),
            Dimension::Country => Key::Text(self.country.clone()),
            Dimension::Device => Key::Text(self.device.clone()),
            Dimension::Os => Key::Text(self.os.clone()),
            Dimension::Sub(i) => Key::Text(self.subs[usize::from(i).min(4)].clone()),
            Dimension::Hour | Dimension::Date => Key::Text(String::new()),
        }
    }
}

fn same(a: &Key, b: &Key) -> bool {
    match (a, b) {
        (Key::Text(x), Key::Text(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// The stretch (between cuts) an instant falls in, by its start.
fn stretch(q: &TallyQuery, at: DateTime<Utc>) -> DateTime<Utc> {
    if !q.by_time {
        return q.from;
    }
    q.cuts.iter().copied().filter(|c| *c <= at).max().unwrap_or(q.from).max(q.from)
}

type Sums = BTreeMap<(DateTime<Utc>, Vec<Key>), Totals>;

fn expected(q: &TallyQuery, seen: &[Seen]) -> Sums {
    let mut out = Sums::new();
    for s in seen.iter().filter(|s| s.at >= q.from && s.at < q.to) {
        if !q.filters.iter().all(|(d, values)| values.iter().any(|v| same(v, &s.value(*d)))) {
            continue;
        }
        let key: Vec<Key> = q.group.iter().map(|d| s.value(*d)).collect();
        out.entry((stretch(q, s.at), key)).or_default().add(&s.totals);
    }
    out.retain(|_, t| !t.is_empty());
    out
}

fn got(q: &TallyQuery, tallies: Tallies) -> Sums {
    let mut out = Sums::new();
    for Tally { at, key, totals } in tallies.rows {
        assert!(at >= q.from && at < q.to, "a tally at {at} lies outside the range");
        out.entry((stretch(q, at), key)).or_default().add(&totals);
    }
    out.retain(|_, t| !t.is_empty());
    out
}

fn query(from: DateTime<Utc>, to: DateTime<Utc>, group: &[Dimension], tz: Option<(Tz, Dimension)>) -> TallyQuery {
    let (cuts, by_time) = match tz {
        Some((tz, time)) => (Shape { group_by: vec![time], tz }.cuts(from, to), true),
        None => (Vec::new(), false),
    };
    TallyQuery {
        from,
        to,
        cuts,
        by_time,
        group: group.to_vec(),
        filters: Vec::new(),
        statuses: vec![ConversionStatus::Approved],
    }
}

fn queries() -> Vec<TallyQuery> {
    use Dimension::*;
    let text = |v: &[&str]| v.iter().map(|s| Key::Text((*s).into())).collect::<Vec<_>>();
    let whole = (day(6, 0, 0), day(10, 0, 0));
    let mut by_sub = query(day(6, 5, 20), day(9, 18, 7), &[Sub(0)], Some((chrono_tz::UTC, Date)));
    by_sub.filters.push((Affiliate, vec![Key::Id(1)]));
    let mut by_country = query(whole.0, whole.1, &[Country, Source], None);
    by_country.filters.push((Device, text(&["MOBILE"])));
    let mut in_countries = query(day(6, 1, 0), day(9, 2, 0), &[Offer], Some((chrono_tz::UTC, Date)));
    in_countries.filters.push((Country, text(&["de", "IN"])));
    let mut nothing = query(whole.0, whole.1, &[Offer], None);
    nothing.filters.push((Offer, Vec::new()));
    // Any fields for some affiliates (a backend may keep them per affiliate and day).
    let mut for_affiliates = query(day(6, 3, 0), day(9, 20, 30), &[Sub(0), Country, Device], None);
    for_affiliates.filters.push((Affiliate, vec![Key::Id(1), Key::Id(3)]));
    let mut affiliate_by_date =
        query(whole.0, whole.1, &[Offer, Sub(0), Source], Some((chrono_tz::Asia::Kolkata, Date)));
    affiliate_by_date.filters.push((Affiliate, vec![Key::Id(2)]));
    affiliate_by_date.filters.push((Sub(0), text(&["X", ""])));
    vec![
        query(whole.0, whole.1, &[], None),
        query(whole.0, whole.1, &[Offer, Affiliate], Some((chrono_tz::Asia::Kolkata, Date))),
        query(day(7, 22, 0), day(9, 3, 0), &[Offer], Some((chrono_tz::America::New_York, Hour))),
        query(day(6, 0, 7), day(9, 23, 53), &[Affiliate], Some((chrono_tz::Asia::Kathmandu, Date))),
        by_sub,
        by_country,
        query(whole.0, whole.1, &[Sub(0), Country], Some((chrono_tz::UTC, Date))),
        query(whole.0, whole.1, &[Source], Some((chrono_tz::Asia::Kolkata, Date))),
        in_countries,
        nothing,
        for_affiliates,
        affiliate_by_date,
        query(day(6, 2, 45), day(9, 21, 0), &[], Some((chrono_tz::America::New_York, Hour))),
    ]
}

/// An event on the fields of click `c`, at `at`, counting `totals`.
fn seen_on(c: &Click, at: DateTime<Utc>, totals: Totals) -> Seen {
    Seen {
        at,
        offer: c.offer_id,
        affiliate: c.affiliate_id,
        source: c.params.source_id.clone(),
        country: c.geo.country.map(|x| x.as_str().to_owned()).unwrap_or_default(),
        device: c.device.device_type.map_or("", DeviceType::as_str).into(),
        os: c.device.os.map_or("", OsFamily::as_str).into(),
        subs: c.params.subs.clone(),
        totals,
    }
}

/// Clicks and impressions over four days; every seventh click a filtered bot, every eleventh
/// on an offer that does not exist (kept, never counted).
fn traffic(start: DateTime<Utc>, count: u32, seed: u32) -> (EventBatch, Vec<Seen>) {
    let mut batch = EventBatch::default();
    let mut seen = Vec::new();
    for i in 0..count {
        let n = i * 7 + seed;
        let at = start + Duration::minutes(i64::from(n % 5_700)) + Duration::seconds(i64::from(n % 59));
        let offer = i64::from(1 + n % 3);
        let affiliate = i64::from(1 + (n / 3) % 3);
        let mut c: Click = sample_click(at, u8::try_from(n % 250).unwrap_or(0), offer, affiliate);
        c.params.subs[0] = ["x", "y", ""][(n % 3) as usize].into();
        c.params.source_id = ["newsletter", "pop-ups"][(n % 2) as usize].into();
        c.geo.country = CountryCode::parse(["US", "DE", "IN"][(n % 3) as usize]).ok();
        let mobile = !n.is_multiple_of(4);
        c.device.device_type = Some(if mobile { DeviceType::Mobile } else { DeviceType::Desktop });
        c.device.os = Some(if mobile { OsFamily::Android } else { OsFamily::Windows });
        c.is_unique = n.is_multiple_of(2);
        c.is_filter = n.is_multiple_of(7);
        c.payout = Money::parse(if n.is_multiple_of(5) { "0.25" } else { "0" }).unwrap_or_default();
        c.revenue = Money::parse(if n.is_multiple_of(5) { "0.4" } else { "0" }).unwrap_or_default();
        if n.is_multiple_of(11) {
            c.rejection = Some(Rejection::UnknownOffer);
        }
        if c.rejection.is_none() {
            seen.push(seen_on(
                &c,
                at,
                Totals {
                    clicks: u64::from(!c.is_filter),
                    unique_clicks: u64::from(c.is_unique && !c.is_filter),
                    payout: c.payout.amount(),
                    revenue: c.revenue.amount(),
                    ..Totals::default()
                },
            ));
        }
        if n.is_multiple_of(3) {
            let imp = Impression {
                at: at + Duration::milliseconds(1),
                offer_id: offer,
                affiliate_id: affiliate,
                params: c.params.clone(),
                ip: c.ip,
                device: c.device.clone(),
                geo: c.geo.clone(),
                rejection: None,
                payout: Decimal::new(5, 3),
                revenue: Decimal::new(8, 3),
            };
            seen.push(seen_on(
                &c,
                imp.at,
                Totals { impressions: 1, payout: imp.payout, revenue: imp.revenue, ..Totals::default() },
            ));
            batch.impressions.push(imp);
        }
        batch.clicks.push(c);
    }
    (batch, seen)
}

async fn all_match(store: &Arc<dyn EventStore>, seen: &[Seen], stage: &str) -> Check {
    for q in queries() {
        let tallies = store.traffic_tally(&q).await?;
        assert_eq!(got(&q, tallies), expected(&q, seen), "{stage}: {q:?}");
    }
    Ok(())
}

/// Tallies equal the raw sums before folding, after folding part of the range, with events
/// arriving for folded time, and after folding everything.
pub async fn tallies_equal_raw_sums(store: Arc<dyn EventStore>) -> Check {
    let (first, mut seen) = traffic(day(6, 0, 0), 900, 0);
    store.append(Arc::new(first)).await?;
    all_match(&store, &seen, "as written").await?;
    store.compact(day(8, 10, 0)).await?;
    all_match(&store, &seen, "folded to the 8th, 10:00").await?;
    let (late, more) = traffic(day(6, 0, 0), 500, 3);
    store.append(Arc::new(late)).await?;
    seen.extend(more);
    all_match(&store, &seen, "late events").await?;
    store.compact(day(12, 0, 0)).await?;
    all_match(&store, &seen, "folded").await?;
    let total = store.traffic_tally(&queries()[0]).await?;
    assert!(total.served.rollups, "a whole range reads rollups");
    // Raw events go after their retention; every report on quarter hours without sub-ids
    // still adds up.
    store.purge_before(day(12, 0, 0)).await?;
    let on_rollups = |q: &TallyQuery| {
        let quarter = |t: DateTime<Utc>| t.timestamp() % 900 == 0;
        quarter(q.from) && quarter(q.to) && !q.fields().iter().any(|d| matches!(d, Dimension::Sub(_)))
    };
    for q in queries().into_iter().filter(on_rollups) {
        assert_eq!(got(&q, store.traffic_tally(&q).await?), expected(&q, &seen), "after purging raw events: {q:?}");
    }
    Ok(())
}

fn conversion(n: u32) -> Conversion {
    let at = day(6, 0, 0) + Duration::minutes(i64::from(n * 97 % 5_700));
    Conversion {
        id: 0,
        click_id: None,
        offer_id: i64::from(1 + n % 3),
        affiliate_id: i64::from(1 + n % 2),
        event: None,
        is_lead: n.is_multiple_of(4),
        status: if n.is_multiple_of(5) { ConversionStatus::Pending } else { ConversionStatus::Approved },
        reason: String::new(),
        payout: Money::parse(if n.is_multiple_of(2) { "1.5" } else { "2.25" }).unwrap_or_default(),
        revenue: Money::parse("3").unwrap_or_default(),
        sale_amount: None,
        currency: clicktrail_domain::money::Currency::USD,
        txid: Some(format!("T{n}")),
        coupon_code: None,
        created_at: at,
        updated_at: at,
        click_at: Some(at),
        subs: [["x", "y"][(n % 2) as usize].into(), String::new(), String::new(), String::new(), String::new()],
        source_id: "newsletter".into(),
        country: ["US", "DE"][(n % 2) as usize].into(),
        device: "mobile".into(),
        os: "android".into(),
        postback_ip: String::new(),
        history: Vec::new(),
    }
}

fn seen_conversion(c: &Conversion) -> Seen {
    Seen {
        at: c.created_at,
        offer: c.offer_id,
        affiliate: c.affiliate_id,
        source: c.source_id.clone(),
        country: c.country.clone(),
        device: c.device.clone(),
        os: c.os.clone(),
        subs: c.subs.clone(),
        totals: Totals {
            leads: u64::from(c.is_lead),
            conversions: u64::from(!c.is_lead),
            payout: c.payout.amount(),
            revenue: c.revenue.amount(),
            ..Totals::default()
        },
    }
}

async fn conversions_match(store: &Arc<dyn ConversionStore>, all: &[Conversion], stage: &str) -> Check {
    for mut q in queries() {
        for statuses in [vec![ConversionStatus::Approved], vec![ConversionStatus::Approved, ConversionStatus::Pending]]
        {
            q.statuses = statuses;
            let seen: Vec<Seen> = all.iter().filter(|c| q.statuses.contains(&c.status)).map(seen_conversion).collect();
            let tallies = store.conversion_tally(&q).await?;
            assert_eq!(got(&q, tallies), expected(&q, &seen), "{stage}: {q:?}");
        }
    }
    Ok(())
}

/// Conversion tallies equal the sums of the conversions of the asked statuses, and follow a
/// status change.
pub async fn conversion_tallies_follow_status(store: Arc<dyn ConversionStore>, _jobs: Arc<dyn JobQueue>) -> Check {
    let mut all = Vec::new();
    for n in 0..120 {
        match store.record(conversion(n), Box::new(|_| Vec::new())).await? {
            crate::Recorded::New(c) => all.push(c),
            other => panic!("expected a new conversion: {other:?}"),
        }
    }
    conversions_match(&store, &all, "recorded").await?;
    for c in all.iter_mut().filter(|c| c.id % 3 == 0) {
        c.status = match c.status {
            ConversionStatus::Approved => ConversionStatus::Rejected,
            _ => ConversionStatus::Approved,
        };
        c.payout = Money::parse("4").unwrap_or_default();
        store.change(c, Vec::new()).await?;
    }
    conversions_match(&store, &all, "after status changes").await
}
