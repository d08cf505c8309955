//! Conformance checks of [`EventStore`] and [`SharedCounters`] (see [`crate::conformance`]).

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clicktrail_domain::click::{Click, ClickId, Device, Geo, Impression, Rejection, TrackingParams};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::money::Money;
use clicktrail_domain::offer::{DeviceType, OsFamily};
use rust_decimal::Decimal;

use crate::Recorded;
use crate::StoreError;
use crate::counters::{Limit, SharedCounters};
use crate::events::{ClickCondition, ClickField, ClickQuery, EventBatch, EventStore, bucket_start};

use super::Check;

fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 8, h, m, s).single().unwrap_or_default()
}

/// A click with every field filled, at `at`, from a varying random tail.
pub fn sample_click(at: DateTime<Utc>, n: u8, offer_id: i64, affiliate_id: i64) -> Click {
    let mut params = TrackingParams {
        subs: ["s1".into(), "s2".into(), String::new(), String::new(), "s5".into()],
        source_id: "newsletter".into(),
        creative_id: Some(3),
        url_id: Some(2),
        campaign: "spring".into(),
        coupon_code: "SUMMER".into(),
        idfa: "IDFA-1".into(),
        google_ad_id: "gaid-1".into(),
        android_id: "aid-1".into(),
        deep_link: String::new(),
        extra: vec![("foo".into(), "bar baz".into()), ("foo".into(), "2".into())],
    };
    params.subs[2] = format!("n{n}");
    Click {
        id: ClickId::new(u64::try_from(at.timestamp_millis()).unwrap_or(0), [n; 10]),
        at,
        offer_id,
        affiliate_id,
        params,
        ip: "2001:db8::1".parse().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1])),
        user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)".into(),
        referer: "https://pub.example/page".into(),
        accept_language: "fr-CA,fr;q=0.9".into(),
        language: "fr".into(),
        device: Device {
            device_type: Some(DeviceType::Mobile),
            os: Some(OsFamily::Ios),
            os_name: "iOS".into(),
            os_version: "17.0".into(),
            browser: "Safari".into(),
            browser_version: "17.0".into(),
            brand: "Apple".into(),
            model: "iPhone".into(),
            is_mobile: true,
            is_tablet: false,
        },
        geo: Geo {
            country: CountryCode::parse("US").ok(),
            region: "California".into(),
            city: "Burbank".into(),
            isp: "T-Mobile".into(),
            carrier: "T-Mobile USA".into(),
            organization: "Org".into(),
            connection_type: "cellular".into(),
        },
        is_unique: true,
        is_robot: false,
        is_filter: false,
        rejection: None,
        payout: Money::parse("0.1").unwrap_or_default(),
        revenue: Money::parse("0.25").unwrap_or_default(),
    }
}

fn impression(at: DateTime<Utc>, offer_id: i64, affiliate_id: i64) -> Impression {
    let c = sample_click(at, 0, offer_id, affiliate_id);
    Impression {
        at,
        offer_id,
        affiliate_id,
        params: c.params,
        ip: c.ip,
        device: c.device,
        geo: c.geo,
        rejection: None,
        payout: Decimal::from_str("0.0012345").unwrap_or_default(),
        revenue: Decimal::from_str("0.002").unwrap_or_default(),
    }
}

