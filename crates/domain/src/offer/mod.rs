//! Offers: what affiliates promote, how they are paid, and who may run them. The record and
//! its rules are here; its parts are [`content`] (events, landing pages, creatives),
//! [`targeting`] (devices, OS) and [`terms`] (caps, tiers, guards, deep links).

pub mod content;
pub mod targeting;
pub mod terms;

pub use self::content::{Creative, CreativeKind, OfferEvent, OfferUrl};
pub use self::targeting::{DeviceType, OsFamily, Targeting};
pub use self::terms::{CapLimits, Caps, ConversionGuards, DeepLinks, PayoutTier};

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::Timestamp;
use crate::error::{Valid, ValidationError};
use crate::geo::CountryCode;
use crate::macros::{HttpUrl, UrlTemplate};
use crate::money::{Currency, Money, PayoutType};
use crate::text::Name;

/// Whether an offer takes traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OfferStatus {
    /// Live.
    #[default]
    Active,
    /// Temporarily off; clicks go to the fallback.
    Paused,
    /// Retired; hidden from lists unless asked for.
    Archived,
}

impl OfferStatus {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Archived => "archived",
        }
    }
}

/// Who may see and run an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Every active affiliate.
    #[default]
    Public,
    /// Listed to every affiliate; runs only for those approved.
    RequireApproval,
    /// Only affiliates granted access see or run it.
    Private,
}

/// An affiliate's standing on one offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AccessStatus {
    /// May run the offer.
    #[default]
    Approved,
    /// Applied, waiting.
    Pending,
    /// Refused, even on a public offer.
    Blocked,
}

/// Per-affiliate access and payout override on an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AffiliateAccess {
    /// The affiliate.
    pub affiliate_id: i64,
    /// Their standing.
    #[serde(default)]
    pub status: AccessStatus,
    /// A payout that replaces the offer's for this affiliate.
    #[serde(default)]
    pub payout: Option<Money>,
}

/// How a click is sent on to the offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RedirectMode {
    /// An HTTP 302.
    #[default]
    Redirect,
    /// An HTML page with a meta refresh.
    MetaRefresh,
    /// Two meta refreshes, which drops the referrer.
    DoubleMetaRefresh,
}

/// Status of a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ConversionStatus {
    /// Counted and payable.
    #[default]
    Approved,
    /// Waiting for review.
    Pending,
    /// Not payable.
    Rejected,
}

impl ConversionStatus {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Pending => "pending",
            Self::Rejected => "rejected",
        }
    }
}

/// The editable part of an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfferSpec {
    /// Display name.
    pub name: Name,
    /// Description for affiliates.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 20000))]
    pub description: Option<String>,
    /// The advertiser who owns the offer.
    #[serde(default)]
    pub advertiser_id: Option<i64>,
    /// Main category (vertical).
    #[serde(default)]
    pub category_id: Option<i64>,
    /// Status.
    #[serde(default)]
    pub status: OfferStatus,
    /// Destination template.
    pub destination_url: UrlTemplate,
    /// Extra landing pages.
    #[serde(default)]
    pub offer_urls: Vec<OfferUrl>,
    /// Where affiliates can look at the offer.
    #[serde(default)]
    pub preview_url: Option<HttpUrl>,
    /// Payout to the affiliate (a percentage for cps and revshare).
    pub payout: Money,
    /// How the payout is computed.
    pub payout_type: PayoutType,
    /// Revenue from the advertiser (a percentage for cps and revshare).
    pub revenue: Money,
    /// How the revenue is computed; the payout type when absent.
    #[serde(default)]
    pub revenue_type: Option<PayoutType>,
    /// Currency of payout and revenue.
    #[serde(default)]
    pub currency: Currency,
    /// Goals with their own money.
    #[serde(default)]
    pub events: Vec<OfferEvent>,
    /// Promotional material.
    #[serde(default)]
    pub creatives: Vec<Creative>,
    /// Allowed countries; worldwide when empty.
    #[serde(default)]
    pub geo: Vec<CountryCode>,
    /// Device and OS targeting.
    #[serde(default)]
    pub targeting: Targeting,
    /// Whether bot clicks are filtered out (not sent on, not counted).
    #[serde(default)]
    pub filter_bots: bool,
    /// Who may see and run it.
    #[serde(default)]
    pub visibility: Visibility,
    /// Per-affiliate access and payout overrides.
    #[serde(default)]
    pub access: Vec<AffiliateAccess>,
    /// Volume payout tiers.
    #[serde(default)]
    pub tiers: Vec<PayoutTier>,
    /// Click and conversion caps.
    #[serde(default)]
    pub caps: Caps,
    /// Where rejected clicks go; the network's when absent.
    #[serde(default)]
    pub fallback_url: Option<HttpUrl>,
    /// How clicks are sent on.
    #[serde(default)]
    pub redirect_mode: RedirectMode,
    /// Status of a new conversion.
    #[serde(default)]
    pub default_conversion_status: ConversionStatus,
    /// Checks on inbound conversions.
    #[serde(default)]
    pub guards: ConversionGuards,
    /// Deep-link rules.
    #[serde(default)]
    pub deep_links: DeepLinks,
    /// Platform the offer is mirrored from (`tune`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255, pattern = "\\S"))]
    pub external_platform: Option<String>,
    /// Its id there.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255, pattern = "\\S"))]
    pub external_id: Option<String>,
    /// Free-form JSON object.
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

