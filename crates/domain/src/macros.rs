//! URL templates with `{macro}` placeholders, and plain absolute URLs.
//!
//! An offer's destination and an affiliate's postback are templates: placeholders are checked
//! against the macros their context knows when the template is saved (an unknown macro is an
//! error then, not a silent blank later), and every value is percent-encoded when rendered.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::error::{Valid, ValidationError};

/// Macros an offer destination (and offer URL, deep link) may use: SPEC §2.
pub const CLICK_MACROS: &[&str] = &[
    "click_id",
    "transaction_id",
    "offer_id",
    "affiliate_id",
    "sub1",
    "sub2",
    "sub3",
    "sub4",
    "sub5",
    "source_id",
    "creative_id",
    "country",
];

/// Macros an affiliate postback may use: SPEC §4.
pub const POSTBACK_MACROS: &[&str] = &[
    "click_id",
    "payout",
    "offer_id",
    "geo",
    "sub1",
    "sub2",
    "sub3",
    "sub4",
    "sub5",
    "conversion_id",
    "status",
    "event",
    "currency",
    "source_id",
    "transaction_id",
    "timestamp",
];

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Macro(String),
}

fn split(raw: &str) -> Valid<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err(ValidationError::value(format!("has a '}}' with no '{{' before it in '{raw}'")));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| ValidationError::value(format!("has a '{{' that is never closed in '{raw}'")))?;
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        pieces.push(Piece::Macro(after[..close].to_owned()));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// An absolute `http`/`https` URL template whose macros all belong to a known set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct UrlTemplate {
    raw: String,
    pieces: Vec<Piece>,
}

impl UrlTemplate {
    /// Parses a template whose macros must be among `known`.
    pub fn parse_with(raw: &str, known: &[&str]) -> Valid<Self> {
        let raw = raw.trim();
        let pieces = split(raw)?;
        let mut probe = String::with_capacity(raw.len());
        for piece in &pieces {
            match piece {
                Piece::Text(t) => probe.push_str(t),
                Piece::Macro(m) if known.contains(&m.as_str()) => probe.push('x'),
                Piece::Macro(m) => {
                    return Err(ValidationError::value(format!(
                        "uses the unknown macro {{{m}}}; known macros are {}",
                        known.iter().map(|k| format!("{{{k}}}")).collect::<Vec<_>>().join(", ")
                    )));
                }
            }
        }
        HttpUrl::parse(&probe)?;
        Ok(Self { raw: raw.to_owned(), pieces })
    }

    /// Parses an offer destination template (the click macros).
    pub fn parse(raw: &str) -> Valid<Self> {
        Self::parse_with(raw, CLICK_MACROS)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The macros the template uses, in order.
    pub fn macros(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Macro(m) => Some(m.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Substitutes every macro with `value(name)` percent-encoded (unknown values become empty).
    pub fn render<'a>(&self, mut value: impl FnMut(&str) -> Option<Cow<'a, str>>) -> String {
        let mut out = String::with_capacity(self.raw.len() + 32);
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Macro(m) => {
                    if let Some(v) = value(m) {
                        out.extend(url::form_urlencoded::byte_serialize(v.as_bytes()));
                    }
                }
            }
        }
        out
    }
}

openapi_schema!(
    UrlTemplate,
    crate::schema::text(
        "Absolute http(s) URL; may contain {macros}",
        Some(crate::schema::URL_TEMPLATE_PATTERN),
        None,
        None
    )
);

impl From<UrlTemplate> for String {
    fn from(t: UrlTemplate) -> String {
        t.raw
    }
}

impl TryFrom<String> for UrlTemplate {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// A postback URL template: the postback macros of SPEC §4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct PostbackTemplate(UrlTemplate);

impl PostbackTemplate {
    /// Parses a postback template.
    pub fn parse(raw: &str) -> Valid<Self> {
        UrlTemplate::parse_with(raw, POSTBACK_MACROS).map(Self)
    }

    /// The template.
    pub fn template(&self) -> &UrlTemplate {
        &self.0
    }
}

impl From<PostbackTemplate> for String {
    fn from(t: PostbackTemplate) -> String {
        t.0.raw
    }
}

impl TryFrom<String> for PostbackTemplate {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// An absolute `http` or `https` URL with a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct HttpUrl(url::Url);

impl HttpUrl {
    /// Parses an absolute web URL.
    pub fn parse(raw: &str) -> Valid<Self> {
        let url = url::Url::parse(raw.trim())
            .map_err(|e| ValidationError::value(format!("'{raw}' is not an absolute URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ValidationError::value(format!("'{raw}' must use http or https")));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ValidationError::value(format!("'{raw}' has no host")));
        }
        Ok(Self(url))
    }

    /// The URL.
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// The host, lower-case.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or("")
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl From<HttpUrl> for String {
    fn from(u: HttpUrl) -> String {
        u.0.into()
    }
}

impl TryFrom<String> for HttpUrl {
    type Error = ValidationError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

openapi_schema!(
    HttpUrl,
    crate::schema::text("Absolute http(s) URL", Some(crate::schema::HTTP_URL_PATTERN), None, None)
);

openapi_schema!(
    PostbackTemplate,
    crate::schema::text(
        "Absolute http(s) URL; may contain the postback {macros}, e.g. https://tracker.example/pb?cid={click_id}&payout={payout}",
        Some(crate::schema::URL_TEMPLATE_PATTERN),
        None,
        None,
    )
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_check_macros_and_shape() {
        let t = UrlTemplate::parse("https://shop.example/l?cid={click_id}&s={sub1}").unwrap();
        assert_eq!(t.macros().collect::<Vec<_>>(), ["click_id", "sub1"]);
        let e = UrlTemplate::parse("https://shop.example/?x={nope}").unwrap_err();
        assert!(e.message.contains("{nope}"), "{e}");
        assert!(UrlTemplate::parse("ftp://x.example/").is_err());
        assert!(UrlTemplate::parse("/relative?x={click_id}").is_err());
        assert!(UrlTemplate::parse("https://x.example/?a={click_id").is_err());
        assert!(UrlTemplate::parse("https://x.example/?a=}").is_err());
        assert!(UrlTemplate::parse("https://{click_id}").is_ok(), "a macro may stand for the host");
    }

    #[test]
    fn render_encodes_values() {
        let t = UrlTemplate::parse("https://shop.example/l?cid={click_id}&s={sub1}&c={country}").unwrap();
        let url = t.render(|m| match m {
            "click_id" => Some("abc".into()),
            "sub1" => Some("a b&c=d".into()),
            _ => None,
        });
        assert_eq!(url, "https://shop.example/l?cid=abc&s=a+b%26c%3Dd&c=");
    }

    #[test]
    fn postback_macros_differ_from_click_macros() {
        assert!(PostbackTemplate::parse("https://t.example/?p={payout}&cid={click_id}").is_ok());
        assert!(PostbackTemplate::parse("https://t.example/?a={affiliate_id}").is_err());
        assert!(UrlTemplate::parse("https://t.example/?p={payout}").is_err());
    }

    #[test]
    fn http_urls() {
        assert_eq!(HttpUrl::parse("HTTPS://Example.COM/a").unwrap().host(), "example.com");
        assert!(HttpUrl::parse("javascript:alert(1)").is_err());
        assert!(HttpUrl::parse("mailto:a@b.c").is_err());
    }
}
