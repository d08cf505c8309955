//! Bad input: a clear `400` naming the field, and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Auth, TestApp, offer_body};

/// Posts `body` and expects `400 INVALID_PARAMETER` naming `field`, with nothing stored.
/// Whether the expected words are those of a missing referenced record (`no category with id`).
fn message_names_a_record(words: &str) -> bool {
    ["no advertiser", "no affiliate", "no category", "no offer", "no user", "no traffic source", "no coupon"]
        .iter()
        .any(|w| words.starts_with(w))
}

async fn rejects(app: &TestApp, path: &str, body: Value, field: &str, words: &str) {
    let before = app.total(path).await;
    let reply = app.post(path, ADMIN_KEY, body.clone()).await;
    // A reference to a record that does not exist is 404 naming the field (as Stripe answers
    // `resource_missing`); every other bad value is 400.
    let (status, code) =
        if words.starts_with("no ") && !words.starts_with("no control") && message_names_a_record(words) {
            (StatusCode::NOT_FOUND, "NOT_FOUND")
        } else {
            (StatusCode::BAD_REQUEST, "INVALID_PARAMETER")
        };
    assert_eq!(reply.status, status, "{path} {body}: {}", reply.body);
    assert_eq!(reply.code(), code);
    assert_eq!(reply.body["error"]["status"], status.as_u16());
    assert_eq!(reply.body["error"]["field"].as_str(), Some(field), "{path} {body}: {}", reply.body);
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!("{field}: ")) && message.contains(words),
        "{path}: message {message:?} lacks {words:?}"
    );
    assert_eq!(app.total(path).await, before, "{path}: a rejected create writes nothing");
}

#[tokio::test]
async fn offer_validation_names_each_field() {
    let app = TestApp::spawn().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let adv = app.create_id("/api/advertisers", json!({"name": "Shop"})).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"name": null}), "name", "required"),
        (json!({"name": "  "}), "name", "must not be empty"),
        (json!({"destination_url": "not a url"}), "destination_url", "not an absolute URL"),
        (json!({"destination_url": "javascript:alert(1)"}), "destination_url", "http or https"),
        (json!({"destination_url": "https://x.example/?a={bogus}"}), "destination_url", "unknown macro {bogus}"),
        (json!({"payout": -1}), "payout", "must not be negative"),
        (json!({"payout": "lots"}), "payout", "is not a number"),
        (json!({"payout": 1.23456}), "payout", "at most 4 decimals"),
        (json!({"payout_type": "cpx"}), "payout_type", "unknown variant"),
        (json!({"payout_type": "revshare", "payout": 120}), "payout", "at most 100"),
        (json!({"revenue_type": "cps", "revenue": 101}), "revenue", "at most 100"),
        (json!({"status": "deleted"}), "status", "unknown variant"),
        (json!({"geo": ["US", "ZZ"]}), "geo[1]", "not an ISO 3166-1"),
        (json!({"geo": ["US", "us"]}), "geo[1]", "listed twice"),
        (json!({"currency": "DOLLARS"}), "currency", "ISO 4217"),
        (json!({"currency": "XYZ"}), "currency", "ISO 4217"),
        (json!({"preview_url": "ftp://x.example"}), "preview_url", "http or https"),
        (json!({"visibility": "secret"}), "visibility", "unknown variant"),
        (json!({"redirect_mode": "301"}), "redirect_mode", "unknown variant"),
        (json!({"guards": {"attribution_window_days": 120}}), "guards.attribution_window_days", "between 1 and 90"),
        (json!({"guards": {"ip_allowlist": ["nope"]}}), "guards.ip_allowlist[0]", "invalid"),
        (json!({"caps": {"offer": {"daily_clicks": 0}}}), "caps.offer.daily_clicks", "at least 1"),
        (json!({"events": [{"code": "Sale!", "name": "Sale"}]}), "events[0].code", "not a slug"),
        (
            json!({"events": [{"code": "sale", "name": "S"}, {"code": "sale", "name": "T"}]}),
            "events[1].code",
            "another event",
        ),
        (json!({"tiers": [{"min_conversions": 5}]}), "tiers[0].payout", "required"),
        (json!({"metadata": [1, 2]}), "metadata", "invalid type"),
        (json!({"advertiser_id": aff}), "advertiser_id", "no advertiser with id"),
        (json!({"category_id": 999}), "category_id", "no category with id 999"),
        (json!({"access": [{"affiliate_id": adv}]}), "access[0].affiliate_id", "no affiliate with id"),
        (json!({"deep_links": {"allowed_hosts": ["http://x"]}}), "deep_links.allowed_hosts[0]", "not a host name"),
        (json!({"unexpected": 1}), "unexpected", "not a known field"),
    ];
    for (extra, field, words) in cases {
        let mut body = offer_body("Bad", json!({}));
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if v.is_null() {
                    b.remove(k);
                } else {
                    b.insert(k.clone(), v.clone());
                }
            }
        }
        rejects(&app, "/api/offers", body, field, words).await;
    }
}

