//! Seed fidelity found with real clients: what affiliates see of money on every surface,
//! conversions on refused clicks, the raw-click object of dialect D, dialect E's stats, body
//! errors in each dialect's shape, and conversion caps under concurrent postbacks.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::conversions::postback;
use crate::dialects::{bearer, get, stream};
use crate::helpers::{ADMIN_KEY, TestApp, offer_body};
use crate::receiver::Receiver;

const UA: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

async fn app() -> TestApp {
    TestApp::spawn_with(|s| s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()]).await
}

/// Clicks with `async=json`; the answer (transaction id, and error code when refused).
async fn click(app: &TestApp, offer: i64, aff: i64, query: &str, ip: &str) -> Value {
    app.raw
        .get(format!("{}/c/{offer}/{aff}?async=json&{query}", app.base))
        .header("user-agent", UA)
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn today_window() -> Value {
    let now = Utc::now();
    json!({
        "from": (now - chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S").to_string(),
        "to": (now + chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S").to_string(),
        "timezone_id": 67,
    })
}

/// Every key named `name` anywhere in `value`.
fn keys_named<'a>(value: &'a Value, name: &str, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == name {
                    out.push(v);
                }
                keys_named(v, name, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys_named(v, name, out)),
        _ => {}
    }
}

fn no_key(value: &Value, name: &str, surface: &str) {
    let mut found = Vec::new();
    keys_named(value, name, &mut found);
    assert!(found.is_empty(), "{surface} shows '{name}' to an affiliate: {value}");
}

/// Waits until the native report counts `conversions` conversions for the admin.
async fn settled(app: &TestApp, conversions: u64) {
    for _ in 0..100 {
        let r = app.get("/api/reports?from=today&to=today", ADMIN_KEY).await;
        if r.body["totals"]["conversions"].as_u64() == Some(conversions)
            && r.body["totals"]["clicks"].as_u64() >= Some(2)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the report never showed {conversions} conversions");
}

#[tokio::test]
async fn an_affiliate_never_sees_revenue_on_any_surface() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    app.create("/api/traffic-sources", json!({"name": "Newsletter"})).await;
    let cpa = app.create_id("/api/offers", offer_body("CPA", json!({"payout": 2.5, "revenue": 4}))).await;
    let cpc = app
        .create_id(
            "/api/offers",
            offer_body("CPC", json!({"payout": 0.3, "payout_type": "cpc", "revenue": 0.5, "revenue_type": "cpc"})),
        )
        .await;
    let key = app.key_for(aff, &["read:offers", "read:stats", "read:conversions"]).await;
    let sold = click(&app, cpa, aff, "source_id=newsletter", "203.0.113.9").await;
    click(&app, cpc, aff, "source_id=newsletter", "203.0.113.10").await;
    let (s, conv) = postback(&app, &format!("click_id={}", sold["transaction_id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::OK, "{conv}");
    let id = conv["conversion_id"].as_i64().unwrap();
    settled(&app, 1).await;

    // Native reports, JSON and CSV: payout only.
    let report = app.get("/api/reports?from=today&to=today&group_by=offer", &key).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    for name in ["revenue", "profit", "roi"] {
        no_key(&report.body, name, "/api/reports");
    }
    assert_eq!(report.body["totals"]["payout"], 2.8);
    assert_eq!(report.body["totals"]["epc"], 1.4, "EPC from payout");
    let admin = app.get("/api/reports?from=today&to=today", ADMIN_KEY).await;
    assert_eq!(
        (admin.body["totals"]["revenue"].as_f64(), admin.body["totals"]["epc"].as_f64()),
        (Some(4.5), Some(2.25))
    );
    let csv = app
        .raw
        .get(format!("{}/api/reports?from=today&to=today&format=csv", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.contains("payout") && !header.contains("revenue") && !header.contains("profit"), "{header}");

    // Native conversions, list and one.
    let list = app.get("/api/conversions", &key).await;
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(1), "{}", list.body);
    no_key(&list.body, "revenue", "/api/conversions");
    assert_eq!(list.body["data"][0]["payout"], 2.5);
    let one = app.get(&format!("/api/conversions/{id}"), &key).await;
    assert_eq!(one.status, StatusCode::OK);
    no_key(&one.body, "revenue", "/api/conversions/{id}");
    assert_eq!(app.get(&format!("/api/conversions/{id}"), ADMIN_KEY).await.body["revenue"], 4.0);

    // Dialect B: the affiliate's own earnings in `revenue`.
    let window = format!("date_from={}&date_to={}", Utc::now().timestamp() - 3600, Utc::now().timestamp() + 60);
    let (s, b) = get(&app, &format!("/api/traffic-source?rest_key={key}&{window}"), &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["data"][0]["source_name"], "Newsletter");
    assert_eq!(b["data"][0]["revenue"], 2.8, "payout of the conversion and the CPC click: {b}");
    let (_, b_admin) = get(&app, &format!("/api/traffic-source?rest_key={ADMIN_KEY}&{window}"), &[]).await;
    assert_eq!(b_admin["data"][0]["revenue"], 4.5);

    // Dialect D: a CPC click's revenue is the affiliate's payout.
    let cpc_click = |body: &Value| {
        body["clicks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["relationship"]["offer"]["network_offer_id"] == cpc)
            .cloned()
    };
    let (s, d) = stream(&app, &key, today_window()).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(cpc_click(&d).unwrap()["revenue"], 0.3, "{d}");
    let (_, d_admin) = stream(&app, ADMIN_KEY, today_window()).await;
    assert_eq!(cpc_click(&d_admin).unwrap()["revenue"], 0.5);

    // Dialect E: stats carry earnings; conversions no revenue.
    let today = Utc::now().format("%Y-%m-%d");
    let (_, e) = bearer(&app, &key, &format!("/v1/stats?date_from={today}&date_to={today}")).await;
    assert_eq!(e["data"][0]["revenue"], 2.8, "{e}");
    let (_, e_admin) = bearer(&app, ADMIN_KEY, &format!("/v1/stats?date_from={today}&date_to={today}")).await;
    assert_eq!(e_admin["data"][0]["revenue"], 4.5, "{e_admin}");
    let (_, ec) = bearer(&app, &key, &format!("/v1/conversions?date_from={today}&date_to={today}")).await;
    assert_eq!(ec["data"].as_array().map(Vec::len), Some(1), "{ec}");
    no_key(&ec, "revenue", "/v1/conversions");

    // Dialect C and the native offers: no revenue; dialect A: admins only.
    let (_, c) = get(&app, "/api/v2/offers", &[("x-api-key", &key)]).await;
    assert_eq!(c["offers"].as_array().map(Vec::len), Some(2), "{c}");
    no_key(&c, "revenue", "/api/v2/offers");
    no_key(&app.get("/api/offers", &key).await.body, "revenue", "/api/offers");
    let (s, _) =
        get(&app, "/api/v1.2/admin/offerStats/today/today/", &[("x-api-key", &key), ("x-user-id", &aff.to_string())])
            .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_conversion_on_a_refused_click_is_rejected_pays_nothing_and_fires_only_rejected() {
    let app = app().await;
    let rx = Receiver::start().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    for event in ["conversion", "approved", "rejected"] {
        app.create(
            "/api/postbacks",
            json!({"affiliate_id": aff, "event": event, "url": rx.url(&format!("/pb?ev={event}&p={{payout}}&st={{status}}"))}),
        )
        .await;
    }
    let paused = app.create_id("/api/offers", offer_body("Paused", json!({"status": "paused"}))).await;
    let geo = app.create_id("/api/offers", offer_body("US only", json!({"geo": ["US"]}))).await;
    let open = app.create_id("/api/offers", offer_body("Open", json!({}))).await;
    for (offer, why) in [(paused, "paused offer"), (geo, "country not targeted")] {
        let clicked = click(&app, offer, aff, "", "203.0.113.20").await;
        assert_ne!(clicked["error_code"].as_u64().unwrap_or(0), 0, "{why}: the click is refused: {clicked}");
        let cid = clicked["transaction_id"].as_str().unwrap();
        let (s, body) = postback(&app, &format!("click_id={cid}&status=approved&payout=9&amount=100")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        assert_eq!((body["status"].as_str(), body["payout"].as_f64()), (Some("rejected"), Some(0.0)), "{why}: {body}");
        let stored = app.get(&format!("/api/conversions/{}", body["conversion_id"]), ADMIN_KEY).await.body;
        assert_eq!((stored["reason"].as_str(), stored["revenue"].as_f64()), (Some("click_refused"), Some(0.0)));
    }
    // An accepted click still converts (and fires conversion + approved) — the control.
    let ok = click(&app, open, aff, "", "203.0.113.21").await;
    assert!(ok.get("error_code").is_none(), "{ok}");
    let (_, body) = postback(&app, &format!("click_id={}", ok["transaction_id"].as_str().unwrap())).await;
    assert_eq!(body["status"], "approved");
    let got = rx.wait_for(4, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fired: Vec<(String, f64)> =
        rx.received().iter().map(|r| (r.param("ev").unwrap(), r.param("p").unwrap().parse::<f64>().unwrap())).collect();
    fired.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(got.len(), 4);
    assert_eq!(
        fired,
        [("approved".into(), 2.5), ("conversion".into(), 2.5), ("rejected".into(), 0.0), ("rejected".into(), 0.0)],
        "refused clicks fire only their rejected postbacks"
    );
    // Reports count neither the payout nor a conversion for them.
    settled(&app, 1).await;
    let r = app.get("/api/reports?from=today&to=today", ADMIN_KEY).await;
    assert_eq!(r.body["totals"]["payout"], 2.5, "{}", r.body);
}

#[tokio::test]
async fn dialect_d_shows_the_parameters_and_coupon_as_sent() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let sent = "__cc=Summer&sub1=a&source_id=s&campaign=spring&creative_id=4&url_id=7&gaid=g&utm_term=x%20y";
    let with = click(&app, offer, aff, sent, "203.0.113.30").await;
    let without = click(&app, offer, aff, "sub1=only", "203.0.113.31").await;
    for answer in [&with, &without] {
        app.stored_click(answer["transaction_id"].as_str().unwrap()).await;
    }
    let (s, d) = stream(&app, ADMIN_KEY, today_window()).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let find =
        |id: &Value| d["clicks"].as_array().unwrap().iter().find(|c| c["transaction_id"] == *id).cloned().unwrap();
    let c = find(&with["transaction_id"]);
    assert_eq!(
        c["relationship"]["query_parameters"],
        json!({"__cc": "Summer", "campaign": "spring", "creative_id": "4", "url_id": "7", "utm_term": "x y"}),
        "every parameter as sent but sub-ids, source, ad ids and async"
    );
    assert_eq!(c["coupon_code"], "Summer", "the coupon as sent");
    assert_eq!(find(&without["transaction_id"])["relationship"]["query_parameters"], Value::Null);
    // Coupons still match in any case.
    let mut by_coupon = today_window();
    by_coupon["query"] = json!({"filters": [{"resource_type": "coupon_code", "filter_id_value": "SUMMER"}]});
    let (_, filtered) = stream(&app, ADMIN_KEY, by_coupon).await;
    assert_eq!(filtered["clicks"].as_array().map(Vec::len), Some(1), "{filtered}");
}

#[tokio::test]
async fn body_errors_answer_in_each_dialects_shape() {
    let app = app().await;
    let send = |path: &str, header: (&'static str, String), body: &'static str| {
        let app = &app;
        let url = format!("{}{path}", app.base);
        async move {
            let r = app
                .raw
                .post(url)
                .header(header.0, header.1)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for body in ["{not json", "", "[1,", "\"just a string\""] {
        let (s, d) = send("/v1/affiliates/reporting/clicks/stream", ("x-eflow-api-key", ADMIN_KEY.into()), body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body:?}: {d}");
        assert!(d["error"].is_string(), "dialect D's shape {{\"error\": \"...\"}} for {body:?}: {d}");
        let (s, e) = send("/v1/postbacks", ("authorization", format!("Bearer {ADMIN_KEY}")), body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body:?}: {e}");
        assert_eq!(e["error"]["code"], "INVALID_PARAMETER", "dialect E's shape for {body:?}: {e}");
        let (s, n) = send("/api/offers", ("authorization", format!("Bearer {ADMIN_KEY}")), body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body:?}: {n}");
        assert_eq!(n["error"]["status"], 400, "the native shape for {body:?}: {n}");
    }
}

#[tokio::test]
async fn dialect_e_stats_count_leads_apart_from_conversions() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = app
        .create_id(
            "/api/offers",
            offer_body("O", json!({"events": [{"code": "lead", "name": "Lead", "is_lead": true, "payout": 1}]})),
        )
        .await;
    for (n, event) in ["", "&event=lead", "&event=lead"].into_iter().enumerate() {
        let c = click(&app, offer, aff, "", &format!("203.0.113.{}", 40 + n)).await;
        let (s, b) = postback(&app, &format!("click_id={}{event}", c["transaction_id"].as_str().unwrap())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    settled(&app, 1).await;
    let key = app.key_for(aff, &["read:stats"]).await;
    let today = Utc::now().format("%Y-%m-%d");
    let (_, e) = bearer(&app, &key, &format!("/v1/stats?date_from={today}&date_to={today}")).await;
    let row = &e["data"][0];
    assert_eq!(
        (row["clicks"].as_u64(), row["conversions"].as_u64(), row["leads"].as_u64()),
        (Some(3), Some(1), Some(2)),
        "{e}"
    );
    assert_eq!(row["cvr"], 33.33, "approved non-lead conversions ÷ clicks");
    assert_eq!(row["revenue"], 4.5, "the affiliate's earnings: 2.5 + 2 × 1");
}

/// Concurrent postbacks for distinct clicks across a daily conversion cap, many times: exactly
/// the cap is approved every time, the rest rejected with the cap as the reason.
#[tokio::test]
async fn conversion_caps_hold_exactly_under_concurrent_postbacks() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let other = app.create_id("/api/affiliates", json!({"name": "Other"})).await;
    let third = app.create_id("/api/affiliates", json!({"name": "Third"})).await;
    for round in 0..20u32 {
        let cap = 5 + round % 3 * 5;
        let offer = app
            .create_id(
                "/api/offers",
                offer_body(
                    &format!("Capped {round}"),
                    json!({"caps": {"offer": {"daily_conversions": cap}, "per_affiliate": {"daily_conversions": cap - 2}}}),
                ),
            )
            .await;
        let sent = cap * 2 + 6;
        let mut clicks = Vec::new();
        for n in 0..sent {
            let who = if n % 2 == 0 { aff } else { other };
            let c = click(&app, offer, who, "", &format!("198.51.{round}.{n}")).await;
            clicks.push(c["transaction_id"].as_str().unwrap().to_owned());
        }
        let mut approved = 0;
        let mut capped = 0;
        for body in concurrent_postbacks(&app, clicks).await {
            match body["status"].as_str() {
                Some("approved") => approved += 1,
                Some("rejected") => capped += 1,
                other => panic!("unexpected answer {other:?}: {body}"),
            }
        }
        assert_eq!(approved, cap, "round {round}: a cap of {cap} approves exactly {cap}");
        assert_eq!(capped, sent - cap);
        let list = app.get(&format!("/api/conversions?offer_id={offer}&status=rejected&per_page=100"), ADMIN_KEY).await;
        let reasons: Vec<&str> =
            list.body["data"].as_array().unwrap().iter().filter_map(|c| c["reason"].as_str()).collect();
        assert!(reasons.iter().all(|r| r.contains("conversion cap of")), "{reasons:?}");
        // A rejected conversion frees its place; a reinstated one takes it again.
        if round == 0 {
            let approved_list =
                app.get(&format!("/api/conversions?offer_id={offer}&status=approved&per_page=1"), ADMIN_KEY).await;
            let first = approved_list.body["data"][0]["id"].as_i64().unwrap();
            let r = app.patch(&format!("/api/conversions/{first}"), ADMIN_KEY, json!({"status": "rejected"})).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            let c = click(&app, offer, third, "", "198.51.200.1").await;
            let (_, b) = postback(&app, &format!("click_id={}", c["transaction_id"].as_str().unwrap())).await;
            assert_eq!(b["status"], "approved", "the freed place is taken: {b}");
            let c = click(&app, offer, third, "", "198.51.200.2").await;
            let (_, b) = postback(&app, &format!("click_id={}", c["transaction_id"].as_str().unwrap())).await;
            assert_eq!(b["status"], "rejected", "and then the cap is full again: {b}");
        }
    }
}

/// After a restart the caps count what was recorded before it, once.
#[tokio::test]
async fn conversion_caps_survive_a_restart() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = app
        .create_id("/api/offers", offer_body("Capped", json!({"caps": {"offer": {"monthly_conversions": 4}}})))
        .await;
    for n in 0..2 {
        let c = click(&app, offer, aff, "", &format!("192.0.2.{n}")).await;
        let (_, b) = postback(&app, &format!("click_id={}", c["transaction_id"].as_str().unwrap())).await;
        assert_eq!(b["status"], "approved", "{b}");
    }
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, |s| s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let mut clicks = Vec::new();
    for n in 10..16 {
        clicks.push(
            click(&app, offer, aff, "", &format!("192.0.2.{n}")).await["transaction_id"].as_str().unwrap().to_owned(),
        );
    }
    let answers = concurrent_postbacks(&app, clicks).await;
    let approved = answers.iter().filter(|b| b["status"] == "approved").count();
    assert_eq!(approved, 2, "two places were left of four: {answers:?}");
}

/// One postback for each click, all at once; the answers in order.
async fn concurrent_postbacks(app: &TestApp, clicks: Vec<String>) -> Vec<Value> {
    let tasks: Vec<_> = clicks
        .into_iter()
        .map(|cid| {
            let client = app.raw.clone();
            let url = format!("{}/postback?click_id={cid}", app.base);
            tokio::spawn(async move { client.get(url).send().await.unwrap().json::<Value>().await.unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Unknown paths and wrong methods answer in the shape of the dialect the path belongs to.
#[tokio::test]
async fn unknown_routes_and_methods_answer_in_each_dialects_shape() {
    let app = app().await;
    let call = |method: reqwest::Method, path: &'static str| {
        let app = &app;
        async move {
            let r = app.raw.request(method, format!("{}{path}", app.base)).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    use reqwest::Method;
    let (s, b) = call(Method::GET, "/api/v2/nothing-here").await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "dialect C: {b}");
    let (s, b) = call(Method::POST, "/api/v2/offers").await;
    assert_eq!((s, b["error"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")), "{b}");
    let (s, b) = call(Method::POST, "/api/traffic-source").await;
    assert_eq!((s, b["status"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("error")), "dialect B: {b}");
    assert!(b["message"].is_string());
    let (s, b) = call(Method::DELETE, "/v1/affiliates/reporting/clicks/stream").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(b["error"].is_string(), "dialect D: {b}");
    let (s, b) = call(Method::PUT, "/api/v1.2/admin/offerStats/today/today").await;
    assert_eq!((s, b["status"].as_u64()), (StatusCode::METHOD_NOT_ALLOWED, Some(405)), "dialect A: {b}");
    let (s, b) = call(Method::POST, "/v1/stats").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("METHOD_NOT_ALLOWED")),
        "E: {b}"
    );
    let (s, b) = call(Method::GET, "/api/nothing-here").await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")), "native: {b}");
}

/// Dialect A and the native reports read PHP's time expressions; what PHP refuses is a 400 in
/// the surface's own shape, naming the value.
#[tokio::test]
async fn report_times_are_read_as_php_reads_them() {
    let app = app().await;
    let admin = [("x-api-key", ADMIN_KEY), ("x-user-id", "1")];
    for (start, end) in [
        ("last%20monday", "today"),
        ("first%20day%20of%20last%20month%20midnight", "yesterday%20noon"),
        ("May%2021%202026", "05%2F28%2F2026"),
        ("2026-W21", "2026-05-28T23%3A59%3A59%2B02%3A00"),
        ("1779321600", "%2B1%20fortnight"),
    ] {
        let (s, b) = get(&app, &format!("/api/v1.2/admin/offerStats/{start}/{end}/"), &admin).await;
        assert_eq!(s, StatusCode::OK, "{start} … {end}: {b}");
    }
    // Huge relative times never panic: PHP's instant where it fits, else a 400.
    for start in [
        "-9223372036854775808%20seconds",
        "-9223372036854775808%20minutes",
        "-9999999999999%20days",
        "-9999999999999%20weeks",
        "%2B9999999999999%20years",
        "@-9223372036854775808",
    ] {
        let (s, b) = get(&app, &format!("/api/v1.2/admin/offerStats/{start}/today/"), &admin).await;
        assert!(s == StatusCode::OK || s == StatusCode::BAD_REQUEST, "{start}: {s} {b}");
        if s == StatusCode::BAD_REQUEST {
            assert_eq!(b["status"], 400, "dialect A's shape: {b}");
        }
    }
    let (s, b) = get(&app, "/api/v1.2/admin/offerStats/yesterday%20at%20noon/today/", &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(b["error"].as_str().unwrap().contains("'yesterday at noon'"), "dialect A's shape, naming the value: {b}");
    let r = app.get("/api/reports?from=noon%20tomorrow%20next%20tuesday%20soon&to=today", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "INVALID_PARAMETER");
    let r = app
        .get(
            "/api/reports?from=first%20day%20of%20this%20month%20midnight&to=last%20day%20of%20this%20month",
            ADMIN_KEY,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let from = chrono::DateTime::parse_from_rfc3339(r.body["meta"]["from"].as_str().unwrap()).unwrap();
    assert_eq!(from.format("%d %H:%M:%S").to_string(), "01 00:00:00", "{}", r.body["meta"]);
}

/// Forged postbacks at the largest amounts cannot take reports down: money inputs beyond the
/// bound are a 400 naming the field, and a hundred conversions of a billion each sum exactly on
/// every surface (a plain SQLite sum of 10^-8ths overflows at 92 billion).
#[tokio::test]
async fn money_at_the_extremes_is_bounded_and_sums_never_overflow() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let over = offer_body("Override", json!({"guards": {"allow_payout_override": true}}));
    let offer = app.create_id("/api/offers", over).await;
    let share = offer_body(
        "Share",
        json!({"payout_type": "revshare", "payout": 50, "revenue_type": "revshare", "revenue": 40}),
    );
    let share = app.create_id("/api/offers", share).await;
    let cid = click(&app, offer, aff, "", "203.0.113.9").await["transaction_id"].as_str().unwrap().to_owned();
    let sid = click(&app, share, aff, "", "203.0.113.9").await["transaction_id"].as_str().unwrap().to_owned();
    for bad in [
        "payout=1000000000.01",
        "revenue=99999999999999999999",
        "amount=1e400",
        "payout=-1",
        "amount=NaN",
        "payout=0.00001",
    ] {
        let field = bad.split('=').next().unwrap();
        let (status, body) = postback(&app, &format!("click_id={cid}&{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert!(body.to_string().contains(field), "{bad}: the error names {field}: {body}");
    }
    let mut sent = Vec::new();
    for i in 0..90 {
        sent.push(format!("click_id={cid}&txid=BIG-{i}&payout=1000000000&revenue=1000000000"));
    }
    for i in 0..100 {
        sent.push(format!("click_id={sid}&txid=SALE-{i}&amount=1000000000"));
    }
    for q in &sent {
        let (status, body) = postback(&app, q).await;
        assert_eq!(status, StatusCode::OK, "{q}: {body}");
    }
    settled(&app, 190).await;
    // 90 × 1e9 overridden and 100 × 50% of 1e9 shared: 140 billion paid, 130 billion earned,
    // exact although each sum is past what one i64 of 10^-8ths holds.
    for path in ["/api/reports?from=today&to=today", "/api/reports?from=today&to=today&group_by=offer,date"] {
        let r = app.get(path, ADMIN_KEY).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(r.body["totals"]["payout"].as_f64(), Some(140_000_000_000.0), "{path}: {}", r.body);
        assert_eq!(r.body["totals"]["revenue"].as_f64(), Some(130_000_000_000.0), "{path}");
    }
    // Past the 92 billion one rollup cell (an hour of one offer, affiliate and status) holds,
    // the cell saturates: reports stay up on every surface.
    for i in 0..10 {
        let q = format!("click_id={cid}&txid=MORE-{i}&payout=1000000000&revenue=1000000000");
        assert_eq!(postback(&app, &q).await.0, StatusCode::OK);
    }
    settled(&app, 200).await;
    let r = app.get("/api/reports?from=today&to=today&group_by=offer", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["totals"]["payout"].as_f64().unwrap() >= 140_000_000_000.0, "{}", r.body);
    let csv = app.raw.get(format!("{}/api/reports?from=today&to=today&format=csv", app.base)).bearer_auth(ADMIN_KEY);
    assert_eq!(csv.send().await.unwrap().status(), StatusCode::OK);
    let day = Utc::now().format("%Y-%m-%d");
    let e = app.get(&format!("/v1/stats?date_from={day}&date_to={day}"), ADMIN_KEY).await;
    assert!(e.status.is_success(), "{}", e.body);
    let a = get(&app, "/api/v1.2/admin/offerStats/today/today/", &[("x-api-key", ADMIN_KEY), ("x-user-id", "1")]).await;
    assert_eq!(a.0, StatusCode::OK, "{}", a.1);
    let list = app.get("/api/conversions?per_page=1", ADMIN_KEY).await;
    let id = list.body["data"][0]["id"].as_i64().unwrap();
    let patched = app.patch(&format!("/api/conversions/{id}"), ADMIN_KEY, json!({"status": "rejected"})).await;
    assert_eq!(patched.status, StatusCode::OK, "a status change on a saturated cell: {}", patched.body);
    assert_eq!(app.get("/api/reports?from=today&to=today&status=approved", ADMIN_KEY).await.status, StatusCode::OK);
}

/// CSV exports quote every awkward cell (a bare CR too) and never hand a spreadsheet a formula.
#[tokio::test]
async fn csv_exports_quote_every_cell_and_neutralise_formulas() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let subs = ["=HYPERLINK(\"http://evil.example\")", "+1+2", "-3", "@SUM(A1)", "a\rb", "c,d", "say \"hi\"", "plain"];
    for (i, sub) in subs.iter().enumerate() {
        let q = format!("sub1={}", url::form_urlencoded::byte_serialize(sub.as_bytes()).collect::<String>());
        click(&app, offer, aff, &q, &format!("203.0.113.{}", i + 1)).await;
    }
    let mut got = Vec::new();
    for _ in 0..100 {
        let r = app.raw.get(format!("{}/api/reports?from=today&to=today&group_by=sub1&format=csv", app.base));
        let text = r.bearer_auth(ADMIN_KEY).send().await.unwrap().text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let at = reader.headers().unwrap().iter().position(|h| h == "sub1").expect("a sub1 column");
        got = reader.records().map(|r| r.expect("valid CSV").get(at).unwrap_or_default().to_owned()).collect();
        if got.len() == subs.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    got.sort();
    let mut want: Vec<String> = subs
        .iter()
        .map(|s| if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { (*s).to_owned() })
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn click_money_at_the_extremes_sums_exactly_and_never_overflows() {
    let app = app().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    // The largest CPC amount an offer may have: 60 clicks on each of two offers are 120 billion
    // together, past what an i64 of 10^-8ths holds (92,233,720,368); 100 clicks on a third put
    // one rollup cell (a quarter hour of one offer, affiliate, source, country and device) past
    // it.
    let body = |name: &str| {
        offer_body(
            name,
            json!({"payout_type": "cpc", "payout": 1_000_000_000, "revenue_type": "cpc", "revenue": 1_000_000_000}),
        )
    };
    let (a, b, c) = (
        app.create_id("/api/offers", body("CPC A")).await,
        app.create_id("/api/offers", body("CPC B")).await,
        app.create_id("/api/offers", body("CPC C")).await,
    );
    let mut n = 0;
    for (offer, clicks) in [(a, 60), (b, 60), (c, 100)] {
        for _ in 0..clicks {
            n += 1;
            let answer = click(&app, offer, aff, "", &format!("198.18.{}.{}", n / 250, n % 250 + 1)).await;
            assert!(answer.get("error_code").is_none(), "{answer}");
        }
    }
    let (from, to) = ("-1 day", "tomorrow");
    for _ in 0..100 {
        let r = app.get(&format!("/api/reports?from={from}&to={to}"), ADMIN_KEY).await;
        if r.body["totals"]["clicks"] == 220 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = app.get(&format!("/api/reports?from={from}&to={to}&group_by=offer&offer_id={a},{b}"), ADMIN_KEY).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["totals"]["payout"], json!(120_000_000_000.0_f64), "exact past i64: {}", report.body);
    assert_eq!(report.body["totals"]["revenue"], json!(120_000_000_000.0_f64), "{}", report.body);
    let saturated = app.get(&format!("/api/reports?from={from}&to={to}&offer_id={c}"), ADMIN_KEY).await;
    assert_eq!(saturated.status, StatusCode::OK, "{}", saturated.body);
    // SQLite's rollup cell is an i64 of 10^-8ths, so it saturates; ClickHouse's are
    // Decimal128, so it does not.
    let one_cell = if crate::helpers::backends().iter().any(|b| b.starts_with("clickhouse")) {
        json!(100_000_000_000.0_f64)
    } else {
        json!(92_233_720_368.55_f64)
    };
    assert_eq!(saturated.body["totals"]["payout"], one_cell, "one cell: {}", saturated.body);
    for path in [
        format!("/api/reports?from={from}&to={to}&group_by=hour,country"),
        format!("/api/reports?from={from}&to={to}&format=csv"),
    ] {
        let answer = app.raw.get(format!("{}{path}", app.base)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
    }
    let today = chrono::Utc::now().date_naive();
    let (status, stats) = crate::dialects::get(
        &app,
        &format!(
            "/v1/stats?date_from={}&date_to={}",
            today - chrono::Duration::days(1),
            today + chrono::Duration::days(1)
        ),
        &[("authorization", &format!("Bearer {ADMIN_KEY}"))],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["data"][0]["clicks"], 220, "{stats}");
}
