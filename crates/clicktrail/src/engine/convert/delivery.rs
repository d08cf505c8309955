//! Delivery of affiliate postbacks from the outbox.
//!
//! A worker claims due jobs (woken at once when a conversion queues some, so the first attempt
//! leaves within milliseconds), sends each as a `GET` with a 5 s timeout, and records the
//! attempt. 2xx is delivered; network errors, 5xx and 429 are retried with exponential backoff
//! and jitter for up to 24 hours; any other 4xx is final. Every request carries an
//! `Idempotency-Key` and an `X-Clicktrail-Signature` (HMAC-SHA256 with the affiliate's secret),
//! and may only reach public addresses unless the operator allow-lists a range: the resolver
//! refuses loopback, private, link-local and other internal addresses, so a postback URL cannot
//! be used to probe the network Clicktrail runs in.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clicktrail_domain::user::User;
use clicktrail_store::{Attempt, Config, Job, JobNext, JobQueue};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;
use tokio::sync::Notify;

/// Job kind of postback deliveries.
pub const KIND: &str = "postback";
/// Per-attempt timeout.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long a delivery is retried.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);
/// How long a claimed job stays hidden from other workers.
const LEASE: chrono::Duration = chrono::Duration::seconds(30);
/// Most deliveries in flight at once.
const CONCURRENCY: usize = 64;

/// Whether an address is internal or special-purpose (the IANA special-purpose registries):
/// never a postback destination unless allow-listed. IPv4-mapped IPv6 addresses are judged as
/// their IPv4 address; NAT64, 6to4 and Teredo prefixes, which reach IPv4 hosts through a
/// translator, are refused whole.
pub fn is_internal(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 192 && b == 88 && c == 99)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0
                // ::/96 (IPv4-compatible, deprecated) and 100::/64 (discard)
                || s[..6] == [0; 6]
                || (s[0] == 0x0100 && s[1..4] == [0; 3])
                // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64)
                || (s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1))
                // 2001::/23 (IETF protocol assignments, Teredo among them), 2001:db8::/32
                || (s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8))
                // 2002::/16 (6to4), 3fff::/20 (documentation)
                || s[0] == 0x2002
                || (s[0] == 0x3fff && s[1] < 0x1000)
        }
    }
}

/// Whether an error, or any error it was caused by, is the guard's refusal.
fn refused(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if let Some(at) = text.find(REFUSED) {
            return Some(text[at..].to_owned());
        }
        next = e.source();
    }
    None
}

/// How the guard's refusals begin.
const REFUSED: &str = "refused: ";

/// The SSRF guard: addresses must be public or inside an allow-listed range.
#[derive(Clone, Debug)]
pub struct Guard {
    allow: Arc<Vec<IpNet>>,
}

