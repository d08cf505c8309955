//! Who an offer is for: device classes, OS families, and the targeting built from them.

use serde::{Deserialize, Serialize};

/// Device class of a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DeviceType {
    /// Desktop or laptop.
    Desktop,
    /// Phone.
    Mobile,
    /// Tablet.
    Tablet,
}

impl DeviceType {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Desktop, Self::Mobile, Self::Tablet].into_iter().find(|d| d.as_str() == raw)
    }
}

/// Operating system family of a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OsFamily {
    /// Android.
    Android,
    /// iOS and iPadOS.
    Ios,
    /// Windows.
    Windows,
    /// macOS.
    Macos,
    /// Linux desktops.
    Linux,
    /// Anything else.
    Other,
}

impl OsFamily {
    /// Every family.
    pub const ALL: [OsFamily; 6] = [Self::Android, Self::Ios, Self::Windows, Self::Macos, Self::Linux, Self::Other];

    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
            Self::Windows => "windows",
            Self::Macos => "macos",
            Self::Linux => "linux",
            Self::Other => "other",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == raw)
    }
}

/// Device and OS targeting; empty lists allow everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Targeting {
    /// Allowed device classes.
    #[serde(default)]
    pub device_types: Vec<DeviceType>,
    /// Allowed OS families.
    #[serde(default)]
    pub os: Vec<OsFamily>,
}
