//! Conversions end to end, over real sockets, with a real local postback receiver: pricing for
//! every payout type, overrides and tiers, duplicates, statuses, guards, coupons, the pixel,
//! postback macros and signatures, and the faults of delivery.

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{ADMIN_KEY, TestApp, offer_body};
use crate::receiver::Receiver;

const UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const WAIT: Duration = Duration::from_secs(10);

async fn app() -> TestApp {
    TestApp::spawn_with(|s| s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()]).await
}

async fn affiliate(app: &TestApp) -> (i64, String) {
    let a = app.create("/api/affiliates", json!({"name": "Pub"})).await;
    (a["id"].as_i64().unwrap(), a["postback_secret"].as_str().unwrap().to_owned())
}

/// Clicks and returns the click id.
async fn click(app: &TestApp, offer: i64, aff: i64, query: &str) -> String {
    let url = format!("{}/c/{offer}/{aff}?async=json&{query}", app.base);
    let body: Value = app
        .raw
        .get(url)
        .header("user-agent", UA)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["transaction_id"].as_str().unwrap().to_owned()
}

/// An advertiser's postback: status and JSON answer.
pub async fn postback(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let r = app.raw.get(format!("{}/postback?{query}", app.base)).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn click_to_conversion_to_affiliate_postback_with_every_macro() {
    let app = app().await;
    let rx = Receiver::start().await;
    let (aff, secret) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({"payout": 2.5, "revenue": 4}))).await;
    let template = "/pb?cid={click_id}&tid={transaction_id}&p={payout}&o={offer_id}&g={geo}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&conv={conversion_id}&st={status}&ev={event}&cur={currency}&src={source_id}&ts={timestamp}";
    app.create("/api/postbacks", json!({"affiliate_id": aff, "url": rx.url(template)})).await;
    let cid = click(&app, offer, aff, "sub1=a%20b&sub2=2&sub3=3&sub4=4&sub5=5&source_id=newsletter").await;
    let (status, body) = postback(&app, &format!("click_id={cid}&txid=ORDER-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["duplicate"].as_bool(), body["payout"].as_f64()),
        (Some("approved"), Some(false), Some(2.5))
    );
    let conv = body["conversion_id"].as_i64().unwrap();
    let got = rx.wait_for(1, WAIT).await;
    let r = &got[0];
    assert_eq!(
        r.param("ev").as_deref(),
        Some("conversion"),
        "a postback without an event fires on every new conversion"
    );
    assert_eq!(r.path, "/pb");
    for (k, v) in [
        ("cid", cid.as_str()),
        ("tid", cid.as_str()),
        ("p", "2.5"),
        ("g", ""),
        ("s1", "a b"),
        ("s2", "2"),
        ("s5", "5"),
        ("st", "approved"),
        ("cur", "USD"),
        ("src", "newsletter"),
    ] {
        assert_eq!(r.param(k).as_deref(), Some(v), "{k} in {}", r.query);
    }
    assert_eq!(r.param("o"), Some(offer.to_string()));
    assert_eq!(r.param("conv"), Some(conv.to_string()));
    assert!(r.param("ts").unwrap().parse::<i64>().unwrap() > 1_700_000_000);
    assert!(r.query.contains("s1=a+b") || r.query.contains("s1=a%20b"), "values are URL-encoded: {}", r.query);
    // The signature verifies with the affiliate's secret.
    let sig = r.header("x-clicktrail-signature").unwrap();
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", rx.url(&format!("{}?{}", r.path, r.query))).as_bytes());
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()), "signature over the exact URL");
    assert!(r.header("idempotency-key").unwrap().starts_with(&format!("ct-{conv}-")));
    // Deliveries are logged and readable.
    let log = app.get(&format!("/api/conversions/{conv}/deliveries"), ADMIN_KEY).await;
    let attempts = log.body["data"].as_array().unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0]["status"].as_u64(), attempts[0]["outcome"].as_str()), (Some(200), Some("delivered")));
    assert!(attempts[0]["url"].as_str().unwrap().starts_with(&rx.url("/pb?cid=")));
    // The click is kept forever now.
    let stored = app.get(&format!("/api/conversions/{conv}"), ADMIN_KEY).await.body;
    assert_eq!(
        (stored["click_id"].as_str(), stored["subs"][0].as_str(), stored["txid"].as_str()),
        (Some(cid.as_str()), Some("a b"), Some("ORDER-1"))
    );
}