fn duplicate<T: PartialEq>(items: impl Iterator<Item = T>) -> Option<usize> {
    let items: Vec<T> = items.collect();
    (1..items.len()).find(|&i| items[..i].contains(&items[i]))
}

impl OfferSpec {
    /// Checks rules across fields and fills assigned numbers (offer URL and creative ids).
    pub fn normalize(mut self) -> Valid<Self> {
        self.payout_type.check_amount(self.payout).map_err(|e| e.at("payout"))?;
        self.revenue_type().check_amount(self.revenue).map_err(|e| e.at("revenue"))?;
        if self.default_conversion_status == ConversionStatus::Rejected {
            return Err(ValidationError::new("default_conversion_status", "must be approved or pending"));
        }
        let window = self.guards.attribution_window_days;
        if !(1..=ConversionGuards::MAX_WINDOW_DAYS).contains(&window) {
            return Err(ValidationError::new(
                "guards.attribution_window_days",
                format!("must be between 1 and {} (got {window})", ConversionGuards::MAX_WINDOW_DAYS),
            ));
        }
        if self.guards.token.as_deref().is_some_and(|t| t.trim().is_empty() || t.chars().count() > 128) {
            return Err(ValidationError::new("guards.token", "must be 1 to 128 characters"));
        }
        if self.description.as_deref().is_some_and(|d| d.chars().count() > 20_000) {
            return Err(ValidationError::new("description", "must be at most 20000 characters"));
        }
        for (field, value) in [("external_platform", &self.external_platform), ("external_id", &self.external_id)] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty() || v.chars().count() > 255) {
                return Err(ValidationError::new(field, "must be 1 to 255 characters when given"));
            }
        }
        for (i, event) in self.events.iter().enumerate() {
            let at = |e: ValidationError| e.at(&format!("events[{i}]"));
            if let Some(p) = event.payout {
                event.payout_type.unwrap_or(self.payout_type).check_amount(p).map_err(|e| at(e.at("payout")))?;
            }
            if let Some(r) = event.revenue {
                event.revenue_type.unwrap_or(self.revenue_type()).check_amount(r).map_err(|e| at(e.at("revenue")))?;
            }
        }
        if let Some(i) = duplicate(self.events.iter().map(|e| &e.code)) {
            return Err(ValidationError::new(format!("events[{i}].code"), "is used by another event of the offer"));
        }
        if let Some(i) = duplicate(self.access.iter().map(|a| a.affiliate_id)) {
            return Err(ValidationError::new(format!("access[{i}].affiliate_id"), "is listed twice"));
        }
        if let Some(i) = duplicate(self.geo.iter()) {
            return Err(ValidationError::new(format!("geo[{i}]"), "is listed twice"));
        }
        self.tiers.sort_by_key(|t| t.min_conversions);
        if let Some(i) = duplicate(self.tiers.iter().map(|t| t.min_conversions)) {
            return Err(ValidationError::new(format!("tiers[{i}].min_conversions"), "is used by another tier"));
        }
        for (i, tier) in self.tiers.iter().enumerate() {
            self.payout_type.check_amount(tier.payout).map_err(|e| e.at(&format!("tiers[{i}].payout")))?;
        }
        self.caps.offer.validate().map_err(|e| e.at("caps.offer"))?;
        self.caps.per_affiliate.validate().map_err(|e| e.at("caps.per_affiliate"))?;
        for (i, host) in self.deep_links.allowed_hosts.iter_mut().enumerate() {
            *host = normalize_host_pattern(host).map_err(|e| e.at(&format!("deep_links.allowed_hosts[{i}]")))?;
        }
        assign_numbers(self.offer_urls.iter_mut().map(|u| &mut u.id))
            .map_err(|i| ValidationError::new(format!("offer_urls[{i}].id"), "is used by another offer URL"))?;
        assign_numbers(self.creatives.iter_mut().map(|c| &mut c.id))
            .map_err(|i| ValidationError::new(format!("creatives[{i}].id"), "is used by another creative"))?;
        Ok(self)
    }

    /// The revenue type, defaulting to the payout type.
    pub fn revenue_type(&self) -> PayoutType {
        self.revenue_type.unwrap_or(self.payout_type)
    }

    /// The access entry for an affiliate, if any.
    pub fn access_for(&self, affiliate_id: i64) -> Option<&AffiliateAccess> {
        self.access.iter().find(|a| a.affiliate_id == affiliate_id)
    }

    /// Whether an affiliate sees the offer in lists.
    pub fn visible_to(&self, affiliate_id: i64) -> bool {
        match (self.visibility, self.access_for(affiliate_id).map(|a| a.status)) {
            (_, Some(AccessStatus::Blocked)) => false,
            (Visibility::Public | Visibility::RequireApproval, _) => true,
            (Visibility::Private, Some(_)) => true,
            (Visibility::Private, None) => false,
        }
    }

    /// Whether an affiliate may send traffic to the offer.
    pub fn runnable_by(&self, affiliate_id: i64) -> bool {
        match (self.visibility, self.access_for(affiliate_id).map(|a| a.status)) {
            (_, Some(AccessStatus::Blocked | AccessStatus::Pending)) => false,
            (Visibility::Public, _) => true,
            (_, Some(AccessStatus::Approved)) => true,
            (_, None) => false,
        }
    }

    /// The base payout for an affiliate: their override, else the offer's.
    pub fn payout_for(&self, affiliate_id: i64) -> Money {
        self.access_for(affiliate_id).and_then(|a| a.payout).unwrap_or(self.payout)
    }
}

