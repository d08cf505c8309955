//! Offers: the list of each role, the admin's editor (the everyday fields as inputs, the
//! structured parts — events, caps, targeting, per-affiliate terms, tiers, landing pages,
//! creatives, guards, deep links — as JSON checked by the same rules as the API), and the
//! affiliate's offer page with its tracking-link builder and access request.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clicktrail_domain::offer::{AccessStatus, Offer, Visibility};
use clicktrail_domain::user::Role;
use serde_json::{Map, Value};

use super::form::Fields;
use super::view::{Frame, money, notice};
use super::{Page, PanelForm, PanelUser, html, redirect};
use crate::app::AppState;
use crate::engine::access::Reach;
use crate::engine::manage::users::Advertiser;
use crate::engine::manage::{self, ListRequest, Query, offers};
use crate::error::{Error, ErrorKind};
use crate::transport::extract::Params;

/// The JSON-edited parts of an offer: (field, label, help).
const STRUCTURED: &[(&str, &str, &str)] = &[
    (
        "events",
        "Events",
        "Conversion events with their own payout and revenue: [{\"code\": \"sale\", \"name\": \"Sale\", \"payout\": 5, \"revenue\": 8}]",
    ),
    ("caps", "Caps", "Click and conversion caps, per day, month or total, for the offer or each affiliate."),
    ("targeting", "Targeting", "Who may see the offer beyond countries: devices, operating systems, …"),
    (
        "access",
        "Per-affiliate terms",
        "Approved, pending or blocked affiliates, each with an optional payout: [{\"affiliate_id\": 3, \"status\": \"approved\", \"payout\": 2.5}]",
    ),
    ("tiers", "Payout tiers", "Higher payouts after a number of conversions."),
    (
        "offer_urls",
        "Landing pages",
        "Other destinations an affiliate may pick: [{\"id\": 1, \"name\": \"Quiz\", \"url\": \"https://…\"}]",
    ),
    ("creatives", "Creatives", "Banners, links and e-mails for affiliates."),
    ("guards", "Conversion guards", "Checks a conversion must pass: IP allowlist, time since the click, …"),
    ("deep_links", "Deep links", "Hosts affiliates may send visitors to with a deep link."),
];

/// One row of an offer list.
pub struct OfferRow {
    id: i64,
    name: String,
    status: String,
    payout: String,
    payout_type: String,
    revenue: Option<String>,
    geo: String,
    access: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "panel/offers.html")]
struct ListPage {
    frame: Frame,
    rows: Vec<OfferRow>,
    admin: bool,
    affiliate: bool,
    q: String,
    status: String,
    page: u64,
    pages: u64,
    total: u64,
    query: String,
}

fn access_label(offer: &Offer, affiliate: i64) -> &'static str {
    match (offer.spec.visibility, offer.spec.access_for(affiliate).map(|a| a.status)) {
        (_, Some(AccessStatus::Pending)) => "pending",
        (_, Some(AccessStatus::Blocked)) => "blocked",
        (Visibility::Public, _) | (_, Some(AccessStatus::Approved)) => "approved",
        (_, None) => "needs approval",
    }
}

fn row(offer: &Offer, user: &PanelUser) -> OfferRow {
    let caller = &user.caller;
    let shows_revenue = caller.role() == Role::Admin;
    OfferRow {
        id: offer.id,
        name: offer.spec.name.to_string(),
        status: offer.spec.status.as_str().to_owned(),
        payout: money(caller.payout(offer).amount()),
        payout_type: offer.spec.payout_type.as_str().to_owned(),
        revenue: shows_revenue.then(|| money(offer.spec.revenue.amount())),
        geo: offer.spec.geo.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", "),
        access: caller.affiliate_id().map(|me| access_label(offer, me)),
    }
}

const PER_PAGE: u64 = 50;

/// `GET /panel/offers`: `q` (name), `status`, `page`.
pub async fn list(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let q = params.get("q").unwrap_or("").to_owned();
    let status = params.get("status").unwrap_or("").to_owned();
    let page = params.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(1).max(1);
    let mut query = Query { name_contains: (!q.is_empty()).then(|| q.clone()), ..Query::default() };
    if !status.is_empty() {
        if !["active", "paused", "archived"].contains(&status.as_str()) {
            return Err(user.fail(&state, Error::invalid("status", "is not active, paused or archived")));
        }
        query.statuses = vec![status.clone()];
    }
    let request = ListRequest { query, page, per_page: PER_PAGE };
    let (items, meta) =
        manage::list::<Offer>(&state.config, &user.caller, request).await.map_err(|e| user.fail(&state, e))?;
    let rows = items.iter().map(|o| row(o, &user)).collect();
    let frame = user.frame(&state, "Offers", "offers").notice(notice(params.get("done")));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("q", &q)
        .append_pair("status", &status)
        .finish();
    let page = ListPage {
        frame,
        rows,
        admin: user.caller.role() == Role::Admin,
        affiliate: user.caller.role() == Role::Affiliate,
        q,
        status,
        page: meta.page,
        pages: meta.total.div_ceil(PER_PAGE).max(1),
        total: meta.total,
        query,
    };
    Ok(html(page.render()))
}

