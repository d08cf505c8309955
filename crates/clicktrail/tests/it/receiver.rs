//! A real local HTTP receiver for affiliate postbacks: records every request and answers with
//! a scripted status.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;

/// One received request.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
}

impl Received {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    /// A header.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(String::from)
    }
}

#[derive(Default)]
struct Script {
    received: Vec<Received>,
    /// Statuses to answer, in order; 200 once they run out.
    answers: Vec<u16>,
    /// How long each answer waits after the request is recorded.
    delay: Duration,
}

/// The receiver.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

async fn record(
    State(script): State<Arc<Mutex<Script>>>,
    uri: Uri,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> StatusCode {
    let (code, delay) = {
        let mut s = script.lock().unwrap();
        s.received.push(Received { path: uri.path().to_owned(), query: q.unwrap_or_default(), headers });
        (if s.answers.is_empty() { 200 } else { s.answers.remove(0) }, s.delay)
    };
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(code).unwrap()
}

impl Receiver {
    /// Starts on a free port.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// Starts on a given address (to come back on the same port).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new().fallback(get(record)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, script }
    }

    /// Answers these statuses first.
    pub fn answer(&self, codes: &[u16]) {
        self.script.lock().unwrap().answers.extend_from_slice(codes);
    }

    /// Answers each request `delay` after recording it (deliveries stay in flight that long).
    pub fn slow(&self, delay: Duration) {
        self.script.lock().unwrap().delay = delay;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// Waits until `n` requests arrived (or fails after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "expected {n} postbacks, got {}: {got:?}", got.len());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}
