//! No answered click is lost: SIGTERM mid-load drains the buffer (default mode), and in durable
//! mode even `kill -9` loses nothing that was answered.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

const ADMIN: &str = "durability-admin-key-000111";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(dir: &std::path::Path, port: u16, mode: &str) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clicktrail"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CLICKTRAIL_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("CLICKTRAIL_ADMIN_KEY", ADMIN)
        .env("CLICKTRAIL_WRITE_MODE", mode)
        .env("CLICKTRAIL_GEOIP_AUTO_INSTALL", "false")
        .env("CLICKTRAIL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("server starts")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server at {base} did not become ready");
}

async fn create(client: &reqwest::Client, base: &str, path: &str, body: Value) -> i64 {
    let r: Value =
        client.post(format!("{base}{path}")).bearer_auth(ADMIN).json(&body).send().await.unwrap().json().await.unwrap();
    r["id"].as_i64().unwrap_or_else(|| panic!("{path}: {r}"))
}

/// Sends clicks from 32 connections until the server goes away; stops it with `signal` once
/// `stop_after` clicks were answered. Returns the ids of every answered click.
async fn load_then_stop(mode: &str, signal: &str, stop_after: usize) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = start(dir.path(), port, mode);
    clicktrail::install_crypto();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    wait_ready(&client, &base).await;
    let aff = create(&client, &base, "/api/affiliates", json!({"name": "Load"})).await;
    let offer = create(&client, &base, "/api/offers", json!({"name": "O", "destination_url": "https://x.example/?c={click_id}", "payout": 1, "payout_type": "cpa", "revenue": 2})).await;

    let answered = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for worker in 0..32 {
        let (client, answered, count, stop) = (client.clone(), answered.clone(), count.clone(), stop.clone());
        let url = format!("{base}/c/{offer}/{aff}?async=json&sub1=w{worker}");
        tasks.push(tokio::spawn(async move {
            for _ in 0..2_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(response) =
                    client.get(&url).header("x-forwarded-for", format!("198.51.100.{worker}")).send().await
                else {
                    break;
                };
                let Ok(body) = response.json::<Value>().await else { break };
                if let Some(id) = body["transaction_id"].as_str() {
                    answered.lock().await.push(id.to_owned());
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < stop_after {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    stop.store(true, Ordering::Relaxed);
    let status = child.wait().unwrap();
    if signal == "-TERM" {
        assert!(status.success(), "SIGTERM ends the server cleanly: {status}");
    }
    // Start again (recovering the database after a kill), then stop and read what is stored.
    let port = free_port();
    let mut again = start(dir.path(), port, mode);
    wait_ready(&client, &format!("http://127.0.0.1:{port}")).await;
    Command::new("kill").args(["-TERM", &again.id().to_string()]).status().unwrap();
    assert!(again.wait().unwrap().success());
    let ids = answered.lock().await.clone();
    (dir, ids)
}

fn missing(dir: &std::path::Path, ids: &[String]) -> Vec<String> {
    let conn = rusqlite::Connection::open(dir.join("events.db")).unwrap();
    let mut stmt = conn.prepare("SELECT count(*) FROM clicks WHERE id = ?1").unwrap();
    ids.iter()
        .filter(|id| {
            let bytes = hex::decode(id).unwrap();
            stmt.query_row([bytes], |r| r.get::<_, i64>(0)).unwrap() != 1
        })
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_load_loses_no_answered_click() {
    let (dir, ids) = load_then_stop("default", "-TERM", 1_500).await;
    assert!(ids.len() >= 1_500, "{} clicks answered", ids.len());
    let lost = missing(dir.path(), &ids);
    assert!(lost.is_empty(), "{} of {} answered clicks lost: {:?}", lost.len(), ids.len(), &lost[..lost.len().min(5)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_mode_survives_kill_9() {
    let (dir, ids) = load_then_stop("durable", "-KILL", 1_500).await;
    assert!(ids.len() >= 1_500, "{} clicks answered", ids.len());
    let lost = missing(dir.path(), &ids);
    assert!(lost.is_empty(), "{} of {} answered clicks lost after kill -9", lost.len(), ids.len());
}