#[tokio::test]
async fn money_for_every_payout_type_override_and_tier() {
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let (vip, _) = affiliate(&app).await;
    let cases: Vec<(Value, &str, f64, f64)> = vec![
        (json!({"payout_type": "cpa", "payout": 5, "revenue": 8}), "", 5.0, 8.0),
        (json!({"payout_type": "cpl", "payout": 1.25, "revenue": 2}), "", 1.25, 2.0),
        (
            json!({"payout_type": "cps", "payout": 10, "revenue_type": "cps", "revenue": 15}),
            "&amount=199.90",
            19.99,
            29.985,
        ),
        (
            json!({"payout_type": "revshare", "payout": 30, "revenue_type": "revshare", "revenue": 50}),
            "&amount=80",
            24.0,
            40.0,
        ),
        (json!({"payout_type": "cpc", "payout": 0.1, "revenue_type": "cpa", "revenue": 3}), "", 0.0, 3.0),
        (json!({"payout_type": "cpm", "payout": 2, "revenue_type": "cpm", "revenue": 3}), "", 0.0, 0.0),
        (
            json!({"payout_type": "cpa", "payout": 5, "revenue": 8, "access": [{"affiliate_id": aff, "payout": 6.5}]}),
            "",
            6.5,
            8.0,
        ),
        (json!({"payout_type": "cpa", "payout": 5, "revenue": 8}), "&payout=99&revenue=100", 5.0, 8.0),
        (
            json!({"payout_type": "cpa", "payout": 5, "revenue": 8, "guards": {"allow_payout_override": true}}),
            "&payout=99&revenue=100",
            99.0,
            100.0,
        ),
        (
            json!({"payout_type": "cpa", "payout": 5, "revenue": 8, "events": [{"code": "lead", "name": "Lead", "is_lead": true, "payout": 0.75, "payout_type": "cpl", "revenue": 1}]}),
            "&event=lead",
            0.75,
            1.0,
        ),
    ];
    for (i, (money, extra, payout, revenue)) in cases.into_iter().enumerate() {
        let offer = app.create_id("/api/offers", offer_body(&format!("O{i}"), money.clone())).await;
        let cid = click(&app, offer, aff, "").await;
        let (status, body) = postback(&app, &format!("click_id={cid}{extra}")).await;
        assert_eq!(status, StatusCode::OK, "{money}: {body}");
        assert_eq!(
            (body["payout"].as_f64(), body["revenue"].as_f64()),
            (Some(payout), Some(revenue)),
            "case {i}: {money} {extra}"
        );
    }
    // Tiers: the payout rises once the affiliate has enough approved conversions this month.
    let tiered = app
        .create_id(
            "/api/offers",
            offer_body("Tiered", json!({"payout": 5, "tiers": [{"min_conversions": 2, "payout": 7}]})),
        )
        .await;
    let mut payouts = Vec::new();
    for _ in 0..3 {
        let cid = click(&app, tiered, vip, "").await;
        payouts.push(postback(&app, &format!("click_id={cid}")).await.1["payout"].as_f64().unwrap());
    }
    assert_eq!(payouts, [5.0, 5.0, 7.0]);
}

#[tokio::test]
async fn duplicates_count_once_and_fire_once() {
    let app = app().await;
    let rx = Receiver::start().await;
    let (aff, _) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({"default_conversion_status": "pending"}))).await;
    app.create("/api/postbacks", json!({"affiliate_id": aff, "url": rx.url("/pb?c={click_id}")})).await;
    let cid = click(&app, offer, aff, "").await;
    let first = postback(&app, &format!("click_id={cid}&txid=A1")).await.1;
    let again = postback(&app, &format!("click_id={cid}&txid=A1&payout=9")).await;
    assert_eq!(again.0, StatusCode::OK);
    assert_eq!((again.1["duplicate"].as_bool(), &again.1["conversion_id"]), (Some(true), &first["conversion_id"]));
    let other = postback(&app, &format!("click_id={cid}&txid=A2")).await.1;
    assert_eq!(other["duplicate"], false);
    let list = app.get(&format!("/api/conversions?offer_id={offer}"), ADMIN_KEY).await;
    assert_eq!(list.body["meta"]["total"], 2, "a duplicate is counted once");
    rx.wait_for(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 2, "one conversion postback per conversion, none for the duplicate");
}

