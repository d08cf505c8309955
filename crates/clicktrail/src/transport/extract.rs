//! Request parsing every surface shares: a body, a JSON body, query parameters, ids.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::Value;

use super::error::ApiError;
use crate::engine::manage::{ListRequest, Query};
use crate::error::{Error, ErrorKind};

/// A request body, at most [`super::serve::MAX_BODY_BYTES`] long (more is `413`).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(Self).map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                let limit = super::serve::MAX_BODY_BYTES;
                Error::new(ErrorKind::TooLarge, format!("the request body is larger than {limit} bytes")).into()
            } else {
                Error::invalid("body", format!("could not be read ({e})")).into()
            }
        })
    }
}

/// A JSON request body, any shape; operations check the shape they need.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        if bytes.is_empty() {
            return Err(Error::invalid("body", "is empty; send a JSON object").into());
        }
        let mut value: Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::invalid("body", format!("is not valid JSON ({e})")))?;
        integral_numbers(&mut value);
        Ok(Self(value))
    }
}

/// Writes every number with no fraction (`1050.0`) as the integer it is: JSON does not tell
/// them apart, and an integer field must take both.
fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.0e15
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Query parameters, with the parsing every list shares.
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let raw = parts.uri.query().unwrap_or("");
        Ok(Self(url::form_urlencoded::parse(raw.as_bytes()).into_owned().collect()))
    }
}

/// Default page size of native lists.
pub const DEFAULT_PER_PAGE: u64 = 50;
/// Largest page size; more is capped.
pub const MAX_PER_PAGE: u64 = 100;

impl Params {
    /// A non-empty parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// A parameter that is present, even with an empty value: for the typed ones, where an
    /// empty value is an error rather than no value.
    pub fn present(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim())
    }

    /// A positive whole number.
    pub fn positive(&self, name: &str) -> Result<Option<u64>, Error> {
        self.present(name)
            .map(|v| match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(n.unsigned_abs()),
                _ => Err(Error::invalid(name, format!("must be a whole number from 1 to {} (got '{v}')", i64::MAX))),
            })
            .transpose()
    }

    /// A numeric id.
    pub fn id(&self, name: &str) -> Result<Option<i64>, Error> {
        self.present(name)
            .map(|v| v.parse::<i64>().map_err(|_| Error::invalid(name, format!("must be a numeric id (got '{v}')"))))
            .transpose()
    }

    /// Page and filters shared by every list: `page`, `per_page`, `status` (comma-separated,
    /// checked against `statuses`), `q` (name contains).
    pub fn list_request(&self, statuses: &[&str]) -> Result<ListRequest, Error> {
        let page = self.positive("page")?.unwrap_or(1);
        let per_page = self.positive("per_page")?.unwrap_or(DEFAULT_PER_PAGE).min(MAX_PER_PAGE);
        let mut query = Query::default();
        if let Some(raw) = self.get("status") {
            if statuses.is_empty() {
                return Err(Error::invalid("status", "this list has no statuses to filter by"));
            }
            for status in raw.split(',').map(str::trim) {
                if !statuses.contains(&status) {
                    return Err(Error::invalid("status", format!("'{status}' is not one of {}", statuses.join(", "))));
                }
                query.statuses.push(status.to_owned());
            }
        }
        query.name_contains = self.get("q").map(str::to_owned);
        Ok(ListRequest { query, page, per_page })
    }
}

/// Parses a numeric id from the path; anything else names no record.
pub fn path_id(raw: &str, what: &str) -> Result<i64, Error> {
    raw.parse::<i64>().map_err(|_| Error::not_found(what, raw))
}
