//! The authorisation matrix: every route × {no key, malformed key, revoked key, affiliate A,
//! affiliate B, advertiser, admin}. Each write carries a marker naming the case and the caller;
//! after the matrix, no marker of a refused write may be found anywhere in the network.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Auth, TestApp, ids, offer_body};

const WHO: [&str; 4] = ["a", "b", "adv", "admin"];

struct World {
    app: TestApp,
    keys: [String; 4],
    revoked: String,
    vars: Vec<(&'static str, i64)>,
}

async fn world() -> World {
    let app = TestApp::spawn().await;
    let group = app.create_id("/api/affiliate-groups", json!({"name": "Group"})).await;
    let a = app.create_id("/api/affiliates", json!({"name": "Aff A", "affiliate_group_id": group})).await;
    let b = app.create_id("/api/affiliates", json!({"name": "Aff B"})).await;
    let adv = app.create_id("/api/advertisers", json!({"name": "Adv"})).await;
    let cat = app.create_id("/api/categories", json!({"name": "Cat"})).await;
    let src = app.create_id("/api/traffic-sources", json!({"name": "Src"})).await;
    let o_pub =
        app.create_id("/api/offers", offer_body("Public", json!({"advertiser_id": adv, "category_id": cat}))).await;
    let o_priv = app
        .create_id(
            "/api/offers",
            offer_body("Private", json!({"visibility": "private", "access": [{"affiliate_id": b, "payout": 9}]})),
        )
        .await;
    let coupon_a = app.create_id("/api/coupons", json!({"code": "CA", "affiliate_id": a})).await;
    app.create_id("/api/coupons", json!({"code": "CB", "affiliate_id": b})).await;
    let url = "https://t.example/pb?c={click_id}";
    let pb_a = app.create_id("/api/postbacks", json!({"affiliate_id": a, "url": url})).await;
    app.create_id("/api/postbacks", json!({"affiliate_id": b, "url": url})).await;
    let all = ["read:offers", "read:stats", "read:conversions", "write:postback"];
    let key_a = app.key_for(a, &all).await;
    let key_b = app.key_for(b, &all).await;
    let key_adv = app.key_for(adv, &["read:offers", "read:stats", "read:conversions"]).await;
    let revoked = app.create("/api/keys", json!({"user_id": a, "scopes": all})).await;
    let revoked_id = revoked["id"].as_i64().unwrap();
    assert_eq!(app.delete(&format!("/api/keys/{revoked_id}"), ADMIN_KEY).await.status, StatusCode::OK);
    let key_a_id = app.get("/api/me", &key_a).await.body["key_id"].as_i64().unwrap();
    // Throwaway records, one per delete route.
    let user_x = app.create_id("/api/users", json!({"role": "affiliate", "name": "X1"})).await;
    let aff_x = app.create_id("/api/affiliates", json!({"name": "X2"})).await;
    let adv_x = app.create_id("/api/advertisers", json!({"name": "X3"})).await;
    let group_x = app.create_id("/api/affiliate-groups", json!({"name": "X4"})).await;
    let cat_x = app.create_id("/api/categories", json!({"name": "X5"})).await;
    let src_x = app.create_id("/api/traffic-sources", json!({"name": "X6"})).await;
    let offer_x = app.create_id("/api/offers", offer_body("X7", json!({}))).await;
    let coupon_x = app.create_id("/api/coupons", json!({"code": "X8", "affiliate_id": b})).await;
    let pb_ax = app.create_id("/api/postbacks", json!({"affiliate_id": a, "url": url})).await;
    let key_ax = app.create("/api/keys", json!({"user_id": a, "scopes": ["read:stats"]})).await["id"].as_i64().unwrap();
    // A conversion of affiliate A on the advertiser's offer.
    let click: Value = app
        .raw
        .get(format!("{}/c/{o_pub}/{a}?async=json", app.base))
        .header("user-agent", "Mozilla/5.0 (Windows NT 10.0) Chrome/120.0")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = click["transaction_id"].as_str().unwrap();
    let conv: Value =
        app.raw.get(format!("{}/postback?click_id={cid}", app.base)).send().await.unwrap().json().await.unwrap();
    let conv_a = conv["conversion_id"].as_i64().unwrap();
    let vars = vec![
        ("{a}", a),
        ("{b}", b),
        ("{adv}", adv),
        ("{group}", group),
        ("{cat}", cat),
        ("{src}", src),
        ("{o_pub}", o_pub),
        ("{o_priv}", o_priv),
        ("{coupon_a}", coupon_a),
        ("{pb_a}", pb_a),
        ("{key_a}", key_a_id),
        ("{user_x}", user_x),
        ("{aff_x}", aff_x),
        ("{adv_x}", adv_x),
        ("{group_x}", group_x),
        ("{cat_x}", cat_x),
        ("{src_x}", src_x),
        ("{offer_x}", offer_x),
        ("{coupon_x}", coupon_x),
        ("{pb_ax}", pb_ax),
        ("{key_ax}", key_ax),
        ("{conv_a}", conv_a),
    ];
    World {
        app,
        keys: [key_a, key_b, key_adv, ADMIN_KEY.to_owned()],
        revoked: revoked["key"].as_str().unwrap().to_owned(),
        vars,
    }
}

impl World {
    fn fill(&self, template: &str) -> String {
        self.vars.iter().fold(template.to_owned(), |s, (k, v)| s.replace(k, &v.to_string()))
    }
}

/// (method, path, body with `@` for the marker, expected status for [A, B, advertiser, admin]).
type Case = (&'static str, &'static str, Option<&'static str>, [u16; 4]);

const CASES: &[Case] = &[
    ("GET", "/api/me", None, [200, 200, 200, 200]),
    ("GET", "/api/network", None, [403, 403, 403, 200]),
    ("PATCH", "/api/network", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("GET", "/api/users", None, [403, 403, 403, 200]),
    ("POST", "/api/users", Some(r#"{"role":"advertiser","name":"@"}"#), [403, 403, 403, 201]),
    ("GET", "/api/users/{a}", None, [403, 403, 403, 200]),
    ("PATCH", "/api/users/{b}", Some(r#"{"role":"affiliate","name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/users/{user_x}", None, [403, 403, 403, 200]),
    ("GET", "/api/affiliates", None, [200, 200, 403, 200]),
    ("GET", "/api/affiliates/{a}", None, [200, 404, 403, 200]),
    ("POST", "/api/affiliates", Some(r#"{"name":"@"}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/affiliates/{a}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/affiliates/{aff_x}", None, [403, 403, 403, 200]),
    ("GET", "/api/advertisers", None, [403, 403, 200, 200]),
    ("GET", "/api/advertisers/{adv}", None, [403, 403, 200, 200]),
    ("POST", "/api/advertisers", Some(r#"{"name":"@"}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/advertisers/{adv}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/advertisers/{adv_x}", None, [403, 403, 403, 200]),
    ("GET", "/api/affiliate-groups", None, [403, 403, 403, 200]),
    ("GET", "/api/affiliate-groups/{group}", None, [403, 403, 403, 200]),
    ("POST", "/api/affiliate-groups", Some(r#"{"name":"@"}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/affiliate-groups/{group}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/affiliate-groups/{group_x}", None, [403, 403, 403, 204]),
    ("GET", "/api/categories", None, [200, 200, 200, 200]),
    ("GET", "/api/categories/{cat}", None, [200, 200, 200, 200]),
    ("POST", "/api/categories", Some(r#"{"name":"@"}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/categories/{cat}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/categories/{cat_x}", None, [403, 403, 403, 204]),
    ("GET", "/api/traffic-sources", None, [200, 200, 200, 200]),
    ("GET", "/api/traffic-sources/{src}", None, [200, 200, 200, 200]),
    ("POST", "/api/traffic-sources", Some(r#"{"name":"@"}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/traffic-sources/{src}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/traffic-sources/{src_x}", None, [403, 403, 403, 204]),
    ("GET", "/api/offers", None, [200, 200, 200, 200]),
    ("GET", "/api/offers/{o_pub}", None, [200, 200, 200, 200]),
    ("GET", "/api/offers/{o_priv}", None, [404, 200, 404, 200]),
    (
        "POST",
        "/api/offers",
        Some(r#"{"name":"@","destination_url":"https://x.example/","payout":1,"payout_type":"cpa","revenue":2}"#),
        [403, 403, 403, 201],
    ),
    ("PATCH", "/api/offers/{o_pub}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("PATCH", "/api/offers/{o_priv}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/offers/{offer_x}", None, [403, 403, 403, 200]),
    ("GET", "/api/coupons", None, [200, 200, 403, 200]),
    ("GET", "/api/coupons/{coupon_a}", None, [200, 404, 403, 200]),
    ("POST", "/api/coupons", Some(r#"{"code":"@","affiliate_id":{a}}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/coupons/{coupon_a}", Some(r#"{"code":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/coupons/{coupon_x}", None, [403, 403, 403, 204]),
    ("GET", "/api/postbacks", None, [200, 200, 403, 200]),
    ("GET", "/api/postbacks/{pb_a}", None, [200, 404, 403, 200]),
    ("POST", "/api/postbacks", Some(r#"{"url":"https://t.example/@?c={click_id}"}"#), [201, 201, 403, 400]),
    ("POST", "/api/postbacks", Some(r#"{"affiliate_id":{a},"url":"https://t.example/@"}"#), [201, 400, 403, 201]),
    ("PATCH", "/api/postbacks/{pb_a}", Some(r#"{"url":"https://t.example/@"}"#), [200, 404, 403, 200]),
    ("DELETE", "/api/postbacks/{pb_ax}", None, [204, 404, 403, 404]),
    ("GET", "/api/keys", None, [200, 200, 200, 200]),
    ("GET", "/api/keys/{key_a}", None, [200, 404, 404, 200]),
    ("POST", "/api/keys", Some(r#"{"user_id":{a},"scopes":["read:stats"],"name":"@"}"#), [403, 403, 403, 201]),
    ("PATCH", "/api/keys/{key_a}", Some(r#"{"name":"@"}"#), [403, 403, 403, 200]),
    ("DELETE", "/api/keys/{key_ax}", None, [200, 404, 404, 200]),
    ("GET", "/api/conversions", None, [200, 200, 200, 200]),
    ("GET", "/api/conversions/{conv_a}", None, [200, 404, 200, 200]),
    ("PATCH", "/api/conversions/{conv_a}", Some(r#"{"status":"pending","reason":"@"}"#), [403, 404, 200, 200]),
    ("GET", "/api/conversions/{conv_a}/deliveries", None, [200, 404, 403, 200]),
];

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).expect("method")
}

#[tokio::test]
async fn every_route_for_every_caller() {
    let w = world().await;
    let mut refused_markers = Vec::new();
    let mut created_markers = Vec::new();
    for (i, (m, path, body, expected)) in CASES.iter().enumerate() {
        let path = w.fill(path);
        let body_for = |who: &str| {
            body.map(|b| {
                serde_json::from_str::<Value>(&w.fill(&b.replace('@', &format!("m{i}x{who}q")))).expect("body JSON")
            })
        };
        for (label, auth) in [
            ("none", Auth::None),
            ("malformed", Auth::Raw("Basic dXNlcjpwYXNz")),
            ("bearer-empty", Auth::Raw("Bearer ")),
            ("revoked", Auth::Bearer(&w.revoked)),
            ("unknown", Auth::ApiKey("ct_nope")),
        ] {
            let reply = w.app.call(method(m), &path, auth, body_for(label)).await;
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNAUTHORIZED, "INVALID_API_KEY"),
                "{m} {path} as {label}: {}",
                reply.body
            );
            assert_eq!(reply.body["error"]["status"], 401);
            refused_markers.push(format!("m{i}x{label}q"));
        }
        for (who_index, who) in WHO.iter().enumerate() {
            let auth =
                if who_index % 2 == 0 { Auth::Bearer(&w.keys[who_index]) } else { Auth::ApiKey(&w.keys[who_index]) };
            let reply = w.app.call(method(m), &path, auth, body_for(who)).await;
            assert_eq!(reply.status.as_u16(), expected[who_index], "{m} {path} as {who}: {}", reply.body);
            match reply.status.as_u16() {
                403 => assert!(
                    ["FORBIDDEN", "INSUFFICIENT_SCOPE"].contains(&reply.code()),
                    "{m} {path} as {who}: {}",
                    reply.body
                ),
                404 => assert_eq!(reply.code(), "NOT_FOUND"),
                _ => {}
            }
            if body.is_some() {
                let marker = format!("m{i}x{who}q");
                if !reply.status.is_success() {
                    refused_markers.push(marker);
                } else if *m == "POST" {
                    created_markers.push(marker);
                }
            }
        }
    }
    let dump = everything(&w.app).await;
    for marker in &refused_markers {
        assert!(!dump.contains(marker.as_str()), "refused write {marker} left a trace");
    }
    for marker in &created_markers {
        assert!(dump.contains(marker.as_str()), "granted create {marker} is not visible");
    }
}

/// Everything the admin can list, lower-cased, as one string.
async fn everything(app: &TestApp) -> String {
    let mut out = app.get("/api/network", ADMIN_KEY).await.body.to_string();
    for path in ["users", "affiliate-groups", "categories", "traffic-sources", "offers", "coupons", "postbacks", "keys"]
    {
        out.push_str(&app.get(&format!("/api/{path}?per_page=100"), ADMIN_KEY).await.body.to_string());
    }
    out.to_lowercase()
}

#[tokio::test]
async fn lists_show_only_what_is_the_callers() {
    let w = world().await;
    let [key_a, key_b, key_adv, _] = &w.keys;
    let var = |name: &str| w.vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).unwrap();
    let (a, b, adv) = (var("{a}"), var("{b}"), var("{adv}"));
    assert_eq!(ids(&w.app.get("/api/affiliates", key_a).await), [a]);
    assert_eq!(ids(&w.app.get("/api/affiliates?per_page=100", key_b).await), [b]);
    assert_eq!(ids(&w.app.get("/api/advertisers", key_adv).await), [adv]);
    let offers_a = ids(&w.app.get("/api/offers?per_page=100", key_a).await);
    let offers_b = ids(&w.app.get("/api/offers?per_page=100", key_b).await);
    assert!(!offers_a.contains(&var("{o_priv}")) && offers_b.contains(&var("{o_priv}")));
    assert_eq!(ids(&w.app.get("/api/offers", key_adv).await), [var("{o_pub}")], "advertisers see their own offers");
    let coupons: Vec<Value> = w.app.get("/api/coupons", key_a).await.body["data"].as_array().unwrap().clone();
    assert!(!coupons.is_empty() && coupons.iter().all(|c| c["affiliate_id"] == a));
    let postbacks: Vec<Value> = w.app.get("/api/postbacks", key_b).await.body["data"].as_array().unwrap().clone();
    assert!(!postbacks.is_empty() && postbacks.iter().all(|p| p["affiliate_id"] == b));
    let keys: Vec<Value> = w.app.get("/api/keys?per_page=100", key_a).await.body["data"].as_array().unwrap().clone();
    assert!(keys.len() >= 2 && keys.iter().all(|k| k["user_id"] == a));
    let filtered = w.app.get(&format!("/api/keys?user_id={b}"), key_a).await;
    assert!(ids(&filtered).is_empty(), "a user_id filter cannot widen an affiliate's view");
    let pb_filter = w.app.get(&format!("/api/postbacks?affiliate_id={b}"), key_a).await;
    assert!(ids(&pb_filter).is_empty());
}

#[tokio::test]
async fn affiliates_see_their_own_terms_only() {
    let w = world().await;
    let var = |name: &str| w.vars.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).unwrap();
    let seen = w.app.get(&format!("/api/offers/{}", var("{o_priv}")), &w.keys[1]).await.body;
    assert_eq!(seen["payout"], 9.0, "B sees its override as the payout");
    for hidden in ["revenue", "revenue_type", "access", "guards", "advertiser_id"] {
        assert!(seen.get(hidden).is_none(), "{hidden} leaked to an affiliate: {seen}");
    }
    let advertiser_view = w.app.get(&format!("/api/offers/{}", var("{o_pub}")), &w.keys[2]).await.body;
    assert!(advertiser_view.get("access").is_none() && advertiser_view.get("revenue").is_some());
    let admin_view = w.app.get(&format!("/api/offers/{}", var("{o_priv}")), ADMIN_KEY).await.body;
    assert_eq!(admin_view["access"][0]["affiliate_id"], var("{b}"));
}

#[tokio::test]
async fn scopes_are_checked_on_every_route() {
    let app = TestApp::spawn().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "A"})).await;
    let stats_only = app.key_for(aff, &["read:stats"]).await;
    for path in ["/api/offers", "/api/categories", "/api/coupons", "/api/postbacks"] {
        let r = app.get(path, &stats_only).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE"), "{path}");
    }
    assert_eq!(app.get("/api/traffic-sources", &stats_only).await.status, StatusCode::OK);
    let post = app.post("/api/postbacks", &stats_only, json!({"url": "https://t.example/"})).await;
    assert_eq!(post.code(), "INSUFFICIENT_SCOPE");
    let staff_read_only = app.key_for(1, &["read:offers"]).await;
    let write = app.post("/api/offers", &staff_read_only, offer_body("X", json!({}))).await;
    assert_eq!(
        (write.status, write.code()),
        (StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE"),
        "admin users need the admin scope to write"
    );
    assert_eq!(app.get("/api/offers", &staff_read_only).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/network", &staff_read_only).await.code(), "INSUFFICIENT_SCOPE");
}

#[tokio::test]
async fn inactive_accounts_lose_access() {
    let app = TestApp::spawn().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "A"})).await;
    let key = app.key_for(aff, &["read:offers"]).await;
    for (status, code) in [("suspended", 200), ("pending", 403), ("inactive", 403), ("closed", 403), ("active", 200)] {
        app.patch(&format!("/api/affiliates/{aff}"), ADMIN_KEY, json!({"status": status})).await;
        let r = app.get("/api/me", &key).await;
        assert_eq!(r.status.as_u16(), code, "{status}: {}", r.body);
    }
}
