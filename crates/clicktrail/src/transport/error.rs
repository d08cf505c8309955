//! The native API's error body, which is dialect E's: `{"error":{"code","message","status"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::{Error, ErrorKind};

/// An [`Error`] on its way out of the native API.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

/// Status and code of each kind.
pub fn status_and_code(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "INVALID_API_KEY"),
        ErrorKind::MissingScope => (StatusCode::FORBIDDEN, "INSUFFICIENT_SCOPE"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "FORBIDDEN"),
        ErrorKind::Invalid => (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "CONFLICT"),
        ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED"),
        ErrorKind::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
        ErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
    }
}

/// The message a caller may see: internal details go to the log instead.
pub fn public_message(e: &Error) -> String {
    if e.kind == ErrorKind::Internal {
        tracing::error!(error = %e.message, "internal error");
        "Something went wrong on our side; retry with exponential backoff.".to_owned()
    } else if e.kind == ErrorKind::Unavailable {
        tracing::error!(error = %e.message, "a storage backend is unavailable");
        "A storage backend is unavailable; retry with exponential backoff.".to_owned()
    } else {
        e.message.clone()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(self.0.kind);
        let mut error = json!({"code": code, "message": public_message(&self.0), "status": status.as_u16()});
        if let (Some(field), Some(map)) = (&self.0.field, error.as_object_mut()) {
            map.insert("field".into(), field.clone().into());
        }
        (status, Json(json!({ "error": error }))).into_response()
    }
}
