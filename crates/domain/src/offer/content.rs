//! What an offer shows and counts: its events (goals with their own money), landing pages and
//! creatives.

use serde::{Deserialize, Serialize};

use crate::macros::{HttpUrl, UrlTemplate};
use crate::money::{Money, PayoutType};
use crate::text::{Name, Slug};

/// A goal of the offer (lead, sale, install, …) with its own money.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfferEvent {
    /// What the advertiser's postback sends as `event` (`lead`, `sale`).
    pub code: Slug,
    /// Display name.
    pub name: Name,
    /// Whether conversions of this event count as leads in reports.
    #[serde(default)]
    pub is_lead: bool,
    /// Payout for this event; the offer's when absent.
    #[serde(default)]
    pub payout: Option<Money>,
    /// Payout type for this event; the offer's when absent.
    #[serde(default)]
    pub payout_type: Option<PayoutType>,
    /// Revenue for this event; the offer's when absent.
    #[serde(default)]
    pub revenue: Option<Money>,
    /// Revenue type for this event; the offer's when absent.
    #[serde(default)]
    pub revenue_type: Option<PayoutType>,
}

/// An extra landing page, chosen by a click's `url_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OfferUrl {
    /// Number the click's `url_id` names; assigned when absent.
    #[serde(default)]
    pub id: Option<u32>,
    /// Display name.
    pub name: Name,
    /// Destination template.
    pub url: UrlTemplate,
}

/// Kind of creative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum CreativeKind {
    /// An image banner.
    #[default]
    Banner,
    /// A text link.
    Text,
    /// An HTML snippet.
    Html,
    /// An e-mail creative.
    Email,
    /// A video.
    Video,
}

/// Promotional material for an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Creative {
    /// Number a click's `creative_id` names; assigned when absent.
    #[serde(default)]
    pub id: Option<u32>,
    /// Display name.
    pub name: Name,
    /// Kind.
    #[serde(default)]
    pub kind: CreativeKind,
    /// Where the asset lives.
    #[serde(default)]
    pub url: Option<HttpUrl>,
    /// Inline content (text or HTML).
    #[serde(default)]
    pub content: Option<String>,
    /// Width in pixels.
    #[serde(default)]
    pub width: Option<u32>,
    /// Height in pixels.
    #[serde(default)]
    pub height: Option<u32>,
}
