//! The `clicktrail` binary: settings, migrations, first start, keys, users, demo, shutdown.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_clicktrail"));
    for (key, _) in std::env::vars() {
        if key.starts_with("CLICKTRAIL_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("NO_COLOR", "1").env("CLICKTRAIL_GEOIP_AUTO_INSTALL", "false");
    cmd
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `clicktrail serve` child process, killed on drop.
struct Server {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

impl Server {
    fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut cmd = bin();
        cmd.args(["serve", "--data-dir"]).arg(dir).args(["--listen", &format!("127.0.0.1:{port}")]);
        cmd.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("serve starts");
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut stdout = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut line = String::new();
            assert!(Instant::now() < deadline, "server did not start: {stdout:?}");
            if reader.read_line(&mut line).expect("read stdout") == 0 {
                panic!("server exited: {stdout:?}");
            }
            let done = line.contains("listening on");
            stdout.push(line.trim_end().to_owned());
            if done {
                break;
            }
        }
        Self { child, base: format!("http://127.0.0.1:{port}"), stdout }
    }

    /// The admin key the server printed at start, if it printed one.
    fn printed_key(&self) -> Option<String> {
        self.stdout.iter().find_map(|l| l.strip_prefix("Admin API key (shown once, store it now): ")).map(str::to_owned)
    }

    fn get(&self, path: &str, key: &str) -> (u16, Value) {
        http::blocking_get(&format!("{}{path}", self.base), key)
    }

    /// A panel login's status (303 logged in, 401 refused).
    fn login(&self, email: &str, password: &str) -> u16 {
        http::blocking_login(&format!("{}/panel/login", self.base), email, password)
    }

    /// Sends SIGTERM and returns whether the process exited successfully, and its stderr.
    fn terminate(mut self) -> (bool, String) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let mut stderr = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    std::io::Read::read_to_string(&mut e, &mut stderr).ok();
                }
                return (status.success(), stderr);
            }
            assert!(Instant::now() < deadline, "server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod http {
    //! A tiny blocking GET over the async client (the tests here are synchronous).
    use serde_json::Value;

    pub fn blocking_get(url: &str, key: &str) -> (u16, Value) {
        clicktrail::install_crypto();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let r = ::reqwest::Client::new().get(url).bearer_auth(key).send().await.expect("request");
            let status = r.status().as_u16();
            (status, r.json().await.unwrap_or(Value::Null))
        })
    }

    pub fn blocking_login(url: &str, email: &str, password: &str) -> u16 {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("email", email)
            .append_pair("password", password)
            .finish();
        runtime.block_on(async {
            let client =
                ::reqwest::Client::builder().redirect(::reqwest::redirect::Policy::none()).build().expect("client");
            let r = client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("request");
            r.status().as_u16()
        })
    }
}

#[test]
fn print_config_layers_and_redacts() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "network_name = \"From File\"\nlisten = \"127.0.0.1:9999\"\n").unwrap();
    let (ok, out, err) = run(bin()
        .args(["--config"])
        .arg(&file)
        .arg("print-config")
        .env("CLICKTRAIL_TIMEZONE", "Asia/Kathmandu")
        .env("CLICKTRAIL_ADMIN_KEY", "super-secret-admin-key")
        .env("CLICKTRAIL_TRUSTED_PROXIES", "10.0.0.0/8,192.168.1.1"));
    assert!(ok, "{err}");
    assert!(out.contains("network_name = \"From File\"") && out.contains("127.0.0.1:9999"), "{out}");
    assert!(out.contains("Asia/Kathmandu") && out.contains("10.0.0.0/8") && out.contains("192.168.1.1/32"), "{out}");
    assert!(out.contains("admin_key = \"[redacted]\"") && !out.contains("super-secret-admin-key"), "{out}");
    let (ok, _, err) = run(bin().arg("print-config").env("CLICKTRAIL_LISTN", "x"));
    assert!(!ok && err.contains("listn"), "unknown keys are rejected: {err}");
    std::fs::write(&file, "lissten = 1\n").unwrap();
    let (ok, _, err) = run(bin().arg("--config").arg(&file).arg("print-config"));
    assert!(!ok && err.contains("lissten"), "{err}");
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, err) = run(bin().arg("--data-dir").arg(dir.path()).arg("migrate"));
    assert!(ok, "{err}");
    assert!(out.contains("up to date"));
    for db in ["clicktrail.db", "events.db"] {
        assert!(out.contains(db), "migrate prepares {db}: {out}");
        assert!(dir.path().join(db).exists());
    }
}