/// The editor's values and errors.
#[derive(Default)]
pub struct Editor {
    values: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    /// A message for the whole form.
    general: Option<String>,
}

impl Editor {
    /// A field's value.
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    /// A field's error.
    pub fn e(&self, name: &str) -> Option<&str> {
        self.errors.get(name).map(String::as_str)
    }

    /// Whether a select shows `value`.
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.v(name) == value
    }

    fn of(offer: &Offer) -> Self {
        let doc = serde_json::to_value(&offer.spec).unwrap_or(Value::Null);
        let mut values = BTreeMap::new();
        if let Value::Object(map) = &doc {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    Value::Array(a) if k == "geo" => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
                    other => serde_json::to_string_pretty(other).unwrap_or_default(),
                };
                values.insert(k.clone(), text);
            }
        }
        Self { values, ..Self::default() }
    }

    fn fresh() -> Self {
        let mut e = Self::default();
        for (k, v) in [
            ("status", "active"),
            ("payout_type", "cpa"),
            ("visibility", "public"),
            ("redirect_mode", "redirect"),
            ("default_conversion_status", "approved"),
            ("currency", "USD"),
        ] {
            e.values.insert(k.into(), v.into());
        }
        e
    }

    /// The form's fields as a JSON body for the engine, or the fields that are not even JSON.
    fn body(fields: &Fields) -> (Self, Value) {
        let mut editor = Self::default();
        let mut body = Map::new();
        let text = [
            "name",
            "description",
            "destination_url",
            "preview_url",
            "fallback_url",
            "external_platform",
            "external_id",
        ];
        for name in text {
            let v = fields.get(name).unwrap_or("").to_owned();
            body.insert(name.into(), if v.is_empty() { Value::Null } else { Value::String(v.clone()) });
            editor.values.insert(name.into(), v);
        }
        for name in [
            "status",
            "payout_type",
            "revenue_type",
            "visibility",
            "redirect_mode",
            "default_conversion_status",
            "currency",
        ] {
            let v = fields.get(name).unwrap_or("").to_owned();
            body.insert(name.into(), if v.is_empty() { Value::Null } else { Value::String(v.clone()) });
            editor.values.insert(name.into(), v);
        }
        for name in ["payout", "revenue"] {
            let v = fields.get(name).unwrap_or("").to_owned();
            // Money is read from text by the engine, exactly.
            body.insert(name.into(), if v.is_empty() { Value::Null } else { Value::String(v.clone()) });
            editor.values.insert(name.into(), v);
        }
        for name in ["advertiser_id", "category_id"] {
            let v = fields.get(name).unwrap_or("").to_owned();
            let value = match v.parse::<i64>() {
                Ok(id) => Value::from(id),
                Err(_) if v.is_empty() => Value::Null,
                Err(_) => {
                    editor.errors.insert(name.into(), "must be chosen from the list".into());
                    Value::Null
                }
            };
            body.insert(name.into(), value);
            editor.values.insert(name.into(), v);
        }
        let geo = fields.get("geo").unwrap_or("").to_owned();
        let countries: Vec<Value> = geo
            .split([',', ' '])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| Value::String(c.to_ascii_uppercase()))
            .collect();
        body.insert("geo".into(), Value::Array(countries));
        editor.values.insert("geo".into(), geo);
        let bots = fields.checked("filter_bots");
        body.insert("filter_bots".into(), Value::Bool(bots));
        editor.values.insert("filter_bots".into(), bots.to_string());
        for (name, _, _) in STRUCTURED {
            let v = fields.raw(name).unwrap_or("").trim().to_owned();
            let value = if v.is_empty() {
                Value::Null
            } else {
                match serde_json::from_str::<Value>(&v) {
                    Ok(value) => value,
                    Err(e) => {
                        editor.errors.insert((*name).into(), format!("is not valid JSON: {e}"));
                        Value::Null
                    }
                }
            };
            body.insert((*name).into(), value);
            editor.values.insert((*name).into(), v);
        }
        (editor, Value::Object(body))
    }

    /// Puts an engine error next to its field (`events[0].payout` next to `events`).
    fn place(&mut self, error: &Error) {
        let message = error.message.split_once(": ").map_or(error.message.as_str(), |(_, m)| m).to_owned();
        match error.field.as_deref() {
            Some(field) => {
                let top = field.split(['.', '[']).next().unwrap_or(field);
                let known = self.values.contains_key(top);
                let text = if top == field { message } else { format!("{field}: {message}") };
                if known {
                    self.errors.insert(top.to_owned(), text);
                } else {
                    self.general = Some(format!("{field}: {}", error.message));
                }
            }
            None => self.general = Some(error.message.clone()),
        }
    }
}

