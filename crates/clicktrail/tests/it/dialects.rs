//! Dialects A, B and C against known traffic: exact bodies, errors and limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, offer_body};
use crate::reports::known;

async fn get(app: &crate::helpers::TestApp, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut r = app.raw.get(format!("{}{path}", app.base));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn dialect_a_offer_stats() {
    let k = known().await;
    let admin = [("x-api-key", ADMIN_KEY), ("x-user-id", "1")];
    let (status, body) = get(&k.app, "/api/v1.2/admin/offerStats/2026-03-08/2026-03-08/?timezone=UTC", &admin).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"data": [
            ["2026-03-08 - 2026-03-08", k.o1, "O1", 0, 3, 3, 1, 1, "33.33", "1.50", "50.0%", 3.0, 4.5, 1.5],
            ["2026-03-08 - 2026-03-08", k.o2, "O2", 0, 1, 1, 0, 0, "0.00", "0.00", "0.0%", 0.0, 0.0, 0.0]
        ], "status": 200})
    );
    let (_, by_date) =
        get(&k.app, "/api/v1.2/admin/offerStats/2026-03-07/2026-03-08?groupBy=date&timezone=America/New_York", &admin)
            .await;
    let keys: Vec<(Value, Value, Value)> =
        by_date["data"].as_array().unwrap().iter().map(|r| (r[0].clone(), r[1].clone(), r[4].clone())).collect();
    assert_eq!(
        keys,
        [
            (json!("2026-03-07"), json!(k.o1), json!(1)),
            (json!("2026-03-08"), json!(k.o1), json!(2)),
            (json!("2026-03-08"), json!(k.o2), json!(1))
        ]
    );
    let (_, by_hour) = get(
        &k.app,
        "/api/v1.2/admin/offerStats/2026-03-08%2000:00/2026-03-08%2006:00/?groupBy=hour&timezone=UTC",
        &admin,
    )
    .await;
    assert_eq!(by_hour["data"][0][0], "2026-03-08 04:00:00");
    for (filter, offers) in [
        ("country=de".to_owned(), vec![k.o2]),
        ("category=C2".to_owned(), vec![k.o2]),
        (format!("category={}", k.c2), vec![k.o2]),
        ("category=EXAMPLE".to_owned(), vec![]),
        (format!("user_id={}", k.a), vec![k.o1]),
        (format!("affiliate_group_id={}", k.group), vec![k.o1]),
        (format!("offer_id={}", k.o2), vec![k.o2]),
    ] {
        let (s, b) =
            get(&k.app, &format!("/api/v1.2/admin/offerStats/2026-03-08/2026-03-08/?timezone=UTC&{filter}"), &admin)
                .await;
        let got: Vec<i64> = b["data"].as_array().unwrap().iter().map(|r| r[1].as_i64().unwrap()).collect();
        assert_eq!((s, got), (StatusCode::OK, offers), "{filter}");
    }
    let (s, b) =
        get(&k.app, "/api/v1.2/admin/offerStats/2026-05-21/2026-05-28/?country=RO&category=EXAMPLE", &admin).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"data": [], "status": 200})), "the seed's own example");
    let aff_key = k.app.key_for(k.a, &["read:stats"]).await;
    let aff_id = k.a.to_string();
    for (headers, code) in [
        (vec![], 401),
        (vec![("x-api-key", ADMIN_KEY), ("x-user-id", "2")], 401),
        (vec![("x-api-key", "nope"), ("x-user-id", "1")], 401),
        (vec![("x-api-key", aff_key.as_str()), ("x-user-id", aff_id.as_str())], 403),
    ] {
        let (s, b) = get(&k.app, "/api/v1.2/admin/offerStats/today/today/", &headers).await;
        assert_eq!((s.as_u16(), b["status"].as_u64()), (code, Some(u64::from(code))), "{headers:?}: {b}");
        assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    for (path, code, words) in [
        ("/api/v1.2/admin/offerStats/someday/today/", 400, "startTime"),
        ("/api/v1.2/admin/offerStats/today/yesterday/", 400, "endTime"),
        ("/api/v1.2/admin/offerStats/today/today/?country=ZZ", 400, "country"),
        ("/api/v1.2/admin/offerStats/today/today/?groupBy=week", 400, "groupBy"),
        ("/api/v1.2/admin/offerStats/today/today/?timezone=Nowhere", 400, "timezone"),
    ] {
        let (s, b) = get(&k.app, path, &admin).await;
        assert_eq!(s.as_u16(), code, "{path}: {b}");
        assert!(b["error"].as_str().unwrap().contains(words), "{path}: {b}");
    }
    k.app.patch("/api/network", ADMIN_KEY, json!({"features": {"time_stats": false}})).await;
    let (s, b) = get(&k.app, "/api/v1.2/admin/offerStats/today/today/?groupBy=hour", &admin).await;
    assert_eq!((s, b["status"].as_u64()), (StatusCode::FORBIDDEN, Some(403)));
}

