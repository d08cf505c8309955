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