/// A body without its empty values (a create takes the defaults for what is absent).
fn without_nulls(body: Value) -> Value {
    match body {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

#[derive(Template)]
#[template(path = "panel/offer_edit.html")]
struct EditPage {
    frame: Frame,
    id: Option<i64>,
    editor: Editor,
    advertisers: Vec<(i64, String)>,
    categories: Vec<(i64, String)>,
    structured: &'static [(&'static str, &'static str, &'static str)],
}

async fn edit_page(
    state: &AppState,
    user: &PanelUser,
    id: Option<i64>,
    editor: Editor,
    title: String,
) -> Result<EditPage, Error> {
    let request = ListRequest { query: Query::default(), page: 1, per_page: 1_000 };
    let (advertisers, _) = manage::list::<Advertiser>(&state.config, &user.caller, request).await?;
    let snapshot = state.tracker.snapshots().snapshot();
    let mut categories: Vec<(i64, String)> = snapshot.categories.iter().map(|(id, n)| (*id, n.clone())).collect();
    categories.sort();
    Ok(EditPage {
        frame: user.frame(state, title, "offers"),
        id,
        editor,
        advertisers: advertisers.into_iter().map(|a| (a.0.id, a.0.spec.name.to_string())).collect(),
        categories,
        structured: STRUCTURED,
    })
}

/// `GET /panel/offers/new` (admins).
pub async fn new(State(state): State<AppState>, user: PanelUser) -> Page {
    user.require(&state, &[Role::Admin])?;
    let page =
        edit_page(&state, &user, None, Editor::fresh(), "New offer".into()).await.map_err(|e| user.fail(&state, e))?;
    Ok(html(page.render()))
}

/// `POST /panel/offers/new`.
pub async fn create(State(state): State<AppState>, PanelForm { user, fields }: PanelForm) -> Page {
    user.require(&state, &[Role::Admin])?;
    let (mut editor, body) = Editor::body(&fields);
    if editor.errors.is_empty() {
        match manage::create::<Offer>(&state.config, &user.caller, without_nulls(body)).await {
            Ok(offer) => {
                state.configuration_changed().await;
                return Ok(redirect(&format!("/panel/offers/{}?done=created", offer.id)));
            }
            Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict | ErrorKind::NotFound) => {
                editor.place(&e)
            }
            Err(e) => return Err(user.fail(&state, e)),
        }
    }
    let page = edit_page(&state, &user, None, editor, "New offer".into()).await.map_err(|e| user.fail(&state, e))?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
}

fn offer_id(user: &PanelUser, state: &AppState, raw: &str) -> Result<i64, super::PanelError> {
    raw.parse::<i64>().map_err(|_| user.fail(state, Error::not_found("offer", raw)))
}

#[derive(Template)]
#[template(path = "panel/offer_view.html")]
struct ViewPage {
    frame: Frame,
    offer: OfferRow,
    description: String,
    preview_url: String,
    events: Vec<(String, String)>,
    link: Option<String>,
    base_link: String,
    landing_pages: Vec<(String, String)>,
    can_request: bool,
    snippets: Option<Snippets>,
}

/// How an advertiser reports conversions of an offer: each way, ready to paste
/// (docs/BROWSER-TRACKING.md says which works under which browser policy).
struct Snippets {
    /// Server to server: the postback URL, with the offer's token when it asks for one.
    postback: String,
    /// The landing page's tag (keeps the click id in the site's own cookie).
    landing: String,
    /// The conversion page's tag call.
    conversion: String,
    /// The image pixel (carries the click cookie where third-party cookies are allowed).
    image: String,
    /// The iframe pixel.
    iframe: String,
    /// The parameter of the click id in the offer's destination URL, when it passes one.
    click_param: Option<String>,
}