/// Raw-click queries answer exactly what [`ClickQuery::matches`] says, oldest first and
/// limited — before and after the store folds its rollups (a backend may skip what its rollups
/// show cannot match), with clicks on unknown ids (in no rollup) among them.
pub async fn click_queries_match_their_meaning(store: Arc<dyn EventStore>) -> Check {
    let day = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).single().unwrap_or_default();
    let mut clicks = Vec::new();
    for i in 0..120u32 {
        let n = u8::try_from(i % 250).unwrap_or(0);
        let mut c = sample_click(day(1 + i % 5, i % 24), n, 1 + i64::from(i % 3), 10 + i64::from(i % 4));
        c.params.subs[0] = format!("a{}", i % 7);
        c.params.subs[2] = if i % 5 == 4 { "Rare".into() } else { String::new() };
        c.params.source_id = ["newsletter", "pop", ""][(i % 3) as usize].into();
        c.geo.country = CountryCode::parse(["US", "RO", "DE"][(i % 3) as usize]).ok();
        c.device.device_type = [Some(DeviceType::Mobile), Some(DeviceType::Desktop), None][(i % 3) as usize];
        c.device.browser = ["Safari", "Firefox"][(i % 2) as usize].into();
        c.params.creative_id = (i % 4 != 0).then_some(i % 4);
        if i % 17 == 0 {
            c.rejection = Some(Rejection::UnknownOffer);
            c.offer_id = 99;
        }
        clicks.push(c);
    }
    store.append(Arc::new(EventBatch { clicks: clicks.clone(), impressions: vec![] })).await?;
    let cond = |field, value: &str| ClickCondition { field, value: Some(value.to_owned()) };
    let queries = vec![
        ClickQuery::between(day(1, 0), day(6, 0), 1000),
        // A limit reached hours after the start (a backend may look for it stretch by stretch).
        ClickQuery::between(day(1, 0), day(6, 0), 3),
        ClickQuery::between(day(1, 0), day(6, 0), 40),
        ClickQuery {
            filters: vec![cond(ClickField::Sub(2), "rare")],
            ..ClickQuery::between(day(1, 0), day(6, 0), 1000)
        },
        ClickQuery {
            filters: vec![cond(ClickField::Sub(2), "nowhere")],
            ..ClickQuery::between(day(1, 0), day(6, 0), 9)
        },
        ClickQuery {
            filters: vec![
                cond(ClickField::Sub(0), "a1"),
                cond(ClickField::Sub(0), "A2"),
                cond(ClickField::Country, "ro"),
                cond(ClickField::Offer, "2"),
            ],
            ..ClickQuery::between(day(1, 0), day(6, 0), 1000)
        },
        ClickQuery {
            exclusions: vec![cond(ClickField::Creative, "2"), cond(ClickField::Browser, "firefox")],
            ..ClickQuery::between(day(2, 3), day(5, 7), 1000)
        },
        ClickQuery {
            filters: vec![cond(ClickField::DeviceType, ""), ClickCondition { field: ClickField::Source, value: None }],
            ..ClickQuery::between(day(1, 0), day(6, 0), 1000)
        },
        ClickQuery {
            filters: vec![cond(ClickField::Source, "POP")],
            offers: Some(vec![1, 99]),
            affiliates: Some(vec![10, 11, 12]),
            ..ClickQuery::between(day(1, 0), day(6, 0), 5)
        },
        ClickQuery { affiliates: Some(Vec::new()), ..ClickQuery::between(day(1, 0), day(6, 0), 1000) },
        ClickQuery {
            filters: vec![cond(ClickField::Browser, "FIREFOX"), cond(ClickField::Creative, "02")],
            ..ClickQuery::between(day(1, 0), day(6, 0), 1000)
        },
        ClickQuery {
            filters: vec![cond(ClickField::Browser, "Opera")],
            ..ClickQuery::between(day(1, 0), day(6, 0), 9)
        },
        ClickQuery {
            filters: vec![cond(ClickField::Creative, "x"), cond(ClickField::Model, "iphone")],
            ..ClickQuery::between(day(1, 0), day(6, 0), 9)
        },
    ];
    let mut sorted = clicks.clone();
    sorted.sort_by_key(|c| c.id);
    for pass in ["before folding", "after folding"] {
        for q in &queries {
            let expected: Vec<Click> = sorted
                .iter()
                .filter(|c| c.at >= q.from && c.at < q.to && q.matches(c))
                .take(q.limit)
                .cloned()
                .collect();
            assert_eq!(store.clicks(q).await?, expected, "{pass}: {q:?}");
        }
        store.compact(day(7, 0)).await?;
    }
    Ok(())
}

