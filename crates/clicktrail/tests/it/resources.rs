//! Happy paths: every resource created, listed, read, changed and deleted through the API.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{ADMIN_KEY, TestApp, ids, offer_body};

#[tokio::test]
async fn me_describes_the_calling_key() {
    let app = TestApp::spawn().await;
    let me = app.get("/api/me", ADMIN_KEY).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "admin");
    assert_eq!(me.body["scopes"], json!(["admin"]));
    let aff = app.create_id("/api/affiliates", json!({"name": "Ann", "email": "ann@pub.example"})).await;
    let key = app.key_for(aff, &["read:offers", "read:stats"]).await;
    let me = app.get("/api/me", &key).await;
    assert_eq!(me.body["id"], aff);
    assert_eq!(me.body["role"], "affiliate");
    assert_eq!(me.body["name"], "Ann");
    assert_eq!(me.body["email"], "ann@pub.example");
    assert_eq!(me.body["status"], "active");
    assert_eq!(me.body["scopes"], json!(["read:offers", "read:stats"]));
}

#[tokio::test]
async fn simple_resources_round_trip() {
    let app = TestApp::spawn().await;
    for (path, body, patch, field, patched) in [
        ("/api/affiliate-groups", json!({"name": "Top"}), json!({"name": "Top 10"}), "name", json!("Top 10")),
        ("/api/categories", json!({"name": "Dating"}), json!({"name": "Health"}), "name", json!("Health")),
        ("/api/traffic-sources", json!({"name": "Newsletter"}), json!({"position": 9}), "position", json!(9)),
    ] {
        let created = app.create(path, body.clone()).await;
        let id = created["id"].as_i64().expect("id");
        assert!(created["created_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{created}");
        let list = app.get(path, ADMIN_KEY).await;
        assert_eq!((list.status, ids(&list)), (StatusCode::OK, vec![id]), "{path}");
        assert_eq!(list.body["meta"], json!({"total": 1, "page": 1, "per_page": 50}));
        let got = app.get(&format!("{path}/{id}"), ADMIN_KEY).await;
        assert_eq!(got.body, created, "{path}: GET answers what POST did");
        let changed = app.patch(&format!("{path}/{id}"), ADMIN_KEY, patch).await;
        assert_eq!(changed.status, StatusCode::OK, "{path}: {}", changed.body);
        assert_eq!(changed.body[field], patched);
        assert_eq!(app.get(&format!("{path}/{id}"), ADMIN_KEY).await.body[field], patched);
        let gone = app.delete(&format!("{path}/{id}"), ADMIN_KEY).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(app.get(&format!("{path}/{id}"), ADMIN_KEY).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.delete(&format!("{path}/{id}"), ADMIN_KEY).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn traffic_sources_keep_display_order_and_slugs() {
    let app = TestApp::spawn().await;
    for name in ["Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"] {
        app.create("/api/traffic-sources", json!({"name": name})).await;
    }
    let first = app.create("/api/traffic-sources", json!({"name": "First", "position": 0})).await;
    assert_eq!(first["slug"], "first");
    let list = app.get("/api/traffic-sources", ADMIN_KEY).await;
    let names: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["First", "Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"]);
    let slugs: Vec<&str> = list.body["data"].as_array().unwrap().iter().map(|s| s["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs[3], "rec-engine");
    let dup = app.post("/api/traffic-sources", ADMIN_KEY, json!({"name": "Pop ups"})).await;
    assert_eq!((dup.status, dup.code()), (StatusCode::CONFLICT, "CONFLICT"), "slug pop-ups is taken: {}", dup.body);
}

#[tokio::test]
async fn users_affiliates_and_advertisers() {
    let app = TestApp::spawn().await;
    let group = app.create_id("/api/affiliate-groups", json!({"name": "Email"})).await;
    let aff = app
        .create(
            "/api/affiliates",
            json!({"name": "Pub", "email": "Pub@X.example", "affiliate_group_id": group, "timezone": "asia/kolkata"}),
        )
        .await;
    assert_eq!(aff["role"], "affiliate");
    assert_eq!(aff["email"], "pub@x.example");
    assert_eq!(aff["timezone"], "Asia/Kolkata");
    assert_eq!(aff["status"], "active");
    let aff_id = aff["id"].as_i64().unwrap();
    let adv = app.create_id("/api/advertisers", json!({"name": "Shop"})).await;
    assert!(adv > aff_id, "one id space for all users");

    let filtered = app.get(&format!("/api/affiliates?affiliate_group_id={group}"), ADMIN_KEY).await;
    assert_eq!(ids(&filtered), [aff_id]);
    assert_eq!(ids(&app.get("/api/advertisers", ADMIN_KEY).await), [adv]);
    assert_eq!(
        app.get(&format!("/api/affiliates/{adv}"), ADMIN_KEY).await.status,
        StatusCode::NOT_FOUND,
        "an advertiser is not an affiliate"
    );

    let suspended = app
        .patch(
            &format!("/api/affiliates/{aff_id}"),
            ADMIN_KEY,
            json!({"status": "suspended", "affiliate_group_id": null}),
        )
        .await;
    assert_eq!(suspended.body["status"], "suspended");
    assert_eq!(suspended.body["affiliate_group_id"], json!(null));
    assert_eq!(suspended.body["email"], "pub@x.example", "a patch keeps what it does not name");
    let all = app.get("/api/users?role=affiliate,advertiser", ADMIN_KEY).await;
    assert_eq!(all.status, StatusCode::BAD_REQUEST, "role takes one value");
    let all = app.get("/api/users", ADMIN_KEY).await;
    assert_eq!(all.body["meta"]["total"], 3, "admin, affiliate, advertiser");
    let staff = app.create("/api/users", json!({"role": "admin", "name": "Second Admin"})).await;
    assert_eq!(staff["role"], "admin");

    let closed = app.delete(&format!("/api/affiliates/{aff_id}"), ADMIN_KEY).await;
    assert_eq!(
        (closed.status, &closed.body["status"]),
        (StatusCode::OK, &json!("closed")),
        "users are closed, not erased"
    );
    let closed = app.get("/api/users?status=closed", ADMIN_KEY).await;
    assert_eq!(ids(&closed), [aff_id]);
}

#[tokio::test]
async fn offers_with_every_field() {
    let app = TestApp::spawn().await;
    let adv = app.create_id("/api/advertisers", json!({"name": "Shop"})).await;
    let cat = app.create_id("/api/categories", json!({"name": "Dating"})).await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let body = offer_body(
        "Summer Promo",
        json!({
            "description": "Best offer", "advertiser_id": adv, "category_id": cat, "status": "paused",
            "offer_urls": [{"name": "Alt", "url": "https://shop.example/alt?c={click_id}"}],
            "preview_url": "https://shop.example/preview", "revenue_type": "cps", "revenue": 12.5, "currency": "eur",
            "events": [{"code": "lead", "name": "Lead", "is_lead": true, "payout": 1}, {"code": "sale", "name": "Sale"}],
            "creatives": [{"name": "Banner", "kind": "banner", "url": "https://cdn.example/b.png", "width": 300, "height": 250}],
            "geo": ["us", "CA"], "targeting": {"device_types": ["mobile"], "os": ["android", "ios"]},
            "filter_bots": true, "visibility": "private",
            "access": [{"affiliate_id": aff, "payout": 3.1}],
            "tiers": [{"min_conversions": 50, "payout": 3}],
            "caps": {"offer": {"daily_clicks": 1000}, "per_affiliate": {"monthly_conversions": 20}},
            "fallback_url": "https://network.example/fallback", "redirect_mode": "double_meta_refresh",
            "default_conversion_status": "pending",
            "guards": {"attribution_window_days": 7, "min_seconds_to_convert": 10, "ip_allowlist": ["203.0.113.0/24"], "token": "s3cret", "allow_payout_override": true},
            "deep_links": {"enabled": true, "allowed_hosts": ["*.Shop.example"]},
            "external_platform": "tune", "external_id": "4521", "metadata": {"vertical": "health", "geo": "US"}
        }),
    );
    let offer = app.create("/api/offers", body).await;
    let id = offer["id"].as_i64().unwrap();
    let public_id = offer["public_id"].as_str().unwrap();
    assert_eq!(public_id.len(), 24);
    assert!(public_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(offer["geo"], json!(["US", "CA"]));
    assert_eq!(offer["currency"], "EUR");
    assert_eq!(offer["offer_urls"][0]["id"], 1, "offer URL numbers are assigned");
    assert_eq!(offer["creatives"][0]["id"], 1);
    assert_eq!(offer["deep_links"]["allowed_hosts"], json!(["*.shop.example"]));
    assert_eq!(offer["payout"], 2.5);
    assert_eq!(offer["revenue"], 12.5);
    assert_eq!(offer["guards"]["attribution_window_days"], 7);
    assert_eq!(offer["metadata"], json!({"vertical": "health", "geo": "US"}));

    let changed = app
        .patch(&format!("/api/offers/{id}"), ADMIN_KEY, json!({"status": "active", "payout": 3, "geo": ["DE"]}))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["public_id"], public_id, "the public id is stable");
    assert_eq!((changed.body["status"].as_str(), changed.body["geo"].clone()), (Some("active"), json!(["DE"])));
    assert_eq!(changed.body["events"], offer["events"], "untouched fields stay");
    assert_ne!(changed.body["updated_at"], offer["updated_at"]);

    let filtered =
        app.get(&format!("/api/offers?advertiser_id={adv}&category_id={cat}&status=active"), ADMIN_KEY).await;
    assert_eq!(ids(&filtered), [id]);
    assert_eq!(ids(&app.get("/api/offers?status=paused", ADMIN_KEY).await), Vec::<i64>::new());
    let archived = app.delete(&format!("/api/offers/{id}"), ADMIN_KEY).await;
    assert_eq!(
        (archived.status, archived.body["status"].as_str()),
        (StatusCode::OK, Some("archived")),
        "offers are archived"
    );
    assert_eq!(ids(&app.get("/api/offers?status=archived", ADMIN_KEY).await), [id]);
}

#[tokio::test]
async fn coupons_postbacks_and_keys() {
    let app = TestApp::spawn().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let coupon = app.create("/api/coupons", json!({"code": "summer", "affiliate_id": aff, "offer_id": offer})).await;
    assert_eq!(coupon["code"], "SUMMER");
    let dup = app.post("/api/coupons", ADMIN_KEY, json!({"code": "Summer", "affiliate_id": aff})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "codes are unique whatever their case");

    let pb = app
        .create("/api/postbacks", json!({"affiliate_id": aff, "url": "https://t.example/pb?cid={click_id}&p={payout}", "event": "approved", "offer_id": offer}))
        .await;
    assert_eq!((pb["event"].as_str(), pb["status"].as_str()), (Some("approved"), Some("active")));
    let pb_id = pb["id"].as_i64().unwrap();
    let off = app.patch(&format!("/api/postbacks/{pb_id}"), ADMIN_KEY, json!({"status": "inactive"})).await;
    assert_eq!(off.body["status"], "inactive");
    assert_eq!(ids(&app.get(&format!("/api/postbacks?affiliate_id={aff}&status=inactive"), ADMIN_KEY).await), [pb_id]);

    let created = app.create("/api/keys", json!({"user_id": aff, "scopes": ["read:stats", "read:offers", "read:stats"], "tier": "premium", "name": "tracker"})).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ct_") && secret.len() == 67);
    assert_eq!(created["scopes"], json!(["read:offers", "read:stats"]), "scopes are sorted and deduplicated");
    let key_id = created["id"].as_i64().unwrap();
    let listed = app.get(&format!("/api/keys?user_id={aff}"), ADMIN_KEY).await;
    assert_eq!(ids(&listed), [key_id]);
    assert!(listed.body["data"][0].get("key").is_none(), "the secret is shown only once");
    assert!(!listed.body.to_string().contains(&secret));
    let got = app.get(&format!("/api/keys/{key_id}"), &secret).await;
    assert_eq!((got.status, got.body["prefix"].as_str()), (StatusCode::OK, Some(&secret[..9])));
    let patched = app.patch(&format!("/api/keys/{key_id}"), ADMIN_KEY, json!({"tier": "standard"})).await;
    assert_eq!(patched.body["tier"], "standard");
    let revoked = app.delete(&format!("/api/keys/{key_id}"), &secret).await;
    assert_eq!(
        (revoked.status, revoked.body["status"].as_str()),
        (StatusCode::OK, Some("revoked")),
        "owners revoke their own keys"
    );
    assert_eq!(app.get("/api/me", &secret).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn network_settings() {
    let app = TestApp::spawn_with(|s| s.timezone = Some("Europe/Bucharest".into())).await;
    let net = app.get("/api/network", ADMIN_KEY).await;
    assert_eq!(net.body["timezone"], "Europe/Bucharest", "CLICKTRAIL_TIMEZONE sets the network time zone");
    assert_eq!(net.body["currency"], "USD");
    assert_eq!(net.body["features"]["time_stats"], true);
    assert_eq!(net.body["raw_click_retention_days"], 90);
    let changed =
        app.patch("/api/network", ADMIN_KEY, json!({"name": "Acme", "features": {"time_stats": false}})).await;
    assert_eq!((changed.status, changed.body["name"].as_str()), (StatusCode::OK, Some("Acme")));
    assert_eq!(app.get("/api/network", ADMIN_KEY).await.body["features"]["time_stats"], false);
    let bad = app.patch("/api/network", ADMIN_KEY, json!({"timezone": "Mars/Base"})).await;
    assert_eq!((bad.status, bad.body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("timezone")));
}

#[tokio::test]
async fn pagination() {
    let app = TestApp::spawn().await;
    for i in 0..7 {
        app.create("/api/categories", json!({"name": format!("Cat {i}")})).await;
    }
    let page = app.get("/api/categories?page=2&per_page=3", ADMIN_KEY).await;
    assert_eq!(page.body["meta"], json!({"total": 7, "page": 2, "per_page": 3}));
    assert_eq!(page.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(page.body["data"][0]["name"], "Cat 3");
    let past = app.get("/api/categories?page=9&per_page=3", ADMIN_KEY).await;
    assert_eq!((past.body["data"].as_array().unwrap().len(), past.body["meta"]["total"].as_u64()), (0, Some(7)));
    assert_eq!(app.get("/api/categories?per_page=1000", ADMIN_KEY).await.body["meta"]["per_page"], 100, "capped");
    for bad in ["per_page=0", "per_page=-1", "per_page=abc", "page=0", "page=x"] {
        let r = app.get(&format!("/api/categories?{bad}"), ADMIN_KEY).await;
        assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{bad}");
    }
    let found = app.get("/api/categories?q=AT%205", ADMIN_KEY).await;
    assert_eq!(found.body["meta"]["total"], 1);
}

/// The operator cannot lock themselves out: the request's own key does not revoke itself or
/// drop its admin scope, and the last key that opens the network stays.
#[tokio::test]
async fn the_last_admin_key_and_the_requests_own_key_stay() {
    let app = TestApp::spawn().await;
    let keys = app.get("/api/keys", ADMIN_KEY).await;
    let own = keys.body["data"].as_array().unwrap().iter().find(|k| k["scopes"] == json!(["admin"])).unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = app.delete(&format!("/api/keys/{own}"), ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("key making the request"), "{}", r.body);
    let r = app.patch(&format!("/api/keys/{own}"), ADMIN_KEY, json!({"scopes": ["read:stats"]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // A second admin key may take the first one away, but not then itself.
    let second = app.create("/api/keys", json!({"user_id": 1, "scopes": ["admin"]})).await;
    let (second_id, second_key) = (second["id"].as_i64().unwrap(), second["key"].as_str().unwrap().to_owned());
    let r = app.delete(&format!("/api/keys/{own}"), &second_key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app.delete(&format!("/api/keys/{second_id}"), &second_key).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(app.get("/api/me", &second_key).await.status, StatusCode::OK, "the network still has a way in");
}
