//! Starting the real server and talking to it.

use std::time::Duration;

use clicktrail::{App, Settings};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The admin key every test app starts with (`CLICKTRAIL_ADMIN_KEY`).
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// A running server on a fresh data directory.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The data directory (removed on drop).
    pub dir: tempfile::TempDir,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// The click path, to read stored events.
    pub tracker: std::sync::Arc<clicktrail::engine::track::Tracker>,
    /// The whole state (stores behind the API).
    pub state: clicktrail::app::AppState,
    /// A client that does not follow redirects.
    pub raw: reqwest::Client,
}

/// A response: status and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The error code of a dialect-E error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    None,
    Bearer(&'a str),
    ApiKey(&'a str),
    Raw(&'a str),
}

/// The backends of `TEST_BACKENDS` (any of `postgres`, `redis`, `clickhouse` or
/// `clickhouse-cluster`, comma-separated; unset: the embedded store), at `TEST_DATABASE_URL`,
/// `TEST_REDIS_URL`, `TEST_CLICKHOUSE_SERVER` and `TEST_CLICKHOUSE_SHARDS` with
/// `TEST_CLICKHOUSE_CLUSTER` (the local servers when unset). Each data directory gets a schema,
/// a key prefix and a database of its own, the same on a restart.
pub fn backends() -> Vec<String> {
    std::env::var("TEST_BACKENDS")
        .unwrap_or_default()
        .split(',')
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.is_empty())
        .collect()
}

async fn scale_out(settings: &mut Settings, dir: &std::path::Path) {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let id = BuildHasherDefault::<DefaultHasher>::default().hash_one(dir);
    for backend in backends() {
        match backend.as_str() {
            "postgres" => {
                let url = std::env::var("TEST_DATABASE_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
                let schema = format!("ct_it_{id:016x}");
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("TEST_BACKENDS names postgres, but {url} cannot be reached: {e}"));
                tokio::spawn(connection);
                client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await.expect("a schema");
                let join = if url.contains('?') { '&' } else { '?' };
                settings.database_url =
                    Some(clicktrail::settings::Secret::new(format!("{url}{join}options=-csearch_path%3D{schema}")));
            }
            "redis" => {
                let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
                settings.redis_url = Some(clicktrail::settings::Secret::new(url));
                settings.redis_prefix = format!("ct-it-{id:016x}");
            }
            "clickhouse" => {
                let server =
                    std::env::var("TEST_CLICKHOUSE_SERVER").unwrap_or_else(|_| "http://127.0.0.1:18123".to_owned());
                let url = format!("{}/ct_it_{id:016x}", server.trim_end_matches('/'));
                settings.clickhouse_url = Some(clicktrail::settings::Secret::new(url));
            }
            "clickhouse-cluster" => {
                let shards = std::env::var("TEST_CLICKHOUSE_SHARDS")
                    .unwrap_or_else(|_| "http://127.0.0.1:18123,http://127.0.0.1:18124".to_owned());
                let urls: Vec<String> =
                    shards.split(',').map(|s| format!("{}/ct_it_{id:016x}", s.trim().trim_end_matches('/'))).collect();
                settings.clickhouse_url = Some(clicktrail::settings::Secret::new(urls.join(",")));
                settings.clickhouse_cluster =
                    Some(std::env::var("TEST_CLICKHOUSE_CLUSTER").unwrap_or_else(|_| "clicktrail_test".to_owned()));
            }
            other => {
                panic!("TEST_BACKENDS: unknown backend {other:?} (postgres, redis, clickhouse, clickhouse-cluster)")
            }
        }
    }
}

impl TestApp {
    /// Starts a server with default settings, the test admin key, and a fresh data directory.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server after `tweak` adjusts its settings.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_in(tempfile::tempdir().expect("temp dir"), tweak).await
    }

    /// Starts a server on an existing data directory (a restart).
    pub async fn spawn_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings::default();
        settings.data_dir = dir.path().to_path_buf();
        settings.admin_key = Some(clicktrail::settings::Secret::new(ADMIN_KEY));
        settings.geoip_auto_install = false;
        // Tests send far more than a person would; the rate-limit test sets its own quotas.
        settings.rate_limit_standard = 1_000_000;
        settings.rate_limit_premium = 1_000_000;
        settings.rate_limit_burst = 1_000_000;
        scale_out(&mut settings, dir.path()).await;
        tweak(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let app = App::build(settings, listener).await.expect("app builds");
        let addr = app.local_addr().expect("addr");
        let tracker = app.state().tracker.clone();
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run(async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            dir,
            client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client"),
            shutdown: Some(tx),
            server: Some(server),
            tracker,
            state,
            raw: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    }

    /// Sends a request.
    pub async fn call(&self, method: Method, path: &str, auth: Auth<'_>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        request = match auth {
            Auth::None => request,
            Auth::Bearer(k) => request.bearer_auth(k),
            Auth::ApiKey(k) => request.header("X-Api-Key", k),
            Auth::Raw(v) => request.header("Authorization", v),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    /// GET with a bearer key.
    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call(Method::GET, path, Auth::Bearer(key), None).await
    }

    /// POST with a bearer key.
    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Auth::Bearer(key), Some(body)).await
    }

    /// PATCH with a bearer key.
    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Auth::Bearer(key), Some(body)).await
    }

    /// DELETE with a bearer key.
    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.call(Method::DELETE, path, Auth::Bearer(key), None).await
    }

    /// Creates a record as admin and returns it; panics unless `201`.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let reply = self.post(path, ADMIN_KEY, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "POST {path}: {}", reply.body);
        reply.body
    }

    /// Creates a record as admin and returns its id.
    pub async fn create_id(&self, path: &str, body: Value) -> i64 {
        self.create(path, body).await["id"].as_i64().expect("numeric id")
    }

    /// Creates a key for a user and returns its secret.
    pub async fn key_for(&self, user_id: i64, scopes: &[&str]) -> String {
        let body = self.create("/api/keys", json!({"user_id": user_id, "scopes": scopes})).await;
        body["key"].as_str().expect("secret in `key`").to_owned()
    }

    /// The total of a list as admin.
    pub async fn total(&self, path: &str) -> u64 {
        let reply = self.get(path, ADMIN_KEY).await;
        assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
        reply.body["meta"]["total"].as_u64().expect("total")
    }

    /// Stops the server gracefully and waits for it; returns the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server ends cleanly");
        }
        let placeholder = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, placeholder)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// Every configuration record as stored, document and unique value, read from the
    /// database itself (SQLite's file, or PostgreSQL's table) behind the server's back.
    pub async fn stored_config_rows(&self) -> Vec<String> {
        const SQL: &str = "SELECT doc || coalesce(unique_key, '') FROM config_records";
        if let Some(url) = &self.state.settings.database_url {
            let (client, connection) =
                tokio_postgres::connect(url.expose(), tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(connection);
            return client.query(SQL, &[]).await.expect("rows").iter().map(|r| r.get(0)).collect();
        }
        let conn = rusqlite::Connection::open(self.dir.path().join("clicktrail.db")).expect("open");
        let mut stmt = conn.prepare(SQL).expect("prepare");
        stmt.query_map([], |r| r.get(0)).expect("rows").map(|r| r.expect("row")).collect()
    }

    /// A stored click, waiting for the writer (default mode answers before the write).
    pub async fn stored_click(&self, id: &str) -> clicktrail_domain::click::Click {
        let id = clicktrail_domain::click::ClickId::parse(id).expect("click id");
        for _ in 0..200 {
            if let Some(click) = self.tracker.events().click(id).await.expect("events store") {
                return click;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("click {id} was never stored");
    }
}

/// A valid offer body with `extra` fields merged in.
pub fn offer_body(name: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": name,
        "destination_url": "https://shop.example/land?cid={click_id}&s1={sub1}",
        "payout": 2.5, "payout_type": "cpa", "revenue": 4,
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    body
}

/// The ids in a list answer.
pub fn ids(reply: &Reply) -> Vec<i64> {
    reply.body["data"].as_array().map(|a| a.iter().filter_map(|r| r["id"].as_i64()).collect()).unwrap_or_default()
}