/// Appended clicks read back exactly, by id and by time range (oldest first, limited).
pub async fn events_round_trip(store: Arc<dyn EventStore>) -> Check {
    let a = sample_click(t(10, 0, 1), 1, 7, 3);
    let mut b = sample_click(t(10, 5, 0), 2, 7, 3);
    b.rejection = Some(Rejection::GeoNotTargeted);
    b.geo = Geo::default();
    b.device = Device::default();
    b.params = TrackingParams::default();
    b.ip = "203.0.113.5".parse().unwrap_or(b.ip);
    let c = sample_click(t(11, 0, 0), 3, 8, 4);
    store.append(Arc::new(EventBatch { clicks: vec![c.clone(), a.clone()], impressions: vec![] })).await?;
    store.append(Arc::new(EventBatch { clicks: vec![b.clone()], impressions: vec![] })).await?;
    assert_eq!(store.click(a.id).await?, Some(a.clone()));
    assert_eq!(store.click(b.id).await?, Some(b.clone()), "empty fields and a rejection survive");
    assert_eq!(store.click(ClickId::new(1, [9; 10])).await?, None);
    let all = store.clicks(&ClickQuery::between(t(9, 0, 0), t(12, 0, 0), 10)).await?;
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), [a.id, b.id, c.id], "oldest first");
    assert_eq!(store.clicks(&ClickQuery::between(t(9, 0, 0), t(12, 0, 0), 2)).await?.len(), 2);
    assert_eq!(
        store.clicks(&ClickQuery::between(t(10, 5, 0), t(11, 0, 0), 10)).await?,
        vec![b],
        "from inclusive, to exclusive"
    );
    assert_eq!(store.click_count().await?, 3);
    Ok(())
}

/// Rollups sum every event of a bucket exactly, across batches.
pub async fn rollups_sum_buckets(store: Arc<dyn EventStore>) -> Check {
    let mut clicks = Vec::new();
    for (i, minute) in [0u32, 3, 14, 15].into_iter().enumerate() {
        clicks.push(sample_click(t(10, minute, 0), i as u8, 7, 3));
    }
    clicks[1].is_unique = false;
    clicks[1].payout = Money::parse("0.2").unwrap_or_default();
    clicks[1].revenue = Money::parse("0.05").unwrap_or_default();
    clicks[2].is_robot = true;
    clicks[2].is_filter = true;
    clicks[2].rejection = Some(Rejection::FilteredBot);
    clicks[2].payout = Money::ZERO;
    clicks[2].revenue = Money::ZERO;
    store
        .append(Arc::new(EventBatch { clicks: clicks[..2].to_vec(), impressions: vec![impression(t(10, 1, 0), 7, 3)] }))
        .await?;
    store
        .append(Arc::new(EventBatch { clicks: clicks[2..].to_vec(), impressions: vec![impression(t(10, 2, 0), 7, 3)] }))
        .await?;
    let rows = store.rollups(t(10, 0, 0), t(10, 30, 0)).await?;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = &rows[0];
    assert_eq!(first.bucket, t(10, 0, 0));
    assert_eq!((first.offer_id, first.affiliate_id), (7, 3));
    assert_eq!(
        (first.source_id.as_str(), first.country.as_str(), first.device_type.as_str(), first.os.as_str()),
        ("newsletter", "US", "mobile", "ios")
    );
    assert_eq!((first.impressions, first.clicks, first.unique_clicks), (2, 2, 1), "a filtered click is not counted");
    assert_eq!((first.accepted, first.rejected, first.filtered), (2, 1, 1));
    assert_eq!(
        first.payout,
        Decimal::from_str("0.302469").unwrap_or_default(),
        "0.1 + 0.2 + two cpm impressions, exactly"
    );
    assert_eq!(first.revenue, Decimal::from_str("0.304").unwrap_or_default());
    assert_eq!((rows[1].bucket, rows[1].clicks), (t(10, 15, 0), 1));
    assert!(store.rollups(t(10, 30, 0), t(11, 0, 0)).await?.is_empty());
    assert_eq!(bucket_start(t(10, 29, 59)), t(10, 15, 0));
    Ok(())
}

