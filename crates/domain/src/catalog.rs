//! The network's catalogue around offers: categories, traffic sources and coupon codes.

use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use crate::text::{Name, Slug};

/// The editable part of a category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CategorySpec {
    /// Category (vertical) name, unique.
    pub name: Name,
}

/// An offer's main category, also called its vertical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Category {
    /// Numeric id.
    pub id: i64,
    /// The editable fields.
    #[serde(flatten)]
    pub spec: CategorySpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// The editable part of a traffic source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrafficSourceSpec {
    /// Display name (`Newsletter`).
    pub name: Name,
    /// The value a click's `source_id` may carry instead of the numeric id; derived from the
    /// name when absent.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^(?=[a-z0-9-]*[a-z-])[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"))]
    pub slug: Option<Slug>,
    /// Display order; new sources go last.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64))]
    pub position: Option<u32>,
}

/// A named channel of the network (Newsletter, Pop-ups, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrafficSource {
    /// Numeric id.
    pub id: i64,
    /// The editable fields (slug and position always filled once stored).
    #[serde(flatten)]
    pub spec: TrafficSourceSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl TrafficSource {
    /// Whether a click's `source_id` names this source (by id or slug).
    pub fn matches(&self, source_id: &str) -> bool {
        source_id == self.id.to_string() || self.spec.slug.as_ref().is_some_and(|s| s.as_str() == source_id)
    }
}

/// The editable part of a coupon code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CouponSpec {
    /// The code shoppers type (`SUMMER`); unique, compared case-insensitively.
    pub code: CouponCode,
    /// The affiliate credited with conversions that carry the code.
    pub affiliate_id: i64,
    /// The one offer the code is for; any offer when absent.
    #[serde(default)]
    pub offer_id: Option<i64>,
}

/// A coupon code assigned to an affiliate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coupon {
    /// Numeric id.
    pub id: i64,
    /// The editable fields.
    #[serde(flatten)]
    pub spec: CouponSpec,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A coupon code: 1 to 64 visible ASCII characters, kept upper-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "SUMMER", pattern = "^[\\x21-\\x7e]{1,64}$"))]
#[serde(try_from = "String", into = "String")]
pub struct CouponCode(String);

impl CouponCode {
    /// Parses a code.
    pub fn parse(raw: &str) -> crate::error::Valid<Self> {
        let code = raw.trim().to_ascii_uppercase();
        if code.is_empty() || code.len() > 64 || !code.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(crate::ValidationError::value(format!(
                "'{raw}' is not a coupon code (1 to 64 visible ASCII characters)"
            )));
        }
        Ok(Self(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
crate::string_newtype!(CouponCode);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupon_codes_are_uppercased() {
        assert_eq!(CouponCode::parse(" summer10 ").unwrap().as_str(), "SUMMER10");
        assert!(CouponCode::parse("two words").is_err());
        assert!(CouponCode::parse("").is_err());
    }

    #[test]
    fn sources_match_by_id_or_slug() {
        let s = TrafficSource {
            id: 7,
            spec: TrafficSourceSpec {
                name: Name::parse("Pop-ups").unwrap(),
                slug: Some(Slug::parse("pop-ups").unwrap()),
                position: Some(3),
            },
            created_at: DateTime::default(),
            updated_at: DateTime::default(),
        };
        assert!(s.matches("7") && s.matches("pop-ups") && !s.matches("8"));
    }
}
