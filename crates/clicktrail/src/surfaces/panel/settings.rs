//! The network's set-up: its settings, traffic sources and coupons (admins), and API keys
//! (admins every user's; everyone their own, made here for themselves).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clicktrail_domain::catalog::{Coupon, TrafficSource};
use clicktrail_domain::key::Scope;
use clicktrail_domain::text::Name;
use clicktrail_domain::user::Role;
use serde_json::{Map, Value, json};

use super::form::Fields;
use super::view::{Frame, notice};
use super::{Page, PanelError, PanelForm, PanelUser, html, redirect};
use crate::app::AppState;
use crate::engine::access::role_scopes;
use crate::engine::manage::{self, ListRequest, Query, keys, network};
use crate::error::{Error, ErrorKind};
use crate::transport::extract::Params;

/// A form's values by name and its one error.
#[derive(Default)]
pub struct Values {
    values: std::collections::BTreeMap<String, String>,
    error_field: String,
    error: Option<String>,
}

impl Values {
    /// A field's value.
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// A field's error.
    pub fn e(&self, name: &str) -> Option<&str> {
        (self.error_field == name).then_some(self.error.as_deref()).flatten()
    }

    fn of(fields: &Fields, names: &[&str]) -> Self {
        let values = names.iter().map(|n| ((*n).to_owned(), fields.get(n).unwrap_or("").to_owned())).collect();
        Self { values, ..Self::default() }
    }

    fn failed(mut self, e: &Error, default_field: &str) -> Self {
        self.error_field = e.field.clone().unwrap_or_else(|| default_field.to_owned());
        self.error = Some(e.message.split_once(": ").map_or(e.message.as_str(), |(_, m)| m).to_owned());
        self
    }

    /// The values as a JSON body: empty ones left out, `numbers` as numbers.
    fn body(&self, numbers: &[&str]) -> Result<Value, Error> {
        let mut map = Map::new();
        for (k, v) in self.values.iter().filter(|(_, v)| !v.is_empty()) {
            let value = if numbers.contains(&k.as_str()) {
                Value::from(v.parse::<i64>().map_err(|_| Error::invalid(k, format!("'{v}' is not a whole number")))?)
            } else {
                Value::String(v.clone())
            };
            map.insert(k.clone(), value);
        }
        Ok(Value::Object(map))
    }
}

fn invalid(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::NotFound)
}

#[derive(Template)]
#[template(path = "panel/settings.html")]
struct SettingsPage {
    frame: Frame,
    form: Values,
}

const NETWORK_FIELDS: &[&str] =
    &["name", "timezone", "currency", "tracking_base_url", "fallback_url", "raw_click_retention_days"];

/// `GET /panel/settings` (admins).
pub async fn settings(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    user.require(&state, &[Role::Admin])?;
    let current = network::get(&state.config, &user.caller).await.map_err(|e| user.fail(&state, e))?;
    let doc = serde_json::to_value(&current).unwrap_or(Value::Null);
    let mut form = Values::default();
    for name in NETWORK_FIELDS {
        let text = match &doc[*name] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        form.values.insert((*name).to_owned(), text);
    }
    let frame = user.frame(&state, "Network settings", "settings").notice(notice(params.get("done")));
    Ok(html(SettingsPage { frame, form }.render()))
}

/// `POST /panel/settings`: a blank URL removes it.
pub async fn save_settings(State(state): State<AppState>, PanelForm { user, fields }: PanelForm) -> Page {
    user.require(&state, &[Role::Admin])?;
    let form = Values::of(&fields, NETWORK_FIELDS);
    let mut patch = match form.body(&["raw_click_retention_days"]) {
        Ok(body) => body,
        Err(e) => return again(&state, &user, form.failed(&e, "name")),
    };
    for url in ["tracking_base_url", "fallback_url"] {
        if form.v(url).is_empty()
            && let Some(map) = patch.as_object_mut()
        {
            map.insert(url.into(), Value::Null);
        }
    }
    match network::update(&state.config, &user.caller, patch).await {
        Ok(_) => {
            state.configuration_changed().await;
            Ok(redirect("/panel/settings?done=saved"))
        }
        Err(e) if invalid(&e) => again(&state, &user, form.failed(&e, "name")),
        Err(e) => Err(user.fail(&state, e)),
    }
}

fn again(state: &AppState, user: &PanelUser, form: Values) -> Page {
    let frame = user.frame(state, "Network settings", "settings");
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html(SettingsPage { frame, form }.render())).into_response())
}

