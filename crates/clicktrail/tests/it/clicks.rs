//! The click path over real sockets: parameters, enrichment, uniqueness, every rejection and its
//! fallback, redirect modes, deep links, impressions, async JSON, CPC money, rollups.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{Duration, Utc};
use clicktrail_domain::click::Rejection;
use clicktrail_domain::offer::{DeviceType, OsFamily};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Auth, TestApp, offer_body};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const DESKTOP: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A small GeoIP database: 203.0.113.0/24 in the US (GeoIP2 layout), 198.51.100.0/24 in
/// Germany (the flat layout of the DB-IP npm packages).
pub fn geoip_fixture() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let mut writer = mmdb_writer::Writer::new("GeoIP2-City");
        let us = json!({
            "country": {"iso_code": "US", "names": {"en": "United States"}},
            "subdivisions": [{"iso_code": "CA", "names": {"en": "California"}}],
            "city": {"names": {"en": "Burbank"}},
            "isp": "T-Mobile USA", "connection_type": "Cellular"
        });
        writer.insert("203.0.113.0/24".parse::<ipnet::IpNet>().unwrap(), &us).unwrap();
        writer
            .insert(
                "198.51.100.0/24".parse::<ipnet::IpNet>().unwrap(),
                &json!({"country_code": "DE", "state1": "Berlin", "city": "Berlin"}),
            )
            .unwrap();
        let path = std::env::temp_dir().join(format!("clicktrail-geo-fixture-{}.mmdb", std::process::id()));
        std::fs::write(&path, writer.to_bytes().unwrap()).unwrap();
        path
    })
    .clone()
}

struct Net {
    app: TestApp,
    aff: i64,
}

async fn network() -> Net {
    let path = geoip_fixture();
    let app = TestApp::spawn_with(|s| s.geoip_db = Some(path)).await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    Net { app, aff }
}

fn headers(ip: &str, ua: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-forwarded-for", HeaderValue::from_str(ip).unwrap());
    h.insert("user-agent", HeaderValue::from_str(ua).unwrap());
    h
}

impl Net {
    async fn offer(&self, extra: Value) -> i64 {
        self.app.create_id("/api/offers", offer_body("O", extra)).await
    }

    async fn hit(&self, path: &str, h: HeaderMap) -> reqwest::Response {
        self.app.raw.get(format!("{}{path}", self.app.base)).headers(h).send().await.unwrap()
    }

