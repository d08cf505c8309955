//! Health, metrics, the OpenAPI document, and how keys are stored.

use clicktrail_domain::key::hash_secret;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_KEY, Auth, TestApp};

#[tokio::test]
async fn health_and_metrics() {
    let app = TestApp::spawn().await;
    let health = app.call(Method::GET, "/healthz", Auth::None, None).await;
    assert_eq!((health.status, health.body["status"].as_str()), (StatusCode::OK, Some("ok")));
    app.get("/api/me", ADMIN_KEY).await;
    let text = reqwest::get(format!("{}/metrics", app.base)).await.unwrap().text().await.unwrap();
    assert!(text.contains("clicktrail_http_requests_total{route=\"/api/me\",method=\"GET\",status=\"200\"}"), "{text}");
    assert!(text.contains("clicktrail_http_request_duration_seconds"));
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_covers_the_native_api() {
    let app = TestApp::spawn().await;
    let doc = app.call(Method::GET, "/api/openapi.json", Auth::None, None).await.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    for path in [
        "/api/me",
        "/api/network",
        "/api/users",
        "/api/users/{id}",
        "/api/affiliates",
        "/api/affiliates/{id}",
        "/api/advertisers",
        "/api/affiliate-groups",
        "/api/categories",
        "/api/traffic-sources",
        "/api/offers",
        "/api/offers/{id}",
        "/api/coupons",
        "/api/postbacks",
        "/api/keys",
        "/api/keys/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the OpenAPI document");
    }
    for method in ["get", "patch", "delete"] {
        assert!(doc["paths"]["/api/offers/{id}"].get(method).is_some(), "{method}");
    }
    assert!(doc["components"]["schemas"].get("OfferSpec").is_some());
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[tokio::test]
async fn keys_are_stored_as_hashes_only() {
    let app = TestApp::spawn().await;
    let aff = app.create_id("/api/affiliates", json!({"name": "A"})).await;
    let secret = app.key_for(aff, &["read:offers"]).await;
    assert_eq!(app.get("/api/me", &secret).await.status, StatusCode::OK);
    let conn = rusqlite::Connection::open(app.dir.path().join("clicktrail.db")).unwrap();
    let mut stmt = conn.prepare("SELECT doc, coalesce(unique_key, '') FROM config_records").unwrap();
    let rows: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let all = rows.iter().map(|(d, u)| format!("{d}{u}")).collect::<String>();
    for clear in [secret.as_str(), ADMIN_KEY] {
        assert!(!all.contains(clear), "a key is stored in clear");
        assert!(all.contains(&hash_secret(clear)), "the key's SHA-256 is what is stored");
    }
    drop(stmt);
    drop(conn);
    // The raw file, WAL included, holds no secret either.
    for file in ["clicktrail.db", "clicktrail.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join(file)) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&secret) && !text.contains(ADMIN_KEY), "{file} holds a secret");
        }
    }
}