/// What a restart needs: accepted counts and unique sightings since a time.
pub async fn restart_state(store: Arc<dyn EventStore>) -> Check {
    let a = sample_click(t(10, 0, 0), 1, 7, 3);
    let mut b = sample_click(t(10, 20, 0), 2, 7, 3);
    b.rejection = Some(Rejection::CapReached);
    let c = sample_click(t(10, 25, 0), 3, 7, 3);
    store.append(Arc::new(EventBatch { clicks: vec![a.clone(), b, c.clone()], impressions: vec![] })).await?;
    let counts = store.accepted_since(t(10, 0, 0)).await?;
    let total: u64 = counts.iter().filter(|c| c.offer_id == 7 && c.affiliate_id == 3).map(|c| c.accepted).sum();
    assert_eq!(total, 2, "refused clicks do not count against caps: {counts:?}");
    let sightings = store.sightings_since(t(10, 10, 0)).await?;
    assert_eq!(sightings.len(), 2);
    assert_eq!(sightings.last().map(|s| s.1), Some(c.at));
    assert_eq!(sightings[1].0, c.unique_key());
    Ok(())
}

/// Purging removes old raw events but keeps converted clicks and every rollup.
pub async fn purge_keeps_converted_and_rollups(store: Arc<dyn EventStore>) -> Check {
    let old = sample_click(t(8, 0, 0), 1, 7, 3);
    let converted = sample_click(t(8, 30, 0), 2, 7, 3);
    let recent = sample_click(t(12, 0, 0), 3, 7, 3);
    store
        .append(Arc::new(EventBatch {
            clicks: vec![old.clone(), converted.clone(), recent.clone()],
            impressions: vec![impression(t(8, 0, 0), 7, 3)],
        }))
        .await?;
    assert!(store.mark_converted(converted.id).await?);
    assert!(!store.mark_converted(ClickId::new(5, [5; 10])).await?);
    assert_eq!(store.purge_before(t(10, 0, 0)).await?, 1);
    assert_eq!(store.click(old.id).await?, None);
    assert!(store.click(converted.id).await?.is_some(), "converted clicks are kept forever");
    assert!(store.click(recent.id).await?.is_some());
    assert!(store.impressions(t(0, 0, 0), t(10, 0, 0), 10).await?.is_empty());
    let rows = store.rollups(t(8, 0, 0), t(9, 0, 0)).await?;
    assert_eq!(rows.iter().map(|r| r.clicks).sum::<u64>(), 2, "statistics are kept forever");
    assert_eq!(rows.iter().map(|r| r.impressions).sum::<u64>(), 1);
    Ok(())
}

/// The unique window: first sighting, repeats inside the window, a new window.
pub async fn unique_window(counters: Arc<dyn SharedCounters>) -> Check {
    let day = Duration::hours(24);
    assert!(counters.first_in_window(1, t(10, 0, 0), day).await?);
    assert!(!counters.first_in_window(1, t(10, 0, 1), day).await?);
    assert!(counters.first_in_window(2, t(10, 0, 1), day).await?, "keys are independent");
    assert!(!counters.first_in_window(1, t(10, 0, 1) + Duration::hours(23), day).await?);
    assert!(counters.first_in_window(1, t(10, 0, 1) + Duration::hours(47), day).await?, "24 h after the last sighting");
    assert!(!counters.first_in_window(1, t(10, 0, 0), day).await?, "an older replay does not reset the window");
    Ok(())
}

