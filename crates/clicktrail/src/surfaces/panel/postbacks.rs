//! Postbacks: an affiliate's own (admins see and set every affiliate's), created from a URL
//! or a tracker preset, paused or resumed, and test-fired with the log of their test
//! deliveries.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clicktrail_domain::postback::Postback;
use clicktrail_domain::user::Role;
use serde_json::{Map, Value};

use super::form::Fields;
use super::view::{Frame, notice};
use super::{Page, PanelError, PanelForm, PanelUser, html, redirect};
use crate::app::AppState;
use crate::engine::manage::{self, ListRequest, Query, postbacks};
use crate::error::{Error, ErrorKind};
use crate::transport::extract::Params;

/// A postback as a row.
pub struct Row {
    id: i64,
    affiliate: String,
    offer: String,
    event: String,
    status: String,
    url: String,
}

/// The create form's values and its error.
#[derive(Default)]
pub struct NewForm {
    url: String,
    preset: String,
    domain: String,
    event: String,
    offer_id: String,
    affiliate_id: String,
    error_field: String,
    error: Option<String>,
}

impl NewForm {
    /// The error of a field, if it is that one.
    pub fn e(&self, field: &str) -> Option<&str> {
        (self.error_field == field).then_some(self.error.as_deref()).flatten()
    }

    fn of(fields: &Fields) -> Self {
        let text = |n: &str| fields.get(n).unwrap_or("").to_owned();
        Self {
            url: text("url"),
            preset: text("preset"),
            domain: text("domain"),
            event: fields.get("event").unwrap_or("conversion").to_owned(),
            offer_id: text("offer_id"),
            affiliate_id: text("affiliate_id"),
            ..Self::default()
        }
    }

    fn body(&self) -> Result<Value, Error> {
        let mut map = Map::new();
        if self.preset.is_empty() {
            map.insert("url".into(), Value::String(self.url.clone()));
        } else {
            map.insert("preset".into(), Value::String(self.preset.clone()));
            map.insert("domain".into(), Value::String(self.domain.clone()));
        }
        map.insert("event".into(), Value::String(self.event.clone()));
        for (name, raw) in [("offer_id", &self.offer_id), ("affiliate_id", &self.affiliate_id)] {
            if !raw.is_empty() {
                let id =
                    raw.parse::<i64>().map_err(|_| Error::invalid(name, format!("'{raw}' is not a numeric id")))?;
                map.insert(name.into(), Value::from(id));
            }
        }
        Ok(Value::Object(map))
    }
}

#[derive(Template)]
#[template(path = "panel/postbacks.html")]
struct ListPage {
    frame: Frame,
    rows: Vec<Row>,
    admin: bool,
    form: NewForm,
}

fn rows(state: &AppState, items: &[Postback]) -> Vec<Row> {
    let snapshot = state.tracker.snapshots().snapshot();
    items
        .iter()
        .map(|p| Row {
            id: p.id,
            affiliate: p
                .spec
                .affiliate_id
                .and_then(|a| snapshot.affiliates.get(&a).map(|u| u.spec.name.to_string()))
                .unwrap_or_default(),
            offer: p.spec.offer_id.map_or_else(
                || "every offer".to_owned(),
                |o| snapshot.offers.get(&o).map_or_else(|| format!("offer {o}"), |x| x.spec.name.to_string()),
            ),
            event: p.spec.event.as_str().to_owned(),
            status: p.spec.status.as_str().to_owned(),
            url: p.spec.url.template().as_str().to_owned(),
        })
        .collect()
}

async fn list_page(
    state: &AppState,
    user: &PanelUser,
    form: NewForm,
    done: Option<&str>,
) -> Result<ListPage, PanelError> {
    user.require(state, &[Role::Admin, Role::Affiliate])?;
    let request = ListRequest { query: Query::default(), page: 1, per_page: 500 };
    let (items, _) =
        manage::list::<Postback>(&state.config, &user.caller, request).await.map_err(|e| user.fail(state, e))?;
    Ok(ListPage {
        frame: user.frame(state, "Postbacks", "postbacks").notice(notice(done)),
        rows: rows(state, &items),
        admin: user.caller.role() == Role::Admin,
        form,
    })
}

