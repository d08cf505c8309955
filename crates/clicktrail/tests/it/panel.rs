//! The panel over HTTP: login and its throttle, the session cookie and its flags, session
//! fixation, CSRF refusals, logout and password changes, Dialect A with a session, and every
//! panel route × every role (the authorisation matrix extended to the panel).

use reqwest::StatusCode;
use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, TestApp, offer_body};

/// A form-encoded body (reqwest's own `form` is a feature this build leaves out).
trait FormBody {
    fn form_body<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            body.append_pair(k.as_ref(), v.as_ref());
        }
        self.header("Content-Type", "application/x-www-form-urlencoded").body(body.finish())
    }
}

const ADMIN_EMAIL: &str = "admin@localhost";
const ADMIN_PASSWORD: &str = "correct-horse-battery";

async fn app() -> TestApp {
    TestApp::spawn_with(|s| s.admin_password = Some(clicktrail::settings::Secret::new(ADMIN_PASSWORD))).await
}

/// A browser's view of the panel: one session cookie, sent by hand so tests see its flags.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
}

/// What a page answered.
struct Answer {
    status: StatusCode,
    location: String,
    set_cookie: Vec<String>,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Self { app, cookie: None }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Answer {
        let request = match &self.cookie {
            Some(c) => request.header("Cookie", format!("clicktrail_session={c}")),
            None => request,
        };
        let response = request.send().await.expect("sent");
        let status = response.status();
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let set_cookie: Vec<String> =
            response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for c in &set_cookie {
            if let Some(rest) = c.strip_prefix("clicktrail_session=") {
                let value = rest.split(';').next().unwrap_or("");
                self.cookie = (!value.is_empty()).then(|| value.to_owned());
            }
        }
        let body = response.text().await.unwrap_or_default();
        Answer { status, location, set_cookie, body }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let request = self.app.raw.get(format!("{}{path}", self.app.base));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let request = self.app.raw.post(format!("{}{path}", self.app.base)).form_body(form);
        self.send(request).await
    }

    async fn login(&mut self, email: &str, password: &str) -> Answer {
        self.post("/panel/login", &[("email", email), ("password", password)]).await
    }

    /// The CSRF token of the page at `path` (every form of a session carries it).
    async fn token(&mut self, path: &str) -> String {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        csrf(&page.body)
    }
}

fn csrf(html: &str) -> String {
    let at = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token") + 20;
    html[at..].split('"').next().unwrap_or("").to_owned()
}

