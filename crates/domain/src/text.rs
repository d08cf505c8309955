//! Short validated texts: names, e-mail addresses, slugs.

use crate::error::{Valid, ValidationError};

/// Implements `Display`, `AsRef<str>`, `TryFrom<String>`, `From<T> for String` and the serde
/// round-trip through a string for a newtype with a `parse(&str) -> Valid<Self>` constructor.
#[macro_export]
macro_rules! string_newtype {
    ($ty:ident) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
        impl TryFrom<String> for $ty {
            type Error = $crate::ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }
        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.as_str().to_owned()
            }
        }
        impl ::std::str::FromStr for $ty {
            type Err = $crate::ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

/// A display name: trimmed, 1 to 255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// Longest accepted name, in characters.
    pub const MAX: usize = 255;

    /// Parses a name.
    pub fn parse(raw: &str) -> Valid<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::value("must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX {
            return Err(ValidationError::value(format!("must be at most {} characters", Self::MAX)));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValidationError::value("must not contain control characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Name);

/// An e-mail address, lower-cased; checked for shape, not deliverability.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "email"))]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Parses an address of the form `local@domain.tld`.
    pub fn parse(raw: &str) -> Valid<Self> {
        let value = raw.trim().to_lowercase();
        let bad = || ValidationError::value(format!("'{raw}' is not an e-mail address"));
        if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = value.split_once('@').ok_or_else(bad)?;
        // A dotted domain, or `localhost` (the default admin login of a fresh network).
        let domain_ok = (domain.contains('.') || domain == "localhost")
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(bad());
        }
        Ok(Self(value))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Email);

/// A URL-safe identifier: lowercase letters, digits and dashes, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, pattern = "^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$"))]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    /// Parses a slug as given.
    pub fn parse(raw: &str) -> Valid<Self> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::value(format!(
                "'{raw}' is not a slug (lowercase letters, digits and dashes, at most 64)"
            )))
        }
    }

    /// Derives a slug from a display name (`"Rec. Engine"` → `rec-engine`).
    pub fn from_name(name: &Name) -> Self {
        let mut out = String::new();
        for c in name.as_str().chars().flat_map(char::to_lowercase) {
            if c.is_ascii_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        let mut out: String = out.trim_end_matches('-').chars().take(64).collect();
        while out.ends_with('-') {
            out.pop();
        }
        if out.is_empty() {
            out.push_str("source");
        }
        Self(out)
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
string_newtype!(Slug);

openapi_schema!(
    Name,
    crate::schema::text(
        "1 to 255 characters, no control characters",
        Some(crate::schema::NAME_PATTERN),
        Some((1, Self::MAX)),
        None,
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Summer Promo ").map(|n| n.to_string()), Ok("Summer Promo".into()));
        assert!(Name::parse("   ").is_err());
        assert!(Name::parse(&"x".repeat(256)).is_err());
        assert!(Name::parse("a\u{0007}b").is_err());
    }

    #[test]
    fn emails_need_a_domain() {
        assert_eq!(Email::parse("Ann@Example.COM").map(String::from), Ok("ann@example.com".into()));
        assert_eq!(Email::parse("admin@localhost").map(String::from), Ok("admin@localhost".into()));
        for bad in ["", "ann", "ann@", "@x.com", "ann@localhostx", "a b@x.com", "ann@x..com", "a@b@c.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_from_names() {
        let name = Name::parse("Rec. Engine").unwrap();
        assert_eq!(Slug::from_name(&name).as_str(), "rec-engine");
        assert_eq!(Slug::from_name(&Name::parse("Pop-ups").unwrap()).as_str(), "pop-ups");
        assert_eq!(Slug::from_name(&Name::parse("!!!").unwrap()).as_str(), "source");
        assert!(Slug::parse("Bad Slug").is_err());
        assert!(Slug::parse("ok-1").is_ok());
    }

    #[test]
    fn serde_goes_through_parse() {
        let err = serde_json::from_str::<Name>("\"\"").unwrap_err();
        assert!(err.to_string().contains("must not be empty"));
        let n: Name = serde_json::from_str("\" A \"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"A\"");
    }
}