/// A backend that cannot be reached stops the start
/// with a message naming its setting, instead of silently running on the embedded store; the
/// URL's password is never printed.
#[test]
fn a_backend_url_that_cannot_serve_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    for (var, url, engine) in [
        ("CLICKTRAIL_DATABASE_URL", "postgres://u:secret@127.0.0.1:1/ct", "PostgreSQL"),
        ("CLICKTRAIL_CLICKHOUSE_URL", "http://u:secret@127.0.0.1:1/ct", "ClickHouse"),
        ("CLICKTRAIL_REDIS_URL", "redis://u:secret@127.0.0.1:1/0", "Redis"),
    ] {
        for command in ["migrate", "serve"] {
            let (ok, _, err) = run(bin().arg("--data-dir").arg(dir.path()).arg(command).env(var, url));
            assert!(!ok && err.contains(var) && err.contains(engine), "{command} with {var}: {err}");
            assert!(!err.contains("secret"), "the URL's password is never printed: {err}");
        }
    }
}

/// The data directory and every database in it are the owner's alone: they hold secrets.
#[test]
fn the_data_directory_and_its_databases_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("fresh");
    let (ok, _, err) = run(bin().arg("--data-dir").arg(&data).arg("migrate"));
    assert!(ok, "{err}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "a new data directory");
    let mut files = 0;
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
    }
    assert!(files >= 2, "both databases were checked");
    // Files left readable by an older version are tightened at the next open.
    std::fs::set_permissions(data.join("clicktrail.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, _, err) = run(bin().arg("--data-dir").arg(&data).arg("migrate"));
    assert!(ok, "{err}");
    assert_eq!(mode(&data.join("clicktrail.db")), 0o600);
}

#[test]
fn first_start_prints_a_key_once_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let key = server.printed_key().expect("a generated key is printed");
    let (status, me) = server.get("/api/me", &key);
    assert_eq!((status, me["role"].as_str()), (200, Some("admin")));
    let (ok, stderr) = server.terminate();
    assert!(ok, "SIGTERM ends the server cleanly: {stderr}");
    assert!(!stderr.contains(&key), "the key is not logged");
    let again = Server::start(dir.path(), &[]);
    assert!(!again.stdout.iter().any(|l| l.contains("Admin API key")), "the key is printed once: {:?}", again.stdout);
    assert_eq!(again.get("/api/me", &key).0, 200, "the key survives restarts");
}

#[test]
fn admin_key_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "operator-chosen-admin-key-123";
    let server = Server::start(dir.path(), &[("CLICKTRAIL_ADMIN_KEY", secret), ("CLICKTRAIL_LOG", "debug")]);
    assert!(!server.stdout.iter().any(|l| l.contains("Admin API key")));
    assert_eq!(server.get("/api/me", secret).1["role"], "admin");
    let (_, stderr) = server.terminate();
    assert!(!stderr.contains(secret), "CLICKTRAIL_ADMIN_KEY is never logged");
    let (ok, _, err) =
        run(bin().arg("--data-dir").arg(dir.path()).arg("print-config").env("CLICKTRAIL_ADMIN_KEY", "short"));
    assert!(ok, "{err}");
    let (ok, _, err) =
        run(bin().arg("--data-dir").arg(dir.path()).args(["keys", "list"]).env("CLICKTRAIL_ADMIN_KEY", "short"));
    assert!(!ok && err.contains("CLICKTRAIL_ADMIN_KEY"), "a weak operator key is refused: {err}");
}

