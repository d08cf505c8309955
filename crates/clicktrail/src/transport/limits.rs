//! Per-key rate limits on every API route (SPEC §5): an hourly quota by tier and a per-minute
//! burst, counted in the shared counters (so several nodes share them once a shared backend
//! is configured). Every API response carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset`; over the limit is `429` in the surface's own error body. Tracking
//! endpoints are not limited per key.
//!
//! The middleware sits on each surface's routes, looks for the key where that surface's callers
//! carry it, authenticates it once and leaves the caller in the request's extensions, where the
//! extractors find it; a request without a valid key passes on untouched and its handler
//! answers the surface's `401`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, DurationRound, Utc};
use clicktrail_domain::key::Tier;
use clicktrail_store::{Limit, SharedCounters};

use super::surface::{Surface, presented};
use crate::app::AppState;
use crate::engine::access::{self, Caller};
use crate::error::{Error, ErrorKind};

/// Quotas.
#[derive(Debug, Clone, Copy)]
pub struct Quotas {
    /// Requests an hour, standard tier.
    pub standard: u64,
    /// Requests an hour, premium tier.
    pub premium: u64,
    /// Requests a minute, any tier.
    pub burst: u64,
}

fn header_value(n: i64) -> HeaderValue {
    HeaderValue::from(n)
}

/// Counts the request against its key; answers `429` when over a limit.
pub async fn limit<S: Surface>(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    // A key, else (where the surface takes one) a panel session: the session's own limits.
    let caller = match presented(request.headers(), request.uri(), S::CARRIERS) {
        Ok(Some(secret)) => match access::authenticate(&state.config, &secret).await {
            Ok(caller) => caller,
            Err(_) => return next.run(request).await,
        },
        Ok(None) if S::TAKES_SESSIONS => {
            match super::session::live(&state, request.headers(), request.extensions()).await {
                Ok(Some(live)) => live.caller,
                _ => return next.run(request).await,
            }
        }
        _ => return next.run(request).await,
    };
    let quotas = state.quotas;
    let hourly = match caller.tier() {
        Tier::Standard => quotas.standard,
        Tier::Premium => quotas.premium,
    };
    let now = Utc::now();
    let hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let minute = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
    let (hour_end, minute_end) = (hour + Duration::hours(1), minute + Duration::minutes(1));
    let limits = [
        Limit {
            key: format!("ratelimit:{{{}}}:hour:{}", caller.limited_as(), hour.timestamp()),
            limit: hourly,
            expires_at: hour_end,
        },
        Limit {
            key: format!("ratelimit:{{{}}}:minute:{}", caller.limited_as(), minute.timestamp()),
            limit: quotas.burst,
            expires_at: minute_end,
        },
    ];
    let counters: &Arc<dyn SharedCounters> = &state.counters;
    let refused = match counters.acquire(&limits).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "rate-limit counters failed; letting the request through");
            None
        }
    };
    let used = counters.get(&limits[0].key, now).await.unwrap_or(0);
    let remaining = i64::try_from(hourly.saturating_sub(used)).unwrap_or(0);
    let (reset, mut response) = match refused {
        Some(which) => {
            let reset: DateTime<Utc> = if which == 0 { hour_end } else { minute_end };
            let message = if which == 0 {
                format!(
                    "Rate limit exceeded: {hourly} requests an hour for this key. Retry after {}.",
                    reset.to_rfc3339()
                )
            } else {
                format!(
                    "Rate limit exceeded: {} requests a minute for this key. Retry after {}.",
                    quotas.burst,
                    reset.to_rfc3339()
                )
            };
            metrics::counter!("clicktrail_rate_limited_total").increment(1);
            (reset, S::render(Error::new(ErrorKind::RateLimited, message)))
        }
        None => {
            request.extensions_mut().insert::<Caller>(caller);
            (hour_end, next.run(request).await)
        }
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", header_value(i64::try_from(hourly).unwrap_or(i64::MAX)));
    headers.insert("x-ratelimit-remaining", header_value(remaining));
    headers.insert("x-ratelimit-reset", header_value(reset.timestamp()));
    if refused.is_some() {
        headers.insert("retry-after", header_value((reset - now).num_seconds().max(1)));
    }
    response
}
