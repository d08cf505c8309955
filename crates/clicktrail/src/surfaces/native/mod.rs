//! The native management API under `/api/`: one module per resource, the same five routes each.
//!
//! Every route authenticates (`Authorization: Bearer` or `X-Api-Key`), checks scope and role
//! through [`crate::engine::manage`], and answers JSON; errors use dialect E's body.

pub mod conversions;
pub mod keys;
pub mod me;
pub mod network;
pub mod reports;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::engine::manage::{self, ListMeta, Listed, Query, Resource};
use crate::error::Error;
use crate::transport::error::ApiError;
use crate::transport::extract::{JsonBody, Params, path_id};
use crate::transport::surface::{Authenticated, Carrier, Surface};

/// The native API as the transport sees it: keys in `Authorization: Bearer` or `X-Api-Key`,
/// errors in the native body, and every path under `/api/` no other surface owns.
pub struct Native;

impl Surface for Native {
    const CARRIERS: &'static [Carrier] = &[Carrier::Bearer, Carrier::Header("x-api-key")];
    const MISSING_KEY: &'static str =
        "Missing API key: send 'Authorization: Bearer <API key>' or 'X-Api-Key: <API key>'.";
    const PREFIXES: &'static [&'static str] = &["/api/{*rest}"];

    fn render(error: Error) -> Response {
        ApiError(error).into_response()
    }
}

/// The caller of a native route.
pub type NativeCaller = Authenticated<Native>;

/// A page of records, as every list answers.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ListResponse {
    /// The records.
    data: Vec<Value>,
    /// Pagination.
    meta: ListMeta,
}

/// Query parameters every list takes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ListParams {
    /// Page, from 1.
    #[param(minimum = 1)]
    page: Option<u64>,
    /// Records per page: default 50, at most 100 (more is capped).
    #[param(minimum = 1)]
    per_page: Option<u64>,
    /// Comma-separated statuses.
    status: Option<String>,
    /// Name contains (case-insensitive).
    q: Option<String>,
}

type Filters = fn(&Params, &mut Query) -> Result<(), Error>;

async fn list<R: Resource>(
    state: &AppState,
    caller: &NativeCaller,
    params: &Params,
    statuses: &[&str],
    filters: Filters,
) -> Result<Json<Listed>, ApiError> {
    let mut request = params.list_request(statuses)?;
    filters(params, &mut request.query)?;
    let (items, meta) = manage::list::<R>(&state.config, caller, request).await?;
    Ok(Json(manage::views(caller, &items, meta)))
}

async fn create<R: Resource>(
    state: &AppState,
    caller: &NativeCaller,
    mut body: Value,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let password = manage::take_password::<R>(&mut body)?;
    let record = manage::create::<R>(&state.config, caller, body).await?;
    if let Some(password) = password {
        state.sessions.set_password(record.id(), &password).await?;
    }
    state.configuration_changed().await;
    Ok((StatusCode::CREATED, Json(record.view(caller))))
}

async fn get<R: Resource>(state: &AppState, caller: &NativeCaller, id: &str) -> Result<Json<Value>, ApiError> {
    let record = manage::get::<R>(&state.config, caller, path_id(id, R::NAME)?).await?;
    Ok(Json(record.view(caller)))
}

async fn update<R: Resource>(
    state: &AppState,
    caller: &NativeCaller,
    id: &str,
    mut body: Value,
) -> Result<Json<Value>, ApiError> {
    let password = manage::take_password::<R>(&mut body)?;
    let record = manage::update::<R>(&state.config, caller, path_id(id, R::NAME)?, body).await?;
    if let Some(password) = password {
        state.sessions.set_password(record.id(), &password).await?;
    }
    state.configuration_changed().await;
    Ok(Json(record.view(caller)))
}

