//! OpenAPI schemas of the validated text types, so the document states what parsing accepts:
//! names without control characters, ISO country and currency codes and IANA zones as their
//! lists, web URLs by scheme. (Built only with the `openapi` feature.)

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// No control characters (C0, DEL, C1) anywhere, and one character that is not white space.
pub const NAME_PATTERN: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// An absolute `http(s)` URL: a host name whose last label begins with a letter (so it is never
/// read as an IPv4 number), an optional port, then visible ASCII.
pub const HTTP_URL_PATTERN: &str = r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?(:[1-9][0-9]{0,3})?([/?#][\x21-\x7e]*)?$";

/// An `http(s)` URL template as [`HTTP_URL_PATTERN`], without braces: `{macros}` are taken but
/// must name known macros, which a pattern cannot say, so the pattern leaves them out.
pub const URL_TEMPLATE_PATTERN: &str = r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z]([A-Za-z0-9-]*[A-Za-z0-9])?(:[1-9][0-9]{0,3})?([/?#][\x21-\x7a\x7c\x7e]*)?$";

/// A string schema with a description and, where given, a pattern, lengths or the values.
pub fn text(
    description: &str,
    pattern: Option<&str>,
    lengths: Option<(usize, usize)>,
    values: Option<Vec<String>>,
) -> RefOr<Schema> {
    let mut schema = ObjectBuilder::new().schema_type(Type::String).description(Some(description)).pattern(pattern);
    if let Some((min, max)) = lengths {
        schema = schema.min_length(Some(min)).max_length(Some(max));
    }
    if let Some(values) = values {
        schema = schema.enum_values(Some(values));
    }
    schema.into()
}

/// Every ISO 4217 code the currency parser accepts.
pub fn currency_codes() -> Vec<String> {
    let letters = b'A'..=b'Z';
    let mut codes = Vec::new();
    for a in letters.clone() {
        for b in letters.clone() {
            for c in letters.clone() {
                let code = String::from_utf8(vec![a, b, c]).unwrap_or_default();
                if iso_currency::Currency::from_code(&code).is_some() {
                    codes.push(code);
                }
            }
        }
    }
    codes
}

/// Every ISO 3166-1 alpha-2 code.
pub fn country_codes() -> Vec<String> {
    let mut codes: Vec<String> = isocountry::CountryCode::iter().map(|c| c.alpha2().to_owned()).collect();
    codes.sort();
    codes
}

/// Every IANA zone name of the bundled database.
pub fn zone_names() -> Vec<String> {
    chrono_tz::TZ_VARIANTS.iter().map(|z| z.name().to_owned()).collect()
}