#[test]
fn keys_and_users_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    drop(Server::start(dir.path(), &[]));
    let data = |cmd: &mut Command| {
        cmd.arg("--data-dir").arg(dir.path());
    };
    let mut cmd = bin();
    data(&mut cmd);
    cmd.args([
        "users",
        "create",
        "--role",
        "affiliate",
        "--name",
        "CLI Pub",
        "--email",
        "cli@pub.example",
        "--password-stdin",
    ]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"correct horse battery\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id: i64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Created affiliate "))
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .expect(&stdout);

    let mut cmd = bin();
    data(&mut cmd);
    let (ok, out, err) = run(cmd.args([
        "keys",
        "create",
        "--user-id",
        &id.to_string(),
        "--scopes",
        "read:offers,read:stats",
        "--tier",
        "premium",
    ]));
    assert!(ok, "{err}");
    let secret =
        out.lines().find_map(|l| l.strip_prefix("Secret (shown once, store it now): ")).expect(&out).to_owned();
    let mut cmd = bin();
    data(&mut cmd);
    let (ok, listed, _) = run(cmd.args(["keys", "list", "--user-id", &id.to_string()]));
    assert!(ok && listed.contains("premium") && listed.contains(&secret[..9]) && !listed.contains(&secret), "{listed}");
    let key_id = listed.lines().nth(1).and_then(|l| l.split_whitespace().next()).expect(&listed).to_owned();

    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.get("/api/me", &secret).1["id"], id);
    drop(server);
    let mut cmd = bin();
    data(&mut cmd);
    let (ok, out, err) = run(cmd.args(["keys", "revoke", &key_id]));
    assert!(ok && out.contains("Revoked"), "{out}{err}");
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.get("/api/me", &secret).0, 401, "a revoked key stops working");

    let mut cmd = bin();
    data(&mut cmd);
    let (ok, _, err) = run(cmd.args(["keys", "create", "--user-id", &id.to_string(), "--scopes", "admin"]));
    assert!(!ok && err.contains("admin users only"), "{err}");
    let mut cmd = bin();
    data(&mut cmd);
    let (ok, _, err) = run(cmd.args(["keys", "revoke", "9999"]));
    assert!(!ok && err.contains("keys list"), "errors say what to do next: {err}");
    let conn = rusqlite::Connection::open(dir.path().join("clicktrail.db")).unwrap();
    let hash: String = conn
        .query_row("SELECT doc FROM config_records WHERE kind = 'credential' AND id = ?1", [id], |r| r.get(0))
        .expect("a credential is stored");
    assert!(hash.contains("$argon2id$") && !hash.contains("correct horse"), "{hash}");
    drop(conn);

    // A forgotten password, reset by the operator: generated and printed once, or read.
    let mut cmd = bin();
    data(&mut cmd);
    let (ok, out, err) = run(cmd.args(["users", "set-password", "--email", "CLI@pub.example"]));
    assert!(ok && out.contains("its sessions have ended"), "{out}{err}");
    let generated = out.lines().find_map(|l| l.split("change it after logging in): ").nth(1)).expect(&out).to_owned();
    let server = Server::start(dir.path(), &[]);
    assert_eq!(server.login("cli@pub.example", &generated), 303, "the generated password logs in");
    assert_eq!(server.login("cli@pub.example", "correct horse battery"), 401, "the old one no longer does");
    drop(server);
    let mut cmd = bin();
    data(&mut cmd);
    cmd.args(["users", "set-password", "--email", "cli@pub.example", "--password-stdin"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
    let mut cmd = bin();
    data(&mut cmd);
    let (ok, _, err) = run(cmd.args(["users", "set-password", "--email", "nobody@pub.example"]));
    assert!(!ok && err.contains("no user has the e-mail nobody@pub.example"), "{err}");
}

/// A mistyped `--data-dir` is an error that names it, never a new network; a refused first
/// start leaves nothing behind, and a network left without an admin key gets one at the next start.
#[test]
fn a_missing_network_is_named_and_a_failed_first_start_leaves_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("clicktrial-data");
    for args in [&["keys", "list"][..], &["users", "create", "--role", "affiliate", "--name", "X"][..]] {
        let (ok, out, err) = run(bin().arg("--data-dir").arg(&typo).args(args));
        assert!(!ok, "{args:?} on a missing data dir: {out}");
        assert!(err.contains(&typo.display().to_string()) && err.contains("does not exist"), "{err}");
        assert!(!out.contains("Admin API key"), "{out}");
        assert!(!typo.exists(), "nothing is created by {args:?}");
    }
    // Databases without a network (after `migrate` alone) are named too.
    let (ok, _, err) = run(bin().arg("--data-dir").arg(&typo).arg("migrate"));
    assert!(ok, "{err}");
    let (ok, _, err) = run(bin().arg("--data-dir").arg(&typo).args(["keys", "list"]));
    assert!(!ok && err.contains("clicktrail serve"), "{err}");

    let fresh = parent.path().join("fresh");
    let mut cmd = bin();
    cmd.args(["serve", "--data-dir"]).arg(&fresh).args(["--listen", &format!("127.0.0.1:{}", free_port())]);
    let (ok, out, err) = run(cmd.env("CLICKTRAIL_ADMIN_KEY", "too-short"));
    assert!(!ok && err.contains("CLICKTRAIL_ADMIN_KEY") && err.contains("16 to 256"), "{out}{err}");
    assert!(!fresh.exists(), "a refused first start creates nothing");
    let server = Server::start(&fresh, &[]);
    assert!(server.stdout.iter().any(|l| l.starts_with("Admin API key")), "{:?}", server.stdout);
    drop(server);

    // A network whose admin holds no active admin key (a start stopped half-way, keys removed
    // by hand) gets a new one, printed, instead of being unreachable.
    let conn = rusqlite::Connection::open(fresh.join("clicktrail.db")).unwrap();
    conn.execute("DELETE FROM config_records WHERE kind = 'api_key'", []).unwrap();
    drop(conn);
    let server = Server::start(&fresh, &[]);
    let key = server.printed_key().expect("a new key is printed");
    assert_eq!(server.get("/api/me", &key).1["role"], "admin");
}

