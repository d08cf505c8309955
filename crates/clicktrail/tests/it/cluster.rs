//! Many nodes (issue 14, SPEC §7): three `clicktrail serve` processes behind HAProxy on one
//! PostgreSQL, one Redis and a two-shard ClickHouse, all on loopback — caps exact under
//! concurrent load, no acknowledged click lost or counted twice across a `kill -9`, a change on
//! one node used by another within 2 s, postbacks delivered while a node dies.
//!
//! The services are those `scripts/test.sh` starts (`TEST_DATABASE_URL`, `TEST_REDIS_URL`,
//! `TEST_CLICKHOUSE_SHARDS`, `TEST_CLICKHOUSE_CLUSTER`, else the local defaults) and Debian's
//! `haproxy`; a test fails when one is missing. `scripts/cluster.sh` starts the same topology by
//! hand.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::receiver::Receiver;

const ADMIN: &str = "cluster-admin-key-000111222";
const UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One node: its port, its data directory (GeoIP and the like; the data is shared) and its
/// process while it runs.
struct Node {
    port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clicktrail"));
        for (key, _) in std::env::vars() {
            if key.starts_with("CLICKTRAIL_") {
                cmd.env_remove(key);
            }
        }
        let log = self.config.with_extension("log");
        let log = std::fs::File::create(log).expect("a node log");
        let child = cmd
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("a node starts");
        self.child = Some(child);
    }

    /// `kill -9`: nothing is drained, nothing is flushed.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Three nodes behind a balancer, on backends of their own (a PostgreSQL schema, a Redis key
/// prefix and a ClickHouse database named after the cluster).
pub struct Cluster {
    /// The balancer's base URL.
    pub base: String,
    nodes: Vec<Node>,
    balancer: Child,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = self.balancer.kill();
        let _ = self.balancer.wait();
    }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become ready");
}

fn settings(dir: &Path, port: u16, id: &str, write_mode: &str) -> String {
    let pg = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let join = if pg.contains('?') { '&' } else { '?' };
    let redis = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    let shards = std::env::var("TEST_CLICKHOUSE_SHARDS")
        .unwrap_or_else(|_| "http://127.0.0.1:18123,http://127.0.0.1:18124".into());
    let clickhouse: Vec<String> =
        shards.split(',').map(|s| format!("{}/ct_cl_{id}", s.trim().trim_end_matches('/'))).collect();
    let cluster = std::env::var("TEST_CLICKHOUSE_CLUSTER").unwrap_or_else(|_| "clicktrail_test".into());
    format!(
        r#"listen = "127.0.0.1:{port}"
data_dir = "{dir}"
log = "warn"
database_url = "{pg}{join}options=-csearch_path%3Dct_cl_{id}"
redis_url = "{redis}"
redis_prefix = "ct-cl-{id}"
clickhouse_url = "{clickhouse}"
clickhouse_cluster = "{cluster}"
admin_key = "{ADMIN}"
write_mode = "{write_mode}"
geoip_auto_install = false
trusted_proxies = ["127.0.0.1"]
postback_allowlist = ["127.0.0.1/32"]
# The tests poll the API far more than a person would.
rate_limit_standard = 1000000
rate_limit_premium = 1000000
rate_limit_burst = 1000000
"#,
        dir = dir.display(),
        clickhouse = clickhouse.join(","),
    )
}

/// The balancer's settings: `scripts/haproxy.cfg.in`, as `scripts/cluster.sh` fills it, with
/// one connection to a node per request (a node killed mid-load must never leave the balancer
/// a kept-alive connection to send the next request down).
fn haproxy_config(port: u16, nodes: &[u16]) -> String {
    let servers: String =
        nodes.iter().enumerate().map(|(i, p)| format!("    server node{} 127.0.0.1:{p} check\n", i + 1)).collect();
    include_str!("../../../../scripts/haproxy.cfg.in")
        .replace("@PORT@", &port.to_string())
        .replace("@SERVERS@", &servers)
        .replace("@EXTRA@", "    option http-server-close")
}