/// Fills missing numbers with the next free one; errors with the index of a duplicate.
fn assign_numbers<'a>(ids: impl Iterator<Item = &'a mut Option<u32>>) -> Result<(), usize> {
    let mut ids: Vec<&mut Option<u32>> = ids.collect();
    let mut taken: Vec<u32> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        if let Some(n) = **id {
            if taken.contains(&n) {
                return Err(i);
            }
            taken.push(n);
        }
    }
    let mut next = taken.iter().copied().max().unwrap_or(0);
    for id in &mut ids {
        if id.is_none() {
            next += 1;
            **id = Some(next);
        }
    }
    Ok(())
}

fn normalize_host_pattern(raw: &str) -> Valid<String> {
    let host = raw.trim().to_ascii_lowercase();
    let bare = host.strip_prefix("*.").unwrap_or(&host);
    let ok = !bare.is_empty()
        && bare.contains('.')
        && bare.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if ok {
        Ok(host)
    } else {
        Err(ValidationError::value(format!("'{raw}' is not a host name (example.com or *.example.com)")))
    }
}

/// An offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Offer {
    /// Numeric id (tracking links use it).
    pub id: i64,
    /// Stable 24-character hex id (dialect C).
    pub public_id: PublicId,
    /// The editable fields.
    #[serde(flatten)]
    pub spec: OfferSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A stable 24-character lowercase hex id: 4 bytes of creation seconds and 8 random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "664f1a2b3c4d5e6f7a8b9c0d"))]
#[serde(try_from = "String", into = "String")]
pub struct PublicId([u8; 12]);

impl PublicId {
    /// Builds an id from the creation time and eight random bytes.
    pub fn new(created: Timestamp, random: [u8; 8]) -> Self {
        let mut bytes = [0u8; 12];
        let secs = u32::try_from(created.timestamp()).unwrap_or(u32::MAX);
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes[4..].copy_from_slice(&random);
        Self(bytes)
    }

    /// Parses 24 hex characters, any case.
    pub fn parse(raw: &str) -> Valid<Self> {
        let mut bytes = [0u8; 12];
        hex::decode_to_slice(raw.trim().to_ascii_lowercase(), &mut bytes)
            .map_err(|_| ValidationError::value(format!("'{raw}' is not a 24-character hex id")))?;
        Ok(Self(bytes))
    }

    /// The lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<PublicId> for String {
    fn from(id: PublicId) -> String {
        id.to_hex()
    }
}