#[tokio::test]
async fn other_resources_validate_too() {
    let app = TestApp::spawn().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub", "email": "pub@x.example"})).await;
    rejects(&app, "/api/affiliates", json!({"email": "a@b.example"}), "name", "required").await;
    rejects(&app, "/api/affiliates", json!({"name": "A", "email": "not-an-email"}), "email", "not an e-mail").await;
    rejects(&app, "/api/affiliates", json!({"name": "A", "status": "paid"}), "status", "unknown variant").await;
    rejects(&app, "/api/affiliates", json!({"name": "A", "timezone": "Mars/Base"}), "timezone", "not an IANA").await;
    rejects(
        &app,
        "/api/affiliates",
        json!({"name": "A", "affiliate_group_id": 77}),
        "affiliate_group_id",
        "no affiliate group",
    )
    .await;
    rejects(
        &app,
        "/api/advertisers",
        json!({"name": "A", "affiliate_group_id": 1}),
        "affiliate_group_id",
        "only affiliates",
    )
    .await;
    rejects(&app, "/api/users", json!({"name": "A"}), "role", "required").await;
    rejects(&app, "/api/categories", json!({"name": ""}), "name", "must not be empty").await;
    rejects(&app, "/api/affiliate-groups", json!({}), "name", "required").await;
    rejects(&app, "/api/traffic-sources", json!({"name": "X", "slug": "Not A Slug"}), "slug", "not a slug").await;
    rejects(&app, "/api/traffic-sources", json!({"name": "X", "slug": "42"}), "slug", "all digits").await;
    rejects(&app, "/api/coupons", json!({"code": "a b", "affiliate_id": aff}), "code", "not a coupon code").await;
    rejects(&app, "/api/coupons", json!({"code": "OK", "affiliate_id": 999}), "affiliate_id", "no affiliate").await;
    rejects(&app, "/api/coupons", json!({"code": "OK", "affiliate_id": aff, "offer_id": 5}), "offer_id", "no offer")
        .await;
    rejects(&app, "/api/postbacks", json!({"url": "https://t.example/"}), "affiliate_id", "required for admin keys")
        .await;
    rejects(
        &app,
        "/api/postbacks",
        json!({"affiliate_id": aff, "url": "https://t.example/?x={sub9}"}),
        "url",
        "unknown macro {sub9}",
    )
    .await;
    rejects(
        &app,
        "/api/postbacks",
        json!({"affiliate_id": aff, "url": "https://t.example/", "event": "click"}),
        "event",
        "unknown variant",
    )
    .await;
    rejects(&app, "/api/keys", json!({"user_id": aff, "scopes": []}), "scopes", "at least one").await;
    rejects(&app, "/api/keys", json!({"user_id": aff, "scopes": ["admin"]}), "scopes", "admin users only").await;
    rejects(&app, "/api/keys", json!({"user_id": aff, "scopes": ["write:offers"]}), "scopes[0]", "unknown variant")
        .await;
    rejects(&app, "/api/keys", json!({"user_id": 999, "scopes": ["read:stats"]}), "user_id", "no user").await;
    rejects(
        &app,
        "/api/keys",
        json!({"user_id": aff, "scopes": ["read:stats"], "tier": "gold"}),
        "tier",
        "unknown variant",
    )
    .await;

    let dup = app.post("/api/affiliates", ADMIN_KEY, json!({"name": "Other", "email": "PUB@x.example"})).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "CONFLICT"), "{}", dup.body);
    assert!(dup.body["error"]["message"].as_str().unwrap().contains("pub@x.example"));
}

