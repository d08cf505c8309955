//! Enrichment: where a visitor is (GeoIP) and what they use (user agent), and whether it is a bot.
//!
//! User agents repeat a lot, so their parse is cached; GeoIP lookups are fast enough to do per
//! click (a memory-mapped tree walk).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clicktrail_domain::click::{Device, Geo};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::offer::{DeviceType, OsFamily};
use serde::Deserialize;

/// A name in either database layout: a plain string (DB-IP "lite" files) or GeoIP2's object.
#[derive(Deserialize)]
#[serde(untagged)]
enum Named {
    Plain(String),
    Object {
        #[serde(default)]
        iso_code: Option<String>,
        #[serde(default)]
        names: BTreeMap<String, String>,
    },
}

impl Named {
    fn code(&self) -> Option<&str> {
        match self {
            Self::Plain(s) => Some(s),
            Self::Object { iso_code, .. } => iso_code.as_deref(),
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Self::Plain(s) => Some(s),
            Self::Object { names, .. } => names.get("en").map(String::as_str),
        }
    }
}

/// The fields read from a record; both the flat layout of the `@ip-location-db` packages
/// (`country_code`, `state1`, `city`) and MaxMind's GeoIP2 City/ISP/Connection-Type layouts.
#[derive(Deserialize, Default)]
struct GeoRecord {
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    state1: Option<String>,
    #[serde(default)]
    city: Option<Named>,
    #[serde(default)]
    country: Option<Named>,
    #[serde(default)]
    subdivisions: Vec<Named>,
    #[serde(default)]
    isp: Option<String>,
    #[serde(default)]
    organization: Option<String>,
    #[serde(default)]
    autonomous_system_organization: Option<String>,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    connection_type: Option<String>,
}

/// One or more MaxMind-format databases, asked in order until one knows the address.
pub struct GeoIp {
    readers: Vec<maxminddb::Reader<Vec<u8>>>,
    paths: Vec<PathBuf>,
}

impl GeoIp {
    /// No database: every lookup is empty.
    pub fn none() -> Self {
        Self { readers: Vec::new(), paths: Vec::new() }
    }

    /// Opens databases.
    pub fn open(paths: &[PathBuf]) -> anyhow::Result<Self> {
        let mut readers = Vec::new();
        for path in paths {
            let reader = maxminddb::Reader::open_readfile(path)
                .map_err(|e| anyhow::anyhow!("cannot read the GeoIP database {}: {e}", path.display()))?;
            readers.push(reader);
        }
        Ok(Self { readers, paths: paths.to_vec() })
    }

    /// The files in use.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// What the databases know of an address.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        for reader in &self.readers {
            let Ok(result) = reader.lookup(ip) else { continue };
            let Ok(Some(record)) = result.decode::<GeoRecord>() else { continue };
            let country = record
                .country_code
                .as_deref()
                .or_else(|| record.country.as_ref().and_then(Named::code))
                .and_then(|c| CountryCode::parse(c).ok());
            let region =
                record.state1.clone().or_else(|| record.subdivisions.first().and_then(|s| s.name().map(String::from)));
            return Geo {
                country,
                region: region.unwrap_or_default(),
                city: record.city.as_ref().and_then(Named::name).unwrap_or_default().to_owned(),
                isp: record.isp.clone().unwrap_or_default(),
                carrier: record.carrier.clone().unwrap_or_default(),
                organization: record.organization.or(record.autonomous_system_organization).unwrap_or_default(),
                connection_type: record.connection_type.unwrap_or_default(),
            };
        }
        Geo::default()
    }
}

/// The GeoIP files to use: the configured one, else those installed in the data directory.
pub fn geoip_files(configured: Option<&Path>, data_dir: &Path) -> Vec<PathBuf> {
    if let Some(path) = configured {
        return vec![path.to_path_buf()];
    }
    let dir = data_dir.join(GEOIP_DIR);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "mmdb"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Where `clicktrail geoip install` puts databases, inside the data directory.
pub const GEOIP_DIR: &str = "geoip";

/// What a user agent says, with the bot verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    /// Device facts.
    pub device: Device,
    /// Whether it is a crawler, a tool, or empty.
    pub is_robot: bool,
}

/// Parses user agents, with a cache.
pub struct AgentParser {
    parser: woothee::parser::Parser,
    bots: isbot::Bots,
    cache: quick_cache::sync::Cache<String, Arc<Agent>>,
}

impl Default for AgentParser {
    fn default() -> Self {
        Self::new(20_000)
    }
}

fn os_family(os: &str) -> OsFamily {
    match os {
        "Android" => OsFamily::Android,
        "iPhone" | "iPad" | "iPod" | "iOS" => OsFamily::Ios,
        "Mac OSX" | "Mac OS Classic" => OsFamily::Macos,
        "Linux" | "ChromeOS" => OsFamily::Linux,
        o if o.starts_with("Windows") => OsFamily::Windows,
        _ => OsFamily::Other,
    }
}

/// The model in an Android user agent: `(Linux; Android 13; SM-S911B Build/…)` → `SM-S911B`.
fn android_model(ua: &str) -> Option<String> {
    let inner = ua.split_once('(')?.1.split_once(')')?.0;
    let candidate = inner.rsplit(';').map(str::trim).find(|p| {
        !p.is_empty() && !p.starts_with("Android") && *p != "Linux" && *p != "U" && *p != "K" && !p.contains("wv")
    })?;
    let model = candidate.split(" Build/").next().unwrap_or(candidate).trim();
    (!model.is_empty() && model.len() <= 64).then(|| model.to_owned())
}

