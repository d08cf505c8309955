//! The panel in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `scripts/test.sh` installs) driven over WebDriver through the main journeys of each
//! role. A machine without them fails these tests; they are never skipped.
//!
//! The screenshots of docs/panel/ come from here: `PANEL_SCREENSHOTS=update` writes them into
//! the repository; otherwise they go to a temporary directory and are only checked.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, offer_body};
use crate::receiver::Receiver;

const ADMIN_PASSWORD: &str = "correct-horse-battery";
const PASSWORD: &str = "a long password 1";
const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

/// Whether the browser sends cookies with requests to other sites (Chromium's cookie
/// controls: a fresh headless profile blocks them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ThirdPartyCookies {
    Allowed,
    Blocked,
}

/// A headless Chromium and its driver, for one test.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    base: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    async fn start(app: &TestApp) -> Self {
        Self::start_with(app, ThirdPartyCookies::Blocked).await
    }

    /// A browser whose cookie controls allow or block third-party cookies.
    pub async fn start_with(app: &TestApp, third_party: ThirdPartyCookies) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian's chromium-driver: scripts/test.sh installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "chromedriver did not start listening");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            "--force-device-scale-factor=1",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        // 0 allows every cookie; 1 blocks third-party ones (the fresh profile's choice here).
        let mode = if third_party == ThirdPartyCookies::Allowed { 0 } else { 1 };
        let prefs = json!({"profile.cookie_controls_mode": mode});
        let capabilities = json!({"goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args, "prefs": prefs}});
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let mut client = None;
        for _ in 0..3 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => {
                    eprintln!("chromium did not start yet: {e}");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        let client = client.expect("headless chromium starts (Debian's chromium: scripts/test.sh installs it)");
        Self { client, driver, _profile: profile, base: app.base.clone() }
    }

    async fn open(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = match self.client.find(Locator::Css(css)).await {
            Ok(f) => f,
            Err(e) => panic!("{css}: {e}\nat {}:\n{}", self.path().await, self.text_of_page().await),
        };
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks what leads to another page, and waits until that page has replaced this one.
    async fn click(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        let target = match self.client.find(Locator::Css(css)).await {
            Ok(t) => t,
            Err(e) => panic!("{css}: {e}\nat {}:\n{}", self.path().await, self.text_of_page().await),
        };
        target.click().await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        // The old document's root goes stale once the new page is in.
        while old.tag_name().await.is_ok() {
            assert!(std::time::Instant::now() < deadline, "{css} led to no new page");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap(),
            Err(e) => panic!("{css}: {e}\nat {}:\n{}", self.path().await, self.text_of_page().await),
        }
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn text_of_page(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Logs in through the form, as a person would.
    async fn login(&self, email: &str, password: &str) {
        self.open("/panel/").await;
        assert!(self.path().await.starts_with("/panel/login"), "the panel asks for a login first");
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("button[type=submit]").await;
        assert_eq!(self.path().await, "/panel/", "logged in as {email}");
    }

    async fn logout(&self) {
        self.click("form[action='/panel/logout'] button").await;
        assert_eq!(self.path().await, "/panel/login");
        self.open("/panel/offers").await;
        assert!(self.path().await.starts_with("/panel/login"), "logged out: pages ask for a login again");
    }

    /// The session cookie, to fetch what a browser would download (CSV).
    async fn session(&self) -> String {
        self.client.get_named_cookie("clicktrail_session").await.unwrap().value().to_owned()
    }

    /// A screenshot, checked and kept as `name` (docs/panel/ with PANEL_SCREENSHOTS=update).
    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}: a real picture ({} bytes)", png.len());
        let dir = if std::env::var("PANEL_SCREENSHOTS").as_deref() == Ok("update") {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/panel")
        } else {
            std::env::temp_dir().join("clicktrail-panel-screenshots")
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// A network with traffic over the past 30 days (so dashboards and charts have something to
/// show), an affiliate and an advertiser with panel passwords, and a pending conversion.
struct World {
    app: TestApp,
    rx: Receiver,
    aff: i64,
    other: i64,
    adv_offer: i64,
    private_other: i64,
    pending: i64,
    pending_click: String,
}

async fn world() -> World {
    let app = TestApp::spawn_with(|s| {
        s.admin_password = Some(clicktrail::settings::Secret::new(ADMIN_PASSWORD));
        s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()];
        s.write_mode = clicktrail::settings::WriteMode::Durable;
        s.network_name = "Acme Network".into();
    })
    .await;
    let rx = Receiver::start().await;
    let user = |name: &str, email: &str| json!({"name": name, "email": email, "password": PASSWORD});
    let aff = app.create_id("/api/affiliates", user("Blue Media", "aff@example.com")).await;
    let other = app.create_id("/api/affiliates", user("Red Traffic", "other@example.com")).await;
    let adv = app.create_id("/api/advertisers", user("Shoe Shop", "adv@example.com")).await;
    let adv_offer = app
        .create_id(
            "/api/offers",
            offer_body(
                "Shoe Shop — Summer sale",
                json!({"advertiser_id": adv, "payout": 4, "revenue": 6.5, "default_conversion_status": "pending"}),
            ),
        )
        .await;
    app.create_id(
        "/api/offers",
        offer_body("Fitness app trial", json!({"payout": 1.2, "revenue": 2, "payout_type": "cpl"})),
    )
    .await;
    app.create_id("/api/offers", offer_body("VPN yearly plan", json!({"payout": 12, "revenue": 18}))).await;
    let private_other = app
        .create_id(
            "/api/offers",
            offer_body("Red's private deal", json!({"visibility": "private", "access": [{"affiliate_id": other}]})),
        )
        .await;
    app.state.configuration_changed().await;
    clicktrail::demo::traffic::generate(&app.state, 3_000, |_| {}).await.expect("past traffic");
    // The affiliate's tracker hears of what happens from now on.
    app.create("/api/postbacks", json!({"affiliate_id": aff, "url": rx.url("/pb?cid={click_id}&status={status}")}))
        .await;
    let approved =
        json!({"affiliate_id": aff, "event": "approved", "url": rx.url("/approved?cid={click_id}&status={status}")});
    app.create("/api/postbacks", approved).await;
    app.state.configuration_changed().await;
    // A fresh click and its conversion, pending review.
    let click: Value = app
        .raw
        .get(format!("{}/c/{adv_offer}/{aff}?async=json&sub1=spring", app.base))
        .header("user-agent", UA)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = click["transaction_id"].as_str().unwrap().to_owned();
    let reply: Value = app
        .raw
        .get(format!("{}/postback?click_id={cid}&txid=ORDER-77", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["status"], "pending", "{reply}");
    let pending = reply["conversion_id"].as_i64().unwrap();
    World { app, rx, aff, other, adv_offer, private_other, pending, pending_click: cid }
}

#[tokio::test]
async fn an_admin_works_through_the_panel() {
    let w = world().await;
    let b = Browser::start(&w.app).await;
    b.login("admin@localhost", ADMIN_PASSWORD).await;
    assert!(b.source().await.contains("<svg class=\"chart\""), "the dashboard draws its chart");
    assert!(b.text("main").await.contains("pending conversion"), "and says what waits for review");
    b.screenshot("admin-dashboard.png").await;

    // A new offer: a mistake first, shown next to its field, then saved.
    b.open("/panel/offers/new").await;
    b.fill("#f-name", "Garden tools — spring").await;
    b.fill("#f-destination_url", "https://garden.example/?c={click_id}").await;
    b.fill("#f-payout", "-3").await;
    b.fill("#f-revenue", "5").await;
    b.fill("#f-geo", "RO, DE").await;
    b.click("form button.primary").await;
    let error = b.text("#err-payout").await;
    assert!(!error.is_empty(), "the payout's error is shown by the field");
    assert_eq!(
        b.client.find(Locator::Css("#f-name")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("Garden tools — spring")
    );
    b.fill("#f-payout", "3.5").await;
    b.click("form button.primary").await;
    let path = b.path().await;
    assert!(path.contains("done=created"), "saved: {path}");
    b.screenshot("offer-editor.png").await;
    let id: i64 = path.trim_start_matches("/panel/offers/").split('?').next().unwrap().parse().unwrap();
    let offer = w.app.get(&format!("/api/offers/{id}"), ADMIN_KEY).await.body;
    assert_eq!((offer["payout"].as_f64(), offer["geo"].clone()), (Some(3.5), json!(["RO", "DE"])));

    // A new affiliate.
    b.open("/panel/affiliates").await;
    b.fill("#n-name", "Green Leads").await;
    b.fill("#n-email", "green@example.com").await;
    b.fill("#n-password", "green leads password").await;
    b.click("form[action='/panel/affiliates'] button.primary").await;
    assert!(b.path().await.contains("done=created"));
    assert!(b.text("h1").await.contains("Green Leads"));

    // Lists sort in the browser: a header click orders the page's rows, a second reverses.
    b.open("/panel/offers").await;
    let names = || async {
        let mut out = Vec::new();
        for cell in b.client.find_all(Locator::Css("table[data-sortable] tbody td:nth-child(2)")).await.unwrap() {
            out.push(cell.text().await.unwrap());
        }
        out
    };
    let before = names().await;
    assert!(before.len() >= 2, "offers to sort: {before:?}");
    let header = "table[data-sortable] thead th:nth-child(2) button.sort";
    b.client.find(Locator::Css(header)).await.unwrap().click().await.unwrap();
    let mut ascending = before.clone();
    ascending.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names().await, ascending, "by name");
    b.client.find(Locator::Css(header)).await.unwrap().click().await.unwrap();
    ascending.reverse();
    assert_eq!(names().await, ascending, "and back");

    // The review queue: approve the pending conversion; its postback fires.
    b.open("/panel/conversions?status=pending").await;
    b.click(&format!("form[action='/panel/conversions/{}'] button[value=approved]", w.pending)).await;
    assert!(b.text(".notice").await.contains("approved"));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let fired = |r: &crate::receiver::Received| {
        r.param("cid").as_deref() == Some(w.pending_click.as_str()) && r.param("status").as_deref() == Some("approved")
    };
    while !w.rx.received().iter().any(fired) {
        let seen: Vec<_> = w.rx.received().iter().map(|r| (r.param("cid"), r.param("status"))).collect();
        assert!(
            std::time::Instant::now() < deadline,
            "the affiliate's postback of the approval fired: {} in {seen:?}",
            w.pending_click
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let conversion = w.app.get(&format!("/api/conversions/{}", w.pending), ADMIN_KEY).await.body;
    assert_eq!(conversion["status"], "approved");
    b.open(&format!("/panel/conversions/{}", w.pending)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.text("#deliveries").await.to_lowercase().contains("delivered") {
        assert!(std::time::Instant::now() < deadline, "the delivery log shows the postback");
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.open(&format!("/panel/conversions/{}", w.pending)).await;
    }

    // Reports: filters stay in the URL; the CSV has what the page shows.
    b.open("/panel/reports").await;
    b.client.find(Locator::Css("#period option[value='30d']")).await.unwrap().click().await.unwrap();
    b.client.find(Locator::Css("#g1 option[value='offer']")).await.unwrap().click().await.unwrap();
    b.fill("#f-offer_id", &w.adv_offer.to_string()).await;
    b.click("form[aria-label=Report] button.primary").await;
    let path = b.path().await;
    assert!(
        path.contains("period=30d") && path.contains("g1=offer") && path.contains(&format!("offer_id={}", w.adv_offer)),
        "{path}"
    );
    assert!(b.text("table").await.contains("Shoe Shop"), "the filtered report shows the offer");
    let href = b.client.find(Locator::LinkText("Export CSV")).await.unwrap().attr("href").await.unwrap().unwrap();
    let csv = w
        .app
        .raw
        .get(format!("{}{href}", w.app.base))
        .header("Cookie", format!("clicktrail_session={}", b.session().await))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("offer,") || csv.lines().next().unwrap().contains("offer"), "{csv}");
    assert_eq!(csv.lines().count(), 2, "one offer row under the header: {csv}");
    b.logout().await;
    b.close().await;
}

#[tokio::test]
async fn an_affiliate_builds_its_link_and_sees_only_its_own() {
    let w = world().await;
    let b = Browser::start(&w.app).await;
    b.login("aff@example.com", PASSWORD).await;
    let main = b.text("main").await.to_lowercase();
    assert!(main.contains("earnings") && !main.contains("revenue"), "an affiliate sees earnings, never revenue");
    b.screenshot("affiliate-dashboard.png").await;

    b.open("/panel/offers").await;
    b.click(&format!("a[href='/panel/offers/{}']", w.adv_offer)).await;
    b.fill("#b-sub1", "browser-test").await;
    b.fill("#b-source_id", "newsletter").await;
    let link = b.client.find(Locator::Css("#tracking-link")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(link.contains(&format!("/c/{}/{}", w.adv_offer, w.aff)) && link.contains("sub1=browser-test"), "{link}");
    // A visitor follows the link.
    let clicked = w.app.raw.get(&link).header("user-agent", UA).send().await.unwrap();
    assert_eq!(clicked.status(), StatusCode::FOUND);
    b.open("/panel/reports?period=today&g1=sub1").await;
    assert!(b.text("table").await.contains("browser-test"), "the click is in the affiliate's report");

    // Editing URLs reaches nothing of another affiliate.
    b.open(&format!("/panel/users/{}", w.other)).await;
    assert!(b.text("h1").await.contains("Not allowed"));
    b.open(&format!("/panel/offers/{}", w.private_other)).await;
    assert!(b.text("h1").await.contains("Not found"));
    b.open(&format!("/panel/conversions?affiliate_id={}", w.other)).await;
    assert!(b.text("main").await.contains("No conversions match"));
    b.open("/panel/clicks").await;
    assert!(!b.text("main").await.contains("Red Traffic"), "the click log holds only its own clicks");
    b.client.set_window_size(390, 844).await.unwrap();
    b.open("/panel/").await;
    b.screenshot("affiliate-phone.png").await;
    b.logout().await;
    b.close().await;
}

#[tokio::test]
async fn an_advertiser_sees_only_its_offers() {
    let w = world().await;
    let b = Browser::start(&w.app).await;
    b.login("adv@example.com", PASSWORD).await;
    assert!(b.text("main").await.to_lowercase().contains("cost"), "an advertiser's money is its cost");
    b.screenshot("advertiser-dashboard.png").await;
    b.open("/panel/offers").await;
    let table = b.text("table").await;
    assert!(table.contains("Shoe Shop") && !table.contains("VPN") && !table.contains("Fitness"), "{table}");
    b.open(&format!("/panel/offers/{}", w.adv_offer)).await;
    // Every way to report its conversions, ready to copy: S2S, the tag (reading the click id
    // from the parameter the offer's destination passes it in), the image and iframe pixels.
    let client = b.client.clone();
    let value = |id: &'static str| {
        let client = client.clone();
        async move { client.find(Locator::Id(id)).await.unwrap().prop("value").await.unwrap().unwrap_or_default() }
    };
    let offer = w.adv_offer;
    assert!(value("s2s").await.contains(&format!("/postback?offer_id={offer}&click_id={{click_id}}")));
    let landing = value("tag-landing").await;
    assert!(landing.contains("/js/clicktrail.js\" data-click-param=\"cid\""), "{landing}");
    assert!(value("tag-conversion").await.contains(&format!("clicktrail.conversion({{offer_id: {offer},")));
    assert!(value("pixel").await.contains(&format!("/p?offer_id={offer}&amp;")));
    assert!(value("iframe").await.contains(&format!("/p/iframe?offer_id={offer}&amp;")));
    b.client.execute("document.getElementById('snippets').scrollIntoView()", vec![]).await.unwrap();
    b.screenshot("advertiser-snippets.png").await;
    b.open("/panel/affiliates").await;
    assert!(b.text("h1").await.contains("Not allowed"));
    b.logout().await;
    b.close().await;
}
