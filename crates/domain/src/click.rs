//! Clicks and impressions: ids, the fields a click carries, and why a click was refused.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Valid, ValidationError};
use crate::geo::CountryCode;
use crate::money::Money;
use crate::offer::{DeviceType, OsFamily};

/// A click id: 128 bits, the leading 48 the millisecond timestamp, the rest random; shown as
/// 32 lowercase hex characters. Ordering ids orders clicks by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClickId(u128);

impl ClickId {
    /// An id for a click at `unix_ms` with 80 random bits.
    pub fn new(unix_ms: u64, random: [u8; 10]) -> Self {
        let mut tail = [0u8; 16];
        tail[6..].copy_from_slice(&random);
        Self((u128::from(unix_ms & 0xFFFF_FFFF_FFFF) << 80) | u128::from_be_bytes(tail))
    }

    /// The smallest id of a millisecond (for time-range scans).
    pub fn floor(unix_ms: u64) -> Self {
        Self(u128::from(unix_ms & 0xFFFF_FFFF_FFFF) << 80)
    }

    /// Parses 32 hex characters (any case).
    pub fn parse(raw: &str) -> Valid<Self> {
        let raw = raw.trim();
        if raw.len() != 32 || !raw.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ValidationError::value(format!("'{raw}' is not a 32-character click id")));
        }
        u128::from_str_radix(raw, 16)
            .map(Self)
            .map_err(|_| ValidationError::value(format!("'{raw}' is not a click id")))
    }

    /// The millisecond the click happened.
    pub fn unix_ms(&self) -> u64 {
        u64::try_from(self.0 >> 80).unwrap_or(0)
    }

    /// The 16 bytes, big-endian (storage form: sorts like the id).
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// From the storage form.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(u128::from_be_bytes(bytes))
    }

    /// The hex form.
    pub fn to_hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

impl std::fmt::Display for ClickId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl From<ClickId> for String {
    fn from(id: ClickId) -> String {
        id.to_hex()
    }
}

impl TryFrom<String> for ClickId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// Why a click was not sent to the offer. Each reason has a stable numeric code (stored with the
/// click and shown as `error_code`) and a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// No offer has that id.
    UnknownOffer,
    /// No affiliate has that id.
    UnknownAffiliate,
    /// The offer is paused.
    OfferPaused,
    /// The offer is archived.
    OfferArchived,
    /// The affiliate's account may not send traffic.
    AffiliateInactive,
    /// The affiliate may not run the offer (private, awaiting approval, or blocked).
    NoAccess,
    /// The visitor's country is not targeted.
    GeoNotTargeted,
    /// The visitor's device or OS is not targeted.
    DeviceNotTargeted,
    /// A click cap is reached.
    CapReached,
    /// A bot, on an offer that filters bots.
    FilteredBot,
}

impl Rejection {
    /// Every reason.
    pub const ALL: [Rejection; 10] = [
        Self::UnknownOffer,
        Self::UnknownAffiliate,
        Self::OfferPaused,
        Self::OfferArchived,
        Self::AffiliateInactive,
        Self::NoAccess,
        Self::GeoNotTargeted,
        Self::DeviceNotTargeted,
        Self::CapReached,
        Self::FilteredBot,
    ];

    /// The stored numeric code (0 means no error).
    pub fn code(self) -> u16 {
        match self {
            Self::UnknownOffer => 1,
            Self::UnknownAffiliate => 2,
            Self::OfferPaused => 3,
            Self::OfferArchived => 4,
            Self::AffiliateInactive => 5,
            Self::NoAccess => 6,
            Self::GeoNotTargeted => 7,
            Self::DeviceNotTargeted => 8,
            Self::CapReached => 9,
            Self::FilteredBot => 10,
        }
    }

