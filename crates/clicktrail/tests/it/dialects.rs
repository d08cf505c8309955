//! Dialects A, B and C against known traffic: exact bodies, errors and limits.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, offer_body};
use crate::reports::known;

/// A GET with extra headers: status and JSON body.
pub async fn get(app: &crate::helpers::TestApp, path: &str, headers: &[(&str, &str)]) -> (StatusCode, Value) {
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
    // Until the writer has stored both (an events store may batch for a moment).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (now, names) = loop {
        let (_, now) = get(&k.app, &format!("/api/traffic-source?rest_key={ADMIN_KEY}"), &[]).await;
        let names: Vec<(String, u64)> = now["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["source_name"].as_str().unwrap().to_owned(), r["click"].as_u64().unwrap()))
            .collect();
        if names.iter().map(|(_, n)| n).sum::<u64>() >= 2 || std::time::Instant::now() > deadline {
            break (now, names);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
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

/// A dialect D click stream request.
pub async fn stream(app: &crate::helpers::TestApp, key: &str, body: Value) -> (StatusCode, Value) {
    let r = app
        .raw
        .post(format!("{}/v1/affiliates/reporting/clicks/stream", app.base))
        .header("x-eflow-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn dialect_d_raw_clicks() {
    let k = known().await;
    let all = json!({"from": "2026-03-08 00:00:00", "to": "2026-03-08 23:59:59", "timezone_id": 67});
    let (s, body) = stream(&k.app, ADMIN_KEY, all.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let clicks = body["clicks"].as_array().unwrap();
    assert_eq!(clicks.len(), 5, "every click, filtered bots included");
    let times: Vec<i64> = clicks.iter().map(|c| c["unix_timestamp"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let c = &clicks[0];
    let expected_keys = [
        "transaction_id",
        "is_unique",
        "unix_timestamp",
        "tracking_url",
        "source_id",
        "sub1",
        "sub2",
        "sub3",
        "sub4",
        "sub5",
        "revenue_type",
        "revenue",
        "referer",
        "error_code",
        "user_ip",
        "error_message",
        "idfa",
        "idfa_md5",
        "idfa_sha1",
        "google_ad_id",
        "google_ad_id_md5",
        "google_ad_id_sha1",
        "android_id",
        "android_id_md5",
        "android_id_sha1",
        "relationship",
        "currency_id",
        "coupon_code",
    ];
    let mut keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = expected_keys.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(
        (c["is_unique"].as_u64(), c["error_code"].as_u64(), c["error_message"].as_str()),
        (Some(1), Some(0), Some("N/A"))
    );
    assert_eq!(
        (c["sub1"].as_str(), c["source_id"].as_str(), c["revenue_type"].as_str(), c["currency_id"].as_str()),
        (Some("x"), Some("newsletter"), Some("CPA"), Some("USD"))
    );
    assert_eq!(
        (c["idfa"].as_str(), c["idfa_md5"].as_str()),
        (Some("IDFA-1"), Some("ac3962ca40b1fb749e9b35998439b8ce"))
    );
    assert_eq!(c["idfa_sha1"].as_str().unwrap().len(), 40);
    let geo = &c["relationship"]["geolocation"];
    assert_eq!(
        (
            geo["country_code"].as_str(),
            geo["country_name"].as_str(),
            geo["region_name"].as_str(),
            geo["city_name"].as_str()
        ),
        (Some("US"), Some("United States"), Some("California"), Some("Burbank"))
    );
    assert_eq!(
        (geo["carrier_name"].as_str(), geo["isp_name"].as_str(), geo["is_mobile"].as_bool()),
        (Some("T-Mobile USA"), Some("T-Mobile"), Some(true))
    );
    let dev = &c["relationship"]["device_information"];
    assert_eq!(
        (dev["platform_name"].as_str(), dev["brand"].as_str(), dev["device_type"].as_str(), dev["language"].as_str()),
        (Some("iOS"), Some("Apple"), Some("Mobile"), Some("fr"))
    );
    assert_eq!(
        c["relationship"]["offer"],
        json!({"network_offer_id": k.o1, "network_id": 1, "name": "O1", "offer_status": "active", "network_tracking_domain_id": 1})
    );
    assert_eq!(c["relationship"]["query_parameters"], json!({"foo": "2"}));
    assert_eq!(clicks[3]["error_code"], 10, "the filtered bot");
    assert_eq!(clicks[3]["relationship"]["device_information"]["is_filter"], true);

    let with = |filters: Value, exclusions: Value| {
        let mut b = all.clone();
        b["query"] = json!({"filters": filters, "exclusions": exclusions});
        b
    };
    for (filters, exclusions, n) in [
        (json!([{"filter_id_value": k.o2.to_string(), "resource_type": "offer"}]), json!([]), 1),
        (
            json!([{"filter_id_value": k.o1.to_string(), "resource_type": "offer"}, {"filter_id_value": k.o2.to_string(), "resource_type": "offer"}]),
            json!([]),
            5,
        ),
        (json!([{"filter_id_value": "United States", "resource_type": "country"}]), json!([]), 4),
        (json!([{"filter_id_value": "de", "resource_type": "country"}]), json!([]), 1),
        (
            json!([{"filter_id_value": "x", "resource_type": "s1"}, {"filter_id_value": "Canada", "resource_type": "country"}, {"filter_id_value": "United States", "resource_type": "country"}]),
            json!([]),
            1,
        ),
        (
            json!([{"filter_id_value": "y", "resource_type": "s1"}]),
            json!([{"filter_id_value": "Germany", "resource_type": "country"}]),
            3,
        ),
        (
            json!([{"filter_id_value": "Apple", "resource_type": "device_make"}, {"filter_id_value": "Safari", "resource_type": "browser"}]),
            json!([]),
            5,
        ),
        (
            json!([{"filter_id_value": "SUMMER", "resource_type": "coupon_code"}, {"filter_id_value": "spring", "resource_type": "campaign"}]),
            json!([]),
            5,
        ),
        (
            json!([{"filter_id_value": 3, "resource_type": "creative"}, {"filter_id_value": "2", "resource_type": "offer_url"}]),
            json!([]),
            5,
        ),
    ] {
        let (s, b) = stream(&k.app, ADMIN_KEY, with(filters.clone(), exclusions)).await;
        assert_eq!((s, b["clicks"].as_array().map(Vec::len)), (StatusCode::OK, Some(n)), "{filters}: {b}");
    }
    let mine = k.app.key_for(k.a, &["read:stats"]).await;
    let (_, own) = stream(&k.app, &mine, all.clone()).await;
    assert!(
        own["clicks"].as_array().unwrap().iter().all(|c| c["relationship"]["offer"]["network_offer_id"] == k.o1),
        "affiliate A's clicks only"
    );
    assert_eq!(own["clicks"].as_array().unwrap().len(), 3);
    // By id, and what others may not read.
    let id = clicks[0]["transaction_id"].as_str().unwrap();
    let one = k
        .app
        .raw
        .get(format!("{}/v1/affiliates/reporting/clicks/{id}", k.app.base))
        .header("x-eflow-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    assert_eq!(one.json::<Value>().await.unwrap(), clicks[0]);
    let other_aff = k.app.create_id("/api/affiliates", json!({"name": "Other"})).await;
    let other = k.app.key_for(other_aff, &["read:stats"]).await;
    for (key, code) in [(other.as_str(), 404), ("nope", 401)] {
        let r = k
            .app
            .raw
            .get(format!("{}/v1/affiliates/reporting/clicks/{id}", k.app.base))
            .header("x-eflow-api-key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), code);
    }
    let missing = k
        .app
        .raw
        .get(format!("{}/v1/affiliates/reporting/clicks/{}", k.app.base, "0".repeat(32)))
        .header("x-eflow-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    // Errors and limits.
    let no_stats = k.app.key_for(k.a, &["read:offers"]).await;
    assert_eq!(stream(&k.app, &no_stats, all.clone()).await.0, StatusCode::FORBIDDEN);
    for (body, words) in [
        (json!({"from": "2026-03-01", "to": "2026-03-20", "timezone_id": 67}), "14 days"),
        (json!({"from": "2026-03-08", "to": "2026-03-08", "timezone_id": 9999}), "timezone_id"),
        (json!({"from": "March 8", "to": "2026-03-08", "timezone_id": 67}), "from"),
        (json!({"to": "2026-03-08", "timezone_id": 67}), "from"),
        (with(json!([{"filter_id_value": "x", "resource_type": "planet"}]), json!([])), "resource_type"),
    ] {
        let (s, b) = stream(&k.app, ADMIN_KEY, body.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        assert!(b["error"].as_str().unwrap().contains(words), "{body}: {b}");
    }
    let (_, ny) = stream(&k.app, ADMIN_KEY, json!({"from": "2026-03-07", "to": "2026-03-07", "timezone_id": 80})).await;
    assert_eq!(
        ny["clicks"].as_array().unwrap().len(),
        1,
        "a bare date in New York is that local day: 04:30 UTC is 23:30 EST on the 7th"
    );
}

/// A GET with `Authorization: Bearer`: status and JSON body.
pub async fn bearer(app: &crate::helpers::TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    let r = app.raw.get(format!("{}{path}", app.base)).bearer_auth(key).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn dialect_e_offers_stats_and_conversions() {
    let k = known().await;
    let aff = k.app.key_for(k.a, &["read:offers", "read:stats", "read:conversions"]).await;
    let (s, body) = bearer(&k.app, &aff, "/v1/offers").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["meta"], json!({"total": 2, "page": 1, "per_page": 25}));
    assert_eq!(
        body["data"][0],
        json!({"id": format!("offer_{}", k.o1), "name": "O1", "vertical": "C1", "payout": 2.5, "payout_type": "cpa", "geo": [], "status": "active", "preview_url": null, "creatives_count": 0, "epc_avg": 0.0})
    );
    let de = k.app.create_id("/api/offers", offer_body("DE only", json!({"geo": ["DE"], "payout_type": "cpl"}))).await;
    let ids = |b: &Value| {
        b["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&bearer(&k.app, &aff, "/v1/offers?geo=us").await.1).len(), 2, "worldwide offers are open to the US");
    assert!(ids(&bearer(&k.app, &aff, "/v1/offers?geo=DE").await.1).contains(&format!("offer_{de}")));
    assert_eq!(ids(&bearer(&k.app, &aff, "/v1/offers?payout_type=cpl").await.1), [format!("offer_{de}")]);
    assert_eq!(ids(&bearer(&k.app, &aff, "/v1/offers?sort=-id").await.1)[0], format!("offer_{de}"));
    assert_eq!(
        bearer(&k.app, &aff, "/v1/offers?per_page=1&page=2").await.1["meta"],
        json!({"total": 3, "page": 2, "per_page": 1})
    );
    assert_eq!(bearer(&k.app, &aff, "/v1/offers?per_page=1000").await.1["meta"]["per_page"], 100);
    for bad in ["sort=popularity", "per_page=0", "geo=XX", "status=archived", "payout_type=cpx"] {
        let (s, b) = bearer(&k.app, &aff, &format!("/v1/offers?{bad}")).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER")), "{bad}");
    }
    let (s, detail) = bearer(&k.app, &aff, &format!("/v1/offers/offer_{}", k.o1)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(detail["tracking_link"].as_str().unwrap().ends_with(&format!("/c/{}/{}", k.o1, k.a)));
    for field in ["description", "creatives", "tracking_parameters", "payout_tiers", "caps", "targeting"] {
        assert!(detail.get(field).is_some(), "{field}");
    }
    assert_eq!(
        bearer(&k.app, &aff, &format!("/v1/offers/{}", k.o1)).await.0,
        StatusCode::OK,
        "the bare number is accepted"
    );
    let private = k.app.create_id("/api/offers", offer_body("Private", json!({"visibility": "private"}))).await;
    let (s, b) = bearer(&k.app, &aff, &format!("/v1/offers/offer_{private}")).await;
    assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));

    let (s, stats) =
        bearer(&k.app, ADMIN_KEY, "/v1/stats?date_from=2026-03-08&date_to=2026-03-08&group_by=date,offer,geo").await;
    assert_eq!(s, StatusCode::OK, "{stats}");
    assert_eq!(
        stats["data"],
        json!([
            {"date": "2026-03-08", "offer_id": format!("offer_{}", k.o1), "geo": "US", "clicks": 3, "conversions": 1, "leads": 1, "cvr": 33.33, "revenue": 4.5, "epc": 1.5},
            {"date": "2026-03-08", "offer_id": format!("offer_{}", k.o2), "geo": "DE", "clicks": 1, "conversions": 0, "leads": 0, "cvr": 0.0, "revenue": 0.0, "epc": 0.0}
        ]),
        "conversions are approved non-lead conversions; leads apart (SPEC §3)"
    );
    let (_, mine) = bearer(&k.app, &aff, "/v1/stats?date_from=2026-03-08&date_to=2026-03-08").await;
    assert_eq!(
        mine["data"],
        json!([{"clicks": 3, "conversions": 1, "leads": 1, "cvr": 33.33, "revenue": 3.0, "epc": 1.0}]),
        "an affiliate's revenue is its payout"
    );
    let (_, one_offer) = bearer(
        &k.app,
        ADMIN_KEY,
        &format!("/v1/stats?date_from=2026-03-08&date_to=2026-03-08&offer_id=offer_{}", k.o2),
    )
    .await;
    assert_eq!(one_offer["data"][0]["clicks"], 1);
    for bad in [
        "date_to=2026-03-08",
        "date_from=2026-03-08",
        "date_from=08/03/2026&date_to=2026-03-08",
        "date_from=2026-03-08&date_to=2026-03-08&group_by=hour",
    ] {
        let (s, b) = bearer(&k.app, ADMIN_KEY, &format!("/v1/stats?{bad}")).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("INVALID_PARAMETER")), "{bad}");
    }

    let (_, all) = bearer(&k.app, ADMIN_KEY, "/v1/conversions?date_from=2026-03-08&date_to=2026-03-08").await;
    assert_eq!(all["meta"]["total"], 3);
    let times: Vec<&str> = all["data"].as_array().unwrap().iter().map(|c| c["created_at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    assert_eq!(
        bearer(&k.app, ADMIN_KEY, "/v1/conversions?date_from=2026-03-08&date_to=2026-03-08&status=approved").await.1["meta"]
            ["total"],
        2
    );
    let (_, own) = bearer(&k.app, &aff, "/v1/conversions?date_from=2026-03-08&date_to=2026-03-08").await;
    assert_eq!(own["meta"]["total"], 2);
    assert!(own["data"][0].get("revenue").is_none() && own["data"][0]["offer_id"] == format!("offer_{}", k.o1));
    assert_eq!(bearer(&k.app, &aff, "/v1/conversions?date_from=2026-03-08").await.0, StatusCode::BAD_REQUEST);
    let offers_only = k.app.key_for(k.a, &["read:offers"]).await;
    for path in
        ["/v1/stats?date_from=2026-03-08&date_to=2026-03-08", "/v1/conversions?date_from=2026-03-08&date_to=2026-03-08"]
    {
        let (s, b) = bearer(&k.app, &offers_only, path).await;
        assert_eq!((s, b["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("INSUFFICIENT_SCOPE")), "{path}");
    }
    let (s, b) = bearer(&k.app, "nope", "/v1/offers").await;
    assert_eq!(
        (s, b),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": "INVALID_API_KEY", "message": "The provided API key is invalid or has been revoked.", "status": 401}})
        )
    );
}

/// Each seed's own request examples, answered as documented (empty where the data is absent).
#[tokio::test]
async fn the_seeds_own_examples() {
    let k = known().await;
    let admin = [("x-api-key", ADMIN_KEY), ("x-user-id", "1")];
    let (s, b) = get(&k.app, "/api/v1.2/admin/offerStats/2026-05-21/2026-05-28/?user_id=123&affiliate_group_id=1&offer_id=456&country=RO&category=EXAMPLE&groupBy=date", &admin).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"data": [], "status": 200})));
    let (s, b) = get(&k.app, "/api/v2/offers?status=active&page=1&per_page=25", &[("x-api-key", ADMIN_KEY)]).await;
    assert_eq!(
        (s, b["pagination"].clone()),
        (StatusCode::OK, json!({"page": 1, "per_page": 25, "total": 2, "total_pages": 1}))
    );
    for body in [
        json!({"from": "2022-02-08 16:30:00", "to": "2022-02-08 16:45:00", "timezone_id": 90, "query": {"filters": [
            {"filter_id_value": "internal", "resource_type": "s1"}, {"filter_id_value": "Canada", "resource_type": "country"},
            {"filter_id_value": "United States", "resource_type": "country"}]}}),
        json!({"from": "2022-02-01 12:30:00", "to": "2022-02-01 13:00:00", "timezone_id": 90, "query": {"filters": [
            {"filter_id_value": "882", "resource_type": "offer"}, {"filter_id_value": "883", "resource_type": "offer"}]}}),
        json!({"from": "2022-02-01 12:30:00", "to": "2022-02-01 13:00:00", "timezone_id": 90, "query": {"filters": [
            {"filter_id_value": "test", "resource_type": "s3"}]}}),
    ] {
        let (s, b) = stream(&k.app, ADMIN_KEY, body).await;
        assert_eq!((s, b), (StatusCode::OK, json!({"clicks": []})));
    }
    let (s, b) = get(&k.app, &format!("/api/traffic-source?rest_key={ADMIN_KEY}"), &[]).await;
    assert_eq!(
        (s, b["status"].as_str(), b["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some("success"), Some(4))
    );
    let aff_key = k.app.key_for(k.a, &["read:offers", "read:stats", "read:conversions", "write:postback"]).await;
    let r = k.app.raw.post(format!("{}/v1/postbacks", k.app.base)).bearer_auth(&aff_key)
        .json(&json!({"url": "https://mytracker.com/postback?cid={click_id}&payout={payout}&geo={geo}", "offer_id": format!("offer_{}", k.o1), "event": "approved"}))
        .send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}
