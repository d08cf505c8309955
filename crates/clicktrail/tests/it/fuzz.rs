//! A bounded fuzz pass over every report surface of the real server (issue 10, item 8): time
//! expressions at the ends of `i64`, impossible dates, zones, pages, sizes, group-bys, statuses
//! and arbitrary text in each parameter of the native reports and the five dialects. Every
//! answer must be a 2xx or 4xx in the surface's own format — never a 5xx, never a dropped
//! connection (a panicking handler) — and the server must still answer afterwards.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, offer_body};

/// A value a hostile caller would try in a time, number or list parameter.
fn value() -> impl Strategy<Value = String> {
    let unit =
        prop::sample::select(vec!["seconds", "minutes", "hours", "days", "weeks", "months", "years", "weekdays"]);
    prop_oneof![
        (any::<i64>(), unit.clone()).prop_map(|(n, u)| format!("{n} {u}")),
        (prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0]), unit).prop_map(|(n, u)| format!("{n} {u}")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("{n}{n}")),
        (any::<i32>(), any::<i32>(), any::<i32>()).prop_map(|(y, m, d)| format!("{y}-{m}-{d}")),
        any::<i64>().prop_map(|n| format!("@{n}")),
        prop::sample::select(vec![
            "today",
            "yesterday noon",
            "first day of last month",
            "next monday",
            "2026-02-30",
            "9999-12-31",
            "0000-00-00",
            "-0001-01-01",
            "262143-12-31",
            "24:60:60",
            "UTC",
            "Mars/Olympus",
            "",
            " ",
            ",",
            ",,",
            "-1",
            "0",
            "1e9",
            "NaN",
            "null",
            "[]",
            "{}",
            "%00",
            "\u{0}",
            "'; drop table clicks;--",
            "hour,date,offer",
            "affiliate,country,source,sub1,sub2,sub3,sub4,sub5,device,os",
            "approved,pending,rejected",
            "all",
            "csv",
            "json",
            "xml",
            "US",
            "us,ca",
            "ZZ",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,40}",
    ]
}