#[tokio::test]
async fn malformed_bodies_and_unknown_ids() {
    let app = TestApp::spawn().await;
    for (body, words) in
        [("{not json", "not valid JSON"), ("", "is empty"), ("[1,2]", "JSON object"), ("\"x\"", "JSON object")]
    {
        let client = reqwest::Client::new();
        let reply = client
            .post(format!("{}/api/categories", app.base))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::BAD_REQUEST, "{body}");
        let json: Value = reply.json().await.unwrap();
        assert!(json["error"]["message"].as_str().unwrap().contains(words), "{body}: {json}");
    }
    for path in [
        "/api/offers/999",
        "/api/offers/abc",
        "/api/affiliates/999",
        "/api/categories/5",
        "/api/keys/77",
        "/api/postbacks/1",
        "/api/coupons/1",
        "/api/users/999",
        "/api/nothing-here",
    ] {
        let reply = app.call(Method::GET, path, Auth::Bearer(ADMIN_KEY), None).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "NOT_FOUND"), "{path}");
    }
    let patch = app.patch("/api/offers/999", ADMIN_KEY, json!({"name": "x"})).await;
    assert_eq!(patch.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete("/api/categories/999", ADMIN_KEY).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rejected_patch_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = app.create_id("/api/offers", offer_body("Keep", json!({"geo": ["US"]}))).await;
    let before = app.get(&format!("/api/offers/{id}"), ADMIN_KEY).await.body;
    for (patch, field, status) in [
        (json!({"payout": -5, "name": "Changed"}), "payout", StatusCode::BAD_REQUEST),
        (json!({"geo": ["XX"]}), "geo[0]", StatusCode::BAD_REQUEST),
        (json!({"name": null}), "name", StatusCode::BAD_REQUEST),
        (json!({"category_id": 12345}), "category_id", StatusCode::NOT_FOUND),
    ] {
        let reply = app.patch(&format!("/api/offers/{id}"), ADMIN_KEY, patch).await;
        assert_eq!((reply.status, reply.body["error"]["field"].as_str()), (status, Some(field)));
    }
    assert_eq!(app.get(&format!("/api/offers/{id}"), ADMIN_KEY).await.body, before);
    let bad_role = app.patch("/api/users/1", ADMIN_KEY, json!({"role": "affiliate"})).await;
    assert_eq!(bad_role.body["error"]["field"], "role");
    let own = app.delete("/api/users/1", ADMIN_KEY).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "an admin cannot close their own account");
}

#[tokio::test]
async fn records_in_use_are_not_deleted() {
    let app = TestApp::spawn().await;
    let group = app.create_id("/api/affiliate-groups", json!({"name": "G"})).await;
    app.create("/api/affiliates", json!({"name": "A", "affiliate_group_id": group})).await;
    let reply = app.delete(&format!("/api/affiliate-groups/{group}"), ADMIN_KEY).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "CONFLICT"));
    let cat = app.create_id("/api/categories", json!({"name": "C"})).await;
    app.create("/api/offers", offer_body("O", json!({"category_id": cat}))).await;
    assert_eq!(app.delete(&format!("/api/categories/{cat}"), ADMIN_KEY).await.status, StatusCode::CONFLICT);
    assert_eq!(app.get(&format!("/api/categories/{cat}"), ADMIN_KEY).await.status, StatusCode::OK);
}

#[tokio::test]
async fn integral_numbers_count_as_integers_and_digit_names_get_a_slug() {
    let app = TestApp::spawn().await;
    // JSON does not tell 3 from 3.0: an integer field takes both (as JSON Schema says).
    let source = app.create("/api/traffic-sources", json!({"name": "2024", "position": 3.0})).await;
    assert_eq!(source["position"], 3);
    // A name of digits would give a slug that reads as an id: it gets a prefix instead.
    assert_eq!(source["slug"], "source-2024");
    let long = app.create("/api/traffic-sources", json!({"name": "9".repeat(255)})).await;
    assert!(long["slug"].as_str().is_some_and(|s| s.starts_with("source-9") && s.len() <= 64), "{long}");
    let fraction = app.post("/api/traffic-sources", ADMIN_KEY, json!({"name": "Half", "position": 2.5})).await;
    assert_eq!(fraction.status, StatusCode::BAD_REQUEST, "{}", fraction.body);
}
