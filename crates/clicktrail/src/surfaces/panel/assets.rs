//! The stylesheet and the script of the panel, compiled into the binary.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};

use super::error_page;
use crate::error::{Error, ErrorKind};

/// Added to asset URLs, so a new build's browsers fetch the new files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const CSS: &str = include_str!("../../../assets/panel.css");
const JS: &str = include_str!("../../../assets/panel.js");

/// `GET /panel/static/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "panel.css" => (CSS, "text/css; charset=utf-8"),
        "panel.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return error_page(None, Error::new(ErrorKind::NotFound, "There is no such file.")),
    };
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "public, max-age=3600"), (X_CONTENT_TYPE_OPTIONS, "nosniff")], body)
        .into_response()
}