impl Guard {
    /// A guard with the operator's allow-list.
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow: Arc::new(allow) }
    }

    /// Whether a destination address may be reached.
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow.iter().any(|n| n.contains(&ip))
    }
}

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !guard.permits(a.ip())) {
                let message = format!(
                    "{REFUSED}{host} resolves to the internal address {} (see CLICKTRAIL_POSTBACK_ALLOWLIST)",
                    bad.ip()
                );
                return Err(message.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<url>">`.
pub fn signature(secret: &[u8], unix: i64, url: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("{unix}.{url}").as_bytes());
    format!("t={unix},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// When to retry after `attempts` failed attempts: 1 s, 2 s, 4 s … up to an hour, ±20 %.
pub fn backoff(attempts: u32) -> chrono::Duration {
    let base = 2f64.powi(i32::try_from(attempts.min(12)).unwrap_or(12)).min(3600.0);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    chrono::Duration::milliseconds((base * 1000.0 * jitter) as i64)
}

/// The delivery worker.
pub struct Deliveries {
    jobs: Arc<dyn JobQueue>,
    snapshots: Arc<crate::engine::snapshot::Snapshots>,
    config: Config,
    client: reqwest::Client,
    guard: Guard,
    wake: Arc<Notify>,
}

impl Deliveries {
    /// A worker over the outbox; `wake` is notified when jobs are queued.
    pub fn new(
        jobs: Arc<dyn JobQueue>,
        config: Config,
        snapshots: Arc<crate::engine::snapshot::Snapshots>,
        allow: Vec<IpNet>,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        let guard = Guard::new(allow);
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(guard.clone()))
            .user_agent(concat!("Clicktrail-Postback/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { jobs, snapshots, config, client, guard, wake })
    }

    /// Runs until `stop` resolves; leases of jobs in flight expire, so nothing is lost.
    ///
    /// Up to `CONCURRENCY` deliveries are in flight; the worker claims more as soon as a slot
    /// frees or a conversion queues a job, so a new postback never waits behind a slow one.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        loop {
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Vec::new()
            } else {
                match self.jobs.claim(KIND, Utc::now(), free, LEASE).await {
                    Ok(jobs) => jobs,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot claim postback jobs");
                        Vec::new()
                    }
                }
            };
            let full_batch = free > 0 && claimed.len() == free;
            for job in claimed {
                let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                let me = self.clone();
                tokio::spawn(async move {
                    me.deliver(job).await;
                    drop(slot);
                    me.wake.notify_one();
                });
            }
            if full_batch && slots.available_permits() > 0 {
                continue;
            }
            let wait = match self.jobs.next_due(KIND).await {
                Ok(Some(due)) => (due - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(Duration::from_secs(5)),
                _ => Duration::from_secs(5),
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait.max(Duration::from_millis(5))) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    async fn secret(&self, affiliate_id: i64) -> Vec<u8> {
        let known = self.snapshots.snapshot().affiliates.get(&affiliate_id).and_then(|a| a.postback_secret.clone());
        if let Some(secret) = known {
            return secret.into_bytes();
        }
        match self.config.get::<User>(affiliate_id).await {
            Ok(Some(user)) => {
                crate::engine::manage::users::postback_secret(&self.config, user).await.unwrap_or_default().into_bytes()
            }
            _ => Vec::new(),
        }
    }

    async fn deliver(&self, job: Job) {
        let url = job.payload["url"].as_str().unwrap_or_default().to_owned();
        let affiliate_id = job.payload["affiliate_id"].as_i64().unwrap_or(0);
        let started = Instant::now();
        let now = Utc::now();
        let mut attempt = Attempt {
            job_id: job.id,
            subject: job.subject.clone(),
            at: now,
            url: url.clone(),
            status: None,
            latency_ms: 0,
            outcome: String::new(),
            detail: String::new(),
        };
        let literal_refused = reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok()))
            .is_some_and(|ip| !self.guard.permits(ip));
        let next = if literal_refused {
            attempt.detail =
                format!("{REFUSED}the destination is an internal address (see CLICKTRAIL_POSTBACK_ALLOWLIST)");
            JobNext::Failed
        } else {
            let secret = self.secret(affiliate_id).await;
            let sent = self
                .client
                .get(&url)
                .header("Idempotency-Key", &job.idempotency_key)
                .header("X-Clicktrail-Signature", signature(&secret, now.timestamp(), &url))
                .send()
                .await;
            match sent {
                Ok(response) => {
                    let code = response.status();
                    attempt.status = Some(code.as_u16());
                    let body = response.text().await.unwrap_or_default();
                    attempt.detail = body.chars().take(256).collect();
                    if code.is_success() {
                        JobNext::Delivered
                    } else if code.is_server_error() || code.as_u16() == 429 {
                        self.retry_or_give_up(&job)
                    } else {
                        JobNext::Failed
                    }
                }
                Err(e) => {
                    // A host name that resolves to an internal address is refused for good, like
                    // an address literal: the resolver's refusal sits deep in reqwest's chain.
                    match refused(&e) {
                        Some(reason) => {
                            attempt.detail = reason.chars().take(256).collect();
                            JobNext::Failed
                        }
                        None => {
                            let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
                            attempt.detail = format!("{e} {cause}").trim().chars().take(256).collect();
                            self.retry_or_give_up(&job)
                        }
                    }
                }
            }
        };
        attempt.latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        attempt.outcome = match next {
            JobNext::Delivered => "delivered",
            JobNext::RetryAt(_) => "retry",
            JobNext::Failed => "failed",
        }
        .into();
        metrics::counter!("clicktrail_postback_attempts_total", "outcome" => attempt.outcome.clone()).increment(1);
        if let Err(e) = self.jobs.finish(job.id, attempt, next).await {
            tracing::error!(error = %e, job = job.id, "cannot record a postback attempt; the job will be retried after its lease");
        }
    }

    fn retry_or_give_up(&self, job: &Job) -> JobNext {
        let at = Utc::now() + backoff(job.attempts);
        if at - job.created_at > GIVE_UP_AFTER { JobNext::Failed } else { JobNext::RetryAt(at) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "192.0.0.8",
            "192.88.99.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001::1",
            "2001:db8::1",
            "100::1",
            "::a00:1",
            "3fff::1",
            "fec0::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "203.0.114.1", "2001:4860:4860::8888"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
        let guard = Guard::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert!(guard.permits("127.0.0.1".parse().unwrap()) && !guard.permits("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn signatures_and_backoff() {
        let s = signature(b"secret", 1_700_000_000, "https://t.example/?a=1");
        assert!(s.starts_with("t=1700000000,v1=") && s.len() == "t=1700000000,v1=".len() + 64);
        assert_ne!(s, signature(b"other", 1_700_000_000, "https://t.example/?a=1"));
        let first = backoff(0).num_milliseconds();
        assert!((800..=1200).contains(&first), "{first}");
        assert!(backoff(30).num_seconds() <= 4320);
    }
}