async fn delete<R: Resource>(state: &AppState, caller: &NativeCaller, id: &str) -> Result<Response, ApiError> {
    let removed = manage::delete::<R>(&state.config, caller, path_id(id, R::NAME)?).await?;
    state.configuration_changed().await;
    Ok(match removed {
        Some(remaining) => Json(remaining.view(caller)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

fn no_filters(_: &Params, _: &mut Query) -> Result<(), Error> {
    Ok(())
}

/// Declares a resource module with list, create, get, update and delete routes.
macro_rules! resource {
    ($module:ident, $ty:ty, $schema:ty, $spec:ty, $tag:literal, $path:literal, $item:literal,
     statuses: $statuses:expr, filters: $filters:expr) => {
        #[doc = concat!("Routes of `", $path, "`.")]
        pub mod $module {
            use super::*;

            /// The list's path.
            pub const PATH: &str = $path;
            /// The statuses its `status` filter takes.
            pub const STATUSES: &[&str] = $statuses;

            #[doc = concat!("List ", $tag, ".")]
            #[utoipa::path(get, path = $path, tag = $tag, params(ListParams),
                responses((status = 200, description = "A page", body = ListResponse)))]
            pub async fn list(State(state): State<AppState>, caller: NativeCaller, params: Params) -> Result<Json<Listed>, ApiError> {
                super::list::<$ty>(&state, &caller, &params, STATUSES, $filters).await
            }

            #[doc = concat!("Create one of ", $tag, ".")]
            #[utoipa::path(post, path = $path, tag = $tag, request_body = $spec,
                responses((status = 201, description = "Created", body = $schema)))]
            pub async fn create(State(state): State<AppState>, caller: NativeCaller, JsonBody(body): JsonBody) -> Result<(StatusCode, Json<Value>), ApiError> {
                super::create::<$ty>(&state, &caller, body).await
            }

            #[doc = concat!("Read one of ", $tag, ".")]
            #[utoipa::path(get, path = $item, tag = $tag, params(("id" = i64, Path, description = "Numeric id")),
                responses((status = 200, description = "Found", body = $schema), (status = 404, description = "Not found")))]
            pub async fn get(State(state): State<AppState>, caller: NativeCaller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
                super::get::<$ty>(&state, &caller, &id).await
            }

            #[doc = concat!("Change one of ", $tag, " with a JSON merge patch.")]
            #[utoipa::path(patch, path = $item, tag = $tag, params(("id" = i64, Path, description = "Numeric id")), request_body = Value,
                responses((status = 200, description = "Changed", body = $schema)))]
            pub async fn update(State(state): State<AppState>, caller: NativeCaller, Path(id): Path<String>, JsonBody(body): JsonBody) -> Result<Json<Value>, ApiError> {
                super::update::<$ty>(&state, &caller, &id, body).await
            }

            #[doc = concat!("Delete (or archive, or close) one of ", $tag, ".")]
            #[utoipa::path(delete, path = $item, tag = $tag, params(("id" = i64, Path, description = "Numeric id")),
                responses((status = 200, description = "Archived or closed", body = $schema), (status = 204, description = "Deleted")))]
            pub async fn delete(State(state): State<AppState>, caller: NativeCaller, Path(id): Path<String>) -> Result<Response, ApiError> {
                super::delete::<$ty>(&state, &caller, &id).await
            }

            /// The module's routes.
            pub fn routes() -> OpenApiRouter<AppState> {
                OpenApiRouter::new().routes(routes!(list, create)).routes(routes!(get, update, delete))
            }
        }
    };
}

const USER_STATUSES: &[&str] = &["active", "pending", "suspended", "inactive", "closed"];

fn group_filter(p: &Params, q: &mut Query) -> Result<(), Error> {
    q.ref_id = p.id("affiliate_group_id")?;
    Ok(())
}

fn user_filter(p: &Params, q: &mut Query) -> Result<(), Error> {
    if let Some(role) = p.get("role") {
        if !["admin", "affiliate", "advertiser"].contains(&role) {
            return Err(Error::invalid("role", format!("'{role}' is not one of admin, affiliate, advertiser")));
        }
        q.role = Some(role.to_owned());
    }
    group_filter(p, q)
}

