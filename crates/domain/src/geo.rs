//! Countries (ISO 3166-1 alpha-2) and time zones (IANA).

use crate::error::{Valid, ValidationError};
use crate::string_newtype;

/// An ISO 3166-1 alpha-2 country code, upper-case (`US`, `RO`); parsing accepts any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parses a code; `uk` is accepted as the common alias of `GB`.
    pub fn parse(raw: &str) -> Valid<Self> {
        let upper = raw.trim().to_ascii_uppercase();
        let upper = if upper == "UK" { "GB".to_owned() } else { upper };
        match isocountry::CountryCode::for_alpha2(&upper) {
            Ok(_) => {
                let b = upper.as_bytes();
                Ok(Self([b[0], b[1]]))
            }
            Err(_) => Err(ValidationError::value(format!("'{raw}' is not an ISO 3166-1 alpha-2 country code"))),
        }
    }

    /// The two letters.
    pub fn as_str(&self) -> &str {
        // Both bytes come from a successful alpha-2 lookup, so they are ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XX")
    }

    /// The ISO English name (`United States of America`).
    pub fn name(&self) -> &'static str {
        isocountry::CountryCode::for_alpha2(self.as_str()).map(|c| c.name()).unwrap_or("")
    }

    /// The name people use (`United States`): the ISO name, shortened where it is long.
    pub fn common_name(&self) -> &'static str {
        COMMON_NAMES.iter().find(|(code, _)| *code == self.as_str()).map_or_else(|| self.name(), |(_, name)| name)
    }

    /// A country by code or by name (ISO or common, any case).
    pub fn from_code_or_name(raw: &str) -> Option<Self> {
        let value = raw.trim();
        if value.len() == 2 {
            return Self::parse(value).ok();
        }
        let by_common = COMMON_NAMES.iter().find(|(_, name)| name.eq_ignore_ascii_case(value)).map(|(code, _)| *code);
        let code = by_common.or_else(|| {
            isocountry::CountryCode::iter().find(|c| c.name().eq_ignore_ascii_case(value)).map(|c| c.alpha2())
        })?;
        Self::parse(code).ok()
    }
}
string_newtype!(CountryCode);

/// Short names where the ISO name is not what people write.
const COMMON_NAMES: &[(&str, &str)] = &[
    ("US", "United States"),
    ("GB", "United Kingdom"),
    ("RU", "Russia"),
    ("KR", "South Korea"),
    ("KP", "North Korea"),
    ("VN", "Vietnam"),
    ("IR", "Iran"),
    ("SY", "Syria"),
    ("TW", "Taiwan"),
    ("BO", "Bolivia"),
    ("VE", "Venezuela"),
    ("TZ", "Tanzania"),
    ("MD", "Moldova"),
    ("LA", "Laos"),
    ("CZ", "Czech Republic"),
    ("NL", "Netherlands"),
];

/// An IANA time zone name (`Europe/Bucharest`), checked against the bundled database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// Coordinated Universal Time.
    pub const UTC: Self = Self(chrono_tz::Tz::UTC);

    /// Parses an IANA name, case-insensitively (`america/new_york` is `America/New_York`).
    pub fn parse(raw: &str) -> Valid<Self> {
        chrono_tz::Tz::from_str_insensitive(raw.trim())
            .map(Self)
            .map_err(|_| ValidationError::value(format!("'{raw}' is not an IANA time zone")))
    }

    /// The canonical name.
    pub fn as_str(&self) -> &str {
        self.0.name()
    }

    /// The zone, for date arithmetic.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
}
string_newtype!(TimeZone);

impl Default for TimeZone {
    fn default() -> Self {
        Self::UTC
    }
}

openapi_schema!(
    CountryCode,
    crate::schema::text("ISO 3166-1 alpha-2 country code", None, None, Some(crate::schema::country_codes()))
);

openapi_schema!(TimeZone, crate::schema::text("IANA time zone", None, None, Some(crate::schema::zone_names())));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_any_case() {
        assert_eq!(CountryCode::parse("ro").unwrap().as_str(), "RO");
        assert_eq!(CountryCode::parse("uk").unwrap().as_str(), "GB");
        assert_eq!(CountryCode::parse("US").unwrap().name(), "United States of America");
        assert_eq!(CountryCode::parse("US").unwrap().common_name(), "United States");
        assert_eq!(CountryCode::parse("FR").unwrap().common_name(), "France");
        for name in ["United States", "united states of america", "us", "Canada"] {
            assert!(CountryCode::from_code_or_name(name).is_some(), "{name}");
        }
        assert_eq!(CountryCode::from_code_or_name("Canada").map(|c| c.to_string()), Some("CA".into()));
        assert!(CountryCode::from_code_or_name("Atlantis").is_none());
        for bad in ["", "U", "USA", "XX", "1A"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_zones_are_iana() {
        assert_eq!(TimeZone::parse("asia/kolkata").unwrap().as_str(), "Asia/Kolkata");
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert_eq!(TimeZone::default().as_str(), "UTC");
    }
}
