//! Rate limits: hourly quota by tier, a per-minute burst, headers on every API response, and
//! `429` in each dialect's own error body.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, offer_body};

/// A request and the check its 429 body must pass.
type Case = (reqwest::RequestBuilder, Box<dyn Fn(&Value) -> bool>);

fn header(r: &reqwest::Response, name: &str) -> i64 {
    r.headers().get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(-1)
}

#[tokio::test]
async fn quotas_headers_and_429_in_every_dialect() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit_standard = 6;
        s.rate_limit_premium = 1_000;
        s.rate_limit_burst = 1_000;
    })
    .await;
    let aff = app.create_id("/api/affiliates", json!({"name": "A"})).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let key = app.key_for(aff, &["read:offers", "read:stats"]).await;
    let now = chrono::Utc::now().timestamp();
    let mut last_remaining = i64::MAX;
    for i in 0..6 {
        let r = app.raw.get(format!("{}/api/me", app.base)).bearer_auth(&key).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
        assert_eq!(header(&r, "x-ratelimit-limit"), 6);
        let remaining = header(&r, "x-ratelimit-remaining");
        assert!(remaining < last_remaining && remaining >= 0, "remaining counts down: {remaining}");
        last_remaining = remaining;
        let reset = header(&r, "x-ratelimit-reset");
        assert!(reset > now && reset <= now + 3600, "reset is the end of this hour: {reset}");
    }
    assert_eq!(last_remaining, 0);
    // Over the quota: 429 in each dialect's own body, with the headers.
    let cases: Vec<Case> = vec![
        (
            app.raw.get(format!("{}/api/me", app.base)).bearer_auth(&key),
            Box::new(|b: &Value| b["error"]["code"] == "RATE_LIMIT_EXCEEDED" && b["error"]["status"] == 429),
        ),
        (
            app.raw.get(format!("{}/v1/offers", app.base)).bearer_auth(&key),
            Box::new(|b: &Value| b["error"]["code"] == "RATE_LIMIT_EXCEEDED"),
        ),
        (
            app.raw.get(format!("{}/api/v2/offers", app.base)).header("x-api-key", &key),
            Box::new(|b: &Value| b["error"] == "rate_limited"),
        ),
        (
            app.raw.get(format!("{}/api/traffic-source?rest_key={key}", app.base)),
            Box::new(|b: &Value| {
                b["status"] == "error" && b["message"].as_str().is_some_and(|m| m.contains("Rate limit"))
            }),
        ),
        (
            app.raw
                .post(format!("{}/v1/affiliates/reporting/clicks/stream", app.base))
                .header("x-eflow-api-key", &key)
                .json(&json!({})),
            Box::new(|b: &Value| b["error"].as_str().is_some_and(|m| m.contains("Rate limit"))),
        ),
        (
            app.raw
                .get(format!("{}/api/v1.2/admin/offerStats/today/today/", app.base))
                .header("x-api-key", &key)
                .header("x-user-id", aff.to_string()),
            Box::new(|b: &Value| b["status"] == 429),
        ),
    ];
    for (request, check) in cases {
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&r, "x-ratelimit-remaining"), 0);
        assert!(header(&r, "x-ratelimit-reset") > now);
        assert!(header(&r, "retry-after") >= 1);
        let body: Value = r.json().await.unwrap();
        assert!(check(&body), "{body}");
    }
    // Other keys are not affected; tracking is never limited per key.
    let r = app.raw.get(format!("{}/api/me", app.base)).bearer_auth(ADMIN_KEY).send().await.unwrap();
    assert_eq!((r.status(), header(&r, "x-ratelimit-limit")), (StatusCode::OK, 1_000), "premium tier");
    let click = app.raw.get(format!("{}/c/{offer}/{aff}", app.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(click.status(), StatusCode::FOUND);
    assert!(click.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn the_burst_limit_is_per_minute() {
    let app = TestApp::spawn_with(|s| {
        s.rate_limit_standard = 1_000;
        s.rate_limit_burst = 3;
    })
    .await;
    let aff = app.create_id("/api/affiliates", json!({"name": "A"})).await;
    let key = app.key_for(aff, &["read:offers"]).await;
    let mut statuses = Vec::new();
    let mut reset = 0;
    for _ in 0..4 {
        let r = app.raw.get(format!("{}/api/me", app.base)).bearer_auth(&key).send().await.unwrap();
        statuses.push(r.status().as_u16());
        reset = header(&r, "x-ratelimit-reset");
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert!(reset <= chrono::Utc::now().timestamp() + 60, "a burst resets within the minute");
}
