//! Operational routes: `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json`, `/api/docs`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use clicktrail_store::StoreError;
use serde_json::json;

use crate::app::AppState;

/// The routes; `openapi` is the served document ([`crate::surfaces::openapi::document`]).
pub fn routes(openapi: Arc<serde_json::Value>) -> Router<AppState> {
    let docs = Arc::new(crate::surfaces::openapi::html(&openapi));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(move || std::future::ready(Json(openapi.as_ref().clone()))))
        .route("/api/docs", get(move || std::future::ready(axum::response::Html(docs.as_ref().clone()))))
}

/// 200 when the store answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.config.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ok"}))),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable"})))
        }
    }
}

/// A readiness check's outcome, a hang after 500 ms read as down.
async fn within(check: impl std::future::Future<Output = Result<(), StoreError>>) -> Result<(), StoreError> {
    tokio::time::timeout(std::time::Duration::from_millis(500), check)
        .await
        .unwrap_or_else(|_| Err(StoreError::Backend("no answer within 500 ms".into())))
}

/// 200 when this node should get traffic: the server has started (migrations ran, every
/// backend connected and the catalog loaded before it listened), the event writer takes events
/// and no shutdown is under way — `ready` when every backend answers, `degraded` when one does
/// not; else 503. Each check is named either way.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let verdict = |ok: bool| if ok { "ok" } else { "unavailable" };
    // Each check at once, each given half a second: a backend that hangs reads as down, and a
    // balancer's health check (HAProxy's `timeout check`) gets its answer in time.
    let (config, events, counters) = tokio::join!(
        within(state.config.store().ping()),
        within(state.tracker.ping_events()),
        within(async { state.counters.generation().await.map(drop) }),
    );
    for (name, outcome) in [
        ("configuration store", config.as_ref().err().map(ToString::to_string)),
        ("event store", events.as_ref().err().map(ToString::to_string)),
        ("shared counters", counters.as_ref().err().map(ToString::to_string)),
    ] {
        if let Some(error) = outcome {
            tracing::error!(%error, "{name} not ready");
        }
    }
    let draining = state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let checks = json!({
        "config_store": verdict(config.is_ok()),
        "event_store": verdict(events.is_ok()),
        "counters": verdict(counters.is_ok()),
        "event_writer": verdict(state.tracker.buffer().accepting()),
        "shutdown": if draining { "in progress" } else { "no" },
    });
    // Not ready: the node cannot take clicks (shutting down, or its event writer stopped).
    // Degraded: a backend is down, so some requests fail, but clicks are still answered (and
    // buffered for the event store). Every node shares the backends: taking all of them out of
    // a balancer for a shared backend's outage would refuse the clicks they can still answer.
    let serving = !draining && state.tracker.buffer().accepting();
    let whole = checks.as_object().is_some_and(|c| c.values().all(|v| v == "ok" || v == "no"));
    let (status, word) = match (serving, whole) {
        (true, true) => (StatusCode::OK, "ready"),
        (true, false) => (StatusCode::OK, "degraded"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    (status, Json(json!({"status": word, "checks": checks})))
}

/// Prometheus text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    crate::telemetry::collect_process_metrics();
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