impl Snippets {
    fn of(root: &str, offer: &Offer) -> Self {
        let id = offer.id;
        let token = offer.spec.guards.token.as_ref().map(|t| format!("&token={t}")).unwrap_or_default();
        // The destination's parameter that carries `{click_id}` (or `{transaction_id}`), which
        // the tag reads on the landing page.
        let click_param = url::Url::parse(offer.spec.destination_url.as_str()).ok().and_then(|u| {
            u.query_pairs().find(|(_, v)| v == "{click_id}" || v == "{transaction_id}").map(|(k, _)| k.into_owned())
        });
        let attribute = match click_param.as_deref() {
            Some("click_id") | None => String::new(),
            Some(p) => format!(" data-click-param=\"{p}\""),
        };
        Self {
            postback: format!(
                "{root}/postback?offer_id={id}&click_id={{click_id}}&amount={{amount}}&txid={{order_id}}{token}"
            ),
            landing: format!("<script src=\"{root}/js/clicktrail.js\"{attribute}></script>"),
            conversion: format!(
                "<script src=\"{root}/js/clicktrail.js\"></script>\n<script>clicktrail.conversion({{offer_id: {id}, amount: \"AMOUNT\", txid: \"ORDER_ID\"}});</script>"
            ),
            image: format!(
                "<img src=\"{root}/p?offer_id={id}&amp;amount=AMOUNT&amp;txid=ORDER_ID\" width=\"1\" height=\"1\" alt=\"\">"
            ),
            iframe: format!(
                "<iframe src=\"{root}/p/iframe?offer_id={id}&amp;amount=AMOUNT&amp;txid=ORDER_ID\" width=\"1\" height=\"1\" frameborder=\"0\" title=\"\"></iframe>"
            ),
            click_param,
        }
    }
}

/// `GET /panel/offers/{id}`: the editor for admins; the offer and its link for the others.
pub async fn show(State(state): State<AppState>, user: PanelUser, Path(id): Path<String>, params: Params) -> Page {
    let id = offer_id(&user, &state, &id)?;
    let offer = manage::get::<Offer>(&state.config, &user.caller, id).await.map_err(|e| user.fail(&state, e))?;
    let done = notice(params.get("done"));
    if user.caller.role() == Role::Admin {
        let mut page = edit_page(&state, &user, Some(id), Editor::of(&offer), offer.spec.name.to_string())
            .await
            .map_err(|e| user.fail(&state, e))?;
        page.frame = page.frame.notice(done);
        return Ok(html(page.render()));
    }
    let caller = &user.caller;
    let runs = caller.reaches(&offer, Reach::Run);
    let link = (caller.role() == Role::Affiliate && runs).then(|| {
        // The builder's fields (sent as a GET form when the page runs without JavaScript).
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for name in ["sub1", "sub2", "sub3", "sub4", "sub5", "source_id", "url_id"] {
            if let Some(v) = params.get(name).filter(|v| !v.trim().is_empty()) {
                query.append_pair(name, v.trim());
            }
        }
        let query = query.finish();
        let base = state.tracking_link(offer.id, caller.user.id);
        if query.is_empty() { base } else { format!("{base}?{query}") }
    });
    let base_link = state.tracking_link(offer.id, caller.user.id);
    let snippets = (caller.role() == Role::Advertiser).then(|| Snippets::of(&state.tracking_base(), &offer));
    let page = ViewPage {
        frame: user.frame(&state, offer.spec.name.to_string(), "offers").notice(done),
        offer: row(&offer, &user),
        description: offer.spec.description.clone().unwrap_or_default(),
        preview_url: offer.spec.preview_url.as_ref().map(|u| u.as_str().to_owned()).unwrap_or_default(),
        events: offer
            .spec
            .events
            .iter()
            .map(|e| {
                let payout = e.payout.map_or_else(|| money(caller.payout(&offer).amount()), |p| money(p.amount()));
                (e.name.to_string(), payout)
            })
            .collect(),
        link,
        base_link,
        landing_pages: offer
            .spec
            .offer_urls
            .iter()
            .map(|u| (u.id.map(|i| i.to_string()).unwrap_or_default(), u.name.to_string()))
            .collect(),
        can_request: caller.role() == Role::Affiliate && access_label(&offer, caller.user.id) == "needs approval",
        snippets,
    };
    Ok(html(page.render()))
}

/// `POST /panel/offers/{id}`: the admin's editor.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PanelForm { user, fields }: PanelForm,
) -> Page {
    user.require(&state, &[Role::Admin])?;
    let id = offer_id(&user, &state, &id)?;
    let (mut editor, body) = Editor::body(&fields);
    if editor.errors.is_empty() {
        match manage::update::<Offer>(&state.config, &user.caller, id, body).await {
            Ok(_) => {
                state.configuration_changed().await;
                return Ok(redirect(&format!("/panel/offers/{id}?done=saved")));
            }
            Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => editor.place(&e),
            Err(e) => return Err(user.fail(&state, e)),
        }
    }
    let title = editor.v("name").to_owned();
    let page = edit_page(&state, &user, Some(id), editor, title).await.map_err(|e| user.fail(&state, e))?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
}

/// `POST /panel/offers/{id}/request`: an affiliate asks to run an offer.
pub async fn request_access(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PanelForm { user, .. }: PanelForm,
) -> Page {
    let id = offer_id(&user, &state, &id)?;
    offers::request_access(&state.config, &user.caller, id).await.map_err(|e| user.fail(&state, e))?;
    state.configuration_changed().await;
    Ok(redirect(&format!("/panel/offers/{id}?done=requested")))
}
