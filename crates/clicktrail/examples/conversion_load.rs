//! The conversion benchmark's load generator (run by `bench/conversions.sh` against a running
//! Clicktrail): makes clicks, sends their conversions to `/postback` from many connections,
//! and measures, with a local receiver, how long each affiliate postback's first attempt takes
//! to arrive after the conversion was answered.
//!
//! Usage: `conversion_load BASE_URL ADMIN_KEY COUNT CONNECTIONS [RATE]` — with a RATE
//! (conversions per second) the conversions are paced; without, they are sent at full speed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::get;
use serde_json::{Value, json};

type Arrivals = Arc<Mutex<HashMap<i64, Instant>>>;

async fn arrive(State(arrivals): State<Arrivals>, RawQuery(q): RawQuery) -> &'static str {
    let now = Instant::now();
    let id = url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "conv")
        .and_then(|(_, v)| v.parse::<i64>().ok());
    if let Some(id) = id {
        arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(id).or_insert(now);
    }
    "ok"
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn post(client: &reqwest::Client, base: &str, key: &str, path: &str, body: Value) -> anyhow::Result<Value> {
    let r = client.post(format!("{base}{path}")).bearer_auth(key).json(&body).send().await?;
    let status = r.status();
    let v: Value = r.json().await?;
    anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
    Ok(v)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    clicktrail::install_crypto();
    let args: Vec<String> = std::env::args().collect();
    let (base, key, count, conns, rate) = match args.as_slice() {
        [_, base, key, count, conns] => (base, key, count.parse::<usize>()?, conns.parse::<usize>()?, None),
        [_, base, key, count, conns, rate] => (base, key, count.parse()?, conns.parse()?, Some(rate.parse::<u64>()?)),
        _ => anyhow::bail!("usage: conversion_load BASE_URL ADMIN_KEY COUNT CONNECTIONS [RATE]"),
    };
    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver = listener.local_addr()?;
    let app = Router::new().route("/pb", get(arrive)).with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::builder().pool_max_idle_per_host(conns).build()?;
    let aff =
        post(&client, base, key, "/api/affiliates", json!({"name": "Bench"})).await?["id"].as_i64().unwrap_or_default();
    let offer = post(&client, base, key, "/api/offers", json!({"name": "Bench", "destination_url": "https://shop.example/?c={click_id}", "payout": 2, "payout_type": "cpa", "revenue": 3})).await?["id"].as_i64().unwrap_or_default();
    post(&client, base, key, "/api/postbacks", json!({"affiliate_id": aff, "url": format!("http://{receiver}/pb?cid={{click_id}}&conv={{conversion_id}}&p={{payout}}")})).await?;

    eprintln!("making {count} clicks …");
    let clicks = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let mut tasks = Vec::new();
    for w in 0..conns {
        let (client, base, clicks) = (client.clone(), base.clone(), clicks.clone());
        let n = count / conns + usize::from(w < count % conns);
        tasks.push(tokio::spawn(async move {
            for _ in 0..n {
                let v: Value = client.get(format!("{base}/c/{offer}/{aff}?async=json")).send().await?.json().await?;
                clicks
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(v["transaction_id"].as_str().unwrap_or_default().to_owned());
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    eprintln!("sending {count} conversions {} …", rate.map_or("at full speed".to_owned(), |r| format!("at {r}/s")));
    let ids: Vec<String> = clicks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let (feed, queue) = tokio::sync::mpsc::channel::<String>(conns);
    let queue = Arc::new(tokio::sync::Mutex::new(queue));
    tokio::spawn(async move {
        let mut tick = rate.map(|r| tokio::time::interval(Duration::from_secs_f64(1.0 / r.max(1) as f64)));
        for id in ids {
            if let Some(t) = tick.as_mut() {
                t.tick().await;
            }
            if feed.send(id).await.is_err() {
                break;
            }
        }
    });
    let answered: Arc<Mutex<HashMap<i64, Instant>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (client, base, queue, answered) = (client.clone(), base.clone(), queue.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(cid) = queue.lock().await.recv().await else { break };
                let v: Value = client
                    .get(format!("{base}/postback?click_id={cid}&txid={cid}&amount=10"))
                    .send()
                    .await?
                    .json()
                    .await?;
                let id = v["conversion_id"].as_i64().ok_or_else(|| anyhow::anyhow!("no conversion id: {v}"))?;
                answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id, Instant::now());
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len() < count && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answered = answered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let arrivals = arrivals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let mut latencies: Vec<f64> = answered
        .iter()
        .filter_map(|(id, at)| arrivals.get(id).map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let mode = rate.map_or("peak".to_owned(), |r| format!("paced at {r}/s"));
    println!(
        "[{mode}] conversions: {count} in {:.2} s = {:.0} conversions/s over {conns} connections",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    println!("[{mode}] postbacks received: {} of {count}", arrivals.len());
    println!(
        "[{mode}] conversion answered -> postback received, ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
