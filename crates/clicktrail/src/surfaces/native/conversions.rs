//! The native conversion API: `/api/conversions`, with status changes and postback delivery
//! attempts.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{NaiveDate, TimeZone, Utc};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::key::Scope;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::engine::access::MoneyView;
use crate::engine::convert::{Attempt, Search, parse_status};
use crate::engine::manage::ListMeta;
use crate::error::Error;
use crate::surfaces::native::NativeCaller;
use crate::transport::error::ApiError;
use crate::transport::extract::{JsonBody, Params, path_id};

/// A status change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPatch {
    /// `approved`, `pending` or `rejected`.
    #[schema(pattern = "^(approved|pending|rejected)$")]
    pub status: String,
    /// Why (kept in the history).
    #[serde(default)]
    pub reason: Option<String>,
}

/// A page of conversions.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ConversionList {
    /// The conversions, newest first.
    pub data: Vec<Conversion>,
    /// Pagination.
    pub meta: ListMeta,
}

/// Delivery attempts of a conversion's postbacks.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Deliveries {
    /// Attempts, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub data: Vec<Attempt>,
}

fn date(params: &Params, name: &str) -> Result<Option<NaiveDate>, Error> {
    params
        .present(name)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| Error::invalid(name, format!("'{v}' is not a date (YYYY-MM-DD)")))
        })
        .transpose()
}

/// The statuses of conversions (the list's `status` filter).
pub const STATUSES: &[&str] = &["approved", "pending", "rejected"];

/// Conversions the caller may see: admins all, affiliates their own, advertisers their offers'.
#[utoipa::path(get, path = "/api/conversions", tag = "conversions",
    params(crate::surfaces::native::ListParams,
        ("offer_id" = Option<i64>, Query, description = "Offer"),
        ("affiliate_id" = Option<i64>, Query, description = "Affiliate"),
        ("date_from" = Option<String>, Query, description = "First day (UTC), YYYY-MM-DD"),
        ("date_to" = Option<String>, Query, description = "Last day (UTC), inclusive")),
    responses((status = 200, description = "A page", body = ConversionList)))]
pub async fn list(
    State(state): State<AppState>,
    caller: NativeCaller,
    params: Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Scope::ReadConversions)?;
    let request = params.list_request(STATUSES)?;
    let search = Search {
        offer_id: params.id("offer_id")?,
        affiliate_id: params.id("affiliate_id")?,
        status: request.query.statuses.first().map(|s| parse_status(s)).transpose()?,
        from: date(&params, "date_from")?.map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())),
        to: date(&params, "date_to")?
            .map(|d| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()) + chrono::Duration::days(1)),
        page: request.page,
        per_page: request.per_page,
    };
    let page = state.conversions.search(&caller, search).await?;
    let view = caller.money_view();
    Ok(Json(json!({
        "data": page.items.iter().map(|c| shown(c, view)).collect::<Vec<_>>(),
        "meta": ListMeta { total: page.total, page: request.page, per_page: request.per_page },
    })))
}

/// A conversion as `view` may see it.
fn shown(c: &Conversion, view: MoneyView) -> serde_json::Value {
    let mut value = serde_json::to_value(c).unwrap_or_default();
    view.redact_conversion(&mut value);
    value
}

/// One conversion.
#[utoipa::path(get, path = "/api/conversions/{id}", tag = "conversions", params(("id" = i64, Path, description = "Conversion id")),
    responses((status = 200, description = "The conversion", body = Conversion)))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let c = state.conversions.get(&caller, path_id(&id, "conversion")?).await?;
    Ok(Json(shown(&c, caller.money_view())))
}

/// Approve, reject, or move back to pending (admins and the offer's advertiser).
#[utoipa::path(patch, path = "/api/conversions/{id}", tag = "conversions", params(("id" = i64, Path, description = "Conversion id")),
    request_body = StatusPatch, responses((status = 200, description = "The conversion", body = Conversion)))]
pub async fn update(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = path_id(&id, "conversion")?;
    let patch: StatusPatch = crate::engine::manage::parse_spec(body)?;
    let to = parse_status(&patch.status)?;
    let reason = patch.reason.unwrap_or_default();
    if reason.len() > 1000 {
        return Err(Error::invalid("reason", "must be at most 1000 characters").into());
    }
    let c = state.conversions.change_status(&caller, id, to, reason).await?;
    Ok(Json(shown(&c, caller.money_view())))
}

/// Every delivery attempt of the conversion's affiliate postbacks.
#[utoipa::path(get, path = "/api/conversions/{id}/deliveries", tag = "conversions", params(("id" = i64, Path, description = "Conversion id")),
    responses((status = 200, description = "Attempts", body = Deliveries)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: NativeCaller,
    Path(id): Path<String>,
) -> Result<Json<Deliveries>, ApiError> {
    Ok(Json(Deliveries { data: state.conversions.deliveries(&caller, path_id(&id, "conversion")?).await? }))
}

/// The native routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get_one, update)).routes(routes!(deliveries))
}
