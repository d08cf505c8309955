//! What the transport needs to know of a surface: where its callers carry their key, and how
//! its errors look. Each surface's router is assembled with its own renderer for everything the
//! transport answers on its behalf — a missing or bad key, an unknown path under its prefix, a
//! method its route does not take, a rate limit.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, Method, Uri};
use axum::response::Response;
use clicktrail_domain::key::hash_secret;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::engine::access::{self, Caller};
use crate::error::{Error, ErrorKind};

/// Where a request carries its API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// A header of its own (`X-Api-Key`).
    Header(&'static str),
    /// A query parameter (`rest_key`).
    Query(&'static str),
}

/// A surface as the transport sees it.
pub trait Surface: Send + Sync + 'static {
    /// Where its callers carry their key, looked at in this order.
    const CARRIERS: &'static [Carrier];
    /// What a request without a key is told.
    const MISSING_KEY: &'static str;
    /// Whether a logged-in panel session may stand in for a key (Dialect A).
    const TAKES_SESSIONS: bool = false;
    /// The path patterns it owns (`/api/v2/{*rest}`): an unknown path there gets its 404.
    const PREFIXES: &'static [&'static str];
    /// Its error body.
    fn render(error: Error) -> Response;
}

/// The key a request presents through one of `carriers`, if any; a carrier that is present
/// but unreadable is an error.
pub fn presented(headers: &HeaderMap, uri: &Uri, carriers: &[Carrier]) -> Result<Option<String>, Error> {
    let unauthenticated = |m: String| Error::new(ErrorKind::Unauthenticated, m);
    for carrier in carriers {
        match *carrier {
            Carrier::Bearer => {
                let Some(value) = headers.get(AUTHORIZATION) else { continue };
                let value =
                    value.to_str().map_err(|_| unauthenticated("Malformed Authorization header.".to_owned()))?;
                let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
                if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                    return Err(unauthenticated(
                        "Malformed Authorization header: expected 'Bearer <API key>'.".to_owned(),
                    ));
                }
                return Ok(Some(token.trim().to_owned()));
            }
            Carrier::Header(name) => {
                let Some(value) = headers.get(name) else { continue };
                let value = value.to_str().map_err(|_| unauthenticated(format!("Malformed {name} header.")))?;
                if value.trim().is_empty() {
                    continue;
                }
                return Ok(Some(value.trim().to_owned()));
            }
            Carrier::Query(name) => {
                let query = uri.query().unwrap_or("");
                let found = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name);
                if let Some((_, value)) = found.filter(|(_, v)| !v.trim().is_empty()) {
                    return Ok(Some(value.trim().to_owned()));
                }
            }
        }
    }
    Ok(None)
}

/// The caller a secret names. The rate-limit layer has usually authenticated the request
/// already and left the caller in its extensions; that caller is reused when it holds the same
/// secret (compared in constant time), so a request looks its key up once.
pub async fn authenticate(extensions: &Extensions, state: &AppState, secret: &str) -> Result<Caller, Error> {
    if let Some(known) = extensions.get::<Caller>()
        && let Some(key) = known.key()
    {
        let hash = hash_secret(secret.trim());
        if bool::from(key.secret_hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(known.clone());
        }
    }
    access::authenticate(&state.config, secret).await
}

/// The authenticated caller of a route of surface `S` (dereferences to the [`Caller`]); a
/// request without a valid key is answered in `S`'s error body.
pub struct Authenticated<S> {
    caller: Caller,
    surface: PhantomData<S>,
}

impl<S> std::ops::Deref for Authenticated<S> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<S> Authenticated<S> {
    /// The caller.
    pub fn into_caller(self) -> Caller {
        self.caller
    }
}

impl<S: Surface> FromRequestParts<AppState> for Authenticated<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let secret = presented(&parts.headers, &parts.uri, S::CARRIERS)
            .and_then(|s| s.ok_or_else(|| Error::new(ErrorKind::Unauthenticated, S::MISSING_KEY)))
            .map_err(S::render)?;
        let caller = authenticate(&parts.extensions, state, &secret).await.map_err(S::render)?;
        Ok(Self { caller, surface: PhantomData })
    }
}

/// An unknown path under a surface's prefix.
pub async fn not_found<S: Surface>(uri: Uri) -> Response {
    S::render(Error::new(ErrorKind::NotFound, format!("No route for {}", uri.path())))
}

/// A route of the surface asked with a method it does not take.
pub async fn method_not_allowed<S: Surface>(method: Method, uri: Uri) -> Response {
    S::render(Error::new(ErrorKind::MethodNotAllowed, format!("{} does not take {method}", uri.path())))
}