/// A row of a simple list: its cells.
pub struct Row {
    id: i64,
    cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "panel/catalog.html")]
struct CatalogPage {
    frame: Frame,
    path: &'static str,
    heading: Vec<&'static str>,
    rows: Vec<Row>,
    fields: Vec<(&'static str, &'static str, &'static str)>,
    form: Values,
    noun: &'static str,
}

/// What a catalog page lists and creates.
struct Catalog {
    path: &'static str,
    title: &'static str,
    section: &'static str,
    noun: &'static str,
    heading: &'static [&'static str],
    /// (name, label, hint).
    fields: &'static [(&'static str, &'static str, &'static str)],
    numbers: &'static [&'static str],
}

const SOURCES: Catalog = Catalog {
    path: "/panel/traffic-sources",
    title: "Traffic sources",
    section: "sources",
    noun: "traffic source",
    heading: &["Name", "Slug (source_id)", "Position"],
    fields: &[
        ("name", "Name", ""),
        ("slug", "Slug", "what links send as source_id; made from the name when empty"),
        ("position", "Position", "display order"),
    ],
    numbers: &["position"],
};

const COUPONS: Catalog = Catalog {
    path: "/panel/coupons",
    title: "Coupons",
    section: "coupons",
    noun: "coupon",
    heading: &["Code", "Affiliate", "Offer"],
    fields: &[
        ("code", "Code", "a buyer's coupon attributes the sale to the affiliate"),
        ("affiliate_id", "Affiliate ID", ""),
        ("offer_id", "Offer ID", "empty for every offer"),
    ],
    numbers: &["affiliate_id", "offer_id"],
};

async fn catalog_rows(state: &AppState, user: &PanelUser, catalog: &Catalog) -> Result<Vec<Row>, Error> {
    let request = || ListRequest { query: Query::default(), page: 1, per_page: 1_000 };
    let snapshot = state.tracker.snapshots().snapshot();
    if catalog.path == SOURCES.path {
        let (items, _) = manage::list::<TrafficSource>(&state.config, &user.caller, request()).await?;
        return Ok(items
            .into_iter()
            .map(|t| Row {
                id: t.id,
                cells: vec![
                    t.spec.name.to_string(),
                    t.spec.slug.map(|s| s.to_string()).unwrap_or_default(),
                    t.spec.position.map(|p| p.to_string()).unwrap_or_default(),
                ],
            })
            .collect());
    }
    let (items, _) = manage::list::<Coupon>(&state.config, &user.caller, request()).await?;
    Ok(items
        .into_iter()
        .map(|c| Row {
            id: c.id,
            cells: vec![
                c.spec.code.to_string(),
                snapshot
                    .affiliates
                    .get(&c.spec.affiliate_id)
                    .map_or_else(|| c.spec.affiliate_id.to_string(), |a| a.spec.name.to_string()),
                c.spec.offer_id.map_or_else(
                    || "every offer".to_owned(),
                    |o| snapshot.offers.get(&o).map_or_else(|| o.to_string(), |x| x.spec.name.to_string()),
                ),
            ],
        })
        .collect())
}

async fn catalog_page(
    state: &AppState,
    user: &PanelUser,
    catalog: &Catalog,
    form: Values,
    done: Option<&str>,
) -> Result<CatalogPage, PanelError> {
    user.require(state, &[Role::Admin])?;
    let rows = catalog_rows(state, user, catalog).await.map_err(|e| user.fail(state, e))?;
    Ok(CatalogPage {
        frame: user.frame(state, catalog.title, catalog.section).notice(notice(done)),
        path: catalog.path,
        heading: catalog.heading.to_vec(),
        rows,
        fields: catalog.fields.to_vec(),
        form,
        noun: catalog.noun,
    })
}