    /// The reason of a stored code.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// A short message for people.
    pub fn message(self) -> &'static str {
        match self {
            Self::UnknownOffer => "Unknown offer",
            Self::UnknownAffiliate => "Unknown affiliate",
            Self::OfferPaused => "Offer is paused",
            Self::OfferArchived => "Offer is archived",
            Self::AffiliateInactive => "Affiliate is not active",
            Self::NoAccess => "Affiliate has no access to this offer",
            Self::GeoNotTargeted => "Country is not targeted by this offer",
            Self::DeviceNotTargeted => "Device or OS is not targeted by this offer",
            Self::CapReached => "Click cap reached",
            Self::FilteredBot => "Filtered bot traffic",
        }
    }

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::UnknownOffer => "unknown_offer",
            Self::UnknownAffiliate => "unknown_affiliate",
            Self::OfferPaused => "offer_paused",
            Self::OfferArchived => "offer_archived",
            Self::AffiliateInactive => "affiliate_inactive",
            Self::NoAccess => "no_access",
            Self::GeoNotTargeted => "geo_not_targeted",
            Self::DeviceNotTargeted => "device_not_targeted",
            Self::CapReached => "cap_reached",
            Self::FilteredBot => "filtered_bot",
        }
    }
}

/// What the user agent says about the visitor's device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device class, when known.
    pub device_type: Option<DeviceType>,
    /// OS family, when known.
    pub os: Option<OsFamily>,
    /// OS name as reported (`iOS`, `Windows 10`).
    pub os_name: String,
    /// OS version.
    pub os_version: String,
    /// Browser name.
    pub browser: String,
    /// Browser version.
    pub browser_version: String,
    /// Maker (`Apple`, `Samsung`).
    pub brand: String,
    /// Model (`iPhone`, `SM-G991B`).
    pub model: String,
    /// Whether the device is a phone or tablet.
    pub is_mobile: bool,
    /// Whether the device is a tablet.
    pub is_tablet: bool,
}

/// Where the visitor is, from the GeoIP database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geo {
    /// Country, when known.
    pub country: Option<CountryCode>,
    /// Region (state, province).
    pub region: String,
    /// City.
    pub city: String,
    /// Internet service provider.
    pub isp: String,
    /// Mobile carrier.
    pub carrier: String,
    /// Organisation owning the address.
    pub organization: String,
    /// Connection type (`cable/dsl`, `cellular`, …).
    pub connection_type: String,
}

/// The tracking parameters a link carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingParams {
    /// Sub-ids 1 to 5.
    pub subs: [String; 5],
    /// The traffic source (a source's id or slug, or any text).
    pub source_id: String,
    /// Creative chosen.
    pub creative_id: Option<u32>,
    /// Offer URL chosen.
    pub url_id: Option<u32>,
    /// Free campaign label.
    pub campaign: String,
    /// Coupon code (`__cc`).
    pub coupon_code: String,
    /// Apple advertising id.
    pub idfa: String,
    /// Google advertising id.
    pub google_ad_id: String,
    /// Android id.
    pub android_id: String,
    /// Deep link requested (`url=`).
    pub deep_link: String,
    /// The query parameters as sent, in order, but for sub-ids, `source_id`, the mobile ad ids
    /// and `async` (the raw-click log's `query_parameters`; at most 32).
    pub extra: Vec<(String, String)>,
}

/// A recorded click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Click {
    /// Id (also the transaction id).
    pub id: ClickId,
    /// When.
    pub at: DateTime<Utc>,
    /// Offer id from the link (even when unknown).
    pub offer_id: i64,
    /// Affiliate id from the link (even when unknown).
    pub affiliate_id: i64,
    /// Link parameters.
    pub params: TrackingParams,
    /// Visitor address.
    pub ip: IpAddr,
    /// `User-Agent`.
    pub user_agent: String,
    /// `Referer`.
    pub referer: String,
    /// `Accept-Language`.
    pub accept_language: String,
    /// Primary language (`fr`).
    pub language: String,
    /// Device facts.
    pub device: Device,
    /// Location facts.
    pub geo: Geo,
    /// First click of this visitor on this offer and affiliate in the unique window.
    pub is_unique: bool,
    /// A bot or empty user agent.
    pub is_robot: bool,
    /// Excluded from statistics (a bot on an offer that filters bots).
    pub is_filter: bool,
    /// Why it was not sent to the offer.
    pub rejection: Option<Rejection>,
    /// Payout for the click (cpc offers, unique and not filtered).
    pub payout: Money,
    /// Revenue for the click (cpc offers, unique and not filtered).
    pub revenue: Money,
}