fn android_brand(model: &str) -> &'static str {
    let m = model.to_ascii_lowercase();
    let table: &[(&str, &str)] = &[
        ("sm-", "Samsung"),
        ("samsung", "Samsung"),
        ("gt-", "Samsung"),
        ("pixel", "Google"),
        ("nexus", "Google"),
        ("redmi", "Xiaomi"),
        ("mi ", "Xiaomi"),
        ("poco", "Xiaomi"),
        ("moto", "Motorola"),
        ("huawei", "Huawei"),
        ("oneplus", "OnePlus"),
        ("cph", "OPPO"),
        ("vivo", "vivo"),
        ("lg-", "LG"),
        ("nokia", "Nokia"),
    ];
    table.iter().find(|(prefix, _)| m.starts_with(prefix)).map_or("", |(_, brand)| brand)
}

impl AgentParser {
    /// A parser whose cache holds up to `capacity` user agents.
    pub fn new(capacity: usize) -> Self {
        Self {
            parser: woothee::parser::Parser::new(),
            bots: isbot::Bots::default(),
            cache: quick_cache::sync::Cache::new(capacity),
        }
    }

    /// Parses (or recalls) a user agent.
    pub fn parse(&self, ua: &str) -> Arc<Agent> {
        if let Some(hit) = self.cache.get(ua) {
            return hit;
        }
        let agent = Arc::new(self.parse_uncached(ua));
        if ua.len() <= 1024 {
            self.cache.insert(ua.to_owned(), agent.clone());
        }
        agent
    }

    fn parse_uncached(&self, ua: &str) -> Agent {
        let trimmed = ua.trim();
        if trimmed.is_empty() {
            return Agent { device: Device::default(), is_robot: true };
        }
        let parsed = self.parser.parse(trimmed);
        let crawler = parsed.as_ref().is_some_and(|r| r.category == "crawler");
        let is_robot = crawler || self.bots.is_bot(trimmed);
        let Some(r) = parsed else {
            return Agent { device: Device::default(), is_robot };
        };
        let os = os_family(r.os);
        let is_tablet = trimmed.contains("iPad")
            || trimmed.contains("Tablet")
            || (os == OsFamily::Android && !trimmed.contains("Mobile"));
        let device_type = match r.category {
            "pc" => Some(DeviceType::Desktop),
            "smartphone" | "mobilephone" if is_tablet => Some(DeviceType::Tablet),
            "smartphone" | "mobilephone" => Some(DeviceType::Mobile),
            _ => None,
        };
        let (brand, model) = match r.os {
            "iPhone" | "iPad" | "iPod" => ("Apple".to_owned(), r.os.to_owned()),
            "Mac OSX" => ("Apple".to_owned(), "Mac".to_owned()),
            "Android" => {
                let model = android_model(trimmed).unwrap_or_default();
                (android_brand(&model).to_owned(), model)
            }
            _ => (String::new(), String::new()),
        };
        let clean = |s: &str| if s == "UNKNOWN" { String::new() } else { s.to_owned() };
        let os_name = match os {
            OsFamily::Ios => "iOS".to_owned(),
            OsFamily::Macos => "macOS".to_owned(),
            _ => clean(r.os),
        };
        let is_mobile = matches!(device_type, Some(DeviceType::Mobile | DeviceType::Tablet));
        Agent {
            device: Device {
                device_type,
                os: (r.os != "UNKNOWN").then_some(os),
                os_name,
                os_version: clean(&r.os_version),
                browser: clean(r.name),
                browser_version: clean(r.version),
                brand,
                model,
                is_mobile,
                is_tablet: device_type == Some(DeviceType::Tablet),
            },
            is_robot,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_from_user_agents() {
        let p = AgentParser::default();
        let iphone = p.parse("Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1");
        assert_eq!(iphone.device.device_type, Some(DeviceType::Mobile));
        assert_eq!((iphone.device.os, iphone.device.os_name.as_str()), (Some(OsFamily::Ios), "iOS"));
        assert_eq!((iphone.device.brand.as_str(), iphone.device.model.as_str()), ("Apple", "iPhone"));
        assert_eq!(iphone.device.browser, "Safari");
        assert!(iphone.device.is_mobile && !iphone.is_robot);

        let galaxy = p.parse("Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36");
        assert_eq!((galaxy.device.os, galaxy.device.device_type), (Some(OsFamily::Android), Some(DeviceType::Mobile)));
        assert_eq!((galaxy.device.brand.as_str(), galaxy.device.model.as_str()), ("Samsung", "SM-S911B"));
        assert_eq!(galaxy.device.browser, "Chrome");

        let tab = p.parse("Mozilla/5.0 (Linux; Android 12; Pixel Tablet Build/TQ3A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36");
        assert!(tab.device.is_tablet && tab.device.is_mobile, "{tab:?}");
        assert_eq!(tab.device.brand, "Google");

        let desktop = p.parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36");
        assert_eq!(
            (desktop.device.device_type, desktop.device.os),
            (Some(DeviceType::Desktop), Some(OsFamily::Windows))
        );
        assert!(!desktop.device.is_mobile);
    }

    #[test]
    fn bots() {
        let p = AgentParser::default();
        for ua in [
            "",
            "  ",
            "Googlebot/2.1 (+http://www.google.com/bot.html)",
            "curl/8.5.0",
            "python-requests/2.31",
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        ] {
            assert!(p.parse(ua).is_robot, "{ua:?}");
        }
        assert!(!p.parse("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15").is_robot);
    }

    #[test]
    fn cache_returns_the_same_parse() {
        let p = AgentParser::new(10);
        let a = p.parse("curl/8.0");
        let b = p.parse("curl/8.0");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
