//! The transport: the HTTP server ([`serve`]), the router assembled from the surfaces (each
//! with its own error renderer, rate limit and fallbacks: [`surface`]), per-key rate limits
//! ([`limits`]), request parsing ([`extract`]) and the native error body ([`error`]).

pub mod error;
pub mod extract;
pub mod limits;
pub mod serve;
pub mod session;
pub mod surface;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::any;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use self::surface::Surface;
use crate::app::AppState;
use crate::surfaces::{
    everflow, fluxoffer, native, openapi, ops, panel, tracking, trackly, traffic_source, trafficmanager,
};

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

/// Builds the whole router: each surface's routes with its renderer, rate limit and
/// fallbacks; anything outside every surface is answered by the native API.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(native::routes())
        .merge(native::conversions::routes())
        .split_for_parts();
    let openapi = std::sync::Arc::new(openapi::document(&openapi));
    // Tracking routes count their own outcomes; the per-request layers are for the APIs.
    let apis = Router::new()
        .merge(surface::<native::Native>(&state, api.merge(ops::routes(openapi))))
        .merge(tracking::conversions::routes())
        .merge(surface::<trafficmanager::TrafficManager>(&state, trafficmanager::routes()))
        .merge(surface::<traffic_source::TrafficSource>(&state, traffic_source::routes()))
        .merge(surface::<trackly::Trackly>(&state, trackly::routes()))
        .merge(surface::<everflow::Everflow>(&state, everflow::routes()))
        .merge(surface::<fluxoffer::FluxOffer>(&state, fluxoffer::routes()))
        .merge(panel::routes())
        .fallback(surface::not_found::<native::Native>)
        .layer(middleware::from_fn(record_metrics))
        .layer(TraceLayer::new_for_http())
        .layer(axum::extract::DefaultBodyLimit::max(serve::MAX_BODY_BYTES))
        .layer(middleware::from_fn(serve::close_when_body_unread));
    Router::new().merge(tracking::routes()).merge(apis).with_state(state)
}

/// A surface's routes with what the transport answers for it in its own body: unknown paths
/// under its prefixes, methods its routes do not take, rate limits.
fn surface<S: Surface>(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    let routes = S::PREFIXES.iter().fold(routes, |r, prefix| r.route(prefix, any(surface::not_found::<S>)));
    routes
        .method_not_allowed_fallback(surface::method_not_allowed::<S>)
        .route_layer(middleware::from_fn_with_state(state.clone(), limits::limit::<S>))
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