/// Caps: all-or-nothing increments up to each limit, reset by expiry.
pub async fn caps_are_exact(counters: Arc<dyn SharedCounters>) -> Check {
    let soon = Utc::now() + Duration::hours(1);
    let day = Limit { key: "cap:{t}:d".into(), limit: 3, expires_at: soon };
    let aff = Limit { key: "cap:{t}:a".into(), limit: 2, expires_at: soon };
    assert_eq!(counters.acquire(&[day.clone(), aff.clone()]).await?, None);
    assert_eq!(counters.acquire(&[day.clone(), aff.clone()]).await?, None);
    assert_eq!(counters.acquire(&[day.clone(), aff.clone()]).await?, Some(1));
    assert_eq!(counters.get("cap:{t}:d", Utc::now()).await?, 2, "a refused acquire increments nothing");
    assert_eq!(counters.acquire(std::slice::from_ref(&day)).await?, None);
    assert_eq!(counters.acquire(std::slice::from_ref(&day)).await?, Some(0));
    counters.release(&[day.clone(), aff.clone()]).await?;
    assert_eq!(counters.get("cap:{t}:d", Utc::now()).await?, 2, "a release gives one unit back");
    assert_eq!(counters.get("cap:{t}:a", Utc::now()).await?, 1);
    assert_eq!(counters.acquire(&[day.clone(), aff.clone()]).await?, None, "and it can be taken again");
    for _ in 0..4 {
        counters.release(std::slice::from_ref(&aff)).await?;
    }
    assert_eq!(counters.get("cap:{t}:a", Utc::now()).await?, 0, "a counter never goes below zero");
    counters.release(&[Limit { key: "cap:never".into(), limit: 1, expires_at: soon }]).await?;
    assert_eq!(counters.get("cap:never", Utc::now()).await?, 0);
    assert_eq!(counters.add("cap:x", 5, soon).await?, 5);
    assert_eq!(counters.add("cap:x", 2, soon).await?, 7);
    // Seeding is idempotent: it never adds to what a counter holds.
    assert_eq!(counters.seed("cap:x", 4, soon).await?, 7, "a higher counter stays");
    assert_eq!(counters.seed("cap:x", 9, soon).await?, 9, "a lower one is raised");
    assert_eq!(counters.seed("cap:x", 9, soon).await?, 9, "seeding twice is seeding once");
    assert_eq!(counters.seed("cap:fresh", 3, soon).await?, 3, "an absent one is set");
    let past = Utc::now() - Duration::seconds(1);
    counters.add("cap:old", 9, past).await?;
    assert_eq!(counters.get("cap:old", Utc::now()).await?, 0, "expired counters read as zero");
    let old = Limit { key: "cap:old".into(), limit: 1, expires_at: soon };
    assert_eq!(counters.acquire(&[old]).await?, None, "an expired counter starts again");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let counters = counters.clone();
        let limit = Limit { key: "cap:race".into(), limit: 20, expires_at: soon };
        tasks.push(tokio::spawn(async move { counters.acquire(&[limit]).await }));
    }
    let mut granted = 0;
    for task in tasks {
        if task.await.map_err(|e| StoreError::Backend(e.to_string()))??.is_none() {
            granted += 1;
        }
    }
    assert_eq!(granted, 20, "concurrent acquires never exceed the cap");
    Ok(())
}

/// Expands to one test per event-store check, each on a fresh store from `$make`.
#[macro_export]
macro_rules! event_store_conformance {
    ($make:expr) => {
        $crate::conformance_tests!($make, EventStore;
            events_round_trip, click_queries_match_their_meaning, rollups_sum_buckets, restart_state, purge_keeps_converted_and_rollups,
            tallies_equal_raw_sums);
    };
}

/// Expands to one test per shared-counters check, each on fresh counters from `$make`.
#[macro_export]
macro_rules! counters_conformance {
    ($make:expr) => {
        $crate::conformance_tests!($make, SharedCounters; unique_window, caps_are_exact);
    };
}