async fn catalog_create(state: AppState, form: PanelForm, catalog: &Catalog) -> Page {
    let PanelForm { user, fields } = form;
    user.require(&state, &[Role::Admin])?;
    let names: Vec<&str> = catalog.fields.iter().map(|(n, _, _)| *n).collect();
    let values = Values::of(&fields, &names);
    let made = match values.body(catalog.numbers) {
        Ok(body) if catalog.path == SOURCES.path => {
            manage::create::<TrafficSource>(&state.config, &user.caller, body).await.map(drop)
        }
        Ok(body) => manage::create::<Coupon>(&state.config, &user.caller, body).await.map(drop),
        Err(e) => Err(e),
    };
    match made {
        Ok(()) => {
            state.configuration_changed().await;
            Ok(redirect(&format!("{}?done=created", catalog.path)))
        }
        Err(e) if invalid(&e) => {
            let page = catalog_page(&state, &user, catalog, values.failed(&e, names[0]), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
        }
        Err(e) => Err(user.fail(&state, e)),
    }
}

/// `GET /panel/traffic-sources`.
pub async fn sources(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    Ok(html(catalog_page(&state, &user, &SOURCES, Values::default(), params.get("done")).await?.render()))
}

/// `POST /panel/traffic-sources`.
pub async fn create_source(State(state): State<AppState>, form: PanelForm) -> Page {
    catalog_create(state, form, &SOURCES).await
}

/// `GET /panel/coupons`.
pub async fn coupons(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    Ok(html(catalog_page(&state, &user, &COUPONS, Values::default(), params.get("done")).await?.render()))
}

/// `POST /panel/coupons`.
pub async fn create_coupon(State(state): State<AppState>, form: PanelForm) -> Page {
    catalog_create(state, form, &COUPONS).await
}

/// A key as listed.
pub struct KeyRow {
    id: i64,
    owner: String,
    name: String,
    prefix: String,
    scopes: String,
    status: &'static str,
    last_used: String,
}

#[derive(Template)]
#[template(path = "panel/keys.html")]
struct KeysPage {
    frame: Frame,
    rows: Vec<KeyRow>,
    scopes: Vec<&'static str>,
    secret: Option<String>,
    error: Option<String>,
}

async fn keys_page(
    state: &AppState,
    user: &PanelUser,
    secret: Option<String>,
    error: Option<String>,
    done: Option<&str>,
) -> Result<KeysPage, PanelError> {
    let request = ListRequest { query: Query::default(), page: 1, per_page: 500 };
    let (items, _) = keys::list(&state.config, &user.caller, request).await.map_err(|e| user.fail(state, e))?;
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = user.caller.zone(snapshot.network.timezone);
    let rows = items
        .iter()
        .map(|k| KeyRow {
            id: k.id,
            owner: if k.user_id == user.caller.user.id { "you".to_owned() } else { format!("user {}", k.user_id) },
            name: k.name.as_ref().map(ToString::to_string).unwrap_or_default(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            status: if k.is_active() { "active" } else { "revoked" },
            last_used: k
                .last_used_at
                .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let scopes = match role_scopes(user.caller.role()) {
        [Scope::Admin] => vec!["admin", "read:offers", "read:stats", "read:conversions", "write:postback"],
        held => held.iter().map(|s| s.as_str()).collect(),
    };
    Ok(KeysPage { frame: user.frame(state, "API keys", "keys").notice(notice(done)), rows, scopes, secret, error })
}

/// `GET /panel/keys`: the caller's keys (an admin's: every key).
pub async fn list_keys(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    Ok(html(keys_page(&state, &user, None, None, params.get("done")).await?.render()))
}

/// `POST /panel/keys`: a key for yourself, with the scopes ticked; its secret is shown once.
pub async fn create_key(State(state): State<AppState>, PanelForm { user, fields }: PanelForm) -> Page {
    let scopes: Result<Vec<Scope>, Error> = fields
        .all("scope")
        .into_iter()
        .map(|s| {
            serde_json::from_value::<Scope>(json!(s))
                .map_err(|_| Error::invalid("scopes", format!("'{s}' is not a scope")))
        })
        .collect();
    let name = match fields.get("name").map(Name::parse).transpose() {
        Ok(n) => n,
        Err(e) => {
            let page = keys_page(&state, &user, None, Some(format!("Name: {}", e.message)), None).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response());
        }
    };
    let made = match scopes {
        Ok(scopes) => keys::create_own(&state.config, &user.caller, scopes, name).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(view) => Ok(html(keys_page(&state, &user, view.key, None, Some("created")).await?.render())),
        Err(e) if invalid(&e) => {
            let message = e.message.split_once(": ").map_or(e.message.as_str(), |(_, m)| m).to_owned();
            let page = keys_page(&state, &user, None, Some(format!("Scopes: {message}")), None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
        }
        Err(e) => Err(user.fail(&state, e)),
    }
}

/// `POST /panel/keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PanelForm { user, .. }: PanelForm,
) -> Page {
    let id = id.parse::<i64>().map_err(|_| user.fail(&state, Error::not_found("API key", &id)))?;
    keys::revoke(&state.config, &user.caller, id).await.map_err(|e| user.fail(&state, e))?;
    Ok(redirect("/panel/keys?done=revoked"))
}