#[tokio::test]
async fn dialect_b_traffic_sources() {
    let k = known().await;
    let day = |d: &str| chrono::DateTime::parse_from_rfc3339(d).unwrap().timestamp().to_string();
    let (from, to) = (day("2026-03-08T00:00:00Z"), day("2026-03-09T00:00:00Z"));
    let path = format!("/api/traffic-source?rest_key={ADMIN_KEY}&date_from={from}&date_to={to}");
    let (status, body) = get(&k.app, &path, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let zero = |name: &str| json!({"impressions": 0, "click": 0, "order": 0, "revenue": 0.0, "source_name": name, "cvr": "0.00", "ctr": "0.00"});
    assert_eq!(
        body,
        json!({"status": "success", "data": [
            {"impressions": 0, "click": 4, "order": 2, "revenue": 4.5, "source_name": "Newsletter", "cvr": "50.00", "ctr": "0.00"},
            zero("Triggered Emails"), zero("Rec. Engine"), zero("Pop-ups")
        ]})
    );
    // Traffic on a source_id that names no source shows up as "Other".
    let aff = k.app.create_id("/api/affiliates", json!({"name": "Z"})).await;
    let offer = k.app.create_id("/api/offers", offer_body("Z", json!({}))).await;
    for src in ["pop-ups", "mystery"] {
        k.app
            .raw
            .get(format!("{}/c/{offer}/{aff}?source_id={src}", k.app.base))
            .header("user-agent", "Mozilla/5.0 Chrome/120")
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, now) = get(&k.app, &format!("/api/traffic-source?rest_key={ADMIN_KEY}"), &[]).await;
    let names: Vec<(String, u64)> = now["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["source_name"].as_str().unwrap().to_owned(), r["click"].as_u64().unwrap()))
        .collect();
    assert_eq!(names.last(), Some(&("Other".to_owned(), 1)), "{now}");
    assert!(names.contains(&("Pop-ups".to_owned(), 1)), "slugs name sources: {names:?}");

    let inactive = k.app.create_id("/api/affiliates", json!({"name": "Gone", "status": "inactive"})).await;
    let inactive_key = k.app.key_for(inactive, &["read:stats"]).await;
    let week = day("2026-03-01T00:00:00Z");
    let long = day("2026-01-01T00:00:00Z");
    for (query, code, expected) in [
        ("".to_owned(), 401, json!({"status": "error", "message": "Incorrect rest key!"})),
        ("rest_key=wrong".to_owned(), 401, json!({"status": "error", "message": "Incorrect rest key!"})),
        (format!("rest_key={inactive_key}"), 403, json!({"status": "error", "message": "Your account is not active!"})),
        (
            format!("rest_key={ADMIN_KEY}&date_from={long}&date_to={to}"),
            400,
            json!({"status": "error", "message": "Interval is greater than 30 days"}),
        ),
        (
            format!("rest_key={ADMIN_KEY}&date_to={to}"),
            422,
            json!({"status": "fail", "data": {"validator": {"date_from": ["The date from field is required when date to is present."]}}}),
        ),
        (
            format!("rest_key={ADMIN_KEY}&date_from=abc"),
            422,
            json!({"status": "fail", "data": {"validator": {"date_from": ["The date from must be an integer."]}}}),
        ),
        (
            format!("rest_key={ADMIN_KEY}&date_from={to}&date_to={week}"),
            422,
            json!({"status": "fail", "data": {"validator": {"date_to": ["The date to must be a date after date from."]}}}),
        ),
    ] {
        let (s, b) = get(&k.app, &format!("/api/traffic-source?{query}"), &[]).await;
        assert_eq!((s.as_u16(), b), (code, expected), "{query}");
    }
    let aff_key = k.app.key_for(k.a, &["read:stats"]).await;
    let (_, mine) =
        get(&k.app, &format!("/api/traffic-source?rest_key={aff_key}&date_from={from}&date_to={to}"), &[]).await;
    assert_eq!(mine["data"][0]["click"], 3, "an affiliate's key reads its own traffic");
}

#[tokio::test]
async fn dialect_c_offers() {
    let k = known().await;
    let adv_offer = k.app.get(&format!("/api/offers/{}", k.o1), ADMIN_KEY).await.body;
    k.app.create("/api/offers", offer_body("Paused", json!({"status": "paused", "external_platform": "tune", "external_id": "4521", "metadata": {"vertical": "health", "geo": "US"}}))).await;
    let archived = k.app.create_id("/api/offers", offer_body("Archived", json!({}))).await;
    k.app.delete(&format!("/api/offers/{archived}"), ADMIN_KEY).await;
    let key = [("x-api-key", ADMIN_KEY)];
    let (s, body) = get(&k.app, "/api/v2/offers", &key).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(
        body["pagination"],
        json!({"page": 1, "per_page": 50, "total": 3, "total_pages": 1}),
        "archived offers are left out by default"
    );
    let first = &body["offers"][0];
    assert_eq!(first["id"], adv_offer["public_id"]);
    assert_eq!(first["tracking_url"], adv_offer["destination_url"]);
    assert_eq!(first["advertiser_id"], format!("adv_{}", k.adv));
    assert_eq!(
        (first["payout"].as_f64(), first["payout_type"].as_str(), first["status"].as_str()),
        (Some(2.5), Some("cpa"), Some("active"))
    );
    let created = first["created_at"].as_str().unwrap();
    assert!(created.len() == 20 && created.ends_with('Z'), "{created}");
    let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "tracking_url",
            "external_platform",
            "external_id",
            "advertiser_id",
            "payout",
            "payout_type",
            "filter_bots",
            "status",
            "metadata",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(body["offers"][1]["advertiser_id"], Value::Null);
    let (_, paused) = get(&k.app, "/api/v2/offers?status=paused", &key).await;
    assert_eq!(paused["offers"][0]["external_platform"], "tune");
    assert_eq!(paused["offers"][0]["metadata"], json!({"vertical": "health", "geo": "US"}));
    let (_, archived_only) = get(&k.app, "/api/v2/offers?status=archived", &key).await;
    assert_eq!(archived_only["pagination"]["total"], 1);
    let (_, page) = get(&k.app, "/api/v2/offers?page=2&per_page=2", &key).await;
    assert_eq!(page["pagination"], json!({"page": 2, "per_page": 2, "total": 3, "total_pages": 2}));
    assert_eq!(page["offers"].as_array().unwrap().len(), 1);
    let (_, capped) = get(&k.app, "/api/v2/offers?per_page=500", &key).await;
    assert_eq!(capped["pagination"]["per_page"], 100);
    for bad in ["per_page=0", "per_page=-5", "per_page=ten", "page=0", "status=deleted"] {
        let (s, b) = get(&k.app, &format!("/api/v2/offers?{bad}"), &key).await;
        assert_eq!((s, b["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{bad}: {b}");
    }
    for headers in
        [vec![], vec![("x-api-key", "trk_nope")], vec![("authorization", "Bearer test-admin-key-0123456789")]]
    {
        let (s, b) = get(&k.app, "/api/v2/offers", &headers).await;
        assert_eq!((s, b["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "{headers:?}");
        assert_eq!(b["message"], "API key is missing or invalid.");
    }
    let aff_key = k.app.key_for(k.a, &["read:offers"]).await;
    let (_, mine) = get(&k.app, "/api/v2/offers", &[("x-api-key", aff_key.as_str())]).await;
    let tracking = mine["offers"][0]["tracking_url"].as_str().unwrap();
    assert!(tracking.ends_with(&format!("/c/{}/{}", k.o1, k.a)), "an affiliate gets its own tracking link: {tracking}");
    assert_eq!(mine["pagination"]["total"], 3, "offers it has access to, paused ones listed with their status");
    assert_eq!(mine["offers"][0]["payout"], 2.5);
    let private = k.app.create_id("/api/offers", offer_body("Private", json!({"visibility": "private"}))).await;
    let (_, after) = get(&k.app, "/api/v2/offers?per_page=100", &[("x-api-key", aff_key.as_str())]).await;
    assert!(
        after["offers"].as_array().unwrap().iter().all(|o| o["name"] != "Private"),
        "a private offer without access is not listed"
    );
    let (_, admin_view) = get(&k.app, "/api/v2/offers?per_page=100", &key).await;
    assert!(admin_view["offers"].as_array().unwrap().iter().any(|o| o["name"] == "Private"), "{private}");
}