fn conversion(
    offer_id: i64,
    affiliate_id: i64,
    txid: Option<&str>,
    at: DateTime<Utc>,
) -> clicktrail_domain::conversion::Conversion {
    clicktrail_domain::conversion::Conversion {
        id: 0,
        click_id: Some(ClickId::new(1, [1; 10]).to_hex()),
        offer_id,
        affiliate_id,
        event: None,
        is_lead: false,
        status: clicktrail_domain::offer::ConversionStatus::Approved,
        reason: String::new(),
        payout: Money::parse("1.5").unwrap_or_default(),
        revenue: Money::parse("2").unwrap_or_default(),
        sale_amount: None,
        currency: clicktrail_domain::money::Currency::USD,
        txid: txid.map(String::from),
        coupon_code: None,
        created_at: at,
        updated_at: at,
        click_at: Some(at),
        subs: Default::default(),
        source_id: String::new(),
        country: "US".into(),
        device: String::new(),
        os: String::new(),
        postback_ip: "203.0.113.1".into(),
        history: Vec::new(),
    }
}

fn job_for(subject: String) -> crate::NewJob {
    crate::NewJob {
        kind: "postback".into(),
        subject: subject.clone(),
        payload: serde_json::json!({"url": "https://t.example/"}),
        idempotency_key: format!("key-{subject}"),
        run_at: Utc::now() - Duration::seconds(1),
    }
}

/// Conversions and their jobs are written together; a repeated order id writes nothing.
pub async fn conversions_record_once(store: Arc<dyn crate::ConversionStore>, jobs: Arc<dyn crate::JobQueue>) -> Check {
    use clicktrail_domain::offer::ConversionStatus::{Approved, Pending, Rejected};
    let make = |c: &clicktrail_domain::conversion::Conversion| vec![job_for(format!("conversion:{}", c.id))];
    let first = match store.record(conversion(7, 3, Some("T1"), t(10, 0, 0)), Box::new(make)).await? {
        crate::Recorded::New(c) => c,
        other => panic!("expected a new conversion: {other:?}"),
    };
    assert!(first.id > 0);
    match store.record(conversion(7, 4, Some("T1"), t(10, 1, 0)), Box::new(make)).await? {
        crate::Recorded::Duplicate(c) => assert_eq!(c.id, first.id),
        other => panic!("a repeated order id is a duplicate: {other:?}"),
    }
    let Recorded::New(other_offer) = store.record(conversion(8, 3, Some("T1"), t(10, 2, 0)), Box::new(make)).await?
    else {
        panic!("order ids are unique per offer only");
    };
    let Recorded::New(mut no_txid) =
        store.record(conversion(7, 3, None, t(10, 3, 0)), Box::new(|_| Vec::new())).await?
    else {
        panic!("conversions without an order id are never duplicates");
    };
    assert_eq!(store.conversion(first.id).await?, Some(first.clone()));
    let all = store.conversions(&crate::ConversionQuery::default()).await?;
    assert_eq!(all.total, 3);
    assert_eq!(
        all.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        [no_txid.id, other_offer.id, first.id],
        "newest first"
    );
    let q = crate::ConversionQuery { offer_ids: Some(vec![8]), ..Default::default() };
    assert_eq!(store.conversions(&q).await?.items.len(), 1);
    let q = crate::ConversionQuery { offer_id: Some(7), from: Some(t(10, 0, 30)), ..Default::default() };
    assert_eq!(store.conversions(&q).await?.items.len(), 1);
    no_txid.status = Rejected;
    store.change(&no_txid, vec![job_for(format!("conversion:{}", no_txid.id))]).await?;
    assert_eq!(store.conversion(no_txid.id).await?.map(|c| c.status), Some(Rejected));
    let q = crate::ConversionQuery { status: Some(Rejected), ..Default::default() };
    assert_eq!(store.conversions(&q).await?.total, 1);
    assert_eq!(store.count(7, Some(3), t(0, 0, 0), &[Approved, Pending]).await?, 1);
    assert_eq!(store.count(7, None, t(0, 0, 0), &[Approved, Pending, Rejected]).await?, 2);
    let claimed = jobs.claim("postback", Utc::now(), 10, Duration::seconds(30)).await?;
    assert_eq!(claimed.len(), 3, "one job per recorded conversion and per change, none for the duplicate");
    Ok(())
}