/// A user with a password, made through the native API's write-only `password`.
async fn user_with_password(app: &TestApp, path: &str, name: &str, email: &str) -> i64 {
    let body = json!({"name": name, "email": email, "password": "a long password 1"});
    let created = app.post(path, ADMIN_KEY, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert!(created.body.get("password").is_none(), "the password is write-only: {:?}", created.body);
    created.body["id"].as_i64().unwrap()
}

#[tokio::test]
async fn login_sets_a_safe_cookie_and_logout_ends_the_session() {
    let app = app().await;
    let mut b = Browser::new(&app);
    let form = b.get("/panel/login").await;
    assert_eq!(form.status, StatusCode::OK);
    for input in ["name=\"email\"", "name=\"password\"", "type=\"password\""] {
        assert!(form.body.contains(input), "the login form has {input}");
    }
    let page = b.get("/panel/").await;
    assert_eq!((page.status, page.location.as_str()), (StatusCode::SEE_OTHER, "/panel/login?next=%2Fpanel%2F"));

    let wrong = b.login(ADMIN_EMAIL, "not the password").await;
    let unknown = b.login("nobody@example.com", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let message =
        |body: &str| body.split("role=\"alert\"").nth(1).unwrap_or("").split('<').next().unwrap_or("").to_owned();
    assert_eq!(message(&wrong.body), message(&unknown.body), "the answer does not say whether the e-mail exists");
    assert!(wrong.set_cookie.is_empty() && b.cookie.is_none());

    let ok = b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!((ok.status, ok.location.as_str()), (StatusCode::SEE_OTHER, "/panel/"));
    let cookie = &ok.set_cookie[0];
    for flag in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(flag), "{cookie} has {flag}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag ({cookie})");
    let dashboard = b.get("/panel/").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert!(dashboard.body.contains("Dashboard") && dashboard.body.contains("<svg"), "cards and a chart");

    let stolen = b.cookie.clone();
    let token = csrf(&dashboard.body);
    let out = b.post("/panel/logout", &[("_csrf", &token)]).await;
    assert_eq!((out.status, out.location.as_str()), (StatusCode::SEE_OTHER, "/panel/login"));
    assert!(out.set_cookie[0].contains("Max-Age=0"), "the cookie is cleared: {:?}", out.set_cookie);
    let mut replay = Browser { app: &app, cookie: stolen };
    assert_eq!(replay.get("/panel/").await.status, StatusCode::SEE_OTHER, "a logged-out session is dead");
}

#[tokio::test]
async fn https_behind_a_trusted_proxy_gets_a_host_cookie() {
    let app = app().await;
    let reply = app
        .raw
        .post(format!("{}/panel/login", app.base))
        .header("X-Forwarded-Proto", "https")
        .form_body(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = reply.headers().get(SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-clicktrail_session=") && cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    let secret = cookie.trim_start_matches("__Host-clicktrail_session=").split(';').next().unwrap();
    let page = app
        .raw
        .get(format!("{}/panel/", app.base))
        .header("X-Forwarded-Proto", "https")
        .header("Cookie", format!("__Host-clicktrail_session={secret}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_planted_session_id_is_worth_nothing() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.cookie = Some("0".repeat(64));
    assert_eq!(b.get("/panel/").await.status, StatusCode::SEE_OTHER, "an unknown id logs nobody in");
    // A real session of another user, planted in a victim's browser before it logs in.
    let mut attacker = Browser::new(&app);
    let adv = user_with_password(&app, "/api/advertisers", "Adv", "adv@example.com").await;
    assert!(adv > 0);
    attacker.login("adv@example.com", "a long password 1").await;
    let planted = attacker.cookie.clone().unwrap();
    let mut victim = Browser { app: &app, cookie: Some(planted.clone()) };
    let ok = victim.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let fresh = victim.cookie.clone().unwrap();
    assert_ne!(fresh, planted, "the id is rotated at login");
    let mut old = Browser { app: &app, cookie: Some(planted) };
    assert_eq!(old.get("/panel/").await.status, StatusCode::SEE_OTHER, "the session the login replaced has ended");
}

#[tokio::test]
async fn forms_refuse_missing_or_wrong_tokens_and_other_sites() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = b.token("/panel/affiliates").await;
    let url = format!("{}/panel/affiliates", app.base);
    let cookie = format!("clicktrail_session={}", b.cookie.clone().unwrap());
    let attempt = |extra: Vec<(&'static str, String)>, form: Vec<(&'static str, String)>| {
        let mut r = app.raw.post(&url).header("Cookie", &cookie).form_body(&form);
        for (k, v) in extra {
            r = r.header(k, v);
        }
        r
    };
    let name = |n: &str| ("name", n.to_owned());
    let cases = [
        (vec![], vec![name("No token")]),
        (vec![], vec![name("Wrong token"), ("_csrf", "0".repeat(64))]),
        (vec![("Origin", "http://evil.example".to_owned())], vec![name("Other origin"), ("_csrf", token.clone())]),
        (vec![("Sec-Fetch-Site", "cross-site".to_owned())], vec![name("Cross site"), ("_csrf", token.clone())]),
    ];
    for (headers, form) in cases {
        let reply = attempt(headers, form.clone()).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    let listed = app.get("/api/affiliates", ADMIN_KEY).await;
    assert_eq!(listed.body["meta"]["total"], 0, "no refused form created anything");
    let origin = app.base.clone();
    let ok = attempt(
        vec![("Origin", origin), ("Sec-Fetch-Site", "same-origin".to_owned())],
        vec![name("Good"), ("_csrf", token)],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/affiliates", ADMIN_KEY).await.body["meta"]["total"], 1);
    // A login posted from another site is refused too (login CSRF).
    let cross = app
        .raw
        .post(format!("{}/panel/login", app.base))
        .header("Sec-Fetch-Site", "cross-site")
        .form_body(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(cross.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn failed_logins_lock_the_account_whatever_the_password() {
    let app = app().await;
    user_with_password(&app, "/api/affiliates", "Other", "other@example.com").await;
    let mut b = Browser::new(&app);
    for i in 0..10 {
        let reply = b.login(ADMIN_EMAIL, "wrong password").await;
        let expected = if i < 9 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(reply.status, expected, "attempt {}", i + 1);
    }
    let reply = app
        .raw
        .post(format!("{}/panel/login", app.base))
        .form_body(&[("email", ADMIN_EMAIL), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    let retry: i64 = reply.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((800..=900).contains(&retry), "retry after about 15 minutes: {retry}");
    assert!(reply.text().await.unwrap().contains("try again in 15 minutes"));
    let other = b.login("other@example.com", "a long password 1").await;
    assert_eq!(other.status, StatusCode::SEE_OTHER, "another account is not locked");
}

#[tokio::test]
async fn failures_from_one_address_lock_it_for_every_account() {
    let app = app().await;
    let mut b = Browser::new(&app);
    for i in 0..50 {
        let reply = b.login(&format!("guess{i}@example.com"), "wrong password").await;
        let expected = if i < 49 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(reply.status, expected, "attempt {}", i + 1);
    }
    assert_eq!(b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn password_changes_and_closed_accounts_end_sessions() {
    let app = app().await;
    let aff = user_with_password(&app, "/api/affiliates", "Aff", "aff@example.com").await;
    let (mut one, mut two) = (Browser::new(&app), Browser::new(&app));
    one.login("aff@example.com", "a long password 1").await;
    two.login("aff@example.com", "a long password 1").await;
    let token = one.token("/panel/account").await;
    let bad = one
        .post(
            "/panel/account",
            &[
                ("_csrf", &token),
                ("current_password", "nope"),
                ("new_password", "another long one"),
                ("confirm_password", "another long one"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body.contains("current password is not right"));
    let short = one
        .post(
            "/panel/account",
            &[
                ("_csrf", &token),
                ("current_password", "a long password 1"),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert!(short.status == StatusCode::BAD_REQUEST && short.body.contains("at least 10 characters"), "{}", short.body);
    let changed = one
        .post(
            "/panel/account",
            &[
                ("_csrf", &token),
                ("current_password", "a long password 1"),
                ("new_password", "another long one"),
                ("confirm_password", "another long one"),
            ],
        )
        .await;
    assert_eq!((changed.status, changed.location.as_str()), (StatusCode::SEE_OTHER, "/panel/account?done=password"));
    assert_eq!(one.get("/panel/").await.status, StatusCode::OK, "this browser got a new session");
    assert_eq!(two.get("/panel/").await.status, StatusCode::SEE_OTHER, "the other session ended");
    assert_eq!(Browser::new(&app).login("aff@example.com", "a long password 1").await.status, StatusCode::UNAUTHORIZED);
    // Closing the account logs it out at once.
    let closed = app.patch(&format!("/api/affiliates/{aff}"), ADMIN_KEY, json!({"status": "closed"})).await;
    assert_eq!(closed.status, StatusCode::OK);
    assert_eq!(one.get("/panel/").await.status, StatusCode::SEE_OTHER);
    let refused = Browser::new(&app).login("aff@example.com", "another long one").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // The native API's write-only password is checked.
    let short = app.patch(&format!("/api/advertisers/{}", 1), ADMIN_KEY, json!({"password": "short"})).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn dialect_a_takes_an_admin_session() {
    let app = app().await;
    user_with_password(&app, "/api/affiliates", "Aff", "aff@example.com").await;
    let path = "/api/v1.2/admin/offerStats/today/today/";
    let mut admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let ok = admin.get(path).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let body: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
    assert_eq!(body["status"], 200);
    let mut affiliate = Browser::new(&app);
    affiliate.login("aff@example.com", "a long password 1").await;
    let refused = affiliate.get(path).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["status"], 403, "the dialect's own error body: {body}");
    let anonymous = Browser::new(&app).get(path).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let body: serde_json::Value = serde_json::from_str(&anonymous.body).unwrap();
    assert_eq!(body["status"], 401);
}

/// Every panel route × anonymous, affiliate A, affiliate B, advertiser, admin.
#[tokio::test]
async fn every_panel_route_for_every_role() {
    let app = app().await;
    let a = user_with_password(&app, "/api/affiliates", "Aff A", "a@example.com").await;
    let b_id = user_with_password(&app, "/api/affiliates", "Aff B", "b@example.com").await;
    let adv = user_with_password(&app, "/api/advertisers", "Adv", "adv@example.com").await;
    let other_adv = app.create_id("/api/advertisers", json!({"name": "Other adv"})).await;
    let mine =
        app.create_id("/api/offers", offer_body("Adv offer", json!({"advertiser_id": adv, "revenue": 7.77}))).await;
    let theirs = app.create_id("/api/offers", offer_body("Other offer", json!({"advertiser_id": other_adv}))).await;
    let private = app
        .create_id(
            "/api/offers",
            offer_body("Private B", json!({"visibility": "private", "access": [{"affiliate_id": b_id}]})),
        )
        .await;
    let pb_a =
        app.create_id("/api/postbacks", json!({"affiliate_id": a, "url": "https://t.example/pb?c={click_id}"})).await;
    let mut who = [Browser::new(&app), Browser::new(&app), Browser::new(&app), Browser::new(&app), Browser::new(&app)];
    who[1].login("a@example.com", "a long password 1").await;
    who[2].login("b@example.com", "a long password 1").await;
    who[3].login("adv@example.com", "a long password 1").await;
    who[4].login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // Expected status per role: anonymous, affiliate A, affiliate B, advertiser, admin.
    const OK: u16 = 200;
    const LOGIN: u16 = 303;
    let routes: Vec<(String, [u16; 5])> = vec![
        ("/panel/".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/live".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/offers".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/offers/new".into(), [LOGIN, 403, 403, 403, OK]),
        (format!("/panel/offers/{mine}"), [LOGIN, OK, OK, OK, OK]),
        (format!("/panel/offers/{theirs}"), [LOGIN, OK, OK, 404, OK]),
        (format!("/panel/offers/{private}"), [LOGIN, 404, OK, 404, OK]),
        ("/panel/affiliates".into(), [LOGIN, 403, 403, 403, OK]),
        ("/panel/advertisers".into(), [LOGIN, 403, 403, 403, OK]),
        ("/panel/affiliates?q=Aff&page=2".into(), [LOGIN, 403, 403, 403, OK]),
        (format!("/panel/users/{a}"), [LOGIN, 403, 403, 403, OK]),
        ("/panel/conversions".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/reports".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/reports?group_by=affiliate".into(), [LOGIN, 400, 400, OK, OK]),
        ("/panel/reports?format=csv".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/clicks".into(), [LOGIN, OK, OK, 403, OK]),
        ("/panel/account".into(), [LOGIN, OK, OK, OK, OK]),
        ("/panel/postbacks".into(), [LOGIN, OK, OK, 403, OK]),
        ("/panel/settings".into(), [LOGIN, 403, 403, 403, OK]),
        ("/panel/traffic-sources".into(), [LOGIN, 403, 403, 403, OK]),
        ("/panel/coupons".into(), [LOGIN, 403, 403, 403, OK]),
        ("/panel/keys".into(), [LOGIN, OK, OK, OK, OK]),
        (format!("/panel/postbacks/{pb_a}"), [LOGIN, OK, 404, 403, OK]),
        ("/panel/nowhere".into(), [404, 404, 404, 404, 404]),
    ];
    for (path, expected) in &routes {
        for (i, browser) in who.iter_mut().enumerate() {
            let answer = browser.get(path).await;
            assert_eq!(
                answer.status.as_u16(),
                expected[i],
                "{path} as caller {i}: {}",
                &answer.body[..answer.body.len().min(300)]
            );
            if answer.status == StatusCode::SEE_OTHER {
                assert!(answer.location.starts_with("/panel/login"), "{path}: {}", answer.location);
            }
            if (i == 1 || i == 2) && answer.status == StatusCode::OK {
                let lower = answer.body.to_lowercase();
                assert!(
                    !lower.contains("revenue") && !lower.contains("profit"),
                    "{path}: an affiliate sees no revenue"
                );
                assert!(!answer.body.contains("7.77"), "{path}: nor the offer's revenue figure");
            }
        }
    }
    // Writes: only admins may post the admin forms; everyone else is refused and nothing changes.
    for (i, browser) in who.iter_mut().enumerate().skip(1).take(3) {
        let token = browser.token("/panel/account").await;
        let reply = browser.post("/panel/offers/new", &[("_csrf", &token), ("name", "Sneaky")]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "caller {i}");
        let reply = browser.post(&format!("/panel/users/{a}"), &[("_csrf", &token), ("name", "Renamed")]).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "caller {i}");
    }
    let offers = app.get("/api/offers?q=Sneaky", ADMIN_KEY).await;
    assert_eq!(offers.body["meta"]["total"], 0);
    assert_eq!(app.get(&format!("/api/affiliates/{a}"), ADMIN_KEY).await.body["name"], "Aff A");
}

#[tokio::test]
async fn the_offer_editor_shows_errors_next_to_their_fields() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = b.token("/panel/offers/new").await;
    let base = [
        ("_csrf", token.as_str()),
        ("name", "Spring sale"),
        ("destination_url", "https://shop.example/?c={click_id}"),
        ("payout_type", "cpa"),
        ("revenue", "3"),
    ];
    let mut form = base.to_vec();
    form.push(("payout", "lots"));
    let bad = b.post("/panel/offers/new", &form).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"err-payout\""), "the error sits by the payout field");
    assert!(bad.body.contains("value=\"Spring sale\""), "what was typed stays");
    let mut form = base.to_vec();
    form.extend([("payout", "2.5"), ("events", "[not json")]);
    let bad = b.post("/panel/offers/new", &form).await;
    assert!(bad.body.contains("id=\"err-events\"") && bad.body.contains("not valid JSON"));
    let mut form = base.to_vec();
    form.extend([
        ("payout", "2.5"),
        ("geo", "ro, de"),
        ("events", r#"[{"code": "sale", "name": "Sale", "payout": 4}]"#),
    ]);
    let ok = b.post("/panel/offers/new", &form).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let id: i64 = ok.location.trim_start_matches("/panel/offers/").split('?').next().unwrap().parse().unwrap();
    let offer = app.get(&format!("/api/offers/{id}"), ADMIN_KEY).await.body;
    assert_eq!((offer["payout"].as_f64(), offer["geo"].clone()), (Some(2.5), json!(["RO", "DE"])));
    assert_eq!(offer["events"][0]["code"], "sale");
    // Editing keeps what the form does not show and clears what was emptied.
    let token = b.token(&format!("/panel/offers/{id}")).await;
    let mut form = base.to_vec();
    form[0] = ("_csrf", token.as_str());
    form.extend([("payout", "3"), ("status", "paused")]);
    let saved = b.post(&format!("/panel/offers/{id}"), &form).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let offer = app.get(&format!("/api/offers/{id}"), ADMIN_KEY).await.body;
    assert_eq!((offer["payout"].as_f64(), offer["status"].as_str()), (Some(3.0), Some("paused")));
    assert_eq!(offer["events"], json!([]), "the emptied events box removed the events");
}

#[tokio::test]
async fn an_affiliate_sets_up_and_test_fires_a_postback() {
    let app = TestApp::spawn_with(|s| {
        s.admin_password = Some(clicktrail::settings::Secret::new(ADMIN_PASSWORD));
        s.postback_allowlist = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let rx = crate::receiver::Receiver::start().await;
    user_with_password(&app, "/api/affiliates", "Aff", "aff@example.com").await;
    let mut b = Browser::new(&app);
    b.login("aff@example.com", "a long password 1").await;
    let token = b.token("/panel/postbacks").await;
    let bad =
        b.post("/panel/postbacks", &[("_csrf", token.as_str()), ("url", "not a url"), ("event", "conversion")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"err-url\""), "the error sits by the URL");
    let preset = [("_csrf", token.as_str()), ("preset", "binom"), ("domain", "not a host"), ("event", "conversion")];
    assert!(b.post("/panel/postbacks", &preset).await.body.contains("id=\"err-domain\""));
    let url = rx.url("/pb?cid={click_id}&p={payout}");
    let made =
        b.post("/panel/postbacks", &[("_csrf", token.as_str()), ("url", url.as_str()), ("event", "conversion")]).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let path = made.location.split('?').next().unwrap().to_owned();
    let fired = b.post(&path, &[("_csrf", token.as_str()), ("action", "test")]).await;
    assert_eq!(fired.status, StatusCode::SEE_OTHER);
    let got = rx.wait_for(1, std::time::Duration::from_secs(10)).await;
    assert_eq!(got[0].param("cid").as_deref(), Some("TEST"), "a test carries the sample click id");
    assert!(got[0].header("x-clicktrail-signature").is_some(), "signed like a real one");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.get(&path).await.body.contains("badge delivered") {
        assert!(std::time::Instant::now() < deadline, "the test's delivery is in the log");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let paused = b.post(&path, &[("_csrf", token.as_str()), ("action", "pause")]).await;
    assert_eq!(paused.status, StatusCode::SEE_OTHER);
    let id = path.trim_start_matches("/panel/postbacks/");
    assert_eq!(app.get(&format!("/api/postbacks/{id}"), ADMIN_KEY).await.body["status"], "inactive");
}

#[tokio::test]
async fn people_make_their_own_keys_and_admins_set_up_the_network() {
    let app = app().await;
    user_with_password(&app, "/api/affiliates", "Aff", "aff@example.com").await;
    let mut aff = Browser::new(&app);
    aff.login("aff@example.com", "a long password 1").await;
    let token = aff.token("/panel/keys").await;
    let refused = aff.post("/panel/keys", &[("_csrf", token.as_str()), ("scope", "admin")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("not a scope your account may hold"));
    let made =
        aff.post("/panel/keys", &[("_csrf", token.as_str()), ("name", "My script"), ("scope", "read:stats")]).await;
    assert_eq!(made.status, StatusCode::OK);
    let marker = "id=\"new-key\" readonly value=\"";
    let at = made.body.find(marker).expect("the secret is shown") + marker.len();
    let secret = made.body[at..].split('"').next().unwrap().to_owned();
    let me = app.get("/api/me", &secret).await;
    assert_eq!((me.status, me.body["scopes"].clone()), (StatusCode::OK, json!(["read:stats"])));
    assert!(!aff.get("/panel/keys").await.body.contains(&secret), "shown once only");
    let id = me.body["key_id"].as_i64().unwrap();
    let revoked = aff.post(&format!("/panel/keys/{id}/revoke"), &[("_csrf", token.as_str())]).await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/api/me", &secret).await.status, StatusCode::UNAUTHORIZED);
    // A key never mints keys: the engine refuses any caller but a panel session.
    let caller = clicktrail::engine::access::authenticate(&app.state.config, ADMIN_KEY).await.unwrap();
    let by_key = clicktrail::engine::manage::keys::create_own(&app.state.config, &caller, vec![], None).await;
    assert!(by_key.is_err());

    let mut admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let token = admin.token("/panel/settings").await;
    let bad = admin
        .post("/panel/settings", &[("_csrf", token.as_str()), ("name", "Acme"), ("timezone", "Mars/Olympus")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("id=\"err-timezone\""), "the error sits by the time zone");
    let ok = admin
        .post(
            "/panel/settings",
            &[
                ("_csrf", token.as_str()),
                ("name", "Acme"),
                ("timezone", "Europe/Bucharest"),
                ("currency", "EUR"),
                ("raw_click_retention_days", "30"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let network = app.get("/api/network", ADMIN_KEY).await.body;
    assert_eq!((network["name"].as_str(), network["timezone"].as_str()), (Some("Acme"), Some("Europe/Bucharest")));
    let source = admin.post("/panel/traffic-sources", &[("_csrf", token.as_str()), ("name", "Push ads")]).await;
    assert_eq!(source.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/panel/traffic-sources").await.body.contains("Push ads"));
    let coupon =
        admin.post("/panel/coupons", &[("_csrf", token.as_str()), ("code", "SPRING10"), ("affiliate_id", "999")]).await;
    assert_eq!(coupon.status, StatusCode::UNPROCESSABLE_ENTITY, "an affiliate that does not exist");
    assert!(coupon.body.contains("id=\"err-affiliate_id\""));
}

#[tokio::test]
async fn the_dashboard_live_totals_follow_todays_clicks() {
    let app = app().await;
    let aff = user_with_password(&app, "/api/affiliates", "Live aff", "live@example.com").await;
    let offer = app.create_id("/api/offers", offer_body("Live offer", json!({}))).await;
    let mut admin = Browser::new(&app);
    admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let mut affiliate = Browser::new(&app);
    affiliate.login("live@example.com", "a long password 1").await;
    let dashboard = admin.get("/panel/").await;
    assert!(dashboard.body.contains("data-live=\"/panel/live\""), "the dashboard asks for live totals");
    let cards = |reply: &Answer| -> Vec<(String, String)> {
        let body: Value = serde_json::from_str(&reply.body).expect("JSON");
        body["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .map(|c| (c["label"].as_str().unwrap().to_owned(), c["value"].as_str().unwrap().to_owned()))
            .collect()
    };
    let before = admin.get("/panel/live").await;
    assert_eq!(cards(&before)[0], ("Clicks".to_owned(), "0".to_owned()));
    for _ in 0..3 {
        let url = format!("{}/c/{offer}/{aff}?async=json", app.base);
        let reply = app.raw.get(url).header("user-agent", "Mozilla/5.0 (X11; Linux x86_64)").send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
    }
    let mut seen = String::new();
    for _ in 0..300 {
        seen = cards(&admin.get("/panel/live").await)[0].1.clone();
        if seen == "3" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(seen, "3", "today's clicks appear without a reload");
    // The page's cards: today's and the 30 days' from the same read by date, none yesterday.
    let page = admin.get("/panel/").await.body;
    let clicks_of = |period: &str| {
        let block = &page[page.find(&format!("aria-label=\"{period}\"")).expect(period)..];
        let marker = "data-card=\"0\">";
        let value = &block[block.find(marker).expect("first card") + marker.len()..];
        value[..value.find('<').unwrap()].to_owned()
    };
    assert_eq!(
        [clicks_of("Today"), clicks_of("Yesterday"), clicks_of("Last 30 days")],
        ["3", "0", "3"],
        "clicks today, yesterday, over 30 days"
    );
    let mine = affiliate.get("/panel/live").await;
    let labels: Vec<String> = cards(&mine).into_iter().map(|(l, _)| l).collect();
    assert!(labels.contains(&"Earnings".to_owned()) && !labels.iter().any(|l| l == "Revenue" || l == "Profit"));
    assert_eq!(cards(&mine)[0].1, "3", "the affiliate's own clicks");
}
