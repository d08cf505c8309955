//! API keys: created by admins for any user, or by a person in the panel for themselves;
//! listed and revoked by their owners too.

use chrono::Utc;
use clicktrail_domain::key::{self, ApiKey, Scope, Tier};
use clicktrail_domain::text::Name;
use clicktrail_domain::user::{Role, User};
use clicktrail_store::{Config, Page, Query};
use serde::{Deserialize, Serialize};

use super::{ListMeta, ListRequest, parse_spec, require_ref};
use crate::engine::access::Caller;
use crate::error::{Error, ErrorKind, Result};
use crate::random;

/// Body of a key creation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// The user the key acts as.
    pub user_id: i64,
    /// Scopes; `admin` only for admin users.
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Rate-limit tier.
    #[serde(default)]
    pub tier: Tier,
    /// A label.
    #[serde(default)]
    pub name: Option<Name>,
}

/// Body of a key change.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPatch {
    /// New scopes.
    #[serde(default)]
    #[schema(min_items = 1)]
    pub scopes: Option<Vec<Scope>>,
    /// New tier.
    #[serde(default)]
    pub tier: Option<Tier>,
    /// New label.
    #[serde(default)]
    pub name: Option<Name>,
}

/// A key as shown: never its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Numeric id.
    pub id: i64,
    /// The user it acts as.
    pub user_id: i64,
    /// Label.
    pub name: Option<String>,
    /// The first characters of the secret.
    pub prefix: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// Tier.
    pub tier: Tier,
    /// `active` or `revoked`.
    pub status: &'static str,
    /// Creation time.
    pub created_at: chrono::DateTime<Utc>,
    /// Revocation time.
    pub revoked_at: Option<chrono::DateTime<Utc>>,
    /// Last use (to the minute).
    pub last_used_at: Option<chrono::DateTime<Utc>>,
    /// The secret: present only in the answer to a creation, and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl KeyView {
    /// The view of a stored key.
    pub fn of(k: &ApiKey) -> Self {
        Self {
            id: k.id,
            user_id: k.user_id,
            name: k.name.as_ref().map(ToString::to_string),
            prefix: k.prefix.clone(),
            scopes: k.scopes.clone(),
            tier: k.tier,
            status: if k.is_active() { "active" } else { "revoked" },
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            key: None,
        }
    }
}

fn check_scopes(scopes: &mut Vec<Scope>, owner: &User) -> Result<()> {
    if scopes.is_empty() {
        return Err(Error::invalid("scopes", "must name at least one scope"));
    }
    scopes.sort();
    scopes.dedup();
    if scopes.contains(&Scope::Admin) && owner.role != Role::Admin {
        return Err(Error::invalid("scopes", "'admin' is for admin users only"));
    }
    Ok(())
}

/// Stores a key for `owner` with the given secret (generated, or an operator's own).
pub async fn issue(
    config: &Config,
    owner: &User,
    secret: &str,
    mut scopes: Vec<Scope>,
    tier: Tier,
    name: Option<Name>,
) -> Result<ApiKey> {
    check_scopes(&mut scopes, owner)?;
    let now = Utc::now();
    let key = ApiKey {
        id: 0,
        user_id: owner.id,
        name,
        prefix: key::display_prefix(secret),
        secret_hash: key::hash_secret(secret),
        scopes,
        tier,
        created_at: now,
        updated_at: now,
        revoked_at: None,
        last_used_at: None,
    };
    Ok(config.insert(key).await?)
}

/// A new random secret.
pub fn generate_secret() -> String {
    key::secret_from_random(random::bytes())
}

/// Creates a key (admins only); the view carries the secret, once.
pub async fn create(config: &Config, caller: &Caller, body: serde_json::Value) -> Result<KeyView> {
    caller.require_admin()?;
    let new: NewKey = parse_spec(body)?;
    let owner = require_ref::<User>(config, "user_id", "user", new.user_id, |_| true).await?;
    let secret = generate_secret();
    let stored = issue(config, &owner, &secret, new.scopes, new.tier, new.name).await?;
    Ok(KeyView { key: Some(secret), ..KeyView::of(&stored) })
}