    /// Clicks with `async=json` and returns the click id.
    async fn click_id(&self, path: &str, h: HeaderMap) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        let body: Value = self.hit(&format!("{path}{sep}async=json"), h).await.json().await.unwrap();
        body["transaction_id"].as_str().unwrap().to_owned()
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn every_parameter_lands_in_the_stored_click() {
    let n = network().await;
    let offer = n
        .offer(json!({
            "destination_url": "https://shop.example/l?cid={click_id}&tid={transaction_id}&o={offer_id}&a={affiliate_id}&s1={sub1}&s2={sub2}&s3={sub3}&s4={sub4}&s5={sub5}&src={source_id}&cr={creative_id}&c={country}",
            "creatives": [{"id": 4, "name": "B"}]
        }))
        .await;
    let mut h = headers("203.0.113.9", IPHONE);
    h.insert("referer", HeaderValue::from_static("https://pub.example/article"));
    h.insert("accept-language", HeaderValue::from_static("fr-CA,fr;q=0.9,en;q=0.8"));
    let path = format!(
        "/c/{offer}/{}?sub1=fb%20ads&sub2=b%26c&sub3=3&sub4=4&sub5=5&source_id=newsletter&creative_id=4&url_id=9&campaign=spring&__cc=summer&idfa=IDFA-X&gaid=GAID-Y&android_id=AID-Z&url=https%3A%2F%2Fevil.example%2F&utm_source=mail&utm_source=again",
        n.aff
    );
    let r = n.hit(&path, h).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let to = location(&r);
    let id = to.split("cid=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(
        to,
        format!(
            "https://shop.example/l?cid={id}&tid={id}&o={offer}&a={}&s1=fb+ads&s2=b%26c&s3=3&s4=4&s5=5&src=newsletter&cr=4&c=US",
            n.aff
        ),
        "macros are substituted and URL-encoded; the refused deep link is not followed"
    );
    assert!(
        cookie.starts_with(&format!("ct_{offer}={id};"))
            && cookie.contains("HttpOnly")
            && cookie.contains("Max-Age=2592000"),
        "{cookie}"
    );

    let c = n.app.stored_click(&id).await;
    assert_eq!((c.offer_id, c.affiliate_id), (offer, n.aff));
    assert_eq!(c.params.subs, ["fb ads", "b&c", "3", "4", "5"].map(String::from));
    assert_eq!((c.params.source_id.as_str(), c.params.creative_id, c.params.url_id), ("newsletter", Some(4), Some(9)));
    assert_eq!((c.params.campaign.as_str(), c.params.coupon_code.as_str()), ("spring", "summer"), "the coupon as sent");
    assert_eq!(
        (c.params.idfa.as_str(), c.params.google_ad_id.as_str(), c.params.android_id.as_str()),
        ("IDFA-X", "GAID-Y", "AID-Z")
    );
    assert_eq!(c.params.deep_link, "https://evil.example/");
    let sent: Vec<(String, String)> = [
        ("creative_id", "4"),
        ("url_id", "9"),
        ("campaign", "spring"),
        ("__cc", "summer"),
        ("url", "https://evil.example/"),
        ("utm_source", "mail"),
        ("utm_source", "again"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    assert_eq!(c.params.extra, sent, "the parameters as sent but sub-ids, source and ad ids");
    assert_eq!(c.ip.to_string(), "203.0.113.9", "X-Forwarded-For from a trusted proxy");
    assert_eq!((c.referer.as_str(), c.language.as_str()), ("https://pub.example/article", "fr"));
    assert_eq!(c.user_agent, IPHONE);
    assert_eq!(c.geo.country.map(|c| c.to_string()), Some("US".into()));
    assert_eq!(
        (c.geo.region.as_str(), c.geo.city.as_str(), c.geo.isp.as_str()),
        ("California", "Burbank", "T-Mobile USA")
    );
    assert_eq!(c.geo.connection_type, "Cellular");
    assert_eq!((c.device.device_type, c.device.os), (Some(DeviceType::Mobile), Some(OsFamily::Ios)));
    assert_eq!(
        (c.device.brand.as_str(), c.device.model.as_str(), c.device.browser.as_str()),
        ("Apple", "iPhone", "Safari")
    );
    assert!(c.device.is_mobile && !c.device.is_tablet);
    assert!(c.is_unique && !c.is_robot && !c.is_filter && c.rejection.is_none());
    assert!((Utc::now() - c.at) < Duration::seconds(30));

    let de = n.click_id(&format!("/c/{offer}/{}", n.aff), headers("198.51.100.20", DESKTOP)).await;
    let c = n.app.stored_click(&de).await;
    assert_eq!(
        (c.geo.country.map(|c| c.to_string()), c.geo.region.as_str()),
        (Some("DE".into()), "Berlin"),
        "the flat DB-IP layout"
    );
    assert_eq!(c.device.device_type, Some(DeviceType::Desktop));
}

#[tokio::test]
async fn unique_clicks_per_visitor_offer_and_affiliate() {
    let n = network().await;
    let offer = n.offer(json!({})).await;
    let other = n.offer(json!({})).await;
    let path = format!("/c/{offer}/{}", n.aff);
    let first = n.click_id(&path, headers("203.0.113.1", IPHONE)).await;
    let again = n.click_id(&path, headers("203.0.113.1", IPHONE)).await;
    let other_ua = n.click_id(&path, headers("203.0.113.1", DESKTOP)).await;
    let other_ip = n.click_id(&path, headers("203.0.113.2", IPHONE)).await;
    let other_offer = n.click_id(&format!("/c/{other}/{}", n.aff), headers("203.0.113.1", IPHONE)).await;
    assert_ne!(first, again, "every click gets its own id");
    for (id, unique) in [(&first, true), (&again, false), (&other_ua, true), (&other_ip, true), (&other_offer, true)] {
        assert_eq!(n.app.stored_click(id).await.is_unique, unique, "{id}");
    }
}

#[tokio::test]
async fn every_rejection_is_recorded_and_sent_down_the_fallback_chain() {
    let n = network().await;
    n.app.patch("/api/network", ADMIN_KEY, json!({"fallback_url": "https://network.example/fallback"})).await;
    let fb = json!({"fallback_url": "https://offer.example/fallback"});
    let merge = |extra: Value| {
        let mut body = fb.clone();
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let paused = n.offer(merge(json!({"status": "paused"}))).await;
    let archived = n.offer(merge(json!({"status": "archived"}))).await;
    let private = n.offer(merge(json!({"visibility": "private"}))).await;
    let approval = n.offer(merge(json!({"visibility": "require_approval"}))).await;
    let de_only = n.offer(merge(json!({"geo": ["DE"]}))).await;
    let mobile_only = n.offer(merge(json!({"targeting": {"device_types": ["mobile"], "os": ["ios"]}}))).await;
    let capped = n.offer(merge(json!({"caps": {"per_affiliate": {"daily_clicks": 2}}}))).await;
    let bots_filtered = n.offer(merge(json!({"filter_bots": true}))).await;
    let plain = n.offer(json!({})).await;
    let suspended = n.app.create_id("/api/affiliates", json!({"name": "S", "status": "suspended"})).await;
    let aff = n.aff;
    let us_iphone = || headers("203.0.113.5", IPHONE);
    let cases: Vec<(String, HeaderMap, Rejection, &str)> = vec![
        (format!("/c/99999/{aff}"), us_iphone(), Rejection::UnknownOffer, "https://network.example/fallback"),
        (format!("/c/abc/{aff}"), us_iphone(), Rejection::UnknownOffer, "https://network.example/fallback"),
        (format!("/c/{plain}/424242"), us_iphone(), Rejection::UnknownAffiliate, "https://network.example/fallback"),
        (format!("/c/{paused}/{aff}"), us_iphone(), Rejection::OfferPaused, "https://offer.example/fallback"),
        (format!("/c/{archived}/{aff}"), us_iphone(), Rejection::OfferArchived, "https://offer.example/fallback"),
        (
            format!("/c/{plain}/{suspended}"),
            us_iphone(),
            Rejection::AffiliateInactive,
            "https://network.example/fallback",
        ),
        (format!("/c/{private}/{aff}"), us_iphone(), Rejection::NoAccess, "https://offer.example/fallback"),
        (format!("/c/{approval}/{aff}"), us_iphone(), Rejection::NoAccess, "https://offer.example/fallback"),
        (format!("/c/{de_only}/{aff}"), us_iphone(), Rejection::GeoNotTargeted, "https://offer.example/fallback"),
        (
            format!("/c/{de_only}/{aff}"),
            headers("192.0.2.1", IPHONE),
            Rejection::GeoNotTargeted,
            "https://offer.example/fallback",
        ),
        (
            format!("/c/{mobile_only}/{aff}"),
            headers("203.0.113.5", DESKTOP),
            Rejection::DeviceNotTargeted,
            "https://offer.example/fallback",
        ),
        (
            format!("/c/{bots_filtered}/{aff}"),
            headers("203.0.113.5", "curl/8.5.0"),
            Rejection::FilteredBot,
            "https://offer.example/fallback",
        ),
        (
            format!("/c/{bots_filtered}/{aff}"),
            headers("203.0.113.5", ""),
            Rejection::FilteredBot,
            "https://offer.example/fallback",
        ),
    ];
    for (path, h, reason, fallback) in cases {
        let r = n.hit(&path, h.clone()).await;
        assert_eq!((r.status(), location(&r).as_str()), (StatusCode::FOUND, fallback), "{path} ({reason:?})");
        assert!(r.headers().get("set-cookie").is_none(), "a refused click sets no cookie");
        let body: Value = n.hit(&format!("{path}?async=json"), h).await.json().await.unwrap();
        assert_eq!(
            (body["error_code"].as_u64(), body["error_message"].as_str()),
            (Some(u64::from(reason.code())), Some(reason.message()))
        );
        let stored = n.app.stored_click(body["transaction_id"].as_str().unwrap()).await;
        assert_eq!(stored.rejection, Some(reason), "{path}");
        if reason == Rejection::FilteredBot {
            assert!(stored.is_robot && stored.is_filter);
        }
    }
    // The cap: two clicks pass, the third is refused; other affiliates are not affected.
    let path = format!("/c/{capped}/{aff}");
    for expect in [None, None, Some(Rejection::CapReached), Some(Rejection::CapReached)] {
        let id = n.click_id(&path, headers("203.0.113.7", IPHONE)).await;
        assert_eq!(n.app.stored_click(&id).await.rejection, expect);
    }
    let r = n.hit(&path, headers("203.0.113.7", IPHONE)).await;
    assert_eq!(location(&r), "https://offer.example/fallback");
    let other = n.app.create_id("/api/affiliates", json!({"name": "Other"})).await;
    let id = n.click_id(&format!("/c/{capped}/{other}"), headers("203.0.113.7", IPHONE)).await;
    assert_eq!(n.app.stored_click(&id).await.rejection, None, "the cap is per affiliate");
    // A bot on an offer that does not filter bots is marked but sent on.
    let id = n
        .click_id(
            &format!("/c/{plain}/{aff}"),
            headers("203.0.113.5", "Googlebot/2.1 (+http://www.google.com/bot.html)"),
        )
        .await;
    let bot = n.app.stored_click(&id).await;
    assert!(bot.is_robot && !bot.is_filter && bot.rejection.is_none());
    // Without any fallback: a short 404 page.
    n.app.patch("/api/network", ADMIN_KEY, json!({"fallback_url": null})).await;
    let r = n.hit(&format!("/c/99999/{aff}"), us_iphone()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("not active"));
    let metrics = reqwest::get(format!("{}/metrics", n.app.base)).await.unwrap().text().await.unwrap();
    for label in ["geo_not_targeted", "cap_reached", "filtered_bot", "unknown_offer", "accepted"] {
        assert!(metrics.contains(&format!("clicktrail_clicks_total{{outcome=\"{label}\"}}")), "{label}");
    }
}

#[tokio::test]
async fn redirect_modes_and_the_signed_hop() {
    let n = network().await;
    let meta = n
        .offer(json!({"redirect_mode": "meta_refresh", "destination_url": "https://shop.example/?a=1&b={sub1}"}))
        .await;
    let double = n
        .offer(json!({"redirect_mode": "double_meta_refresh", "destination_url": "https://shop.example/d?x={sub1}"}))
        .await;
    let r = n.hit(&format!("/c/{meta}/{}?sub1=%22%3E%3Cscript%3E", n.aff), headers("203.0.113.5", IPHONE)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("http-equiv=\"refresh\"") && page.contains("https://shop.example/?a=1&amp;b=%22%3E%3Cscript%3E"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "values are encoded and escaped");
    let r = n.hit(&format!("/c/{double}/{}?sub1=z", n.aff), headers("203.0.113.5", IPHONE)).await;
    let page = r.text().await.unwrap();
    let hop = page.split("url=").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(hop.starts_with("/h?u="), "{page}");
    let second = n.app.raw.get(format!("{}{hop}", n.app.base)).send().await.unwrap().text().await.unwrap();
    assert!(second.contains("url=https://shop.example/d?x=z") && second.contains("no-referrer"), "{second}");
    let forged = n.app.raw.get(format!("{}/h?u=https%3A%2F%2Fevil.example%2F&s=00", n.app.base)).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND, "the hop is no open redirect");
    let tampered = hop.replace("shop.example", "evil.example");
    let r = n.app.raw.get(format!("{}{tampered}", n.app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deep_links_only_to_allowed_hosts() {
    let n = network().await;
    let same_host = n.offer(json!({"deep_links": {"enabled": true}})).await;
    let listed = n.offer(json!({"deep_links": {"enabled": true, "allowed_hosts": ["*.brand.example"]}})).await;
    let off = n.offer(json!({})).await;
    let enc = |u: &str| url::form_urlencoded::byte_serialize(u.as_bytes()).collect::<String>();
    let cases = [
        (same_host, "https://shop.example/product/1?x=2", true),
        (same_host, "https://evil.example/", false),
        (same_host, "//evil.example/", false),
        (same_host, "javascript:alert(1)", false),
        (listed, "https://m.brand.example/p", true),
        (listed, "https://brand.example.evil.example/", false),
        (off, "https://shop.example/product/1", false),
    ];
    for (offer, link, followed) in cases {
        let r = n.hit(&format!("/c/{offer}/{}?url={}", n.aff, enc(link)), headers("203.0.113.5", IPHONE)).await;
        let to = location(&r);
        if followed {
            assert_eq!(to, link);
        } else {
            assert!(to.starts_with("https://shop.example/land?cid="), "{link} must not be followed: {to}");
        }
    }
}

#[tokio::test]
async fn impressions_answer_a_pixel_and_are_counted() {
    let n = network().await;
    let offer = n.offer(json!({"payout_type": "cpm", "payout": 1.5, "revenue_type": "cpm", "revenue": 2.25})).await;
    let r = n.hit(&format!("/i/{offer}/{}?sub1=a&source_id=newsletter", n.aff), headers("203.0.113.5", IPHONE)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/gif");
    let gif = r.bytes().await.unwrap();
    assert!(gif.starts_with(b"GIF89a") && gif.len() < 64);
    let unknown = n.hit(&format!("/i/999/{}", n.aff), headers("203.0.113.5", IPHONE)).await;
    assert_eq!(unknown.status(), StatusCode::OK, "the pixel always answers");
    let events = n.app.tracker.clone();
    let mut rows = Vec::new();
    for _ in 0..200 {
        rows = events_rollups(&n.app).await;
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    drop(events);
    assert_eq!(rows.iter().map(|r| r.impressions).sum::<u64>(), 1, "impressions on unknown offers are not counted");
    assert_eq!((rows[0].offer_id, rows[0].source_id.as_str(), rows[0].country.as_str()), (offer, "newsletter", "US"));
    assert_eq!(
        (rows[0].payout.to_string(), rows[0].revenue.to_string()),
        ("0.0015".to_owned(), "0.00225".to_owned()),
        "cpm: a thousandth per impression"
    );
}

async fn events_rollups(app: &TestApp) -> Vec<clicktrail_store::RollupRow> {
    let now = Utc::now();
    app.tracker.events().rollups(now - Duration::hours(1), now + Duration::hours(1)).await.unwrap()
}

#[tokio::test]
async fn async_json_and_cpc_money_and_rollups() {
    let n = network().await;
    let cpc = n.offer(json!({"payout_type": "cpc", "payout": 0.05, "revenue": 0.12, "access": [{"affiliate_id": n.aff, "payout": 0.07}]})).await;
    let r = n.hit(&format!("/c/{cpc}/{}?async=json", n.aff), headers("203.0.113.5", IPHONE)).await;
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    assert_eq!((body["oid"].as_i64(), body["aid"].as_i64()), (Some(cpc), Some(n.aff)));
    let first = n.app.stored_click(body["transaction_id"].as_str().unwrap()).await;
    assert_eq!(
        (first.payout.to_string(), first.revenue.to_string()),
        ("0.07".into(), "0.12".into()),
        "the affiliate's override"
    );
    let again = n.click_id(&format!("/c/{cpc}/{}", n.aff), headers("203.0.113.5", IPHONE)).await;
    let second = n.app.stored_click(&again).await;
    assert_eq!(second.payout.to_string(), "0", "cpc pays unique clicks only");
    for i in 0..3 {
        n.click_id(&format!("/c/{cpc}/{}", n.aff), headers(&format!("203.0.113.{}", 20 + i), IPHONE)).await;
    }
    let mut total = (0, 0, rust_decimal::Decimal::ZERO);
    for _ in 0..200 {
        let rows = events_rollups(&n.app).await;
        total = rows.iter().fold((0, 0, rust_decimal::Decimal::ZERO), |(c, u, p), r| {
            (c + r.clicks, u + r.unique_clicks, p + r.payout)
        });
        if total.0 == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!((total.0, total.1, total.2.to_string()), (5, 4, "0.28".to_owned()), "rollups sum exactly");
}

#[tokio::test]
async fn forwarded_for_is_ignored_without_trusted_proxies() {
    let path = geoip_fixture();
    let app = TestApp::spawn_with(|s| {
        s.geoip_db = Some(path);
        s.trusted_proxies = Vec::new();
    })
    .await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = app.create_id("/api/offers", offer_body("O", json!({}))).await;
    let n = Net { app, aff };
    let id = n.click_id(&format!("/c/{offer}/{aff}"), headers("203.0.113.9", IPHONE)).await;
    assert_eq!(n.app.stored_click(&id).await.ip.to_string(), "127.0.0.1");
}

#[tokio::test]
async fn offer_changes_reach_the_click_path_at_once() {
    let n = network().await;
    let offer = n.offer(json!({})).await;
    let path = format!("/c/{offer}/{}", n.aff);
    assert!(location(&n.hit(&path, headers("203.0.113.5", IPHONE)).await).starts_with("https://shop.example/"));
    n.app
        .patch(
            &format!("/api/offers/{offer}"),
            ADMIN_KEY,
            json!({"destination_url": "https://new.example/?c={click_id}"}),
        )
        .await;
    assert!(location(&n.hit(&path, headers("203.0.113.5", IPHONE)).await).starts_with("https://new.example/"));
    n.app.patch(&format!("/api/affiliates/{}", n.aff), ADMIN_KEY, json!({"status": "suspended"})).await;
    let body: Value = n.hit(&format!("{path}?async=json"), headers("203.0.113.5", IPHONE)).await.json().await.unwrap();
    assert_eq!(body["error_code"], Rejection::AffiliateInactive.code());
}

/// Caps and unique windows on Redis outlive a Redis that restarts empty: the server sees the
/// counters' generation change, seeds them again from the events it stored, and neither lets
/// a capped offer past its cap nor counts a repeat visitor as new — and seeding twice (another
/// node doing it too) counts nothing twice.
#[tokio::test]
async fn caps_and_unique_windows_outlive_a_redis_restart() {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let prefix = format!("ct-restart-{}-{}", std::process::id(), Utc::now().timestamp_micros());
    let (u, p) = (url.clone(), prefix.clone());
    let app = TestApp::spawn_with(move |s| {
        s.redis_url = Some(clicktrail::settings::Secret::new(u));
        s.redis_prefix = p;
    })
    .await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let capped =
        app.create_id("/api/offers", offer_body("Capped", json!({"caps": {"offer": {"daily_clicks": 5}}}))).await;
    let click = |ip: &'static str| {
        let url = format!("{}/c/{capped}/{aff}?async=json", app.base);
        let raw = app.raw.clone();
        async move {
            let reply = raw.get(url).header("x-forwarded-for", ip).header("user-agent", DESKTOP).send().await.unwrap();
            reply.json::<Value>().await.unwrap()
        }
    };
    for ip in ["198.18.0.1", "198.18.0.2", "198.18.0.3"] {
        assert!(click(ip).await.get("error_code").is_none(), "under the cap");
    }
    // Wait for the writer, then lose everything Redis held.
    let stored = app.stored_click(click("198.18.0.3").await["transaction_id"].as_str().unwrap()).await;
    assert!(!stored.is_unique, "a repeat visitor inside the window");
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut conn).await.unwrap();
    assert!(!keys.is_empty(), "the server keeps its counters in Redis");
    let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.unwrap();
    // Every second the server checks the generation; give it two.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let again = app.stored_click(click("198.18.0.1").await["transaction_id"].as_str().unwrap()).await;
    assert!(!again.is_unique, "the window was seeded again from the stored clicks");
    assert!(again.rejection.is_none(), "the fifth click fits the cap of 5");
    let over = click("198.18.0.9").await;
    assert_eq!(over["error_code"], json!(Rejection::CapReached.code()), "the sixth is over the cap: {over}");
    let _: i64 = redis::cmd("DEL")
        .arg(redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async::<Vec<String>>(&mut conn).await.unwrap())
        .query_async(&mut conn)
        .await
        .unwrap_or(0);
}

/// Redis goes away under a running server (a private `redis-server`, killed): clicks on an
/// uncapped offer are still answered and stored (counted as not unique), a capped offer's
/// clicks wait for the counters (503, never admitted past the cap), and `/readyz` says
/// `degraded` naming the counters while still taking traffic.
#[tokio::test]
async fn clicks_outlive_a_redis_outage_and_caps_do_not() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut redis = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server (Debian's redis-server package)");
    let url = format!("redis://127.0.0.1:{port}/0");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let app = TestApp::spawn_with(move |s| {
        s.redis_url = Some(clicktrail::settings::Secret::new(url));
        s.redis_prefix = "ct-outage".into();
    })
    .await;
    let aff = app.create_id("/api/affiliates", json!({"name": "Pub"})).await;
    let open = app.create_id("/api/offers", offer_body("Open", json!({}))).await;
    let capped =
        app.create_id("/api/offers", offer_body("Capped", json!({"caps": {"offer": {"daily_clicks": 5}}}))).await;
    let click = |offer: i64| {
        let url = format!("{}/c/{offer}/{aff}?async=json", app.base);
        let raw = app.raw.clone();
        async move {
            let reply = raw
                .get(url)
                .header("x-forwarded-for", "198.18.0.7")
                .header("user-agent", DESKTOP)
                .send()
                .await
                .unwrap();
            (reply.status(), reply.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    assert_eq!(click(capped).await.0, StatusCode::OK);
    redis.kill().unwrap();
    redis.wait().unwrap();
    let (status, body) = click(open).await;
    assert_eq!(status, StatusCode::OK, "an uncapped offer's click is answered without Redis: {body}");
    let stored = app.stored_click(body["transaction_id"].as_str().unwrap()).await;
    assert!(!stored.is_unique && stored.rejection.is_none(), "stored, accepted, not counted as unique");
    let (status, body) = click(capped).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "a capped offer's click waits for its counters: {body}");
    let ready = app.call(Method::GET, "/readyz", Auth::None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "still taking clicks: {}", ready.body);
    assert_eq!(ready.body["status"], "degraded", "{}", ready.body);
    assert_eq!(ready.body["checks"]["counters"], "unavailable", "{}", ready.body);
}
