//! Reports over known traffic: every metric, filters, grouping, and time zones with DST and
//! :30/:45 offsets.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clicktrail_domain::conversion::{Conversion, StatusChange};
use clicktrail_domain::money::{Currency, Money};
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_store::EventBatch;
use clicktrail_store::conformance::sample_click;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, offer_body};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub struct Known {
    pub app: TestApp,
    pub a: i64,
    pub group: i64,
    pub adv: i64,
    pub c2: i64,
    pub o1: i64,
    pub o2: i64,
}

fn conversion(
    offer: i64,
    aff: i64,
    when: &str,
    status: ConversionStatus,
    lead: bool,
    money: (&str, &str),
    country: &str,
) -> Conversion {
    let (payout, revenue) = money;
    let t = at(when);
    Conversion {
        id: 0,
        click_id: None,
        offer_id: offer,
        affiliate_id: aff,
        event: lead.then(|| "lead".to_owned()),
        is_lead: lead,
        status,
        reason: String::new(),
        payout: Money::parse(payout).unwrap(),
        revenue: Money::parse(revenue).unwrap(),
        sale_amount: None,
        currency: Currency::USD,
        txid: None,
        coupon_code: None,
        created_at: t,
        updated_at: t,
        click_at: None,
        subs: Default::default(),
        source_id: "newsletter".into(),
        country: country.into(),
        device: "mobile".into(),
        os: "ios".into(),
        postback_ip: String::new(),
        history: vec![StatusChange { at: t, from: None, to: status, reason: String::new(), by_user_id: None }],
    }
}

/// Clicks around the US DST change of 2026-03-08 (07:00 UTC) and conversions.
pub async fn known() -> Known {
    let app = TestApp::spawn().await;
    let group = app.create_id("/api/affiliate-groups", json!({"name": "G"})).await;
    let a = app.create_id("/api/affiliates", json!({"name": "A", "affiliate_group_id": group})).await;
    let b = app.create_id("/api/affiliates", json!({"name": "B"})).await;
    let adv = app.create_id("/api/advertisers", json!({"name": "Adv"})).await;
    let c1 = app.create_id("/api/categories", json!({"name": "C1"})).await;
    let c2 = app.create_id("/api/categories", json!({"name": "C2"})).await;
    let o1 = app.create_id("/api/offers", offer_body("O1", json!({"advertiser_id": adv, "category_id": c1}))).await;
    let o2 = app.create_id("/api/offers", offer_body("O2", json!({"category_id": c2}))).await;
    for name in ["Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"] {
        app.create("/api/traffic-sources", json!({"name": name})).await;
    }
    let mut clicks = Vec::new();
    for (n, (when, offer, aff)) in [
        ("2026-03-08T04:30:00Z", o1, a),
        ("2026-03-08T05:15:00Z", o1, a),
        ("2026-03-08T06:45:00Z", o2, b),
        ("2026-03-08T07:15:00Z", o1, b),
        ("2026-03-08T18:20:00Z", o1, a),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = sample_click(at(when), n as u8, offer, aff);
        c.payout = Money::ZERO;
        c.revenue = Money::ZERO;
        c.params.subs[0] = if n == 0 { "x".into() } else { "y".into() };
        clicks.push(c);
    }
    clicks[2].geo.country = clicktrail_domain::geo::CountryCode::parse("DE").ok();
    clicks[3].is_robot = true;
    clicks[3].is_filter = true;
    clicks[3].rejection = Some(clicktrail_domain::click::Rejection::FilteredBot);
    app.tracker.events().append(Arc::new(EventBatch { clicks, impressions: vec![] })).await.unwrap();
    let store = app.state.conversions.store().clone();
    for c in [
        conversion(o1, a, "2026-03-08T05:20:00Z", ConversionStatus::Approved, false, ("2", "3"), "US"),
        conversion(o2, b, "2026-03-08T06:50:00Z", ConversionStatus::Pending, false, ("5", "9"), "DE"),
        conversion(o1, a, "2026-03-08T18:25:00Z", ConversionStatus::Approved, true, ("1", "1.5"), "US"),
    ] {
        store.record(c, Box::new(|_| Vec::new())).await.unwrap();
    }
    Known { app, a, group, adv, c2, o1, o2 }
}

fn rows(body: &Value) -> Vec<Value> {
    body["data"].as_array().cloned().unwrap_or_default()
}

