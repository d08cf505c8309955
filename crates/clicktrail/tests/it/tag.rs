//! Tracking in a real browser across two sites: the tracking server on `127.0.0.1:PORT` and an
//! advertiser's shop served here on `localhost:OTHER`, which the browser treats as another
//! site. A visitor clicks a tracking link, lands on the shop, later buys; the sale must reach
//! the right click and affiliate and fire the affiliate's postback — with the JavaScript tag,
//! with the image pixel, and with the tag in a browser that blocks third-party cookies (where
//! the pixel alone finds nothing). Headless Chromium as in [`crate::browser`]; never skipped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use axum::routing::get;
use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser::{Browser, ThirdPartyCookies};
use crate::helpers::{ADMIN_KEY, TestApp, offer_body};
use crate::receiver::Receiver;

/// The advertiser's site: a landing page (with or without the tag), thank-you pages that
/// report the sale by the tag or by the pixel, and a page linked to directly.
struct Shop {
    base: String,
    /// The query of every landing-page visit, in order.
    landings: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct ShopState {
    tracker: String,
    offer: i64,
    affiliate: i64,
    landings: Arc<Mutex<Vec<String>>>,
}

async fn page(State(s): State<ShopState>, Path(name): Path<String>, RawQuery(q): RawQuery) -> Html<String> {
    let tag = format!("<script src=\"{}/js/clicktrail.js\"></script>", s.tracker);
    let order = url::form_urlencoded::parse(q.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "order")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (offer, affiliate, tracker) = (s.offer, s.affiliate, &s.tracker);
    let body = match name.as_str() {
        "land" => {
            s.landings.lock().unwrap().push(q.unwrap_or_default());
            format!("{tag}<h1 id=\"landed\">Summer shoes</h1>")
        }
        "land-plain" => {
            s.landings.lock().unwrap().push(q.unwrap_or_default());
            "<h1 id=\"landed\">Summer shoes</h1>".to_owned()
        }
        "thanks-tag" => format!(
            "{tag}<pre id=\"out\"></pre><script>clicktrail.conversion({{offer_id: {offer}, amount: \"49.90\", \
             txid: \"{order}\", payout: \"999\"}}).then(function (r) {{ document.getElementById(\"out\").textContent = \
             JSON.stringify(r); }});</script>"
        ),
        "thanks-pixel" => format!(
            "<img id=\"px\" src=\"{tracker}/p?offer_id={offer}&amp;amount=19.90&amp;txid={order}\" width=\"1\" \
             height=\"1\" alt=\"\"><p id=\"out\">thanks</p>"
        ),
        "direct" => format!(
            "{tag}<pre id=\"out\"></pre><script>clicktrail.click({{offer_id: {offer}, affiliate_id: {affiliate}, \
             sub1: \"direct\"}}).then(function (r) {{ document.getElementById(\"out\").textContent = JSON.stringify(r); \
             }});</script>"
        ),
        _ => "<p>no such page</p>".to_owned(),
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shop</title></head><body>{body}</body></html>"
    ))
}

/// A network on the tracking server with an affiliate whose tracker hears of every conversion,
/// and an offer whose destination is the shop.
struct World {
    app: TestApp,
    rx: Receiver,
    shop: Shop,
    offer: i64,
    aff: i64,
}

