//! The one validation error of the domain: a field and what is wrong with it.

use std::fmt;

/// A value that could not be accepted, with the field it came from.
///
/// The HTTP layer turns it into each dialect's "bad parameter" body; the message is written for
/// the person who sent the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Dotted path of the field (`payout`, `events[1].name`); empty when not yet known.
    pub field: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl ValidationError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// An error whose field the caller will fill in (a newtype does not know where it stands).
    pub fn value(message: impl Into<String>) -> Self {
        Self::new("", message)
    }

    /// The same error, placed under `field` (prefixing any inner path).
    #[must_use]
    pub fn at(mut self, field: &str) -> Self {
        self.field = match self.field.as_str() {
            "" => field.to_owned(),
            inner if inner.starts_with('[') => format!("{field}{inner}"),
            inner => format!("{field}.{inner}"),
        };
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.field, self.message) }
    }
}

impl std::error::Error for ValidationError {}

/// Shorthand for results of parsing.
pub type Valid<T> = Result<T, ValidationError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_prefixes_paths() {
        let e = ValidationError::value("bad").at("name").at("events[0]");
        assert_eq!(e.field, "events[0].name");
        assert_eq!(ValidationError::value("x").at("[2]").at("geo").field, "geo[2]");
        assert_eq!(e.to_string(), "events[0].name: bad");
    }
}