#[tokio::test]
async fn status_changes_fire_approved_and_rejected_with_history() {
    let app = app().await;
    let rx = Receiver::start().await;
    let (aff, _) = affiliate(&app).await;
    let adv = app.create_id("/api/advertisers", json!({"name": "Shop"})).await;
    let other_adv = app.create_id("/api/advertisers", json!({"name": "Other"})).await;
    let adv_key = app.key_for(adv, &["read:conversions"]).await;
    let other_key = app.key_for(other_adv, &["read:conversions"]).await;
    let aff_key = app.key_for(aff, &["read:conversions"]).await;
    let offer = app
        .create_id(
            "/api/offers",
            offer_body("O", json!({"advertiser_id": adv, "default_conversion_status": "pending"})),
        )
        .await;
    for event in ["approved", "rejected"] {
        app.create("/api/postbacks", json!({"affiliate_id": aff, "event": event, "url": rx.url(&format!("/{event}?c={{conversion_id}}&s={{status}}"))})).await;
    }
    let cid = click(&app, offer, aff, "").await;
    let body = postback(&app, &format!("click_id={cid}")).await.1;
    assert_eq!(body["status"], "pending", "the offer's default status");
    let id = body["conversion_id"].as_i64().unwrap();
    let path = format!("/api/conversions/{id}");
    assert_eq!(app.patch(&path, &aff_key, json!({"status": "approved"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.patch(&path, &other_key, json!({"status": "approved"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.patch(&path, ADMIN_KEY, json!({"status": "maybe"})).await.status, StatusCode::BAD_REQUEST);
    let approved = app.patch(&path, &adv_key, json!({"status": "approved", "reason": "order shipped"})).await;
    assert_eq!(
        (approved.status, approved.body["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{}",
        approved.body
    );
    let got = rx.wait_for(1, WAIT).await;
    assert_eq!((got[0].path.as_str(), got[0].param("s").as_deref()), ("/approved", Some("approved")));
    let rejected = app.patch(&path, ADMIN_KEY, json!({"status": "rejected", "reason": "refunded"})).await;
    assert_eq!(rejected.body["status"], "rejected");
    let got = rx.wait_for(2, WAIT).await;
    assert_eq!(got[1].path, "/rejected");
    let history = rejected.body["history"].as_array().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(
        (history[1]["to"].as_str(), history[1]["reason"].as_str(), history[1]["by_user_id"].as_i64()),
        (Some("approved"), Some("order shipped"), Some(adv))
    );
    let pending = app.patch(&path, ADMIN_KEY, json!({"status": "pending"})).await;
    assert_eq!(pending.body["status"], "pending");
    // Reports-facing lists move with the status; affiliates see their own, advertisers their offers'.
    assert_eq!(app.get("/api/conversions?status=pending", &aff_key).await.body["meta"]["total"], 1);
    assert_eq!(app.get("/api/conversions", &adv_key).await.body["meta"]["total"], 1);
    assert_eq!(app.get("/api/conversions", &other_key).await.body["meta"]["total"], 0);
}

#[tokio::test]
async fn offer_specific_postbacks_replace_global_ones() {
    let app = app().await;
    let rx = Receiver::start().await;
    let (aff, _) = affiliate(&app).await;
    let special = app.create_id("/api/offers", offer_body("Special", json!({}))).await;
    let plain = app.create_id("/api/offers", offer_body("Plain", json!({}))).await;
    app.create("/api/postbacks", json!({"affiliate_id": aff, "url": rx.url("/global?o={offer_id}")})).await;
    app.create(
        "/api/postbacks",
        json!({"affiliate_id": aff, "offer_id": special, "url": rx.url("/special?o={offer_id}")}),
    )
    .await;
    for offer in [special, plain] {
        let cid = click(&app, offer, aff, "").await;
        postback(&app, &format!("click_id={cid}&status=pending")).await;
    }
    let got = rx.wait_for(2, WAIT).await;
    let mut paths: Vec<String> = got.iter().map(|r| format!("{}?{}", r.path, r.query)).collect();
    paths.sort();
    assert_eq!(paths, [format!("/global?o={plain}"), format!("/special?o={special}")]);
}

#[tokio::test]
async fn every_guard_and_bad_input() {
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let guarded = app
        .create_id("/api/offers", offer_body("G", json!({"guards": {"token": "s3cret", "min_seconds_to_convert": 3600}, "events": [{"code": "sale", "name": "Sale"}]})))
        .await;
    let fenced =
        app.create_id("/api/offers", offer_body("F", json!({"guards": {"ip_allowlist": ["203.0.113.0/24"]}}))).await;
    let capped = app
        .create_id("/api/offers", offer_body("C", json!({"caps": {"per_affiliate": {"daily_conversions": 1}}})))
        .await;
    let cid = click(&app, guarded, aff, "").await;
    for (query, code, words) in [
        (format!("click_id={cid}"), 403, "token"),
        (format!("click_id={cid}&token=wrong"), 403, "token"),
        (format!("click_id={cid}&token=s3cret&amount=-5"), 400, "amount"),
        (format!("click_id={cid}&token=s3cret&status=paid"), 400, "status"),
        (format!("click_id={cid}&token=s3cret&event=refund"), 400, "event"),
        (format!("click_id={cid}&token=s3cret&currency=dollars"), 400, "currency"),
        (format!("click_id={cid}&token=s3cret&currency=XYZ"), 400, "ISO 4217"),
        ("click_id=nothex".to_owned(), 400, "click_id"),
        (format!("click_id={}", "a".repeat(32)), 404, "click"),
        ("txid=1".to_owned(), 400, "click_id"),
        ("coupon_code=NOPE&offer_id=1".to_owned(), 404, "coupon"),
    ] {
        let (status, body) = postback(&app, &query).await;
        assert_eq!(status.as_u16(), code, "{query}: {body}");
        assert!(body["error"]["message"].as_str().unwrap_or("").contains(words), "{query}: {body}");
    }
    assert_eq!(
        app.get("/api/conversions", ADMIN_KEY).await.body["meta"]["total"],
        0,
        "nothing recorded by refused postbacks"
    );
    let (_, body) = postback(&app, &format!("click_id={cid}&token=s3cret&event=sale")).await;
    assert_eq!(body["status"], "pending", "a conversion faster than the minimum is suspicious: {body}");
    let stored = app.get(&format!("/api/conversions/{}", body["conversion_id"]), ADMIN_KEY).await.body;
    assert!(stored["reason"].as_str().unwrap().starts_with("suspicious"), "{stored}");
    let fenced_click = click(&app, fenced, aff, "").await;
    let (status, body) = postback(&app, &format!("click_id={fenced_click}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "postbacks only from allowed addresses: {body}");
    for (n, expect) in [(0, "approved"), (1, "rejected")] {
        let c = click(&app, capped, aff, &format!("sub1={n}")).await;
        let (_, body) = postback(&app, &format!("click_id={c}")).await;
        assert_eq!(body["status"], expect, "{body}");
    }
    // Outside the attribution window: a click 31 days old.
    let old_offer = app.create_id("/api/offers", offer_body("Old", json!({}))).await;
    let mut old =
        clicktrail_store::conformance::sample_click(chrono::Utc::now() - chrono::Duration::days(31), 9, old_offer, aff);
    old.rejection = None;
    app.tracker
        .events()
        .append(std::sync::Arc::new(clicktrail_store::EventBatch { clicks: vec![old.clone()], impressions: vec![] }))
        .await
        .unwrap();
    let (_, body) = postback(&app, &format!("click_id={}", old.id)).await;
    assert_eq!(body["status"], "rejected", "{body}");
}

#[tokio::test]
async fn coupons_and_the_pixel_attribute_conversions() {
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    app.create("/api/coupons", json!({"code": "SUMMER", "affiliate_id": aff})).await;
    let (status, body) = postback(&app, &format!("coupon_code=summer&offer_id={offer}&amount=50")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = app.get(&format!("/api/conversions/{}", body["conversion_id"]), ADMIN_KEY).await.body;
    assert_eq!(
        (c["affiliate_id"].as_i64(), c["coupon_code"].as_str(), c["click_id"].as_str()),
        (Some(aff), Some("SUMMER"), None)
    );
    // The pixel reads the click cookie.
    let r = app.raw.get(format!("{}/c/{offer}/{aff}", app.base)).header("user-agent", UA).send().await.unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let px = app
        .raw
        .get(format!("{}/p?offer_id={offer}&txid=PX1", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!((px.status(), px.headers()["content-type"].to_str().unwrap()), (StatusCode::OK, "image/gif"));
    let none = app.raw.get(format!("{}/p?offer_id={offer}", app.base)).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::OK, "the pixel always answers");
    let list = app.get(&format!("/api/conversions?offer_id={offer}"), ADMIN_KEY).await.body;
    assert_eq!(list["meta"]["total"], 2);
    assert_eq!(list["data"][0]["txid"], "PX1");
}

/// The pixel takes the click id from the page (the advertiser's first-party cookie or URL)
/// when no cookie of ours reaches it, in an image or an iframe; an explicit id wins over the
/// cookie; on an HTTPS tracking domain the click cookie is `SameSite=None; Secure`, so a
/// cross-site image still carries it where third-party cookies are allowed.
#[tokio::test]
async fn the_pixel_takes_an_explicit_click_id_and_has_an_iframe_form() {
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let first = click(&app, offer, aff, "sub1=a").await;
    let second = click(&app, offer, aff, "sub1=b").await;
    let px = app.raw.get(format!("{}/p?offer_id={offer}&click_id={first}&txid=IMG", app.base)).send().await.unwrap();
    assert_eq!(px.headers()["content-type"], "image/gif");
    let frame = app
        .raw
        .get(format!("{}/p/iframe?offer_id={offer}&transaction_id={second}&txid=FRAME", app.base))
        .header("cookie", format!("ct_{offer}={first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(frame.status(), StatusCode::OK);
    assert_eq!(frame.headers()["content-type"], "text/html; charset=utf-8");
    let list = app.get(&format!("/api/conversions?offer_id={offer}"), ADMIN_KEY).await.body;
    let by_txid = |txid: &str| {
        list["data"].as_array().unwrap().iter().find(|c| c["txid"] == txid).unwrap()["click_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(by_txid("IMG"), first, "the image pixel's explicit click id");
    assert_eq!(by_txid("FRAME"), second, "the page's id wins over the cookie");
    // A junk id is not a click: nothing recorded, and still a page, never an error.
    let junk = app.raw.get(format!("{}/p/iframe?offer_id={offer}&click_id=nothex", app.base)).send().await.unwrap();
    assert_eq!(junk.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/api/conversions?offer_id={offer}"), ADMIN_KEY).await.body["meta"]["total"], 2);

    // HTTPS: SameSite=None; Secure. (Plain HTTP keeps Lax: browsers drop None without Secure.)
    let r = app.raw.get(format!("{}/c/{offer}/{aff}", app.base)).header("user-agent", UA).send().await.unwrap();
    let plain = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(plain.contains("SameSite=Lax") && !plain.contains("Secure"), "{plain}");
    let patched = app.patch("/api/network", ADMIN_KEY, json!({"tracking_base_url": "https://track.example"})).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let r = app.raw.get(format!("{}/c/{offer}/{aff}", app.base)).header("user-agent", UA).send().await.unwrap();
    let secure = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(secure.contains("; HttpOnly; SameSite=None; Secure"), "{secure}");
}

/// The browser tag: served cacheable with its version and an ETag; its `POST /p` answers CORS
/// for the page's origin, the conversion's id and status but never its money, errors in the
/// native format; a payout it sends counts only where the offer allows overrides; the preflight
/// answers; the click cookie is `SameSite=None; Secure` on a loopback tracking domain or behind
/// an HTTPS proxy.
#[tokio::test]
async fn the_browser_tag_is_served_and_its_conversions_obey_the_offer() {
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let tag = app.raw.get(format!("{}/js/clicktrail.js", app.base)).send().await.unwrap();
    assert_eq!(tag.status(), StatusCode::OK);
    assert_eq!(tag.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(tag.headers()["cache-control"], "public, max-age=86400");
    let etag = tag.headers()["etag"].to_str().unwrap().to_owned();
    let source = tag.text().await.unwrap();
    assert!(source.contains(&format!("var VERSION = \"{}\"", env!("CARGO_PKG_VERSION"))), "versioned");
    assert!(source.len() < 8_000, "small: {} bytes", source.len());
    let again =
        app.raw.get(format!("{}/js/clicktrail.js?v=1", app.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    let fixed = app.create_id("/api/offers", offer_body("Fixed", json!({"payout": 3}))).await;
    let open = app
        .create_id("/api/offers", offer_body("Open", json!({"payout": 3, "guards": {"allow_payout_override": true}})))
        .await;
    let send = |body: String| {
        app.raw
            .post(format!("{}/p", app.base))
            .header("origin", "http://shop.example")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let first = click(&app, fixed, aff, "").await;
    let r = send(format!("offer_id={fixed}&click_id={first}&amount=10&txid=A&payout=999&revenue=999")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], "http://shop.example");
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    let answer: Value = r.json().await.unwrap();
    assert_eq!(answer["status"], "approved", "{answer}");
    assert!(answer.get("payout").is_none() && answer.get("revenue").is_none(), "{answer}");
    let second = click(&app, open, aff, "").await;
    let r = send(format!("offer_id={open}&click_id={second}&txid=B&payout=7")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list = app.get("/api/conversions", ADMIN_KEY).await.body;
    let payout =
        |txid: &str| list["data"].as_array().unwrap().iter().find(|c| c["txid"] == txid).unwrap()["payout"].as_f64();
    assert_eq!(payout("A"), Some(3.0), "the page cannot set the payout of an offer that does not allow it");
    assert_eq!(payout("B"), Some(7.0), "an offer that allows overrides takes it");
    // Repeated order: a duplicate, counted once.
    let dup: Value = send(format!("offer_id={fixed}&click_id={first}&txid=A")).await.unwrap().json().await.unwrap();
    assert_eq!(dup["duplicate"], true, "{dup}");
    // Errors in the native format, still with CORS so the page can read them.
    let none = send(format!("offer_id={fixed}")).await.unwrap();
    assert_eq!(none.status(), StatusCode::BAD_REQUEST);
    assert_eq!(none.headers()["access-control-allow-origin"], "http://shop.example");
    let body: Value = none.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("click_id"), "{body}");
    let unknown = send(format!("offer_id={fixed}&click_id=0123456789abcdef0123456789abcdef")).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let junk = send("click_id=%00%ff&amount=lots".to_owned()).await.unwrap();
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);
    // A preflight, and no credentials for the opaque origin.
    let pre = app
        .raw
        .request(reqwest::Method::OPTIONS, format!("{}/p", app.base))
        .header("origin", "http://shop.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert_eq!(pre.headers()["access-control-allow-origin"], "http://shop.example");
    assert!(pre.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let opaque = app.raw.post(format!("{}/p", app.base)).header("origin", "null").body("").send().await.unwrap();
    assert_eq!(opaque.headers()["access-control-allow-origin"], "*");
    assert!(opaque.headers().get("access-control-allow-credentials").is_none());
    // The tag's direct click reads its id across origins.
    let direct = app
        .raw
        .get(format!("{}/c/{fixed}/{aff}?async=json&sub1=direct", app.base))
        .header("origin", "http://shop.example")
        .header("user-agent", UA)
        .send()
        .await
        .unwrap();
    assert_eq!(direct.headers()["access-control-allow-origin"], "http://shop.example");
    assert_eq!(direct.headers()["access-control-allow-credentials"], "true");

    // Secure contexts: behind an HTTPS proxy, and on a loopback tracking domain.
    let cookie_of = |r: &reqwest::Response| r.headers()["set-cookie"].to_str().unwrap().to_owned();
    let r = app
        .raw
        .get(format!("{}/c/{fixed}/{aff}", app.base))
        .header("user-agent", UA)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(cookie_of(&r).contains("SameSite=None; Secure"), "{}", cookie_of(&r));
    let patched = app.patch("/api/network", ADMIN_KEY, json!({"tracking_base_url": app.base})).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let r = app.raw.get(format!("{}/c/{fixed}/{aff}", app.base)).header("user-agent", UA).send().await.unwrap();
    assert!(cookie_of(&r).contains("SameSite=None; Secure"), "{}", cookie_of(&r));
    let patched = app.patch("/api/network", ADMIN_KEY, json!({"tracking_base_url": "http://track.example"})).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let r = app.raw.get(format!("{}/c/{fixed}/{aff}", app.base)).header("user-agent", UA).send().await.unwrap();
    assert!(cookie_of(&r).contains("SameSite=Lax") && !cookie_of(&r).contains("Secure"), "{}", cookie_of(&r));

    // `X-Forwarded-Proto` counts only from a trusted proxy.
    let untrusting = TestApp::spawn_with(|s| s.trusted_proxies = Vec::new()).await;
    let (aff, _) = affiliate(&untrusting).await;
    let offer = untrusting.create_id("/api/offers", offer_body("O", json!({}))).await;
    let r = untrusting
        .raw
        .get(format!("{}/c/{offer}/{aff}", untrusting.base))
        .header("user-agent", UA)
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(cookie_of(&r).contains("SameSite=Lax") && !cookie_of(&r).contains("Secure"), "{}", cookie_of(&r));
}

/// A network whose affiliate's postbacks go to an address nothing listens on yet: the address,
/// the app, the affiliate and an offer.
async fn postbacks_to_a_closed_port() -> (std::net::SocketAddr, TestApp, i64, i64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    app.create("/api/postbacks", json!({"affiliate_id": aff, "url": format!("http://{port}/pb?c={{conversion_id}}")}))
        .await;
    (port, app, aff, offer)
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_every_postback_when_it_comes_back() {
    let (port, app, aff, offer) = postbacks_to_a_closed_port().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let cid = click(&app, offer, aff, "").await;
        ids.push(postback(&app, &format!("click_id={cid}&status=pending")).await.1["conversion_id"].as_i64().unwrap());
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let rx = Receiver::start_on(port).await;
    rx.answer(&[429, 503]);
    // Every conversion's postback ends delivered, whatever was answered before.
    for id in &ids {
        let deadline = std::time::Instant::now() + Duration::from_secs(25);
        loop {
            let log = app.get(&format!("/api/conversions/{id}/deliveries"), ADMIN_KEY).await.body;
            let outcomes: Vec<String> = log["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|a| a["outcome"].as_str().map(String::from))
                .collect();
            if outcomes.iter().any(|o| o == "delivered") {
                assert_eq!(
                    outcomes.first().map(String::as_str),
                    Some("retry"),
                    "the first attempt found no receiver: {outcomes:?}"
                );
                assert_eq!(outcomes.last().map(String::as_str), Some("delivered"));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "conversion {id} never delivered: {outcomes:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut delivered: Vec<String> = rx.received().iter().filter_map(|r| r.param("c")).collect();
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), 3, "every conversion's postback arrives: {delivered:?}");
    assert!(rx.received().len() >= 5, "the 429 and the 503 were retried");
}

#[tokio::test]
async fn a_restart_mid_retry_loses_nothing() {
    let (port, app, aff, offer) = postbacks_to_a_closed_port().await;
    let cid = click(&app, offer, aff, "").await;
    let id = postback(&app, &format!("click_id={cid}&status=pending")).await.1["conversion_id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = app.stop().await;
    let rx = Receiver::start_on(port).await;
    let app = TestApp::spawn_in(dir, |s| s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let got = rx.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(got[0].param("c"), Some(id.to_string()));
    // The delivery is logged once its answer is in, a moment after the receiver saw it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = app.get(&format!("/api/conversions/{id}/deliveries"), ADMIN_KEY).await.body;
        let outcomes: Vec<&str> =
            log["data"].as_array().unwrap().iter().filter_map(|a| a["outcome"].as_str()).collect();
        if outcomes.last() == Some(&"delivered") {
            assert_eq!(outcomes.first(), Some(&"retry"), "the attempt before the restart is kept: {log}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the delivery was never logged: {log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn client_errors_stop_retries_and_private_destinations_are_refused() {
    let rx = Receiver::start().await;
    rx.answer(&[404]);
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    app.create("/api/postbacks", json!({"affiliate_id": aff, "url": rx.url("/pb?c={conversion_id}")})).await;
    let cid = click(&app, offer, aff, "").await;
    let id = postback(&app, &format!("click_id={cid}&status=pending")).await.1["conversion_id"].as_i64().unwrap();
    rx.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.received().len(), 1, "a 404 is final");
    let log = app.get(&format!("/api/conversions/{id}/deliveries"), ADMIN_KEY).await.body;
    assert_eq!((log["data"][0]["status"].as_u64(), log["data"][0]["outcome"].as_str()), (Some(404), Some("failed")));

    // Without an allow-list, loopback and private destinations are refused.
    let locked = TestApp::spawn().await;
    let (aff, _) = affiliate(&locked).await;
    let offer = locked.create_id("/api/offers", offer_body("O", json!({}))).await;
    let probe = Receiver::start().await;
    locked.create("/api/postbacks", json!({"affiliate_id": aff, "url": probe.url("/internal")})).await;
    let cid = click(&locked, offer, aff, "").await;
    let id = postback(&locked, &format!("click_id={cid}&status=pending")).await.1["conversion_id"].as_i64().unwrap();
    let mut outcome = Value::Null;
    for _ in 0..200 {
        outcome = locked.get(&format!("/api/conversions/{id}/deliveries"), ADMIN_KEY).await.body["data"][0].clone();
        if !outcome.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(outcome["outcome"], "failed", "{outcome}");
    assert!(outcome["detail"].as_str().unwrap().contains("refused"), "{outcome}");
    assert!(probe.received().is_empty(), "nothing reached the internal address");

    // A host name that resolves to an internal address is refused at once too, with the
    // reason, not retried for a day as a connection error.
    let by_name = probe.url("/by-name").replace("127.0.0.1", "localhost");
    let pb = locked.create_id("/api/postbacks", json!({"affiliate_id": aff, "url": by_name})).await;
    let cid = click(&locked, offer, aff, "").await;
    let id = postback(&locked, &format!("click_id={cid}&status=pending")).await.1["conversion_id"].as_i64().unwrap();
    let mut log = Value::Null;
    for _ in 0..200 {
        log = locked.get(&format!("/api/conversions/{id}/deliveries"), ADMIN_KEY).await.body["data"].clone();
        if log.as_array().is_some_and(|a| a.len() >= 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let named = log.as_array().unwrap().iter().find(|d| d["url"].as_str().is_some_and(|u| u.contains("localhost")));
    let named = named.unwrap_or_else(|| panic!("a delivery to localhost (postback {pb}): {log}"));
    assert_eq!(named["outcome"], "failed", "final at the first attempt: {named}");
    let detail = named["detail"].as_str().unwrap();
    assert!(detail.contains("localhost resolves to the internal address"), "{detail}");
    assert!(probe.received().is_empty(), "nothing reached the internal address by name");
}

#[tokio::test]
async fn dialect_e_postbacks() {
    let app = app().await;
    let (aff, _) = affiliate(&app).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let key = app.key_for(aff, &["write:postback"]).await;
    let read_only = app.key_for(aff, &["read:offers"]).await;
    let e = |path: &str| format!("{}{path}", app.base);
    let client = &app.raw;
    let body = json!({"url": "https://mytracker.example/postback?cid={click_id}&payout={payout}&geo={geo}", "offer_id": format!("offer_{offer}"), "event": "approved"});
    let r = client.post(e("/v1/postbacks")).bearer_auth(&key).json(&body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    let pb = created["postback_id"].as_str().unwrap().to_owned();
    assert!(pb.starts_with("pb_"));
    assert_eq!(created["status"], "active");
    assert_eq!(created.as_object().unwrap().len(), 3);
    let at = created["created_at"].as_str().unwrap();
    assert!(at.ends_with('Z') && at.len() == 20, "{at}");
    let preset = client
        .post(e("/v1/postbacks"))
        .bearer_auth(&key)
        .json(&json!({"preset": "voluum", "domain": "trk.example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(preset.status(), StatusCode::CREATED);
    let listed: Value = client.get(e("/v1/postbacks")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0]["offer_id"], format!("offer_{offer}"));
    assert!(listed["data"][1]["url"].as_str().unwrap().starts_with("https://trk.example.com/postback?cid={click_id}"));
    let bad = client
        .post(e("/v1/postbacks"))
        .bearer_auth(&key)
        .json(&json!({"url": "https://t.example/?x={clickid}"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let err: Value = bad.json().await.unwrap();
    assert_eq!(
        (err["error"]["code"].as_str(), err["error"]["status"].as_u64()),
        (Some("INVALID_PARAMETER"), Some(400))
    );
    assert!(err["error"]["message"].as_str().unwrap().contains("{clickid}"));
    let scope = client.get(e("/v1/postbacks")).bearer_auth(&read_only).send().await.unwrap();
    assert_eq!(scope.status(), StatusCode::FORBIDDEN);
    assert_eq!(scope.json::<Value>().await.unwrap()["error"]["code"], "INSUFFICIENT_SCOPE");
    let anon = client.get(e("/v1/postbacks")).header("x-api-key", &key).send().await.unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED, "dialect E reads only Authorization: Bearer");
    assert_eq!(anon.json::<Value>().await.unwrap()["error"]["code"], "INVALID_API_KEY");
    let gone = client.delete(e(&format!("/v1/postbacks/{pb}"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let again = client.delete(e(&format!("/v1/postbacks/{pb}"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(again.json::<Value>().await.unwrap()["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn an_empty_alias_never_clears_the_click_id() {
    let app = TestApp::spawn().await;
    let offer = app.create_id("/api/offers", offer_body("Alias", json!({}))).await;
    let affiliate = app.create_id("/api/affiliates", json!({"name": "Alias"})).await;
    let id = click(&app, offer, affiliate, "").await;
    // Trackers send every field of their template, empty ones included.
    let (status, body) = postback(&app, &format!("click_id={id}&transaction_id=&coupon_code=&amount=")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "approved", "{body}");
}
