//! Dialect E (seed 004): the affiliate API. This module serves its postback configuration
//! routes — `POST`, `GET /v1/postbacks` and `DELETE /v1/postbacks/{id}` — over the same
//! operations as the native API. Auth: `Authorization: Bearer`; errors:
//! `{"error":{"code","message","status"}}`.

use axum::Json;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::SecondsFormat;
use clicktrail_domain::postback::Postback;
use serde_json::{Value, json};

use super::error::ApiError;
use super::extract::{JsonBody, Params};
use crate::app::AppState;
use crate::auth::{self, Caller};
use crate::error::{Error, ErrorKind};
use crate::manage::{self, ListRequest};

/// A dialect-E caller: `Authorization: Bearer <key>` only.
pub struct BearerCaller(pub Caller);

impl FromRequestParts<AppState> for BearerCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let token =
            header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).map(str::trim).unwrap_or("");
        if token.is_empty() {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "Missing API key: send 'Authorization: Bearer <API key>'.",
            )
            .into());
        }
        Ok(Self(auth::authenticate(&state.config, token).await?))
    }
}

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/postbacks", get(list).post(create)).route("/v1/postbacks/{id}", delete(remove))
}

/// `offer_8821` or `8821`.
fn offer_ref(value: &Value) -> Result<Option<i64>, Error> {
    let bad = || Error::invalid("offer_id", format!("{value} is not an offer id (offer_<id>)"));
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_i64().map(Some).ok_or_else(bad),
        Value::String(s) => s.strip_prefix("offer_").unwrap_or(s).parse::<i64>().map(Some).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn view(p: &Postback) -> Value {
    json!({
        "postback_id": format!("pb_{}", p.id),
        "url": p.spec.url.template().as_str(),
        "offer_id": p.spec.offer_id.map(|o| format!("offer_{o}")),
        "event": p.spec.event.as_str(),
        "status": p.spec.status.as_str(),
        "created_at": p.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

async fn create(
    State(state): State<AppState>,
    BearerCaller(caller): BearerCaller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let mut body = manage::postbacks::expand_preset(body)?;
    if let Some(map) = body.as_object_mut()
        && let Some(offer) = map.get("offer_id").cloned()
    {
        map.insert("offer_id".into(), offer_ref(&offer)?.map_or(Value::Null, Value::from));
    }
    let created: Postback = manage::create(&state.config, &caller, body).await?;
    state.configuration_changed().await;
    let answer = json!({
        "postback_id": format!("pb_{}", created.id),
        "status": created.spec.status.as_str(),
        "created_at": created.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

async fn list(
    State(state): State<AppState>,
    BearerCaller(caller): BearerCaller,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let page = params.positive("page")?.unwrap_or(1);
    let per_page = params.positive("per_page")?.unwrap_or(25).min(100);
    let request = ListRequest { page, per_page, ..ListRequest::default() };
    let (items, meta) = manage::list::<Postback>(&state.config, &caller, request).await?;
    Ok(Json(
        json!({"data": items.iter().map(view).collect::<Vec<_>>(), "meta": {"total": meta.total, "page": meta.page, "per_page": meta.per_page}}),
    ))
}

async fn remove(
    State(state): State<AppState>,
    BearerCaller(caller): BearerCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let numeric =
        id.strip_prefix("pb_").unwrap_or(&id).parse::<i64>().map_err(|_| Error::not_found("postback", &id))?;
    manage::delete::<Postback>(&state.config, &caller, numeric).await?;
    state.configuration_changed().await;
    Ok(StatusCode::NO_CONTENT)
}