#[test]
fn demo_creates_a_network_to_explore() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (ok, out, err) =
        run(bin().arg("--data-dir").arg(dir.path()).args(["demo", "--listen", &listen, "--clicks", "500"]));
    assert!(ok, "{err}");
    assert!(out.contains("created 24 offers") && out.contains("created  4 traffic sources"), "{out}");
    let key_after = |label: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().last())
            .expect(label)
            .to_owned()
    };
    let (admin, affiliate, advertiser) = (key_after("admin"), key_after("affiliate"), key_after("advertiser"));
    let (ok, _, err) = run(bin().arg("--data-dir").arg(dir.path()).args(["demo", "--clicks", "10"]));
    assert!(!ok && err.contains("fresh --data-dir"), "the demo refuses to run twice: {err}");
    let (ok, _, err) = run(bin().arg("--data-dir").arg(dir.path()).args(["demo", "--clicks", "9999999"]));
    assert!(!ok && err.contains("--clicks"), "{err}");

    let server = Server::start(dir.path(), &[]);
    let (_, offers) = server.get("/api/offers?per_page=100", &admin);
    assert_eq!(offers["meta"]["total"], 24);
    let types: std::collections::BTreeSet<&str> =
        offers["data"].as_array().unwrap().iter().filter_map(|o| o["payout_type"].as_str()).collect();
    assert_eq!(types.len(), 6, "every payout type: {types:?}");
    let (_, sources) = server.get("/api/traffic-sources", &admin);
    let names: Vec<&str> = sources["data"].as_array().unwrap().iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"]);
    let (status, mine) = server.get("/api/offers?per_page=100", &affiliate);
    assert_eq!(status, 200);
    assert_eq!(mine["meta"]["total"], 18, "the 6 private offers are hidden from an affiliate not invited to them");
    assert!(mine["data"][0].get("revenue").is_none());
    assert_eq!(server.get("/api/me", &advertiser).1["role"], "advertiser");
    let (_, groups) = server.get("/api/affiliate-groups", &admin);
    assert_eq!(groups["meta"]["total"], 2);
}

/// Logs to a pipe carry no colour codes, even where `NO_COLOR` is not set; `log_format = json`
/// writes one JSON object a line.
#[test]
fn logs_have_no_colour_off_a_terminal_and_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let text = Server::start(dir.path(), &[("NO_COLOR", ""), ("CLICKTRAIL_LOG", "info")]);
    let (ok, stderr) = text.terminate();
    assert!(ok, "{stderr}");
    assert!(stderr.contains("listening"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escapes in piped logs: {stderr:?}");
    let json = Server::start(dir.path(), &[("CLICKTRAIL_LOG_FORMAT", "json")]);
    let (ok, stderr) = json.terminate();
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{stderr}");
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{line}");
    }
    let (ok, _, err) = run(bin().arg("print-config").env("CLICKTRAIL_LOG_FORMAT", "xml"));
    assert!(!ok && err.contains("xml"), "{err}");
}

