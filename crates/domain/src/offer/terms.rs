//! An offer's terms: caps, payout tiers, conversion guards and deep links.

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::{Valid, ValidationError};
use crate::money::Money;

/// Daily and monthly limits (in the network's time zone); absent means unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CapLimits {
    /// Clicks a day.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub daily_clicks: Option<u32>,
    /// Clicks a month.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub monthly_clicks: Option<u32>,
    /// Conversions a day.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub daily_conversions: Option<u32>,
    /// Conversions a month.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub monthly_conversions: Option<u32>,
}

impl CapLimits {
    pub(crate) fn validate(&self) -> Valid<()> {
        let fields = [
            ("daily_clicks", self.daily_clicks),
            ("monthly_clicks", self.monthly_clicks),
            ("daily_conversions", self.daily_conversions),
            ("monthly_conversions", self.monthly_conversions),
        ];
        for (field, value) in fields {
            if value == Some(0) {
                return Err(ValidationError::new(
                    field,
                    "must be at least 1 (omit it for no cap; pause the offer to stop traffic)",
                ));
            }
        }
        Ok(())
    }
}

/// Caps on the whole offer and on each affiliate's traffic to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Caps {
    /// Limits on all traffic to the offer.
    #[serde(default)]
    pub offer: CapLimits,
    /// Limits on each affiliate's traffic to the offer.
    #[serde(default)]
    pub per_affiliate: CapLimits,
}

/// A payout that applies once an affiliate reaches a number of approved conversions this month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PayoutTier {
    /// Approved conversions this month from which the tier applies.
    pub min_conversions: u32,
    /// The payout from then on.
    pub payout: Money,
}

/// Checks on inbound conversions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConversionGuards {
    /// Days after the click in which a conversion is accepted (1 to 90).
    #[serde(default = "default_window")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 90))]
    pub attribution_window_days: u16,
    /// Conversions faster than this after the click are suspicious and left pending.
    #[serde(default)]
    pub min_seconds_to_convert: Option<u32>,
    /// Addresses the advertiser's postback must come from; anywhere when empty.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub ip_allowlist: Vec<IpNet>,
    /// A secret the advertiser's postback must carry as `token`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, pattern = "\\S"))]
    pub token: Option<String>,
    /// Whether the postback may set `payout` and `revenue` itself.
    #[serde(default)]
    pub allow_payout_override: bool,
}

fn default_window() -> u16 {
    ConversionGuards::DEFAULT_WINDOW_DAYS
}

impl ConversionGuards {
    /// Default attribution window.
    pub const DEFAULT_WINDOW_DAYS: u16 = 30;
    /// Longest attribution window.
    pub const MAX_WINDOW_DAYS: u16 = 90;
}

impl Default for ConversionGuards {
    fn default() -> Self {
        Self {
            attribution_window_days: Self::DEFAULT_WINDOW_DAYS,
            min_seconds_to_convert: None,
            ip_allowlist: Vec::new(),
            token: None,
            allow_payout_override: false,
        }
    }
}

/// Whether affiliates may send visitors to their own page on the advertiser's site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeepLinks {
    /// Whether a click's `url=` is honoured.
    #[serde(default)]
    pub enabled: bool,
    /// Hosts a deep link may point to (a leading `*.` allows subdomains); the destination's
    /// host when empty.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
}