fn offer_filter(p: &Params, q: &mut Query) -> Result<(), Error> {
    q.owner_id = p.id("advertiser_id")?;
    q.ref_id = p.id("category_id")?;
    Ok(())
}

fn affiliate_offer_filter(p: &Params, q: &mut Query) -> Result<(), Error> {
    q.owner_id = p.id("affiliate_id")?;
    q.ref_id = p.id("offer_id")?;
    Ok(())
}

use crate::engine::manage::users::{Advertiser, Affiliate, AnyUser, AnyUserSpec};
use clicktrail_domain::catalog::{Category, CategorySpec, Coupon, CouponSpec, TrafficSource, TrafficSourceSpec};
use clicktrail_domain::offer::{Offer, OfferSpec};
use clicktrail_domain::postback::{Postback, PostbackSpec};
use clicktrail_domain::user::{AffiliateGroup, AffiliateGroupSpec, User, UserSpec};

resource!(users, AnyUser, User, AnyUserSpec, "users", "/api/users", "/api/users/{id}",
    statuses: USER_STATUSES, filters: user_filter);
resource!(affiliates, Affiliate, User, UserSpec, "affiliates", "/api/affiliates", "/api/affiliates/{id}",
    statuses: USER_STATUSES, filters: group_filter);
resource!(advertisers, Advertiser, User, UserSpec, "advertisers", "/api/advertisers", "/api/advertisers/{id}",
    statuses: USER_STATUSES, filters: no_filters);
resource!(affiliate_groups, AffiliateGroup, AffiliateGroup, AffiliateGroupSpec, "affiliate groups",
    "/api/affiliate-groups", "/api/affiliate-groups/{id}", statuses: &[], filters: no_filters);
resource!(categories, Category, Category, CategorySpec, "categories", "/api/categories", "/api/categories/{id}",
    statuses: &[], filters: no_filters);
resource!(traffic_sources, TrafficSource, TrafficSource, TrafficSourceSpec, "traffic sources",
    "/api/traffic-sources", "/api/traffic-sources/{id}", statuses: &[], filters: no_filters);
resource!(offers, Offer, Offer, OfferSpec, "offers", "/api/offers", "/api/offers/{id}",
    statuses: &["active", "paused", "archived"], filters: offer_filter);
resource!(coupons, Coupon, Coupon, CouponSpec, "coupons", "/api/coupons", "/api/coupons/{id}",
    statuses: &[], filters: affiliate_offer_filter);
resource!(postbacks, Postback, Postback, PostbackSpec, "postbacks", "/api/postbacks", "/api/postbacks/{id}",
    statuses: &["active", "inactive"], filters: affiliate_offer_filter);

/// The statuses each list's `status` filter takes, by path (for the OpenAPI document).
pub fn list_statuses() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        (users::PATH, users::STATUSES),
        (affiliates::PATH, affiliates::STATUSES),
        (advertisers::PATH, advertisers::STATUSES),
        (affiliate_groups::PATH, affiliate_groups::STATUSES),
        (categories::PATH, categories::STATUSES),
        (traffic_sources::PATH, traffic_sources::STATUSES),
        (offers::PATH, offers::STATUSES),
        (coupons::PATH, coupons::STATUSES),
        (postbacks::PATH, postbacks::STATUSES),
        ("/api/keys", keys::STATUSES),
        ("/api/conversions", crate::surfaces::native::conversions::STATUSES),
    ]
}

/// Every native route.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(me::routes())
        .merge(network::routes())
        .merge(reports::routes())
        .merge(keys::routes())
        .merge(users::routes())
        .merge(affiliates::routes())
        .merge(advertisers::routes())
        .merge(affiliate_groups::routes())
        .merge(categories::routes())
        .merge(traffic_sources::routes())
        .merge(offers::routes())
        .merge(coupons::routes())
        .merge(postbacks::routes())
}