#[test]
fn sigterm_ends_within_the_shutdown_timeout_whatever_clients_hold_open() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            ("CLICKTRAIL_ADMIN_KEY", "cli-admin-key-0123456789"),
            ("CLICKTRAIL_SHUTDOWN_TIMEOUT_SECS", "2"),
            ("CLICKTRAIL_HEADER_READ_TIMEOUT_SECS", "120"),
        ],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    // A slow client with half a header, and a request in flight whose body never completes.
    let mut half_header = std::net::TcpStream::connect(&addr).unwrap();
    half_header.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ").unwrap();
    let mut stalled = std::net::TcpStream::connect(&addr).unwrap();
    stalled
        .write_all(b"POST /postback HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nclick_id=")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (clean, stderr) = server.terminate();
    let took = started.elapsed();
    assert!(clean, "{stderr}");
    assert!(took < Duration::from_secs(8), "SIGTERM took {took:?}: {stderr}");
    assert!(took >= Duration::from_millis(1_500), "the request in flight got no time to finish: {took:?}");
    assert!(stderr.contains("shutdown timeout"), "{stderr}");
    drop((half_header, stalled));
}

/// The admin key of the backup tests, with rate limits that let a test look up every click.
const UNLIMITED: [(&str, &str); 3] = [
    ("CLICKTRAIL_ADMIN_KEY", "cli-admin-key-0123456789"),
    ("CLICKTRAIL_RATE_LIMIT_BURST", "1000000"),
    ("CLICKTRAIL_RATE_LIMIT_STANDARD", "1000000"),
];

/// A runtime and a client for the tests that drive a server process over HTTP; the client
/// does not follow redirects (a click answers with one to the offer).
fn async_client() -> (tokio::runtime::Runtime, reqwest::Client) {
    clicktrail::install_crypto();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    (runtime, reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap())
}

/// A JSON POST as `key`; the answer's body.
async fn post_json(client: &reqwest::Client, url: String, key: &str, body: &Value) -> Value {
    let answer = client.post(url).bearer_auth(key).json(body).send().await.expect("an answer");
    answer.json().await.expect("a JSON body")
}

/// Creates an offer and an affiliate over HTTP as the admin; their ids.
async fn offer_and_affiliate(client: &reqwest::Client, base: &str, key: &str) -> (i64, i64) {
    let offer = crate::helpers::offer_body("Backed up", serde_json::json!({}));
    let offer = post_json(client, format!("{base}/api/offers"), key, &offer).await;
    let affiliate = serde_json::json!({"name": "Backed up"});
    let affiliate = post_json(client, format!("{base}/api/affiliates"), key, &affiliate).await;
    (offer["id"].as_i64().expect("offer id"), affiliate["id"].as_i64().expect("affiliate id"))
}

/// One click answered with its id (`async=json`).
async fn click_id(client: &reqwest::Client, base: &str, offer: i64, affiliate: i64, n: usize) -> Option<String> {
    let r = client.get(format!("{base}/c/{offer}/{affiliate}?async=json&sub1=n{n}")).send().await.ok()?;
    let body: Value = r.json().await.ok()?;
    body["transaction_id"].as_str().map(str::to_owned)
}

/// Whether a server has stored each click (dialect D's click by id, as the admin).
async fn missing_clicks(client: &reqwest::Client, base: &str, key: &str, ids: &[String]) -> Vec<String> {
    let mut missing = Vec::new();
    for id in ids {
        let r = client
            .get(format!("{base}/v1/affiliates/reporting/clicks/{id}"))
            .header("x-eflow-api-key", key)
            .send()
            .await
            .unwrap();
        if r.status() != reqwest::StatusCode::OK {
            missing.push(id.clone());
        }
    }
    missing
}

#[test]
fn a_clean_shutdown_leaves_every_click_in_the_db_files() {
    const KEY: &str = "cli-admin-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let (runtime, client) = async_client();
    let server = Server::start(dir.path(), &[("CLICKTRAIL_ADMIN_KEY", KEY)]);
    let ids: Vec<String> = runtime.block_on(async {
        let (offer, affiliate) = offer_and_affiliate(&client, &server.base, KEY).await;
        let mut ids = Vec::new();
        for n in 0..50 {
            ids.push(click_id(&client, &server.base, offer, affiliate, n).await.expect("a click id"));
        }
        ids
    });
    let (clean, stderr) = server.terminate();
    assert!(clean, "{stderr}");
    for db in ["clicktrail.db", "events.db"] {
        let wal = dir.path().join(format!("{db}-wal"));
        let left = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(left, 0, "{db}-wal still holds {left} bytes after a clean shutdown");
    }
    // Copying the *.db files alone is a whole copy.
    let copy = tempfile::tempdir().unwrap();
    for db in ["clicktrail.db", "events.db"] {
        std::fs::copy(dir.path().join(db), copy.path().join(db)).unwrap();
    }
    let restored = Server::start(copy.path(), &UNLIMITED);
    let missing = runtime.block_on(missing_clicks(&client, &restored.base, KEY, &ids));
    assert!(missing.is_empty(), "{} of {} clicks lost: {missing:?}", missing.len(), ids.len());
}

