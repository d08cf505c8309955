//! The network: one deployment's settings.

use serde::{Deserialize, Serialize};

use crate::error::{Valid, ValidationError};
use crate::geo::TimeZone;
use crate::macros::HttpUrl;
use crate::money::Currency;
use crate::text::Name;

/// Feature switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// Hourly statistics (dialect A's `groupBy=hour`).
    #[serde(default = "yes")]
    pub time_stats: bool,
}

fn yes() -> bool {
    true
}

impl Default for Features {
    fn default() -> Self {
        Self { time_stats: true }
    }
}

/// The network's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// Network name.
    pub name: Name,
    /// Default time zone of reports and caps.
    #[serde(default)]
    pub timezone: TimeZone,
    /// Default currency.
    #[serde(default)]
    pub currency: Currency,
    /// Base URL of tracking links handed to affiliates (`https://trk.example.com`).
    #[serde(default)]
    pub tracking_base_url: Option<HttpUrl>,
    /// Where clicks go that no offer takes and whose offer has no fallback.
    #[serde(default)]
    pub fallback_url: Option<HttpUrl>,
    /// Feature switches.
    #[serde(default)]
    pub features: Features,
    /// Days raw clicks are kept (clicks with conversions are kept forever).
    #[serde(default = "default_retention")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650))]
    pub raw_click_retention_days: u32,
}

fn default_retention() -> u32 {
    NetworkSettings::DEFAULT_RETENTION_DAYS
}

impl NetworkSettings {
    /// Default raw-click retention.
    pub const DEFAULT_RETENTION_DAYS: u32 = 90;

    /// Settings of a new network.
    pub fn new(name: Name) -> Self {
        Self {
            name,
            timezone: TimeZone::UTC,
            currency: Currency::USD,
            tracking_base_url: None,
            fallback_url: None,
            features: Features::default(),
            raw_click_retention_days: Self::DEFAULT_RETENTION_DAYS,
        }
    }

    /// Checks rules across fields.
    pub fn validate(&self) -> Valid<()> {
        if !(1..=3650).contains(&self.raw_click_retention_days) {
            return Err(ValidationError::new("raw_click_retention_days", "must be between 1 and 3650"));
        }
        Ok(())
    }
}