fn col(body: &Value, key: &str, metric: &str) -> Vec<(Value, Value)> {
    rows(body).iter().map(|r| (r[key].clone(), r[metric].clone())).collect()
}

#[tokio::test]
async fn time_zones_put_the_same_traffic_in_the_right_buckets() {
    let k = known().await;
    let get = |q: String| {
        let app = &k.app;
        async move { app.get(&format!("/api/reports?from=2026-03-07&to=2026-03-09&{q}"), ADMIN_KEY).await }
    };
    let utc = get("group_by=date&timezone=UTC".into()).await;
    assert_eq!(utc.status, StatusCode::OK, "{}", utc.body);
    assert_eq!(col(&utc.body, "date", "clicks"), [(json!("2026-03-08"), json!(4))], "a filtered click is not counted");
    assert_eq!(utc.body["meta"]["source"], "rollups");
    let ny = get("group_by=date&timezone=America/New_York".into()).await;
    assert_eq!(col(&ny.body, "date", "clicks"), [(json!("2026-03-07"), json!(1)), (json!("2026-03-08"), json!(3))]);
    assert_eq!(
        col(&ny.body, "date", "conversions"),
        [(json!("2026-03-07"), json!(0)), (json!("2026-03-08"), json!(1))]
    );
    assert_eq!(col(&ny.body, "date", "leads"), [(json!("2026-03-07"), json!(0)), (json!("2026-03-08"), json!(1))]);
    let hours = get("group_by=hour&timezone=America/New_York&from=2026-03-08".into()).await;
    let hour_clicks: Vec<(Value, Value)> = col(&hours.body, "hour", "clicks");
    assert_eq!(
        hour_clicks,
        [
            (json!("2026-03-08 00:00:00"), json!(1)),
            (json!("2026-03-08 01:00:00"), json!(1)),
            (json!("2026-03-08 14:00:00"), json!(1))
        ],
        "01:59 EST is followed by 03:00 EDT; 18:20 UTC is 14:20 EDT"
    );
    let kolkata = get("group_by=date&timezone=Asia/Kolkata".into()).await;
    assert_eq!(col(&kolkata.body, "date", "clicks"), [(json!("2026-03-08"), json!(4))], "18:20 UTC is 23:50 IST");
    let kathmandu = get("group_by=date&timezone=Asia/Kathmandu".into()).await;
    assert_eq!(
        col(&kathmandu.body, "date", "clicks"),
        [(json!("2026-03-08"), json!(3)), (json!("2026-03-09"), json!(1))],
        "18:20 UTC is 00:05 NPT"
    );
    assert_eq!(col(&kathmandu.body, "date", "leads")[1], (json!("2026-03-09"), json!(1)));
}