impl Cluster {
    /// Starts the nodes (the first alone, so it creates the network) and the balancer.
    pub async fn start(write_mode: &str) -> Self {
        clicktrail::install_crypto();
        let dir = tempfile::tempdir().unwrap();
        let id = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
        );
        let pg =
            std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let (client, connection) = tokio_postgres::connect(&pg, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("the cluster needs PostgreSQL at {pg}: {e}"));
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE SCHEMA ct_cl_{id}")).await.expect("a schema");
        let mut nodes = Vec::new();
        for n in 0..3 {
            let data = dir.path().join(format!("node{}", n + 1));
            std::fs::create_dir_all(&data).unwrap();
            let port = free_port();
            let config = dir.path().join(format!("node{}.toml", n + 1));
            std::fs::write(&config, settings(&data, port, &id, write_mode)).unwrap();
            nodes.push(Node { port, config, child: None });
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        nodes[0].start();
        wait_ready(&http, &nodes[0].base()).await;
        for node in &mut nodes[1..] {
            node.start();
        }
        for node in &nodes[1..] {
            wait_ready(&http, &node.base()).await;
        }
        let port = free_port();
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(&cfg, haproxy_config(port, &nodes.iter().map(|n| n.port).collect::<Vec<_>>())).unwrap();
        let balancer = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the cluster test needs Debian's haproxy (scripts/test.sh installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let cluster = Self { base, nodes, balancer, client: http, _dir: dir };
        cluster.wait_balanced().await;
        cluster
    }