/// `GET /panel/postbacks`.
pub async fn list(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let form = NewForm { event: "conversion".into(), ..NewForm::default() };
    Ok(html(list_page(&state, &user, form, params.get("done")).await?.render()))
}

/// `POST /panel/postbacks`: a new postback from a URL, or a tracker preset and its domain.
pub async fn create(State(state): State<AppState>, PanelForm { user, fields }: PanelForm) -> Page {
    let mut form = NewForm::of(&fields);
    let made = match form.body().and_then(postbacks::expand_preset) {
        Ok(body) => manage::create::<Postback>(&state.config, &user.caller, body).await,
        Err(e) => Err(e),
    };
    match made {
        Ok(p) => {
            state.configuration_changed().await;
            Ok(redirect(&format!("/panel/postbacks/{}?done=created", p.id)))
        }
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::NotFound) => {
            form.error_field = e.field.clone().unwrap_or_else(|| "url".into());
            form.error = Some(e.message.split_once(": ").map_or(e.message.as_str(), |(_, m)| m).to_owned());
            let page = list_page(&state, &user, form, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
        }
        Err(e) => Err(user.fail(&state, e)),
    }
}

/// A test delivery, as shown.
pub struct TestRow {
    at: String,
    outcome: String,
    status: String,
    url: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "panel/postback.html")]
struct ShowPage {
    frame: Frame,
    row: Row,
    tests: Vec<TestRow>,
}

fn postback_id(user: &PanelUser, state: &AppState, raw: &str) -> Result<i64, PanelError> {
    raw.parse::<i64>().map_err(|_| user.fail(state, Error::not_found("postback", raw)))
}

/// `GET /panel/postbacks/{id}`: the postback and the log of its test fires.
pub async fn show(State(state): State<AppState>, user: PanelUser, Path(id): Path<String>, params: Params) -> Page {
    let id = postback_id(&user, &state, &id)?;
    let fail = |e| user.fail(&state, e);
    let postback = manage::get::<Postback>(&state.config, &user.caller, id).await.map_err(fail)?;
    let snapshot = state.tracker.snapshots().snapshot();
    let tz = user.caller.zone(snapshot.network.timezone);
    let tests = state
        .conversions
        .test_fires(&user.caller, id)
        .await
        .map_err(fail)?
        .into_iter()
        .rev()
        .map(|a| TestRow {
            at: a.at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
            outcome: a.outcome,
            status: a.status.map_or_else(|| "—".into(), |s| s.to_string()),
            url: a.url,
            detail: a.detail,
        })
        .collect();
    let frame = user.frame(&state, format!("Postback {id}"), "postbacks").notice(notice(params.get("done")));
    let row = rows(&state, std::slice::from_ref(&postback)).remove(0);
    Ok(html(ShowPage { frame, row, tests }.render()))
}

/// `POST /panel/postbacks/{id}`: `action` = `test` (fire it with a sample conversion), `pause`
/// or `resume`.
pub async fn act(State(state): State<AppState>, Path(id): Path<String>, PanelForm { user, fields }: PanelForm) -> Page {
    let id = postback_id(&user, &state, &id)?;
    let fail = |e| user.fail(&state, e);
    let done = match fields.get("action") {
        Some("test") => {
            state.conversions.test_fire(&user.caller, id).await.map_err(fail)?;
            "fired"
        }
        Some(action @ ("pause" | "resume")) => {
            let status = if action == "pause" { "inactive" } else { "active" };
            manage::update::<Postback>(&state.config, &user.caller, id, serde_json::json!({"status": status}))
                .await
                .map_err(fail)?;
            state.configuration_changed().await;
            "saved"
        }
        _ => return Err(fail(Error::invalid("action", "is not test, pause or resume"))),
    };
    Ok(redirect(&format!("/panel/postbacks/{id}?done={done}")))
}