/// Jobs: due ones are claimed once per lease, retried later, finished for good, attempts kept.
pub async fn jobs_lease_retry_finish(store: Arc<dyn crate::ConversionStore>, jobs: Arc<dyn crate::JobQueue>) -> Check {
    let make = |c: &clicktrail_domain::conversion::Conversion| vec![job_for(format!("conversion:{}", c.id))];
    store.record(conversion(1, 1, None, Utc::now()), Box::new(make)).await?;
    store.record(conversion(1, 1, None, Utc::now()), Box::new(make)).await?;
    let now = Utc::now();
    let claimed = jobs.claim("postback", now, 10, Duration::seconds(30)).await?;
    assert_eq!(claimed.len(), 2);
    assert!(jobs.claim("postback", now, 10, Duration::seconds(30)).await?.is_empty(), "a lease hides claimed jobs");
    assert!(jobs.claim("other", now + Duration::hours(1), 10, Duration::seconds(30)).await?.is_empty());
    let attempt = |job: &crate::Job, outcome: &str| crate::Attempt {
        job_id: job.id,
        subject: job.subject.clone(),
        at: now,
        url: "https://t.example/".into(),
        status: Some(503),
        latency_ms: 12,
        outcome: outcome.into(),
        detail: "busy".into(),
    };
    jobs.finish(claimed[0].id, attempt(&claimed[0], "retry"), crate::JobNext::RetryAt(now + Duration::seconds(60)))
        .await?;
    jobs.finish(claimed[1].id, attempt(&claimed[1], "delivered"), crate::JobNext::Delivered).await?;
    assert!(jobs.claim("postback", now + Duration::seconds(59), 10, Duration::seconds(30)).await?.is_empty());
    let again = jobs.claim("postback", now + Duration::seconds(61), 10, Duration::seconds(30)).await?;
    assert_eq!(
        (again.len(), again[0].id, again[0].attempts),
        (1, claimed[0].id, 1),
        "only the retried job, with its attempt counted"
    );
    assert_eq!(again[0].idempotency_key, claimed[0].idempotency_key, "the same key on every attempt");
    jobs.finish(again[0].id, attempt(&again[0], "failed"), crate::JobNext::Failed).await?;
    assert!(jobs.claim("postback", now + Duration::days(2), 10, Duration::seconds(30)).await?.is_empty());
    assert_eq!(jobs.next_due("postback").await?, None);
    let log = jobs.attempts(&claimed[0].subject).await?;
    assert_eq!(log.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>(), ["retry", "failed"]);
    assert_eq!((log[0].status, log[0].latency_ms, log[0].detail.as_str()), (Some(503), 12, "busy"));
    // Jobs of no conversion (a postback's test fire) queue on their own.
    jobs.enqueue(vec![job_for("postback:9:test".into())]).await?;
    let later = now + Duration::days(3);
    let test = jobs.claim("postback", later, 10, Duration::seconds(30)).await?;
    assert_eq!((test.len(), test[0].subject.as_str()), (1, "postback:9:test"));
    Ok(())
}

/// Expands to one test per conversion-store check; `$make` gives both traits of one backend.
#[macro_export]
macro_rules! conversion_store_conformance {
    ($make:expr) => {
        $crate::conversion_store_conformance!(@tests $make; conversions_record_once, jobs_lease_retry_finish,
            conversion_tallies_follow_status);
    };
    (@tests $make:expr; $($check:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let (store, jobs): (::std::sync::Arc<dyn $crate::ConversionStore>, ::std::sync::Arc<dyn $crate::JobQueue>) = $make.await;
                $crate::conformance::$check(store, jobs).await.expect(stringify!($check));
            }
        )+
    };
}