    /// Waits until the balancer sends requests to every node.
    async fn wait_balanced(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let mut ok = 0;
            for _ in 0..6 {
                if self.client.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status().is_success())
                {
                    ok += 1;
                }
            }
            if ok == 6 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the balancer never answered");
    }

    /// The base URL of node `n` (from 0), bypassing the balancer.
    pub fn node(&self, n: usize) -> String {
        self.nodes[n].base()
    }

    pub fn kill(&mut self, n: usize) {
        self.nodes[n].kill();
    }

    pub async fn restart(&mut self, n: usize) {
        self.nodes[n].start();
        wait_ready(&self.client, &self.nodes[n].base()).await;
    }

    /// A `POST` as admin to `base`; the answer.
    pub async fn post(&self, base: &str, path: &str, body: Value) -> Value {
        self.client
            .post(format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// A record made through the balancer; its id.
    pub async fn create(&self, path: &str, body: Value) -> i64 {
        let r = self.post(&self.base, path, body).await;
        r["id"].as_i64().unwrap_or_else(|| panic!("{path}: {r}"))
    }

    pub async fn get(&self, base: &str, path: &str) -> Value {
        let r = self.client.get(format!("{base}{path}")).bearer_auth(ADMIN).send().await.unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    pub async fn patch(&self, base: &str, path: &str, body: Value) {
        let r = self.client.patch(format!("{base}{path}")).bearer_auth(ADMIN).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// An offer with `extra` merged into a valid body, once every node knows it (the change
    /// reaches them within their poll; until then a node answers "unknown offer").
    pub async fn offer(&self, name: &str, extra: Value) -> i64 {
        let id = self.create("/api/offers", crate::helpers::offer_body(name, extra)).await;
        self.wait_known(id).await;
        id
    }

    /// Waits until every running node's catalog holds `offer`: a click for an affiliate that
    /// does not exist answers "unknown affiliate" (counted nowhere, taking no cap) once the
    /// node knows the offer.
    async fn wait_known(&self, offer: i64) {
        let unknown = json!(clicktrail_domain::click::Rejection::UnknownOffer.code());
        let started = Instant::now();
        for node in self.nodes.iter().filter(|n| n.child.is_some()) {
            loop {
                let answer = click(&self.client, &node.base(), offer, 999_999_999, "203.0.113.1", "probe").await;
                if answer.is_some_and(|a| a["error_code"] != unknown) {
                    break;
                }
                // Set-up, not the measurement (that is `a_change_on_one_node_…`): a loaded CI
                // machine gets some slack.
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "offer {offer} unknown on {} after 5 s",
                    node.base()
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// A click on `base` (`async=json`): its answer, with the click's id or the error code that
/// refused it; `None` when no answer came (the node died).
async fn click(client: &reqwest::Client, base: &str, offer: i64, aff: i64, ip: &str, sub1: &str) -> Option<Value> {
    let response = client
        .get(format!("{base}/c/{offer}/{aff}?async=json&sub1={sub1}"))
        .header("user-agent", UA)
        .header("x-forwarded-for", ip)
        .send()
        .await
        .ok()?;
    // A refused click answers with its error code, whatever the status.
    response.json::<Value>().await.ok()
}

/// Sends `per_worker` clicks from each of `workers` connections through the balancer, on
/// offer and affiliate pairs chosen round-robin; the answers by pair.
async fn flood(
    cluster: &Cluster,
    pairs: &[(i64, i64)],
    workers: usize,
    per_worker: usize,
) -> HashMap<(i64, i64), Vec<Value>> {
    let answers = Arc::new(Mutex::new(HashMap::<(i64, i64), Vec<Value>>::new()));
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, base, answers, pairs) =
            (cluster.client.clone(), cluster.base.clone(), answers.clone(), pairs.to_vec());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_worker {
                let (offer, aff) = pairs[(w + i) % pairs.len()];
                let ip = format!("198.51.{}.{}", w % 250, i % 250);
                let answer = click(&client, &base, offer, aff, &ip, &format!("w{w}n{i}"))
                    .await
                    .expect("every click is answered");
                answers.lock().await.entry((offer, aff)).or_default().push(answer);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    Arc::try_unwrap(answers).unwrap().into_inner()
}

fn admitted(answers: &[Value]) -> usize {
    answers.iter().filter(|a| a.get("error_code").is_none() && a["transaction_id"].is_string()).count()
}

/// A daily click cap on the offer and one per affiliate, hit from 24 connections spread over
/// three nodes at once, 20 times: every run admits exactly the cap, and refuses the rest as
/// over the cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn click_caps_admit_exactly_the_cap_across_three_nodes() {
    let mut cluster = Cluster::start("default").await;
    let mut affs = Vec::new();
    for i in 0..4 {
        affs.push(cluster.create("/api/affiliates", json!({"name": format!("Pub {i}")})).await);
    }
    for run in 0..20 {
        // The offer's cap binds: four affiliates of up to 12 each could take 48, the offer 30.
        let both = cluster
            .offer(
                &format!("Both caps {run}"),
                json!({"caps": {"offer": {"daily_clicks": 30}, "per_affiliate": {"daily_clicks": 12}}}),
            )
            .await;
        // The affiliate's cap binds: one affiliate, 9 of its clicks.
        let single = cluster
            .offer(&format!("Affiliate cap {run}"), json!({"caps": {"per_affiliate": {"daily_clicks": 9}}}))
            .await;
        let mut pairs: Vec<(i64, i64)> = affs.iter().map(|a| (both, *a)).collect();
        pairs.push((single, affs[0]));
        let answers = flood(&cluster, &pairs, 24, 5).await;
        let on_both: usize = affs.iter().map(|a| admitted(&answers[&(both, *a)])).sum();
        assert_eq!(on_both, 30, "run {run}: the offer cap of 30 admits exactly 30");
        for a in &affs {
            let got = admitted(&answers[&(both, *a)]);
            assert!(got <= 12, "run {run}: affiliate {a} took {got}, over its cap of 12");
        }
        assert_eq!(admitted(&answers[&(single, affs[0])]), 9, "run {run}: the affiliate cap of 9 admits exactly 9");
        if run == 10 {
            // A node restarted with the caps full re-seeds them from the stored clicks without
            // adding to them: nothing more is admitted, on any node.
            cluster.kill(1);
            cluster.restart(1).await;
            cluster.wait_balanced().await;
            let again = flood(&cluster, &pairs, 6, 5).await;
            assert_eq!(
                admitted(&again.into_values().flatten().collect::<Vec<_>>()),
                0,
                "after a restart the caps are still full"
            );
        }
        for answer in answers.values().flatten().filter(|a| a.get("error_code").is_some()) {
            assert_eq!(
                answer["error_code"],
                json!(clicktrail_domain::click::Rejection::CapReached.code()),
                "run {run}: refused only as over the cap: {answer}"
            );
        }
    }
}

/// A daily conversion cap, with postbacks for 40 clicks sent to the three nodes at once:
/// exactly the cap approved, the rest rejected as over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversion_caps_approve_exactly_the_cap_across_nodes() {
    let cluster = Cluster::start("default").await;
    let aff = cluster.create("/api/affiliates", json!({"name": "Pub"})).await;
    for run in 0..5 {
        let offer = cluster.offer(&format!("Capped {run}"), json!({"caps": {"offer": {"daily_conversions": 7}}})).await;
        let mut clicks = Vec::new();
        for i in 0..40 {
            let answer =
                click(&cluster.client, &cluster.base, offer, aff, &format!("203.0.113.{i}"), "x").await.unwrap();
            clicks.push(answer["transaction_id"].as_str().unwrap().to_owned());
        }
        // Every node must see the clicks before it can attribute a conversion to them.
        tokio::time::sleep(Duration::from_millis(600)).await;
        let mut tasks = Vec::new();
        for (i, id) in clicks.into_iter().enumerate() {
            let (client, base) = (cluster.client.clone(), cluster.node(i % 3));
            tasks.push(tokio::spawn(async move {
                let r = client.get(format!("{base}/postback?click_id={id}")).send().await.unwrap();
                r.json::<Value>().await.unwrap()
            }));
        }
        let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
        for t in tasks {
            let body = t.await.unwrap();
            *statuses.entry(body["status"].as_str().unwrap_or("none").to_owned()).or_default() += 1;
        }
        assert_eq!(statuses.get("approved"), Some(&7), "run {run}: exactly the cap of 7 approved: {statuses:?}");
        assert_eq!(statuses.get("rejected"), Some(&33), "run {run}: the rest rejected: {statuses:?}");
    }
}

/// Clicks sent from 16 connections through the balancer (durable mode, so an answer means
/// stored); one node is killed with `kill -9` mid-load and started again, 10 times. Every
/// acknowledged click is in the reports exactly once, and what the reports count beyond the
/// acknowledged ones is no more than the requests in flight when the node died.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_load_loses_no_acknowledged_click() {
    let mut cluster = Cluster::start("durable").await;
    let aff = cluster.create("/api/affiliates", json!({"name": "Load"})).await;
    for run in 0..10 {
        let offer = cluster.offer(&format!("Load {run}"), json!({})).await;
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..16 {
            let (client, base, acked, stop) =
                (cluster.client.clone(), cluster.base.clone(), acked.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let sub1 = format!("r{run}w{w}n{i}");
                    i += 1;
                    // A request lost with its node is simply not acknowledged.
                    if let Some(answer) = click(&client, &base, offer, aff, &format!("192.0.2.{w}"), &sub1).await
                        && answer["transaction_id"].is_string()
                    {
                        assert!(answer.get("error_code").is_none(), "run {run}: {answer}");
                        acked.lock().await.push(sub1);
                    }
                }
            }));
        }
        let victim = run % 3;
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.lock().await.len() < 150 {
            assert!(Instant::now() < deadline, "run {run}: the load did not get going");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster.kill(victim);
        let killed_at = acked.lock().await.len();
        while acked.lock().await.len() < killed_at + 150 {
            assert!(Instant::now() < deadline, "run {run}: the other nodes did not take the load");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        cluster.restart(victim).await;
        let acked = acked.lock().await.clone();
        // Read the report by sub1 until every acknowledged click shows (ClickHouse is fed in
        // batches).
        let wait = Instant::now() + Duration::from_secs(20);
        let counted = loop {
            let report = cluster.get(&cluster.base, &format!("/api/reports?group_by=sub1&offer_id={offer}")).await;
            let counted: HashMap<String, u64> = report["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["sub1"].as_str().unwrap_or_default().to_owned(), r["clicks"].as_u64().unwrap_or(0)))
                .collect();
            if acked.iter().all(|s| counted.contains_key(s)) || Instant::now() > wait {
                break counted;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let lost: Vec<&String> = acked.iter().filter(|s| !counted.contains_key(*s)).collect();
        assert!(lost.is_empty(), "run {run}: {} acknowledged clicks missing from the reports: {lost:?}", lost.len());
        let twice: Vec<(&String, &u64)> = counted.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "run {run}: clicks counted more than once: {twice:?}");
        let unacked = counted.len() - acked.len();
        assert!(unacked <= 16, "run {run}: {unacked} clicks stored beyond the acknowledged, more than were in flight");
    }
}

/// Pausing an offer on node 1 stops its clicks on node 3, and a payout changed on node 1 is
/// what node 3 pays: each within 2 s (p99 of 20 changes; the figure is printed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_on_one_node_holds_on_another_within_two_seconds() {
    let cluster = Cluster::start("default").await;
    let aff = cluster.create("/api/affiliates", json!({"name": "Pub"})).await;
    let offer = cluster.offer("Toggled", json!({})).await;
    let (first, third) = (cluster.node(0), cluster.node(2));
    let mut took = Vec::new();
    for change in 0..20 {
        let paused = change % 2 == 0;
        let status = if paused { "paused" } else { "active" };
        let started = Instant::now();
        cluster.patch(&first, &format!("/api/offers/{offer}"), json!({"status": status})).await;
        loop {
            let answer = click(&cluster.client, &third, offer, aff, "203.0.113.50", "t").await.unwrap();
            if answer.get("error_code").is_some() == paused {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(5), "change {change}: node 3 never saw the offer {status}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        took.push(started.elapsed());
    }
    took.sort();
    let p99 = took[took.len() * 99 / 100 - usize::from(took.len() * 99 % 100 == 0)];
    eprintln!(
        "propagation of a configuration change, node 1 to node 3: median {:?}, p99 {p99:?}",
        took[took.len() / 2]
    );
    assert!(p99 <= Duration::from_secs(2), "p99 {p99:?}");

    // A key revoked on node 1 is refused by node 3 at once (no node keeps keys in memory).
    let made = cluster.post(&first, "/api/keys", json!({"user_id": aff, "scopes": ["read:stats"]})).await;
    let (key, secret) = (made["id"].as_i64().unwrap(), made["key"].as_str().unwrap().to_owned());
    let me = |base: String, secret: String| {
        let client = cluster.client.clone();
        async move { client.get(format!("{base}/api/me")).bearer_auth(secret).send().await.unwrap().status() }
    };
    assert_eq!(me(third.clone(), secret.clone()).await, reqwest::StatusCode::OK);
    let revoked = cluster.client.delete(format!("{first}/api/keys/{key}")).bearer_auth(ADMIN).send().await.unwrap();
    assert!(revoked.status().is_success());
    assert_eq!(
        me(third.clone(), secret).await,
        reqwest::StatusCode::UNAUTHORIZED,
        "revoked on node 1, refused on node 3"
    );

    // A payout: a conversion recorded on node 3 pays what node 1 set.
    cluster.patch(&first, &format!("/api/offers/{offer}"), json!({"status": "active", "payout": 7.25})).await;
    let started = Instant::now();
    loop {
        let id = click(&cluster.client, &third, offer, aff, "203.0.113.51", "p").await.unwrap()["transaction_id"]
            .as_str()
            .map(str::to_owned);
        if let Some(id) = id {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let body: Value = cluster
                .client
                .get(format!("{third}/postback?click_id={id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let conversion = cluster.get(&third, &format!("/api/conversions/{}", body["conversion_id"])).await;
            if conversion["payout"].as_f64() == Some(7.25) || conversion["payout"] == json!("7.25") {
                break;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(3), "node 3 never paid the new payout");
    }
}

/// Conversions recorded on each of the three nodes, with one node killed while its postbacks
/// are in flight (the receiver answers each after 300 ms): every conversion's postback arrives,
/// and each ends with a delivered attempt in its log — the dead node's jobs are delivered by
/// another once their lease ends (at least once: the receiver may see those twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postbacks_from_every_node_arrive_while_a_node_dies() {
    let mut cluster = Cluster::start("default").await;
    let rx = Receiver::start().await;
    rx.slow(Duration::from_millis(300));
    let aff = cluster.create("/api/affiliates", json!({"name": "Pub"})).await;
    cluster.create("/api/postbacks", json!({"affiliate_id": aff, "url": rx.url("/pb?c={conversion_id}")})).await;
    let offer = cluster.offer("Paid", json!({})).await;
    let mut clicks = Vec::new();
    for i in 0..30 {
        let answer = click(&cluster.client, &cluster.base, offer, aff, &format!("203.0.113.{i}"), "x").await.unwrap();
        clicks.push(answer["transaction_id"].as_str().unwrap().to_owned());
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut conversions = Vec::new();
    for (i, id) in clicks.iter().enumerate() {
        // Node 1 takes every third conversion until it dies, after the 15th.
        let node = if i < 15 { i % 3 } else { 1 + i % 2 };
        let body: Value = cluster
            .client
            .get(format!("{}/postback?click_id={id}", cluster.node(node)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        conversions.push(body["conversion_id"].as_i64().unwrap_or_else(|| panic!("{body}")));
        if i == 14 {
            cluster.kill(0);
        }
    }
    rx.wait_for(30, Duration::from_secs(60)).await;
    // Every log ends delivered: the killed node's leases run out (30 s) and another node sends.
    let deadline = Instant::now() + Duration::from_secs(90);
    for c in &conversions {
        loop {
            let log = cluster.get(&cluster.node(1), &format!("/api/conversions/{c}/deliveries")).await;
            let delivered = log["data"].as_array().is_some_and(|d| d.iter().any(|a| a["outcome"] == "delivered"));
            if delivered {
                break;
            }
            assert!(Instant::now() < deadline, "conversion {c}'s postback never logged as delivered: {log}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    // What arrived, counted once every log is final.
    let received = rx.received();
    let mut by_conversion: BTreeMap<i64, usize> = BTreeMap::new();
    for r in &received {
        let c: i64 = r.query.trim_start_matches("c=").parse().unwrap();
        *by_conversion.entry(c).or_default() += 1;
    }
    for c in &conversions {
        assert!(by_conversion.contains_key(c), "conversion {c}'s postback never arrived: {by_conversion:?}");
    }
    let twice = by_conversion.values().filter(|n| **n > 1).count();
    eprintln!(
        "postbacks: {} conversions, {} received, {twice} delivered twice (a node died mid-delivery)",
        conversions.len(),
        received.len()
    );
    cluster.restart(0).await;
}
