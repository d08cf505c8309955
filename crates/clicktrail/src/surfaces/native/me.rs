//! `GET /api/me`: who the calling key is.

use axum::Json;
use clicktrail_domain::key::{Scope, Tier};
use clicktrail_domain::user::{Role, UserStatus};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::surfaces::native::NativeCaller;
use crate::transport::error::ApiError;

/// The calling key's user and the key's scopes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// User id (an affiliate's id is its user id).
    pub id: i64,
    /// Role.
    pub role: Role,
    /// Name.
    pub name: String,
    /// E-mail.
    pub email: Option<String>,
    /// Account status.
    pub status: UserStatus,
    /// The key's scopes.
    pub scopes: Vec<Scope>,
    /// The key's rate-limit tier.
    pub tier: Tier,
    /// The key's id.
    pub key_id: i64,
}

/// Who am I.
#[utoipa::path(get, path = "/api/me", tag = "me", responses((status = 200, description = "The caller", body = Me)))]
pub async fn me(caller: NativeCaller) -> Result<Json<Me>, ApiError> {
    let user = &caller.user;
    Ok(Json(Me {
        id: user.id,
        role: user.role,
        name: user.spec.name.to_string(),
        email: user.spec.email.as_ref().map(ToString::to_string),
        status: user.spec.status,
        scopes: caller.scopes(),
        tier: caller.tier(),
        key_id: caller.key().map_or(0, |k| k.id),
    }))
}

/// The route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}
