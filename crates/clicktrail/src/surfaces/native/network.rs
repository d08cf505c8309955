//! `GET` and `PATCH /api/network`: the network's settings (admins).

use axum::Json;
use axum::extract::State;
use clicktrail_domain::network::NetworkSettings;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::engine::manage;
use crate::surfaces::native::NativeCaller;
use crate::transport::error::ApiError;
use crate::transport::extract::JsonBody;

/// The network's settings.
#[utoipa::path(get, path = "/api/network", tag = "network", responses((status = 200, description = "Settings", body = NetworkSettings)))]
pub async fn get(State(state): State<AppState>, caller: NativeCaller) -> Result<Json<NetworkSettings>, ApiError> {
    Ok(Json(manage::network::get(&state.config, &caller).await?))
}

/// Change the network's settings with a JSON merge patch.
#[utoipa::path(patch, path = "/api/network", tag = "network", request_body = serde_json::Value,
    responses((status = 200, description = "Settings", body = NetworkSettings)))]
pub async fn update(
    State(state): State<AppState>,
    caller: NativeCaller,
    JsonBody(body): JsonBody,
) -> Result<Json<NetworkSettings>, ApiError> {
    let settings = manage::network::update(&state.config, &caller, body).await?;
    state.configuration_changed().await;
    Ok(Json(settings))
}

/// The routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get, update))
}
