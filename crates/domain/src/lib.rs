//! Clicktrail's domain: the words of an affiliate network as Rust types.
//!
//! Everything here is pure: no IO, no framework, no clock. Callers pass the time and the
//! randomness in, which keeps every rule unit-testable. Values that arrive from outside are
//! parsed into newtypes (`CountryCode::parse`, `Email::parse`, `UrlTemplate::parse`, …) so that
//! an invalid value cannot exist past the edge; each parse error names the field it belongs to.
//!
//! Storage crates persist these types and the HTTP layer serialises them; neither adds rules.

#![forbid(unsafe_code)]

/// Gives a validated type its OpenAPI schema (`$schema`, built with [`schema`]'s helpers), when
/// the `openapi` feature is on.
macro_rules! openapi_schema {
    ($ty:ty, $schema:expr) => {
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $schema
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $ty {}
    };
}

pub mod catalog;
pub mod click;
pub mod conversion;
pub mod error;
pub mod geo;
pub mod key;
pub mod macros;
pub mod money;
pub mod network;
pub mod offer;
pub mod postback;
pub mod report;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod text;
pub mod timeexpr;
pub mod tracking;
pub mod user;

pub use error::ValidationError;

/// Timestamps are UTC instants everywhere in the domain.
pub type Timestamp = chrono::DateTime<chrono::Utc>;
