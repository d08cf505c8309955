//! API keys: scopes, rate-limit tiers, and the secret's one-way form.
//!
//! A key's secret is shown once, at creation; only its SHA-256 is stored. A secret carries 256
//! random bits, so a fast hash is enough (as for GitHub tokens): a slow password hash would only
//! slow every request down.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Valid, ValidationError};
use crate::text::Name;
use chrono::{DateTime, Utc};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Scope {
    /// Browse offers.
    #[serde(rename = "read:offers")]
    ReadOffers,
    /// Pull statistics and raw clicks.
    #[serde(rename = "read:stats")]
    ReadStats,
    /// Read conversions.
    #[serde(rename = "read:conversions")]
    ReadConversions,
    /// Manage postbacks.
    #[serde(rename = "write:postback")]
    WritePostback,
    /// Everything (admin users only).
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 5] =
        [Self::ReadOffers, Self::ReadStats, Self::ReadConversions, Self::WritePostback, Self::Admin];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOffers => "read:offers",
            Self::ReadStats => "read:stats",
            Self::ReadConversions => "read:conversions",
            Self::WritePostback => "write:postback",
            Self::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Valid<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw.trim()).ok_or_else(|| {
            ValidationError::value(format!(
                "'{raw}' is not a scope; scopes are {}",
                Self::ALL.map(Scope::as_str).join(", ")
            ))
        })
    }
}

/// A set of scopes, where `admin` implies every other.
pub fn grants(held: &[Scope], needed: Scope) -> bool {
    held.contains(&Scope::Admin) || held.contains(&needed)
}

/// Rate-limit tier of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// 1,000 requests an hour by default.
    #[default]
    Standard,
    /// 10,000 requests an hour by default.
    Premium,
}

/// The SHA-256 of a secret, hex-encoded: the only form in which a secret is stored.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Prefix of generated secrets, so that leaked keys are easy to recognise and scan for.
pub const SECRET_PREFIX: &str = "ct_";

/// Turns 32 random bytes into a secret (`ct_` and 64 hex characters).
pub fn secret_from_random(random: [u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", hex::encode(random))
}

/// The part of a secret shown in lists so a person can tell keys apart.
pub fn display_prefix(secret: &str) -> String {
    secret.chars().take(SECRET_PREFIX.len() + 6).collect()
}

/// Checks a secret supplied by an operator (`CLICKTRAIL_ADMIN_KEY`).
pub fn check_operator_secret(secret: &str) -> Valid<()> {
    if secret.len() < 16 || secret.len() > 256 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ValidationError::value("must be 16 to 256 visible ASCII characters"));
    }
    Ok(())
}

/// An API key as stored: never the secret itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Numeric id.
    pub id: i64,
    /// The user the key acts as.
    pub user_id: i64,
    /// A label.
    pub name: Option<Name>,
    /// The first characters of the secret, for display.
    pub prefix: String,
    /// SHA-256 of the secret (see [`hash_secret`]).
    pub secret_hash: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// Rate-limit tier.
    pub tier: Tier,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the key was revoked; a revoked key authenticates nothing.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether the key grants `needed`.
    pub fn grants(&self, needed: Scope) -> bool {
        grants(&self.scopes, needed)
    }

    /// Whether the key is still usable.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Whether the key is active and carries the `admin` scope.
    pub fn is_active_admin(&self) -> bool {
        self.is_active() && self.scopes.contains(&Scope::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_and_admin_implies_all() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()).unwrap(), s);
        }
        assert!(Scope::parse("write:offers").is_err());
        assert!(grants(&[Scope::Admin], Scope::ReadStats));
        assert!(!grants(&[Scope::ReadOffers], Scope::ReadStats));
    }

    #[test]
    fn secrets_and_hashes() {
        let s = secret_from_random([7; 32]);
        assert_eq!(s.len(), 67);
        assert!(s.starts_with("ct_0707"));
        assert_eq!(display_prefix(&s), "ct_070707");
        let h = hash_secret(&s);
        assert_eq!(h.len(), 64);
        assert_ne!(h, s);
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(check_operator_secret("short").is_err());
        assert!(check_operator_secret("a-long-enough-secret").is_ok());
    }
}