/// One request: a surface and its parameters.
#[derive(Debug, Clone)]
enum Probe {
    Native(Vec<(&'static str, String)>),
    DialectA(String, String, Vec<(&'static str, String)>),
    DialectB(Vec<(&'static str, String)>),
    DialectC(Vec<(&'static str, String)>),
    DialectD(Value),
    DialectE(&'static str, Vec<(&'static str, String)>),
    Conversions(Vec<(&'static str, String)>),
}

fn params(names: &'static [&'static str]) -> impl Strategy<Value = Vec<(&'static str, String)>> {
    prop::collection::vec((prop::sample::select(names), value()), 0..=5)
}

fn probe() -> impl Strategy<Value = Probe> {
    const NATIVE: &[&str] = &[
        "from",
        "to",
        "timezone",
        "group_by",
        "status",
        "format",
        "offer_id",
        "affiliate_id",
        "country",
        "sub1",
        "device",
        "os",
        "source_id",
        "page",
        "per_page",
    ];
    const A: &[&str] = &["timezone", "offer_id", "affiliate_id", "country", "advertiser_id"];
    const B: &[&str] = &["date_from", "date_to", "page", "per_page", "status", "offer", "country", "device_type"];
    const C: &[&str] = &["page", "per_page", "status", "country", "category", "search"];
    const E: &[&str] = &["date_from", "date_to", "group_by", "page", "per_page", "status", "geo", "sort", "offer_id"];
    const CONV: &[&str] = &["from", "to", "status", "page", "per_page", "offer_id", "affiliate_id", "timezone"];
    prop_oneof![
        params(NATIVE).prop_map(Probe::Native),
        (value(), value(), params(A)).prop_map(|(s, e, p)| Probe::DialectA(s, e, p)),
        params(B).prop_map(Probe::DialectB),
        params(C).prop_map(Probe::DialectC),
        (value(), value(), value(), any::<i64>()).prop_map(|(from, to, zone, id)| {
            Probe::DialectD(json!({"from": from, "to": to, "timezone_id": id, "query": {"filters": [{"resource_type": zone, "filter_id_value": to}]}}))
        }),
        (prop::sample::select(vec!["/v1/stats", "/v1/offers", "/v1/conversions", "/v1/postbacks"]), params(E))
            .prop_map(|(path, p)| Probe::DialectE(path, p)),
        params(CONV).prop_map(Probe::Conversions),
    ]
}

fn query(pairs: &[(&str, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
        .finish()
}

fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// Sends one probe; the status and the body as text.
async fn send(app: &TestApp, probe: &Probe) -> (StatusCode, String, String) {
    let base = &app.base;
    let request = match probe {
        Probe::Native(p) => app.raw.get(format!("{base}/api/reports?{}", query(p))).bearer_auth(ADMIN_KEY),
        Probe::DialectA(start, end, p) => app
            .raw
            .get(format!("{base}/api/v1.2/admin/offerStats/{}/{}/?{}", segment(start), segment(end), query(p)))
            .header("x-api-key", ADMIN_KEY)
            .header("x-user-id", "1"),
        Probe::DialectB(p) => app.raw.get(format!("{base}/api/traffic-source?rest_key={ADMIN_KEY}&{}", query(p))),
        Probe::DialectC(p) => app.raw.get(format!("{base}/api/v2/offers?{}", query(p))).header("x-api-key", ADMIN_KEY),
        Probe::DialectD(body) => app
            .raw
            .post(format!("{base}/v1/affiliates/reporting/clicks/stream"))
            .header("x-eflow-api-key", ADMIN_KEY)
            .json(body),
        Probe::DialectE(path, p) => app.raw.get(format!("{base}{path}?{}", query(p))).bearer_auth(ADMIN_KEY),
        Probe::Conversions(p) => app.raw.get(format!("{base}/api/conversions?{}", query(p))).bearer_auth(ADMIN_KEY),
    };
    let response = request.send().await.unwrap_or_else(|e| panic!("{probe:?}: the connection failed: {e:?}"));
    let status = response.status();
    let kind = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, kind, response.text().await.unwrap_or_else(|e| panic!("{probe:?}: the body failed: {e}")))
}

#[tokio::test]
async fn fuzzed_report_parameters_get_2xx_or_4xx_in_the_surface_format() {
    let app = TestApp::spawn().await;
    let offer = app.create_id("/api/offers", offer_body("Fuzzed", json!({}))).await;
    let affiliate = app.create_id("/api/affiliates", json!({"name": "Fuzz affiliate"})).await;
    let click = app.raw.get(format!("{}/c/{offer}/{affiliate}?sub1=x", app.base)).send().await.unwrap();
    assert!(click.status().is_redirection() || click.status().is_success(), "{}", click.status());

    // A fixed seed keeps CI repeatable; `FUZZ_CASES` and `FUZZ_SEED` widen a run by hand.
    let cases: u32 = std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500);
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_261_202);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = probe();
    let pair = |k: &'static str, v: &str| (k, v.to_owned());
    // The extremes every run tries first: a century of hours, the ends of i64 as relative times.
    let fixed = [
        Probe::Native(vec![pair("group_by", "hour,date"), pair("from", "1970-01-01"), pair("to", "+9999999 days")]),
        Probe::Native(vec![pair("from", "-9223372036854775808 seconds"), pair("to", "9223372036854775807 weeks")]),
        Probe::DialectA("@-9223372036854775808".into(), "-9223372036854775808 hours".into(), vec![]),
        Probe::DialectE(
            "/v1/stats",
            vec![pair("date_from", "1970-01-01"), pair("date_to", "9999-12-31"), pair("group_by", "date")],
        ),
        Probe::Conversions(vec![pair("page", &u64::MAX.to_string()), pair("per_page", "100")]),
        Probe::DialectE("/v1/conversions", vec![pair("page", &u64::MAX.to_string())]),
    ];
    let mut seen = std::collections::BTreeMap::<u16, u32>::new();
    let generated = (0..cases).map(|_| strategy.new_tree(&mut runner).expect("a probe").current());
    for probe in fixed.into_iter().chain(generated) {
        let started = std::time::Instant::now();
        let (status, kind, body) = send(&app, &probe).await;
        // A range of centuries or a page past the end costs no more than an ordinary report.
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "{probe:?} took {:?}", started.elapsed());
        assert!(status.is_success() || status.is_client_error(), "{probe:?} answered {status}: {body}");
        if kind.starts_with("application/json") {
            let parsed: Result<Value, _> = serde_json::from_str(&body);
            assert!(parsed.is_ok(), "{probe:?}: not JSON: {body}");
        } else {
            assert!(kind.starts_with("text/csv"), "{probe:?}: content type {kind}: {body}");
        }
        *seen.entry(status.as_u16()).or_default() += 1;
    }
    // Both kinds of answer were exercised, and the server still works.
    assert!(seen.get(&200).is_some_and(|n| *n > 10) && seen.get(&400).is_some_and(|n| *n > 10), "{seen:?}");
    let health = app.raw.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