impl Click {
    /// The unique-window key: a stable 64-bit hash of offer, affiliate, IP and user agent.
    pub fn unique_key(&self) -> u64 {
        unique_key(self.offer_id, self.affiliate_id, &self.ip, &self.user_agent)
    }
}

/// A stable 64-bit hash of what makes a click unique (SHA-256, so it survives restarts and
/// agrees between nodes).
pub fn unique_key(offer_id: i64, affiliate_id: i64, ip: &IpAddr, user_agent: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(offer_id.to_be_bytes());
    h.update(affiliate_id.to_be_bytes());
    match ip {
        IpAddr::V4(v4) => h.update(v4.octets()),
        IpAddr::V6(v6) => h.update(v6.octets()),
    }
    h.update(user_agent.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// A recorded impression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impression {
    /// When.
    pub at: DateTime<Utc>,
    /// Offer id.
    pub offer_id: i64,
    /// Affiliate id.
    pub affiliate_id: i64,
    /// Link parameters.
    pub params: TrackingParams,
    /// Visitor address.
    pub ip: IpAddr,
    /// Device facts.
    pub device: Device,
    /// Location facts.
    pub geo: Geo,
    /// Whether the offer or affiliate was unknown or inactive (not counted).
    pub rejection: Option<Rejection>,
    /// Payout for this impression (a thousandth of a cpm payout; zero otherwise).
    pub payout: rust_decimal::Decimal,
    /// Revenue for this impression (a thousandth of a cpm revenue; zero otherwise).
    pub revenue: rust_decimal::Decimal,
}

/// The primary language of an `Accept-Language` header (`fr-CA,fr;q=0.9` → `fr`).
pub fn primary_language(accept_language: &str) -> String {
    accept_language
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.parse::<f32>().ok()).unwrap_or(1.0);
            (!tag.is_empty() && tag != "*").then_some((tag, q))
        })
        .fold(None::<(&str, f32)>, |best, (tag, q)| match best {
            Some((_, bq)) if bq >= q => best,
            _ => Some((tag, q)),
        })
        .map(|(tag, _)| tag.split('-').next().unwrap_or(tag).to_ascii_lowercase())
        .filter(|l| l.len() <= 8 && l.bytes().all(|b| b.is_ascii_alphabetic()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn click_ids_are_time_ordered_hex() {
        let a = ClickId::new(1_700_000_000_000, [0xff; 10]);
        let b = ClickId::new(1_700_000_000_001, [0; 10]);
        assert!(a < b);
        assert_eq!(a.unix_ms(), 1_700_000_000_000);
        let hex = a.to_hex();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(&hex[..12], "018bcfe56800");
        assert_eq!(ClickId::parse(&hex.to_uppercase()).unwrap(), a);
        assert_eq!(ClickId::from_bytes(a.to_bytes()), a);
        assert!(ClickId::floor(1_700_000_000_000) <= a && a < ClickId::floor(1_700_000_000_001));
        assert!(ClickId::parse("xyz").is_err());
        assert!(ClickId::parse(&"g".repeat(32)).is_err());
    }

    #[test]
    fn rejection_codes_are_stable_and_distinct() {
        let mut codes: Vec<u16> = Rejection::ALL.iter().map(|r| r.code()).collect();
        codes.dedup();
        assert_eq!(codes.len(), Rejection::ALL.len());
        assert!(codes.iter().all(|&c| c > 0));
        for r in Rejection::ALL {
            assert_eq!(Rejection::from_code(r.code()), Some(r));
        }
        assert_eq!(Rejection::from_code(0), None);
    }

    #[test]
    fn languages() {
        assert_eq!(primary_language("fr-CA,fr;q=0.9,en;q=0.8"), "fr");
        assert_eq!(primary_language("en;q=0.5, de"), "de");
        assert_eq!(primary_language(""), "");
        assert_eq!(primary_language("*"), "");
    }
}