#[tokio::test]
async fn metrics_filters_and_audiences() {
    let k = known().await;
    let r = k.app.get("/api/reports?from=2026-03-08&to=2026-03-08&group_by=offer&timezone=UTC", ADMIN_KEY).await;
    let o1 = rows(&r.body).into_iter().find(|row| row["offer_id"] == k.o1).unwrap();
    assert_eq!(
        (o1["clicks"].as_u64(), o1["unique_clicks"].as_u64(), o1["conversions"].as_u64(), o1["leads"].as_u64()),
        (Some(3), Some(3), Some(1), Some(1))
    );
    assert_eq!(
        (o1["payout"].as_f64(), o1["revenue"].as_f64(), o1["profit"].as_f64()),
        (Some(3.0), Some(4.5), Some(1.5))
    );
    assert_eq!((o1["cr"].as_f64(), o1["epc"].as_f64(), o1["roi"].as_f64()), (Some(33.33), Some(1.5), Some(50.0)));
    assert_eq!(r.body["totals"]["clicks"], 4);
    let pending = k.app.get("/api/reports?from=2026-03-08&to=2026-03-08&timezone=UTC&status=pending", ADMIN_KEY).await;
    assert_eq!(
        (pending.body["totals"]["conversions"].as_u64(), pending.body["totals"]["payout"].as_f64()),
        (Some(1), Some(5.0))
    );
    for (filter, clicks) in [
        (format!("affiliate_group_id={}", k.group), 3),
        (format!("advertiser_id={}", k.adv), 3),
        (format!("category_id={}", k.c2), 1),
        ("country=de".to_owned(), 1),
        (format!("offer_id={},{}", k.o1, k.o2), 4),
        ("source_id=newsletter".to_owned(), 4),
        ("device=mobile&os=ios".to_owned(), 4),
        ("device=desktop".to_owned(), 0),
    ] {
        let r =
            k.app.get(&format!("/api/reports?from=2026-03-08&to=2026-03-08&timezone=UTC&{filter}"), ADMIN_KEY).await;
        assert_eq!(r.body["totals"]["clicks"], clicks, "{filter}: {}", r.body);
    }
    let sub1 = || k.app.get("/api/reports?from=2026-03-08&to=2026-03-08&timezone=UTC&group_by=sub1", ADMIN_KEY);
    let expected = [(json!(""), json!(0)), (json!("x"), json!(1)), (json!("y"), json!(3))];
    let raw = sub1().await;
    assert_eq!(col(&raw.body, "sub1", "clicks"), expected);
    // Folded into the daily sub-id rollups (the writer does it in the background; maybe it
    // already has), the same day reads the same.
    k.app.tracker.events().compact(chrono::Utc::now()).await.unwrap();
    let folded = sub1().await;
    assert_eq!(
        folded.body["meta"]["source"], "rollups+raw",
        "traffic of a whole UTC day by sub-id comes from the daily rollup once folded; conversions from their rows"
    );
    assert_eq!(col(&folded.body, "sub1", "clicks"), expected);
    assert_eq!(folded.body["rows"], raw.body["rows"]);
    let minutes = k.app.get("/api/reports?from=2026-03-08%2005:00&to=2026-03-08%2005:20&timezone=UTC", ADMIN_KEY).await;
    assert_eq!(
        (minutes.body["meta"]["source"].as_str(), minutes.body["totals"]["clicks"].as_u64()),
        (Some("rollups+raw"), Some(1)),
        "05:00-05:15 from the quarter-hour rollup, 05:15-05:20 from raw clicks"
    );

    let aff_key = k.app.key_for(k.a, &["read:stats"]).await;
    let mine = k.app.get("/api/reports?from=2026-03-08&to=2026-03-08&timezone=UTC&group_by=affiliate", &aff_key).await;
    assert_eq!(
        col(&mine.body, "affiliate_id", "clicks"),
        [(json!(k.a), json!(3))],
        "an affiliate sees only its own traffic"
    );
    assert!(mine.body["data"][0].get("revenue").is_none() && mine.body["totals"].get("profit").is_none());
    assert_eq!(mine.body["data"][0]["epc"], 1.0, "affiliate EPC is payout per click");
    let adv_key = k.app.key_for(k.adv, &["read:stats"]).await;
    let theirs = k.app.get("/api/reports?from=2026-03-08&to=2026-03-08&timezone=UTC", &adv_key).await;
    assert_eq!(theirs.body["totals"]["clicks"], 3, "an advertiser sees its offers only");
    let no_scope = k.app.key_for(k.a, &["read:offers"]).await;
    assert_eq!(k.app.get("/api/reports", &no_scope).await.code(), "INSUFFICIENT_SCOPE");
}

#[tokio::test]
async fn csv_and_bad_parameters() {
    let k = known().await;
    let r = k
        .app
        .raw
        .get(format!(
            "{}/api/reports?from=2026-03-08&to=2026-03-08&timezone=UTC&group_by=date,offer&format=csv",
            k.app.base
        ))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("date,offer_id,impressions,clicks,unique_clicks,leads,conversions,cr,epc,payout,revenue,profit,roi")
    );
    assert_eq!(
        lines.next().map(|l| l.starts_with(&format!("2026-03-08,{},0,3,3,1,1,33.33,1.5,3.0,4.5,1.5,50.0", k.o1))),
        Some(true),
        "{text}"
    );
    for (query, field) in [
        ("from=whenever", "from"),
        ("to=13:99", "to"),
        ("group_by=planet", "group_by"),
        ("timezone=Mars/Base", "timezone"),
        ("format=xml", "format"),
        ("status=won", "status"),
        ("offer_id=abc", "offer_id"),
        ("from=2026-03-09&to=2026-03-08", "to"),
    ] {
        let r = k.app.get(&format!("/api/reports?{query}"), ADMIN_KEY).await;
        assert_eq!(
            (r.status, r.body["error"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{query}: {}",
            r.body
        );
    }
}