/// A key a person logged in to the panel makes for themselves, with scopes their role may
/// hold (`access::role_scopes`). Only a session may: a key never mints keys, so a leaked one
/// cannot multiply itself.
pub async fn create_own(config: &Config, caller: &Caller, scopes: Vec<Scope>, name: Option<Name>) -> Result<KeyView> {
    if !matches!(caller.grant, crate::engine::access::Grant::Session { .. }) {
        return Err(Error::forbidden("Keys for yourself are made in the panel."));
    }
    let allowed = crate::engine::access::role_scopes(caller.role());
    if let Some(s) = scopes.iter().find(|s| !key::grants(allowed, **s)) {
        return Err(Error::invalid("scopes", format!("'{}' is not a scope your account may hold", s.as_str())));
    }
    let secret = generate_secret();
    let stored = issue(config, &caller.user, &secret, scopes, Tier::Standard, name).await?;
    Ok(KeyView { key: Some(secret), ..KeyView::of(&stored) })
}

/// Reads a key: admins any, others their own.
pub async fn get(config: &Config, caller: &Caller, id: i64) -> Result<ApiKey> {
    match config.get::<ApiKey>(id).await? {
        Some(k) if caller.is_admin() || k.user_id == caller.user.id => Ok(k),
        _ => Err(Error::not_found("API key", id)),
    }
}

/// Lists keys: admins all (optionally one user's), others their own.
pub async fn list(config: &Config, caller: &Caller, mut request: ListRequest) -> Result<(Vec<ApiKey>, ListMeta)> {
    if !caller.is_admin() {
        super::narrow_to_owner(&mut request.query, caller.user.id);
    }
    let per_page = request.per_page.max(1);
    let page = request.page.max(1);
    let query = Query { offset: (page - 1).saturating_mul(per_page), limit: Some(per_page), ..request.query };
    let found: Page<ApiKey> = config.list(&query).await?;
    Ok((found.items, ListMeta { total: found.total, page, per_page }))
}

/// Changes a key's scopes, tier or label (admins only).
pub async fn update(config: &Config, caller: &Caller, id: i64, body: serde_json::Value) -> Result<ApiKey> {
    caller.require_admin()?;
    let patch: KeyPatch = parse_spec(body)?;
    let mut k = get(config, caller, id).await?;
    if let Some(mut scopes) = patch.scopes {
        let owner = require_ref::<User>(config, "user_id", "user", k.user_id, |_| true).await?;
        check_scopes(&mut scopes, &owner)?;
        let before = k.clone();
        k.scopes = scopes;
        keep_a_way_in(config, caller, &before, &k).await?;
    }
    if let Some(tier) = patch.tier {
        k.tier = tier;
    }
    if let Some(name) = patch.name {
        k.name = Some(name);
    }
    k.updated_at = Utc::now();
    config.update(&k).await?;
    Ok(k)
}

/// Whether a key lets an admin in: active, with the `admin` scope, of an admin who may read.
async fn opens_the_network(config: &Config, k: &ApiKey) -> Result<bool> {
    if !k.is_active_admin() {
        return Ok(false);
    }
    let owner: Option<User> = config.get(k.user_id).await?;
    Ok(owner.is_some_and(|u| u.role == Role::Admin && u.spec.status.may_read()))
}

/// Refuses a change to key `id` that would lock the operator out: the request's own key may
/// not revoke itself or drop its `admin` scope, and the last key that opens the network stays.
/// (Offline commands act without a key and can always make a new one.)
async fn keep_a_way_in(config: &Config, caller: &Caller, before: &ApiKey, after: &ApiKey) -> Result<()> {
    let opens_before = opens_the_network(config, before).await?;
    if !opens_before || opens_the_network(config, after).await? {
        return Ok(());
    }
    if caller.key().is_some_and(|k| k.id == before.id) {
        return Err(Error::new(
            ErrorKind::Conflict,
            "This is the key making the request: it cannot revoke itself or drop its admin scope.",
        ));
    }
    let keys: Page<ApiKey> = config.list(&Query::default()).await?;
    for other in keys.items.iter().filter(|k| k.id != before.id) {
        if opens_the_network(config, other).await? {
            return Ok(());
        }
    }
    Err(Error::new(
        ErrorKind::Conflict,
        "This is the last active admin key: create another admin key first, or the network has no way in.",
    ))
}

/// Revokes a key: admins any, others their own. Revoking twice is harmless.
pub async fn revoke(config: &Config, caller: &Caller, id: i64) -> Result<ApiKey> {
    let mut k = get(config, caller, id).await?;
    if k.revoked_at.is_none() {
        let mut revoked = k.clone();
        revoked.revoked_at = Some(Utc::now());
        keep_a_way_in(config, caller, &k, &revoked).await?;
        let now = Utc::now();
        k.revoked_at = Some(now);
        k.updated_at = now;
        config.update(&k).await?;
    }
    Ok(k)
}