async fn world(landing: &str) -> World {
    let app = TestApp::spawn_with(|s| {
        s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    // Links and cookies for the tracking domain as browsers see it: loopback is a secure
    // context, so the click cookie is `SameSite=None; Secure` as on an HTTPS domain.
    let patched = app.patch("/api/network", ADMIN_KEY, json!({"tracking_base_url": app.base})).await;
    assert_eq!(patched.status, reqwest::StatusCode::OK, "{}", patched.body);
    let rx = Receiver::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let base = format!("http://localhost:{port}");
    let aff = app.create_id("/api/affiliates", json!({"name": "Blue Media", "email": "aff@example.com"})).await;
    let offer = app
        .create_id(
            "/api/offers",
            offer_body("Summer shoes", json!({"destination_url": format!("{base}/{landing}?click_id={{click_id}}")})),
        )
        .await;
    app.create(
        "/api/postbacks",
        json!({"affiliate_id": aff, "url": rx.url("/pb?cid={click_id}&sub1={sub1}&payout={payout}")}),
    )
    .await;
    app.state.configuration_changed().await;
    let landings = Arc::new(Mutex::new(Vec::new()));
    let state = ShopState { tracker: app.base.clone(), offer, affiliate: aff, landings: landings.clone() };
    let router = Router::new().route("/{page}", get(page)).with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    World { app, rx, shop: Shop { base, landings }, offer, aff }
}

impl World {
    /// Follows the affiliate's tracking link in the browser onto the shop; the click id the
    /// redirect handed the landing page.
    async fn click_through(&self, b: &Browser) -> String {
        b.client.goto(&format!("{}/c/{}/{}?sub1=summer", self.app.base, self.offer, self.aff)).await.unwrap();
        b.client.wait().for_element(Locator::Id("landed")).await.unwrap();
        let url = b.client.current_url().await.unwrap();
        assert!(url.as_str().starts_with(&self.shop.base), "the redirect lands on the shop: {url}");
        let query = self.shop.landings.lock().unwrap().last().cloned().unwrap();
        let id = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "click_id").unwrap().1.into_owned();
        assert!(!id.is_empty());
        id
    }

    /// The conversion recorded for the order, once it is there.
    async fn conversion(&self, txid: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let list = self.app.get(&format!("/api/conversions?offer_id={}", self.offer), ADMIN_KEY).await.body;
            if let Some(c) = list["data"].as_array().unwrap().iter().find(|c| c["txid"] == txid) {
                return c.clone();
            }
            assert!(Instant::now() < deadline, "no conversion for order {txid}: {list}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The affiliate's postback for the click, once it has arrived.
    async fn postback_for(&self, click_id: &str) -> crate::receiver::Received {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(r) = self.rx.received().into_iter().find(|r| r.param("cid").as_deref() == Some(click_id)) {
                return r;
            }
            assert!(Instant::now() < deadline, "no postback for click {click_id}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The order's conversion is the click's, the affiliate's, and its postback has fired.
    async fn assert_attributed(&self, txid: &str, click_id: &str, sub1: &str) {
        let c = self.conversion(txid).await;
        assert_eq!(c["click_id"], click_id, "{c}");
        assert_eq!(c["affiliate_id"], self.aff, "{c}");
        let pb = self.postback_for(click_id).await;
        assert_eq!(pb.param("sub1").as_deref(), Some(sub1), "the postback names the click's sub-id");
        assert_eq!(pb.param("payout").as_deref(), Some("2.5"), "and the offer's payout");
    }
}

/// What the page's script wrote into `#out`, once it has.
async fn out(b: &Browser) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = b.client.find(Locator::Id("out")).await.unwrap().text().await.unwrap();
        if !text.is_empty() {
            return serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        assert!(Instant::now() < deadline, "the page's script answered nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_tag_keeps_the_click_id_first_party_and_reports_the_sale() {
    let w = world("land").await;
    let b = Browser::start_with(&w.app, ThirdPartyCookies::Allowed).await;
    let id = w.click_through(&b).await;
    // The tag kept the id in the shop's own cookie (and localStorage).
    let kept = b.client.execute("return clicktrail.clickId()", vec![]).await.unwrap();
    assert_eq!(kept, json!(id));
    let cookie = b.client.get_named_cookie("_ct_click").await.unwrap();
    assert_eq!(cookie.value(), id);
    // Another page, later: the sale, with a payout the offer does not let the page set.
    b.client.goto(&format!("{}/thanks-tag?order=TAG-1", w.shop.base)).await.unwrap();
    let answer = out(&b).await;
    assert_eq!(answer["status"], "approved", "{answer}");
    assert!(answer.get("payout").is_none() && answer.get("revenue").is_none(), "a page never reads money: {answer}");
    w.assert_attributed("TAG-1", &id, "summer").await;
    let c = w.conversion("TAG-1").await;
    assert_eq!(c["payout"], json!(2.5), "the offer's payout, not the page's: {c}");

    // Traffic linked straight to the shop: the tag records the click itself.
    b.client.goto(&format!("{}/direct", w.shop.base)).await.unwrap();
    let direct = out(&b).await;
    let direct_id = direct["click_id"].as_str().unwrap().to_owned();
    assert_ne!(direct_id, id);
    assert_eq!(direct["error_code"], 0, "{direct}");
    let click = w.app.stored_click(&direct_id).await;
    assert_eq!(click.params.subs[0], "direct");
    b.client.goto(&format!("{}/thanks-tag?order=TAG-2", w.shop.base)).await.unwrap();
    assert_eq!(out(&b).await["status"], "approved");
    w.assert_attributed("TAG-2", &direct_id, "direct").await;
    b.close().await;
}

#[tokio::test]
async fn the_image_pixel_carries_the_click_cookie_where_third_party_cookies_are_allowed() {
    let w = world("land-plain").await;
    let b = Browser::start_with(&w.app, ThirdPartyCookies::Allowed).await;
    let id = w.click_through(&b).await;
    b.client.goto(&format!("{}/thanks-pixel?order=PX-1", w.shop.base)).await.unwrap();
    b.client.wait().for_element(Locator::Id("out")).await.unwrap();
    w.assert_attributed("PX-1", &id, "summer").await;
    b.close().await;
}

#[tokio::test]
async fn the_tag_still_reports_the_sale_when_third_party_cookies_are_blocked() {
    let w = world("land").await;
    let b = Browser::start_with(&w.app, ThirdPartyCookies::Blocked).await;
    let id = w.click_through(&b).await;
    // The pixel alone: our cookie does not reach another site's image, so nothing is recorded.
    b.client.goto(&format!("{}/thanks-pixel?order=PX-BLOCKED", w.shop.base)).await.unwrap();
    b.client.wait().for_element(Locator::Id("out")).await.unwrap();
    // The tag: the shop's own cookie holds the id.
    b.client.goto(&format!("{}/thanks-tag?order=TAG-BLOCKED", w.shop.base)).await.unwrap();
    assert_eq!(out(&b).await["status"], "approved");
    w.assert_attributed("TAG-BLOCKED", &id, "summer").await;
    let list = w.app.get(&format!("/api/conversions?offer_id={}", w.offer), ADMIN_KEY).await.body;
    let txids: Vec<&str> = list["data"].as_array().unwrap().iter().filter_map(|c| c["txid"].as_str()).collect();
    assert_eq!(txids, ["TAG-BLOCKED"], "the blocked pixel found no click");
    b.close().await;
}