impl TryFrom<String> for PublicId {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl std::fmt::Display for PublicId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(extra: serde_json::Value) -> Valid<OfferSpec> {
        let mut body = json!({
            "name": "Summer Promo",
            "destination_url": "https://shop.example/?cid={click_id}",
            "payout": 2.5, "payout_type": "cpa", "revenue": 4,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        serde_json::from_value::<OfferSpec>(body).map_err(|e| ValidationError::value(e.to_string()))?.normalize()
    }

    #[test]
    fn defaults_are_those_of_the_spec() {
        let s = spec(json!({})).unwrap();
        assert_eq!(s.status, OfferStatus::Active);
        assert_eq!(s.revenue_type(), PayoutType::Cpa);
        assert_eq!(s.guards.attribution_window_days, 30);
        assert_eq!(s.visibility, Visibility::Public);
        assert_eq!(s.currency, Currency::USD);
    }

    #[test]
    fn cross_field_rules() {
        let e = spec(json!({"payout_type": "revshare", "payout": 150})).unwrap_err();
        assert_eq!(e.field, "payout");
        let e = spec(json!({"guards": {"attribution_window_days": 91}})).unwrap_err();
        assert_eq!(e.field, "guards.attribution_window_days");
        let e = spec(json!({"events": [{"code":"sale","name":"Sale"},{"code":"sale","name":"Again"}]})).unwrap_err();
        assert_eq!(e.field, "events[1].code");
        let e = spec(json!({"caps": {"per_affiliate": {"daily_clicks": 0}}})).unwrap_err();
        assert_eq!(e.field, "caps.per_affiliate.daily_clicks");
        let e = spec(json!({"deep_links": {"enabled": true, "allowed_hosts": ["not a host"]}})).unwrap_err();
        assert_eq!(e.field, "deep_links.allowed_hosts[0]");
        let e = spec(json!({"default_conversion_status": "rejected"})).unwrap_err();
        assert_eq!(e.field, "default_conversion_status");
    }

    #[test]
    fn numbers_are_assigned() {
        let s = spec(json!({"offer_urls": [
            {"name": "A", "url": "https://a.example/"},
            {"id": 5, "name": "B", "url": "https://b.example/"},
            {"name": "C", "url": "https://c.example/"}
        ]}))
        .unwrap();
        let ids: Vec<_> = s.offer_urls.iter().map(|u| u.id).collect();
        assert_eq!(ids, [Some(6), Some(5), Some(7)]);
        let e = spec(json!({"creatives": [{"id": 1, "name": "A"}, {"id": 1, "name": "B"}]})).unwrap_err();
        assert_eq!(e.field, "creatives[1].id");
    }

    #[test]
    fn access_rules() {
        let s = spec(json!({"visibility": "private", "access": [
            {"affiliate_id": 1, "payout": 3},
            {"affiliate_id": 2, "status": "pending"},
            {"affiliate_id": 3, "status": "blocked"}
        ]}))
        .unwrap();
        assert!(s.visible_to(1) && s.runnable_by(1));
        assert!(s.visible_to(2) && !s.runnable_by(2));
        assert!(!s.visible_to(3) && !s.runnable_by(3));
        assert!(!s.visible_to(4) && !s.runnable_by(4));
        assert_eq!(s.payout_for(1).to_string(), "3");
        assert_eq!(s.payout_for(2).to_string(), "2.5");
        let public = spec(json!({"access": [{"affiliate_id": 3, "status": "blocked"}]})).unwrap();
        assert!(public.runnable_by(9) && !public.runnable_by(3));
        let approval = spec(json!({"visibility": "require_approval"})).unwrap();
        assert!(approval.visible_to(9) && !approval.runnable_by(9));
    }

    #[test]
    fn tiers_are_sorted() {
        let s = spec(json!({"tiers": [{"min_conversions": 100, "payout": 4}, {"min_conversions": 10, "payout": 3}]}))
            .unwrap();
        assert_eq!(s.tiers[0].min_conversions, 10);
    }

    #[test]
    fn public_ids() {
        let t = chrono::DateTime::from_timestamp(0x664f1a2b, 0).unwrap();
        let id = PublicId::new(t, [0x3c, 0x4d, 0x5e, 0x6f, 0x7a, 0x8b, 0x9c, 0x0d]);
        assert_eq!(id.to_hex(), "664f1a2b3c4d5e6f7a8b9c0d");
        assert_eq!(PublicId::parse("664F1A2B3C4D5E6F7A8B9C0D").unwrap(), id);
        assert!(PublicId::parse("664f").is_err());
    }
}
