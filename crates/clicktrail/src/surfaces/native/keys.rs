//! `/api/keys`: API keys. The secret is in the creation answer's `key` field, and nowhere else.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::engine::manage::ListMeta;
use crate::engine::manage::keys::{self, KeyPatch, KeyView, NewKey};
use crate::surfaces::native::NativeCaller;
use crate::transport::error::ApiError;
use crate::transport::extract::{JsonBody, Params, path_id};

/// A page of keys.
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The keys.
    pub data: Vec<KeyView>,
    /// Pagination.
    pub meta: ListMeta,
}

/// The statuses of keys (the list's `status` filter).
pub const STATUSES: &[&str] = &["active", "revoked"];

/// List keys: admins see all (filter `user_id`), others their own.
#[utoipa::path(get, path = "/api/keys", tag = "keys", params(super::ListParams, ("user_id" = Option<i64>, Query, description = "Owner")),
    responses((status = 200, description = "A page", body = KeyList)))]
pub async fn list(
    State(state): State<AppState>,
    caller: NativeCaller,
    params: Params,
) -> Result<Json<KeyList>, ApiError> {
    let mut request = params.list_request(STATUSES)?;
    request.query.owner_id = params.id("user_id")?;
    let (items, meta) = keys::list(&state.config, &caller, request).await?;
    Ok(Json(KeyList { data: items.iter().map(KeyView::of).collect(), meta }))
}

/// Create a key for a user (admins); the answer's `key` is the secret, shown this once.
#[utoipa::path(post, path = "/api/keys", tag = "keys", request_body = NewKey,
    responses((status = 201, description = "Created, with the secret in `key`", body = KeyView)))]
pub async fn create(
    State(state): State<AppState>,
    caller: NativeCaller,
    JsonBody(body): JsonBody,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    Ok((StatusCode::CREATED, Json(keys::create(&state.config, &caller, body).await?)))
}

/// Read a key.
#[utoipa::path(get, path = "/api/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, description = "The key", body = KeyView)))]
pub async fn get(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let k = keys::get(&state.config, &caller, path_id(&id, "API key")?).await?;
    Ok(Json(KeyView::of(&k)))
}

/// Change a key's scopes, tier or label (admins).
#[utoipa::path(patch, path = "/api/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")), request_body = KeyPatch,
    responses((status = 200, description = "The key", body = KeyView)))]
pub async fn update(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<KeyView>, ApiError> {
    let k = keys::update(&state.config, &caller, path_id(&id, "API key")?, body).await?;
    Ok(Json(KeyView::of(&k)))
}

/// Revoke a key (admins any, others their own).
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys", params(("id" = i64, Path, description = "Key id")),
    responses((status = 200, description = "The revoked key", body = KeyView)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let k = keys::revoke(&state.config, &caller, path_id(&id, "API key")?).await?;
    Ok(Json(KeyView::of(&k)))
}

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, revoke))
}