#[test]
fn a_backup_taken_under_load_serves_every_click_committed_before_it() {
    const KEY: &str = "cli-admin-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let (runtime, client) = async_client();
    let server = Server::start(dir.path(), &[("CLICKTRAIL_ADMIN_KEY", KEY), ("CLICKTRAIL_WRITE_MODE", "durable")]);
    let base = server.base.clone();
    let (offer, affiliate) = runtime.block_on(offer_and_affiliate(&client, &base, KEY));

    // Clicks keep coming from four clients, before, during and after the backup; in durable
    // mode an answered click is committed.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|worker| {
            let (client, base, acknowledged, stop) = (client.clone(), base.clone(), acknowledged.clone(), stop.clone());
            runtime.spawn(async move {
                let mut n = worker * 1_000_000;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < worker * 1_000_000 + 20_000 {
                    if let Some(id) = click_id(&client, &base, offer, affiliate, n).await {
                        acknowledged.lock().unwrap().push(id);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "the load did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let copy = tempfile::tempdir().unwrap();
    let target = copy.path().join("backup");
    let (ok, out, err) = run(bin().arg("--data-dir").arg(dir.path()).arg("backup").arg(&target));
    let during = acknowledged.lock().unwrap().len();
    assert!(ok, "{out}{err}");
    assert!(out.contains("Copying clicktrail.db … ") && out.contains("Copying events.db … "), "{out}");
    assert!(out.contains(&format!("clicktrail serve --data-dir {}", target.display())), "{out}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    runtime.block_on(async {
        for task in load {
            task.await.unwrap();
        }
    });
    assert!(during > before.len(), "no click was answered while the backup ran");
    let (clean, stderr) = server.terminate();
    assert!(clean, "{stderr}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&target), 0o700);
        assert_eq!(mode(&target.join("events.db")), 0o600);
    }
    let restored = Server::start(&target, &UNLIMITED);
    let missing = runtime.block_on(missing_clicks(&client, &restored.base, KEY, &before));
    assert!(missing.is_empty(), "{} of {} clicks committed before the backup are lost", missing.len(), before.len());

    // A backup never overwrites, and names a missing source.
    let (ok, _, err) = run(bin().arg("--data-dir").arg(dir.path()).arg("backup").arg(&target));
    assert!(!ok && err.contains("is not empty"), "{err}");
    let nowhere = copy.path().join("no-such-dir");
    let (ok, _, err) = run(bin().arg("--data-dir").arg(&nowhere).arg("backup").arg(copy.path().join("b2")));
    assert!(!ok && err.contains("no Clicktrail network in"), "{err}");
    assert!(!copy.path().join("b2").exists());
}

/// A GeoIP database whose networks are wide enough for the demo to find visitors by sampling:
/// ten countries over 16.0.0.0–103.255.255.255 (the flat layout of the DB-IP packages).
fn wide_geoip() -> std::path::PathBuf {
    let mut writer = mmdb_writer::Writer::new("DBIP-Country-Lite");
    let countries = [
        ("16.0.0.0/4", "US"),
        ("32.0.0.0/4", "DE"),
        ("48.0.0.0/5", "GB"),
        ("56.0.0.0/5", "CA"),
        ("64.0.0.0/5", "FR"),
        ("72.0.0.0/6", "AT"),
        ("76.0.0.0/6", "CH"),
        ("80.0.0.0/5", "IN"),
        ("88.0.0.0/5", "BR"),
        ("96.0.0.0/5", "JP"),
    ];
    for (net, code) in countries {
        writer.insert(net.parse::<ipnet::IpNet>().unwrap(), &serde_json::json!({"country_code": code})).unwrap();
    }
    let path = std::env::temp_dir().join(format!("clicktrail-demo-geo-{}.mmdb", std::process::id()));
    std::fs::write(&path, writer.to_bytes().unwrap()).unwrap();
    path
}

#[test]
fn demo_traffic_fills_every_report_dialect_and_the_click_log() {
    const KEY: &str = "demo-admin-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let geo = wide_geoip();
    let env = [("CLICKTRAIL_ADMIN_KEY", KEY), ("CLICKTRAIL_GEOIP_DB", geo.to_str().unwrap())];
    let (ok, out, err) =
        run(bin().arg("--data-dir").arg(dir.path()).args(["demo", "--clicks", "1500"]).envs(env.iter().copied()));
    assert!(ok, "{out}{err}");
    for line in [
        "Sending 1500 clicks over the past 30 days through the click path …",
        "  100%  1500 clicks,",
        "Traffic of the past 30 days:",
        "  admin               the key in CLICKTRAIL_ADMIN_KEY",
        "delivered to a stand-in tracker on loopback",
    ] {
        assert!(out.contains(line), "`{line}` missing from\n{out}");
    }
    let summary = |label: &str| -> u64 {
        let line = out.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}: {out}"));
        line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    assert_eq!(summary("clicks"), 1500);
    assert!(summary("impressions") >= 1500);
    assert!(summary("conversions") > 20, "{out}");
    assert!(summary("postbacks") > 0, "{out}");
    assert!(out.contains("country is not targeted") && out.contains("approved") && out.contains("pending"), "{out}");
    let affiliate = out
        .lines()
        .find(|l| l.trim_start().starts_with("affiliate "))
        .and_then(|l| l.split_whitespace().last())
        .expect("the affiliate key")
        .to_owned();

    let server = Server::start(dir.path(), &[env[0], env[1], UNLIMITED[1], UNLIMITED[2]]);
    let (runtime, client) = async_client();
    let base = server.base.clone();
    let get = |path: String, headers: Vec<(&'static str, String)>| {
        let mut request = client.get(format!("{base}{path}"));
        for (k, v) in headers {
            request = request.header(k, v);
        }
        runtime.block_on(async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    let bearer = |k: &str| vec![("authorization", format!("Bearer {k}"))];
    let today = chrono::Utc::now().date_naive();
    let month_ago = today - chrono::Duration::days(30);

    // Native reports: thirty days of rows, money, countries, every conversion status.
    let (status, by_date) = get("/api/reports?from=-30+days&group_by=date".into(), bearer(KEY));
    assert_eq!(status, 200, "{by_date}");
    assert!(by_date["data"].as_array().unwrap().len() >= 28, "{by_date}");
    let totals = &by_date["totals"];
    for field in ["impressions", "clicks", "unique_clicks", "leads", "conversions", "payout", "revenue"] {
        assert!(totals[field].as_f64().unwrap_or(0.0) > 0.0, "{field} is zero: {totals}");
    }
    assert!(totals["unique_clicks"].as_u64() < totals["clicks"].as_u64(), "some visitors came back: {totals}");
    let (_, by_country) = get("/api/reports?from=-30+days&group_by=country,device".into(), bearer(&affiliate));
    let rows = by_country["data"].as_array().unwrap();
    for (country, device) in [("US", "desktop"), ("DE", "mobile")] {
        assert!(
            rows.iter().any(|r| r["country"] == country && r["device"] == device),
            "{country}/{device}: {by_country}"
        );
    }
    assert!(rows.iter().all(|r| r.get("revenue").is_none()), "an affiliate never sees revenue");
    for status in ["approved", "pending", "rejected"] {
        let (_, list) = get(format!("/api/conversions?status={status}&per_page=1"), bearer(KEY));
        assert!(list["meta"]["total"].as_u64().unwrap_or(0) > 0, "no {status} conversion: {list}");
    }
    let (_, subs) = get("/api/reports?from=-30+days&group_by=sub1,source".into(), bearer(KEY));
    assert!(
        subs["data"].as_array().unwrap().iter().any(|r| r["sub1"] == "retargeting" && r["source_id"] == "Newsletter"),
        "{subs}"
    );

    // The five dialects.
    let (status, a) = get(
        "/api/v1.2/admin/offerStats/-30%20days/today/".into(),
        vec![("x-api-key", KEY.into()), ("x-user-id", "1".into())],
    );
    assert_eq!(status, 200, "{a}");
    assert!(a["data"].as_array().unwrap().iter().any(|row| row[4].as_u64().unwrap_or(0) > 0), "dialect A clicks: {a}");
    let (status, b) = get(
        format!(
            "/api/traffic-source?rest_key={KEY}&date_from={}&date_to={}",
            (chrono::Utc::now() - chrono::Duration::days(30)).timestamp(),
            chrono::Utc::now().timestamp()
        ),
        vec![],
    );
    assert_eq!(status, 200, "{b}");
    assert!(b.to_string().contains("Newsletter"), "dialect B rows by source: {b}");
    let (status, c) = get("/api/v2/offers".into(), vec![("x-api-key", KEY.into())]);
    assert_eq!(status, 200, "{c}");
    let (status, e) = get(format!("/v1/stats?date_from={month_ago}&date_to={today}"), bearer(&affiliate));
    assert_eq!(status, 200, "{e}");
    assert!(e["data"][0]["clicks"].as_u64().unwrap_or(0) > 0, "dialect E stats: {e}");
    let (_, e_conversions) = get(format!("/v1/conversions?date_from={month_ago}&date_to={today}"), bearer(&affiliate));
    assert!(e_conversions["meta"]["total"].as_u64().unwrap_or(0) > 0, "{e_conversions}");
    // Dialect D: the click log.
    let body = serde_json::json!({
        "timezone_id": 67,
        "from": (today - chrono::Duration::days(7)).to_string(),
        "to": today.to_string(),
        "query": {"filters": []},
    });
    let d: Value = runtime.block_on(async {
        client
            .post(format!("{base}/v1/affiliates/reporting/clicks/stream"))
            .header("x-eflow-api-key", &affiliate)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert!(d["clicks"].as_array().is_some_and(|c| !c.is_empty()), "dialect D clicks: {d}");

    // Postback deliveries recorded for the affiliate's conversions.
    let (_, mine) = get("/api/conversions?status=approved&per_page=1".into(), bearer(&affiliate));
    let id = mine["data"][0]["id"].as_i64().expect("an approved conversion of the demo affiliate");
    let (_, deliveries) = get(format!("/api/conversions/{id}/deliveries"), bearer(KEY));
    assert!(deliveries["data"].as_array().is_some_and(|d| !d.is_empty()), "{deliveries}");
}

/// The resident memory of a process, in bytes (Linux).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    kb * 1024
}

#[test]
fn memory_stays_bounded_under_distinct_agents_addresses_keys_methods_and_paths() {
    const KEY: &str = "cli-admin-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &UNLIMITED);
    let (runtime, client) = async_client();
    let base = server.base.clone();
    let (offer, affiliate) = runtime.block_on(offer_and_affiliate(&client, &base, KEY));
    // Requests a hostile caller would vary: user agents, forwarded addresses, API keys, methods
    // and paths, each one never seen before.
    let phase = |from: u64, count: u64| {
        let (client, base) = (client.clone(), base.clone());
        runtime.block_on(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for worker in 0..8 {
                let (client, base) = (client.clone(), base.clone());
                tasks.spawn(async move {
                    for n in (from + worker..from + count).step_by(8) {
                        let agent = format!("Mozilla/5.0 (X11; Fuzz {n}) {}", "x".repeat(300));
                        let ip = format!("{}.{}.{}.{}", 11 + n % 200, (n >> 8) % 256, (n >> 16) % 256, n % 251 + 1);
                        let request = match n % 4 {
                            0 => client
                                .get(format!("{base}/c/{offer}/{affiliate}?sub1=s{n}"))
                                .header("user-agent", agent)
                                .header("x-forwarded-for", ip),
                            1 => client
                                .get(format!("{base}/api/offers"))
                                .bearer_auth(format!("ct_bogus_key_{n}_0123456789")),
                            2 => client.request(
                                reqwest::Method::from_bytes(format!("FUZZ{n}").as_bytes()).unwrap(),
                                format!("{base}/api/me"),
                            ),
                            _ => client.get(format!("{base}/no/such/path/{n}?q={n}")).header("user-agent", agent),
                        };
                        let status = request.send().await.expect("an answer").status();
                        assert!(status.as_u16() < 500, "{status}");
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                done.unwrap();
            }
        });
    };
    let pid = server.child.id();
    // The first pass fills what is bounded (the user-agent cache, SQLite's page cache, the
    // allocator's pools); the second must not grow it further.
    phase(0, 16_000);
    let filled = rss(pid);
    phase(16_000, 16_000);
    let after = rss(pid);
    let grown = after.saturating_sub(filled);
    assert!(
        grown < 12 << 20,
        "RSS grew by {} MB over 16,000 more distinct requests ({} → {} MB)",
        grown >> 20,
        filled >> 20,
        after >> 20
    );
    let metrics =
        runtime.block_on(async { client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap() });
    assert!(!metrics.contains("FUZZ"), "invented methods became metric labels");
    assert!(metrics.contains("method=\"other\""), "invented methods are counted as other");
}
