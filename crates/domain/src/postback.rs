//! Affiliate postback configurations: where a conversion is reported to an affiliate's tracker.

use serde::{Deserialize, Serialize};

use crate::macros::PostbackTemplate;
use chrono::{DateTime, Utc};

/// When a postback fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PostbackEvent {
    /// A conversion is recorded, whatever its status.
    #[default]
    Conversion,
    /// A conversion is, or becomes, approved.
    Approved,
    /// A conversion is, or becomes, rejected.
    Rejected,
}

/// Whether a postback configuration fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PostbackStatus {
    /// Fires.
    #[default]
    Active,
    /// Kept but silent.
    Inactive,
}

/// The editable part of a postback configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PostbackSpec {
    /// The affiliate it reports to; an affiliate key always means itself.
    #[serde(default)]
    pub affiliate_id: Option<i64>,
    /// URL template with postback macros.
    pub url: PostbackTemplate,
    /// The one offer it is for; every offer when absent (an offer-specific one wins).
    #[serde(default)]
    pub offer_id: Option<i64>,
    /// When it fires.
    #[serde(default)]
    pub event: PostbackEvent,
    /// Whether it fires.
    #[serde(default)]
    pub status: PostbackStatus,
}

/// A postback configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Postback {
    /// Numeric id.
    pub id: i64,
    /// The editable fields.
    #[serde(flatten)]
    pub spec: PostbackSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Trackers whose postback URL Clicktrail can fill in from a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Voluum.
    Voluum,
    /// Binom.
    Binom,
    /// RedTrack.
    Redtrack,
    /// BeMob.
    Bemob,
    /// Keitaro.
    Keitaro,
}

impl Preset {
    /// The postback template of the tracker at `domain` (a host name, checked by the caller).
    pub fn template(self, domain: &str) -> String {
        match self {
            Self::Voluum => {
                format!("https://{domain}/postback?cid={{click_id}}&payout={{payout}}&txid={{conversion_id}}")
            }
            Self::Binom => {
                format!("https://{domain}/click.php?cnv_id={{click_id}}&payout={{payout}}&cnv_status={{status}}")
            }
            Self::Redtrack => format!("https://{domain}/postback?clickid={{click_id}}&sum={{payout}}&type={{event}}"),
            Self::Bemob => format!(
                "https://{domain}/postback?cid={{click_id}}&payout={{payout}}&txid={{conversion_id}}&status={{status}}"
            ),
            Self::Keitaro => format!(
                "https://{domain}/postback?subid={{click_id}}&status={{status}}&payout={{payout}}&tid={{conversion_id}}"
            ),
        }
    }
}

/// The value of a postback macro for a conversion (see `macros::POSTBACK_MACROS`).
pub fn postback_macro(c: &crate::conversion::Conversion, event: PostbackEvent, name: &str) -> Option<String> {
    Some(match name {
        "click_id" | "transaction_id" => c.click_id.clone().unwrap_or_default(),
        "payout" => c.payout.to_string(),
        "offer_id" => c.offer_id.to_string(),
        "geo" => c.country.clone(),
        "sub1" => c.subs[0].clone(),
        "sub2" => c.subs[1].clone(),
        "sub3" => c.subs[2].clone(),
        "sub4" => c.subs[3].clone(),
        "sub5" => c.subs[4].clone(),
        "conversion_id" => c.id.to_string(),
        "status" => c.status.as_str().to_owned(),
        "event" => c.event.clone().unwrap_or_else(|| match event {
            PostbackEvent::Conversion => "conversion".to_owned(),
            PostbackEvent::Approved => "approved".to_owned(),
            PostbackEvent::Rejected => "rejected".to_owned(),
        }),
        "currency" => c.currency.as_str().to_owned(),
        "source_id" => c.source_id.clone(),
        "timestamp" => c.updated_at.timestamp().to_string(),
        _ => return None,
    })
}

/// Renders a postback for a conversion, every value URL-encoded.
pub fn render(template: &PostbackTemplate, c: &crate::conversion::Conversion, event: PostbackEvent) -> String {
    template.template().render(|name| postback_macro(c, event, name).map(std::borrow::Cow::Owned))
}

impl PostbackEvent {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Conversion => "conversion",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

impl PostbackStatus {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid_templates() {
        for p in [Preset::Voluum, Preset::Binom, Preset::Redtrack, Preset::Bemob, Preset::Keitaro] {
            let t = PostbackTemplate::parse(&p.template("trk.example.com")).unwrap();
            assert!(t.template().macros().any(|m| m == "click_id"), "{p:?}");
        }
    }
}
