//! Affiliates and advertisers (admins): lists with a create form, and each user's page to
//! change its details, status and panel password.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use clicktrail_domain::user::{Role, User};
use serde_json::{Map, Value};

use super::form::Fields;
use super::view::{Frame, notice};
use super::{Page, PanelError, PanelForm, PanelUser, html, redirect};
use crate::app::AppState;
use crate::engine::manage::users::{Advertiser, Affiliate, AnyUser};
use crate::engine::manage::{self, ListRequest, Query, Resource};
use crate::error::{Error, ErrorKind};
use crate::transport::extract::Params;

/// A row of a user list.
pub struct UserRow {
    id: i64,
    name: String,
    email: String,
    status: String,
    created: String,
}

/// The create form's values and errors.
#[derive(Default)]
pub struct UserForm {
    name: String,
    email: String,
    status: String,
    timezone: String,
    error_field: Option<String>,
    error: Option<String>,
}

impl UserForm {
    /// The error of a field, if it is that one.
    pub fn e(&self, field: &str) -> Option<&str> {
        (self.error_field.as_deref() == Some(field)).then_some(self.error.as_deref()).flatten()
    }

    fn of(fields: &Fields) -> Self {
        Self {
            name: fields.get("name").unwrap_or("").to_owned(),
            email: fields.get("email").unwrap_or("").to_owned(),
            status: fields.get("status").unwrap_or("active").to_owned(),
            timezone: fields.get("timezone").unwrap_or("").to_owned(),
            ..Self::default()
        }
    }

    fn body(&self) -> Value {
        let mut map = Map::new();
        let text = |v: &str| if v.is_empty() { Value::Null } else { Value::String(v.to_owned()) };
        map.insert("name".into(), text(&self.name));
        map.insert("email".into(), text(&self.email));
        map.insert("status".into(), text(&self.status));
        map.insert("timezone".into(), text(&self.timezone));
        Value::Object(map)
    }

    fn failed(mut self, e: &Error) -> Self {
        self.error_field = Some(e.field.clone().unwrap_or_else(|| "name".into()));
        self.error = Some(e.message.split_once(": ").map_or(e.message.as_str(), |(_, m)| m).to_owned());
        self
    }
}

/// The form's body for the engine, and its password taken out and checked as the API does.
fn body_and_password<R: Resource>(values: &UserForm, fields: &Fields) -> Result<(Value, Option<String>), Error> {
    let mut body = values.body();
    if let (Some(p), Some(map)) = (fields.raw("password").filter(|p| !p.is_empty()), body.as_object_mut()) {
        map.insert("password".into(), Value::String(p.to_owned()));
    }
    let password = manage::take_password::<R>(&mut body)?;
    Ok((body, password))
}

#[derive(Template)]
#[template(path = "panel/users.html")]
struct ListPage {
    frame: Frame,
    kind: &'static str,
    path: &'static str,
    rows: Vec<UserRow>,
    form: UserForm,
    q: String,
    page: u64,
    pages: u64,
    total: u64,
    query: String,
}

const PER_PAGE: u64 = 50;

