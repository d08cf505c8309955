//! The HTTP layer: routes, extractors, and the mapping of errors to each dialect's bodies.
//!
//! It is the only place that knows about status codes. Operations live in [`crate::manage`]
//! (and, later, tracking and reporting modules); handlers only translate.

pub mod conversions;
pub mod dialect_a;
pub mod dialect_b;
pub mod dialect_c;
pub mod dialect_d;
pub mod dialect_e;
pub mod error;
pub mod extract;
pub mod limits;
pub mod native;
pub mod openapi;
pub mod ops;
pub mod serve;
pub mod track;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::Error;

/// The OpenAPI document's header; paths and schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "Clicktrail native API", description = "Management API of a Clicktrail network. \
        Authenticate with `Authorization: Bearer <key>` or `X-Api-Key: <key>`. Errors: \
        `{\"error\":{\"code\",\"message\",\"status\"}}`."),
    modifiers(&SecurityAddon),
    security(("bearer" = []), ("api_key" = []))
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))));
    }
}

/// Builds the whole router.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(native::routes())
        .merge(conversions::routes())
        .split_for_parts();
    let openapi = std::sync::Arc::new(openapi::document(&openapi));
    // Tracking routes count their own outcomes; the per-request layers are for the APIs.
    let apis = Router::new()
        .merge(api)
        .merge(conversions::inbound())
        .merge(dialect_a::routes())
        .merge(dialect_b::routes())
        .merge(dialect_c::routes())
        .merge(dialect_d::routes())
        .merge(dialect_e::routes())
        .merge(dialect_e::read_routes())
        .merge(ops::routes(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), limits::limit))
        .layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http())
        .layer(axum::extract::DefaultBodyLimit::max(serve::MAX_BODY_BYTES))
        .layer(middleware::from_fn(serve::close_when_body_unread));
    Router::new().merge(track::routes()).merge(apis).with_state(state)
}

/// No route: answered in the error shape of the dialect the path belongs to.
async fn not_found(uri: axum::http::Uri) -> Response {
    let error = Error::new(crate::error::ErrorKind::NotFound, format!("No route for {}", uri.path()));
    limits::dialect_error(&uri, error)
}

/// A route that exists with another method: `405` in the dialect's error shape.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let error = Error::new(crate::error::ErrorKind::MethodNotAllowed, format!("{} does not take {method}", uri.path()));
    limits::dialect_error(&uri, error)
}

/// Counts requests and their latency per route and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // Labels take few values whatever the caller sends: an invented method is "other" (a
    // route is its pattern, or "unmatched").
    let method = match request.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("clicktrail_http_requests_total", &labels).increment(1);
    metrics::histogram!("clicktrail_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
