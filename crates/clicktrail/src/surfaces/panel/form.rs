//! Forms posted to the panel: the session, the CSRF checks, the fields.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::Response;
use subtle::ConstantTimeEq;

use super::{PanelUser, cross_site, error_page};
use crate::app::AppState;
use crate::error::Error;

/// The largest form the panel reads.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Fields of a form, in the order sent (a name may repeat: checkboxes, multi-selects).
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses `application/x-www-form-urlencoded`.
    pub fn parse(body: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, trimmed; `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// The first value of `name` as sent (passwords are not trimmed).
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every non-blank value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect()
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Reads a form body, refusing one from another site.
pub async fn read(req: Request, state: &AppState) -> Result<Fields, Response> {
    if cross_site(req.headers()) {
        return Err(error_page(None, Error::forbidden("This form was sent from another site; it was refused.")));
    }
    let body = Bytes::from_request(req, state)
        .await
        .map_err(|_| error_page(None, Error::invalid("form", "could not be read")))?;
    if body.len() > MAX_FORM_BYTES {
        return Err(error_page(None, Error::invalid("form", "is too large")));
    }
    Ok(Fields::parse(&body))
}

/// A form posted by a logged-in user with the session's CSRF token.
pub struct PanelForm {
    /// Who posted it.
    pub user: PanelUser,
    /// Its fields.
    pub fields: Fields,
}

/// Whether a form's token is the session's (compared in constant time).
pub fn token_matches(fields: &Fields, expected: &str) -> bool {
    let sent = fields.raw("_csrf").unwrap_or("");
    !expected.is_empty() && bool::from(sent.as_bytes().ct_eq(expected.as_bytes()))
}

impl FromRequest<AppState> for PanelForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let user = PanelUser::from_request_parts(&mut parts, state).await?;
        let fields = read(Request::from_parts(parts, body), state).await?;
        if !token_matches(&fields, &user.csrf) {
            return Err(error_page(
                Some(user.frame(state, "Not allowed", "")),
                Error::forbidden(
                    "This form has expired or did not come from the panel; reload the page and try again.",
                ),
            ));
        }
        Ok(Self { user, fields })
    }
}
