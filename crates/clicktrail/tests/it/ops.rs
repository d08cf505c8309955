//! Health, metrics, the OpenAPI document, and how keys are stored.

use clicktrail_domain::key::hash_secret;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_KEY, Auth, TestApp};

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let health = app.call(Method::GET, "/healthz", Auth::None, None).await;
    assert_eq!((health.status, health.body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let ready = app.call(Method::GET, "/readyz", Auth::None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "checks": {"config_store": "ok", "event_store": "ok", "counters": "ok", "event_writer": "ok", "shutdown": "no"}})
    );

    app.get("/api/me", ADMIN_KEY).await;
    let offer = app.create_id("/api/offers", crate::helpers::offer_body("Metered", json!({}))).await;
    let affiliate = app.create_id("/api/affiliates", json!({"name": "Metered"})).await;
    app.raw.get(format!("{}/c/{offer}/{affiliate}", app.base)).send().await.unwrap();
    let text = reqwest::get(format!("{}/metrics", app.base)).await.unwrap().text().await.unwrap();
    assert!(text.contains("clicktrail_http_requests_total{route=\"/api/me\",method=\"GET\",status=\"200\"}"), "{text}");
    // Latencies are histograms with buckets (they add up across nodes), not summaries.
    assert!(
        text.contains("clicktrail_http_request_duration_seconds_bucket{route=\"/api/me\",method=\"GET\",status=\"200\",le=\"0.005\"}"),
        "{text}"
    );
    assert!(text.contains("clicktrail_click_duration_seconds_bucket{le=\"+Inf\"}"), "{text}");
    assert!(!text.contains("quantile="), "{text}");
    assert!(text.contains(&format!("clicktrail_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))), "{text}");
    for process in
        ["process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_start_time_seconds"]
    {
        assert!(text.lines().any(|l| l.starts_with(process)), "{process} missing: {text}");
    }
    // Every metric family has its # HELP and # TYPE.
    let families: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or(""))
        .map(|n| n.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count"))
        .collect();
    assert!(families.len() > 10, "{families:?}");
    for family in families {
        assert!(text.contains(&format!("# HELP {family} ")), "no # HELP for {family}");
        assert!(text.contains(&format!("# TYPE {family} ")), "no # TYPE for {family}");
    }

    // Once shutdown has begun, the node says it is not ready (load balancers stop sending).
    app.state.draining.store(true, std::sync::atomic::Ordering::Relaxed);
    let draining = app.call(Method::GET, "/readyz", Auth::None, None).await;
    assert_eq!(draining.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(draining.body["checks"]["shutdown"], "in progress");
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
    let all = app.stored_config_rows().await.concat();
    for clear in [secret.as_str(), ADMIN_KEY] {
        assert!(!all.contains(clear), "a key is stored in clear");
        assert!(all.contains(&hash_secret(clear)), "the key's SHA-256 is what is stored");
    }
    // The raw file, WAL included, holds no secret either.
    for file in ["clicktrail.db", "clicktrail.db-wal"] {
        if let Ok(bytes) = std::fs::read(app.dir.path().join(file)) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(&secret) && !text.contains(ADMIN_KEY), "{file} holds a secret");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_validates_and_describes_every_surface() {
    let app = TestApp::spawn().await;
    let doc = app.call(Method::GET, "/api/openapi.json", Auth::None, None).await.body;
    // Operation ids never repeat, and every native operation documents its error answers.
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "{id} repeats");
            if path.starts_with("/api/") && !path.starts_with("/api/v") && !path.starts_with("/api/traffic-source") {
                for status in ["400", "401", "403", "429"] {
                    assert!(op["responses"].get(status).is_some(), "{method} {path} does not document {status}");
                }
                if path.contains('{') {
                    assert!(op["responses"].get("404").is_some(), "{method} {path} does not document 404");
                }
            }
        }
    }
    // Tracking, postback and the five dialects are described too.
    for path in [
        "/c/{offer}/{affiliate}",
        "/i/{offer}/{affiliate}",
        "/postback",
        "/p",
        "/api/v1.2/admin/offerStats/{startTime}/{endTime}/",
        "/api/traffic-source",
        "/api/v2/offers",
        "/v1/affiliates/reporting/clicks/stream",
        "/v1/stats",
        "/v1/postbacks",
        "/readyz",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not described");
    }
    assert_eq!(doc["components"]["schemas"]["Error"]["required"], json!(["error"]));
    let page = doc["paths"]["/api/offers"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page")
        .cloned()
        .unwrap();
    assert_eq!(page["schema"]["minimum"], 1, "{page}");

    // openapi-spec-validator (PyPI) accepts it; CI installs it and sets OPENAPI_VALIDATOR=required.
    let file = app.dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let checked = std::process::Command::new("python3").args(["-m", "openapi_spec_validator"]).arg(&file).output();
    match checked {
        Ok(out) if out.status.success() => {}
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("No module named") => {
            assert!(
                std::env::var("OPENAPI_VALIDATOR").as_deref() != Ok("required"),
                "openapi-spec-validator is not installed"
            );
        }
        Ok(out) => panic!(
            "the document does not validate: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(std::env::var("OPENAPI_VALIDATOR").as_deref() != Ok("required"), "python3: {e}"),
    }

    // The readable reference.
    let docs = app.raw.get(format!("{}/api/docs", app.base)).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = docs.text().await.unwrap();
    for needle in ["Clicktrail native API", "getOffersById", "dialect D", "/postback", "INVALID_PARAMETER"] {
        assert!(html.contains(needle), "{needle} missing from /api/docs");
    }
    assert!(!html.contains("<script"), "the reference loads nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_on_any_surface() {
    let app = TestApp::spawn().await;
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemathesis.toml");
    let url = format!("{}/api/openapi.json", app.base);
    // A fixed seed in deterministic mode: the same cases every run, bounded by --max-examples.
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new("schemathesis")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &url, "-H", &format!("Authorization: Bearer {ADMIN_KEY}")])
            .args(["--phases", "examples,coverage,fuzzing,stateful"])
            // The dialects' own headers (schemathesis.toml) carry the same admin key.
            .env("TEST_KEY", ADMIN_KEY)
            .args(["--max-examples", "10", "--seed", "20261202", "--generation-deterministic", "--no-color"])
            .output()
    })
    .await
    .unwrap();
    match run {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "schemathesis found failures:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => assert!(std::env::var("SCHEMATHESIS").as_deref() != Ok("required"), "schemathesis cannot run: {e}"),
    }
}