fn rows(users: &[User]) -> Vec<UserRow> {
    users
        .iter()
        .map(|u| UserRow {
            id: u.id,
            name: u.spec.name.to_string(),
            email: u.spec.email.as_ref().map(ToString::to_string).unwrap_or_default(),
            status: u.spec.status.as_str().to_owned(),
            created: u.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect()
}

async fn list_page<R: Resource>(
    state: &AppState,
    user: &PanelUser,
    params: &Params,
    kind: &'static str,
    path: &'static str,
    form: UserForm,
    unwrap: fn(R) -> User,
) -> Result<ListPage, PanelError> {
    user.require(state, &[Role::Admin])?;
    let q = params.get("q").unwrap_or("").to_owned();
    let query = Query { name_contains: (!q.is_empty()).then(|| q.clone()), ..Query::default() };
    let page = params.get("page").and_then(|p| p.parse::<u64>().ok()).unwrap_or(1).max(1);
    let request = ListRequest { query, page, per_page: PER_PAGE };
    let (items, meta) =
        manage::list::<R>(&state.config, &user.caller, request).await.map_err(|e| user.fail(state, e))?;
    let users: Vec<User> = items.into_iter().map(unwrap).collect();
    let title = if kind == "affiliate" { "Affiliates" } else { "Advertisers" };
    let frame = user.frame(state, title, if kind == "affiliate" { "affiliates" } else { "advertisers" });
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("q", &q).finish();
    Ok(ListPage {
        frame: frame.notice(notice(params.get("done"))),
        kind,
        path,
        rows: rows(&users),
        form,
        q,
        page: meta.page,
        pages: meta.total.div_ceil(PER_PAGE).max(1),
        total: meta.total,
        query,
    })
}

/// `GET /panel/affiliates`.
pub async fn affiliates(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let page =
        list_page::<Affiliate>(&state, &user, &params, "affiliate", "/panel/affiliates", UserForm::default(), |a| a.0)
            .await?;
    Ok(html(page.render()))
}

/// `GET /panel/advertisers`.
pub async fn advertisers(State(state): State<AppState>, user: PanelUser, params: Params) -> Page {
    let page =
        list_page::<Advertiser>(&state, &user, &params, "advertiser", "/panel/advertisers", UserForm::default(), |a| {
            a.0
        })
        .await?;
    Ok(html(page.render()))
}

async fn create<R: Resource>(
    state: AppState,
    form: PanelForm,
    kind: &'static str,
    path: &'static str,
    id_of: fn(&R) -> i64,
    unwrap: fn(R) -> User,
) -> Page {
    let PanelForm { user, fields } = form;
    user.require(&state, &[Role::Admin])?;
    let values = UserForm::of(&fields);
    let (result, password) = match body_and_password::<R>(&values, &fields) {
        Ok((body, password)) => (manage::create::<R>(&state.config, &user.caller, body).await, password),
        Err(e) => (Err(e), None),
    };
    match result {
        Ok(record) => {
            let id = id_of(&record);
            if let Some(p) = &password {
                state.sessions.set_password(id, p).await.map_err(|e| user.fail(&state, e))?;
            }
            state.configuration_changed().await;
            Ok(redirect(&format!("/panel/users/{id}?done=created")))
        }
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            let form = values.failed(&e);
            let params = Params(Default::default());
            let page = list_page::<R>(&state, &user, &params, kind, path, form, unwrap).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
        }
        Err(e) => Err(user.fail(&state, e)),
    }
}

/// `POST /panel/affiliates`: a new affiliate.
pub async fn create_affiliate(State(state): State<AppState>, form: PanelForm) -> Page {
    create::<Affiliate>(state, form, "affiliate", "/panel/affiliates", |a| a.0.id, |a| a.0).await
}

/// `POST /panel/advertisers`: a new advertiser.
pub async fn create_advertiser(State(state): State<AppState>, form: PanelForm) -> Page {
    create::<Advertiser>(state, form, "advertiser", "/panel/advertisers", |a| a.0.id, |a| a.0).await
}

#[derive(Template)]
#[template(path = "panel/user.html")]
struct UserPage {
    frame: Frame,
    id: i64,
    role: &'static str,
    form: UserForm,
    postback_secret: Option<String>,
}

fn user_id(user: &PanelUser, state: &AppState, raw: &str) -> Result<i64, PanelError> {
    raw.parse::<i64>().map_err(|_| user.fail(state, Error::not_found("user", raw)))
}

/// `GET /panel/users/{id}` (admins).
pub async fn show(State(state): State<AppState>, user: PanelUser, Path(id): Path<String>, params: Params) -> Page {
    user.require(&state, &[Role::Admin])?;
    let id = user_id(&user, &state, &id)?;
    let AnyUser(found) =
        manage::get::<AnyUser>(&state.config, &user.caller, id).await.map_err(|e| user.fail(&state, e))?;
    let form = UserForm {
        name: found.spec.name.to_string(),
        email: found.spec.email.as_ref().map(ToString::to_string).unwrap_or_default(),
        status: found.spec.status.as_str().to_owned(),
        timezone: found.spec.timezone.map(|t| t.to_string()).unwrap_or_default(),
        ..UserForm::default()
    };
    let frame = user.frame(&state, found.spec.name.to_string(), section(found.role)).notice(notice(params.get("done")));
    Ok(html(UserPage { frame, id, role: found.role.as_str(), form, postback_secret: found.postback_secret }.render()))
}

fn section(role: Role) -> &'static str {
    match role {
        Role::Affiliate => "affiliates",
        Role::Advertiser => "advertisers",
        Role::Admin => "",
    }
}

/// `POST /panel/users/{id}`: details, status and (when given) a new password, which ends the
/// user's sessions.
pub async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PanelForm { user, fields }: PanelForm,
) -> Page {
    user.require(&state, &[Role::Admin])?;
    let id = user_id(&user, &state, &id)?;
    let values = UserForm::of(&fields);
    let (result, password) = match body_and_password::<AnyUser>(&values, &fields) {
        Ok((body, password)) => (manage::update::<AnyUser>(&state.config, &user.caller, id, body).await, password),
        Err(e) => (Err(e), None),
    };
    match result {
        Ok(AnyUser(updated)) => {
            if let Some(p) = &password {
                state.sessions.set_password(id, p).await.map_err(|e| user.fail(&state, e))?;
            }
            if !updated.spec.status.may_read() {
                state.sessions.end_all(id).await.map_err(|e| user.fail(&state, e))?;
            }
            state.configuration_changed().await;
            Ok(redirect(&format!("/panel/users/{id}?done=saved")))
        }
        Err(e) if matches!(e.kind, ErrorKind::Invalid | ErrorKind::Conflict) => {
            let AnyUser(found) =
                manage::get::<AnyUser>(&state.config, &user.caller, id).await.map_err(|e| user.fail(&state, e))?;
            let frame = user.frame(&state, found.spec.name.to_string(), section(found.role));
            let page = UserPage {
                frame,
                id,
                role: found.role.as_str(),
                form: values.failed(&e),
                postback_secret: found.postback_secret,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html(page.render())).into_response())
        }
        Err(e) => Err(user.fail(&state, e)),
    }
}
