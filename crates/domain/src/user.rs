//! Users — admins, affiliates, advertisers — and affiliate groups.
//!
//! Affiliates and advertisers are users: one id space, so an affiliate's id is its user id.

use serde::{Deserialize, Serialize};

use crate::geo::TimeZone;
use crate::text::{Email, Name};
use chrono::{DateTime, Utc};

/// What a user is to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Network staff: sees and changes everything.
    Admin,
    /// A publisher who sends traffic and earns payouts.
    Affiliate,
    /// The owner of offers, who pays revenue.
    Advertiser,
}

impl Role {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Affiliate => "affiliate",
            Self::Advertiser => "advertiser",
        }
    }
}

/// Account status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    /// In good standing.
    #[default]
    Active,
    /// Signed up, not yet approved.
    Pending,
    /// Temporarily stopped from sending traffic; may still read.
    Suspended,
    /// Dormant.
    Inactive,
    /// Gone for good.
    Closed,
}

impl UserStatus {
    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Suspended => "suspended",
            Self::Inactive => "inactive",
            Self::Closed => "closed",
        }
    }

    /// Whether the account may use the API at all (SPEC §4 dialect B: active and suspended read).
    pub fn may_read(self) -> bool {
        matches!(self, Self::Active | Self::Suspended)
    }

    /// Whether the account may send traffic.
    pub fn may_send_traffic(self) -> bool {
        self == Self::Active
    }
}

/// The editable part of a user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Display name (person or company).
    pub name: Name,
    /// Contact and login address; unique among users when present.
    #[serde(default)]
    pub email: Option<Email>,
    /// Account status.
    #[serde(default)]
    pub status: UserStatus,
    /// The affiliate group (affiliates only).
    #[serde(default)]
    pub affiliate_group_id: Option<i64>,
    /// The user's time zone for reports; the network's when absent.
    #[serde(default)]
    pub timezone: Option<TimeZone>,
}

/// A user of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Numeric id, shared by all roles.
    pub id: i64,
    /// Role, fixed at creation.
    pub role: Role,
    /// The editable fields.
    #[serde(flatten)]
    pub spec: UserSpec,
    /// Affiliates: the key of the HMAC signature on their postbacks (shown to them and admins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback_secret: Option<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user last changed.
    pub updated_at: DateTime<Utc>,
}

/// The editable part of an affiliate group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AffiliateGroupSpec {
    /// Group name, unique.
    pub name: Name,
}

/// A named set of affiliates (for reports and access rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AffiliateGroup {
    /// Numeric id.
    pub id: i64,
    /// The editable fields.
    #[serde(flatten)]
    pub spec: AffiliateGroupSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_spec_defaults_and_rejects_unknown_fields() {
        let s: UserSpec = serde_json::from_str(r#"{"name":"Ann"}"#).unwrap();
        assert_eq!(s.status, UserStatus::Active);
        assert!(serde_json::from_str::<UserSpec>(r#"{"name":"Ann","nme":"x"}"#).is_err());
        assert!(serde_json::from_str::<UserSpec>(r#"{"name":"Ann","status":"gone"}"#).is_err());
    }

    #[test]
    fn statuses_that_may_read() {
        assert!(UserStatus::Suspended.may_read());
        assert!(!UserStatus::Closed.may_read());
        assert!(!UserStatus::Suspended.may_send_traffic());
    }
}

/// A user's login secret: only the password's Argon2 hash (PHC string) is ever kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// The PHC-format hash.
    pub password_hash: String,
}
