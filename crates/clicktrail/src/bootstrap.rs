//! First start and every start: the network record, the admin user, the operator's admin key.

use anyhow::{Context, bail};
use chrono::Utc;
use clicktrail_domain::geo::TimeZone;
use clicktrail_domain::key::{self, ApiKey, Scope, Tier};
use clicktrail_domain::macros::HttpUrl;
use clicktrail_domain::money::Currency;
use clicktrail_domain::network::NetworkSettings;
use clicktrail_domain::text::{Email, Name};
use clicktrail_domain::user::{Credential, Role, User, UserSpec, UserStatus};
use clicktrail_store::{Config, Page, Query};

use crate::engine::access::Caller;
use crate::engine::access::session;
use crate::engine::manage::keys;
use crate::settings::Settings;

/// What set-up did.
#[derive(Debug, Default)]
pub struct Bootstrap {
    /// Whether this start created the network (a fresh data directory).
    pub created_network: bool,
    /// The admin user.
    pub admin_user_id: i64,
    /// A generated admin key, to be shown once: set only on the first start without
    /// `CLICKTRAIL_ADMIN_KEY`.
    pub generated_admin_key: Option<String>,
    /// The admin's panel login (e-mail), when this start gave the admin a password.
    pub admin_email: Option<String>,
    /// A generated panel password for the admin, to be shown once: set only on the first
    /// start without `CLICKTRAIL_ADMIN_PASSWORD`.
    pub generated_admin_password: Option<String>,
}

/// Applies the settings that override the stored network (those set in file or environment).
fn apply_settings(network: &mut NetworkSettings, settings: &Settings) -> anyhow::Result<()> {
    let bad = |name: &str, e: clicktrail_domain::ValidationError| anyhow::anyhow!("setting {name}: {}", e.message);
    if let Some(tz) = &settings.timezone {
        network.timezone = TimeZone::parse(tz).map_err(|e| bad("timezone (CLICKTRAIL_TIMEZONE)", e))?;
    }
    if let Some(c) = &settings.currency {
        network.currency = Currency::parse(c).map_err(|e| bad("currency", e))?;
    }
    if let Some(u) = &settings.tracking_base_url {
        network.tracking_base_url = Some(HttpUrl::parse(u).map_err(|e| bad("tracking_base_url", e))?);
    }
    if let Some(u) = &settings.fallback_url {
        network.fallback_url = Some(HttpUrl::parse(u).map_err(|e| bad("fallback_url", e))?);
    }
    Ok(())
}

/// The first admin user, if any.
pub async fn first_admin(config: &Config) -> anyhow::Result<Option<User>> {
    let admins: Page<User> =
        config.list(&Query { role: Some(Role::Admin.as_str().into()), limit: Some(1), ..Query::default() }).await?;
    Ok(admins.items.into_iter().next())
}

/// Whether the admin user holds an active admin key. A first start that stopped between
/// creating the admin and its key (or a data directory whose keys were removed by hand) gets a
/// new generated key on the next start instead of a network nobody can reach.
async fn has_active_admin_key(config: &Config, admin: &User) -> anyhow::Result<bool> {
    let keys: Page<ApiKey> = config.list(&Query { owner_id: Some(admin.id), ..Query::default() }).await?;
    Ok(keys.items.iter().any(ApiKey::is_active_admin))
}

/// Runs set-up: idempotent, safe on every start. Callers check the settings
/// ([`Settings::validate`], the admin key among them) before they open the store, so a start
/// refused for a bad setting leaves the data directory as it was.
pub async fn run(config: &Config, settings: &Settings) -> anyhow::Result<Bootstrap> {
    let mut out = Bootstrap::default();
    let stored = config.network().await?;
    out.created_network = stored.is_none();
    let mut network = match stored {
        Some(n) => n,
        None => {
            let name = Name::parse(&settings.network_name)
                .map_err(|e| anyhow::anyhow!("setting network_name: {}", e.message))?;
            NetworkSettings::new(name)
        }
    };
    let before = network.clone();
    apply_settings(&mut network, settings)?;
    if out.created_network || network != before {
        config.put_network(&network).await.context("cannot save the network settings")?;
    }

    let (admin, created_admin) = match first_admin(config).await? {
        Some(admin) => (admin, false),
        None => {
            let now = Utc::now();
            let spec = UserSpec {
                name: Name::parse("Administrator").map_err(|e| anyhow::anyhow!(e.message))?,
                email: Some(admin_email(settings)?),
                status: UserStatus::Active,
                affiliate_group_id: None,
                timezone: None,
            };
            let user = config
                .insert(User {
                    id: 0,
                    role: Role::Admin,
                    spec,
                    postback_secret: None,
                    created_at: now,
                    updated_at: now,
                })
                .await?;
            tracing::info!(user_id = user.id, "created the admin user");
            (user, true)
        }
    };
    out.admin_user_id = admin.id;
    admin_login(config, settings, &admin, created_admin, &mut out).await?;

    match &settings.admin_key {
        Some(secret) => {
            let secret = secret.expose();
            match config.find::<ApiKey>(&key::hash_secret(secret)).await? {
                None => {
                    let name = Name::parse("CLICKTRAIL_ADMIN_KEY").ok();
                    let k = keys::issue(config, &admin, secret, vec![Scope::Admin], Tier::Premium, name).await?;
                    tracing::info!(key_id = k.id, "registered CLICKTRAIL_ADMIN_KEY as an admin key");
                }
                Some(k) if k.revoked_at.is_some() => {
                    tracing::warn!(key_id = k.id, "CLICKTRAIL_ADMIN_KEY was revoked and stays revoked");
                }
                Some(k) => {
                    let owner: Option<User> = config.get(k.user_id).await?;
                    if owner.is_none_or(|u| u.role != Role::Admin) {
                        bail!("CLICKTRAIL_ADMIN_KEY is already the key of a non-admin user; choose another value");
                    }
                }
            }
        }
        None if created_admin || !has_active_admin_key(config, &admin).await? => {
            let secret = keys::generate_secret();
            let name = Name::parse("generated at first start").ok();
            keys::issue(config, &admin, &secret, vec![Scope::Admin], Tier::Premium, name).await?;
            out.generated_admin_key = Some(secret);
        }
        None => {}
    }
    Ok(out)
}

fn admin_email(settings: &Settings) -> anyhow::Result<Email> {
    Email::parse(&settings.admin_email)
        .map_err(|e| anyhow::anyhow!("setting admin_email (CLICKTRAIL_ADMIN_EMAIL): {}", e.message))
}

/// The admin's panel login: on a fresh network its e-mail and password come from
/// `CLICKTRAIL_ADMIN_EMAIL` / `CLICKTRAIL_ADMIN_PASSWORD` (a password is generated and shown
/// once when none is set). An admin from before the panel, without a password, gets the same
/// on the next start; a password already set is never replaced here (the panel or
/// `clicktrail users set-password` change it).
async fn admin_login(
    config: &Config,
    settings: &Settings,
    admin: &User,
    created_admin: bool,
    out: &mut Bootstrap,
) -> anyhow::Result<()> {
    if !created_admin && config.credential(admin.id).await?.is_some() {
        return Ok(());
    }
    let mut admin = admin.clone();
    if admin.spec.email.is_none() {
        let email = admin_email(settings)?;
        if config.find::<User>(email.as_str()).await?.is_none() {
            admin.spec.email = Some(email);
            config.update(&admin).await?;
        }
    }
    let Some(email) = admin.spec.email.clone() else { return Ok(()) };
    let password = match &settings.admin_password {
        Some(p) => {
            session::check_new_password(p.expose())
                .map_err(|e| anyhow::anyhow!("setting admin_password (CLICKTRAIL_ADMIN_PASSWORD): {}", e.message))?;
            p.expose().to_owned()
        }
        None => {
            let generated = hex::encode(crate::random::bytes::<9>());
            out.generated_admin_password = Some(generated.clone());
            generated
        }
    };
    let password_hash = session::hash_password(&password).map_err(|e| anyhow::anyhow!(e.message))?;
    config.put_credential(admin.id, &Credential { password_hash }).await?;
    out.admin_email = Some(email.to_string());
    Ok(())
}

/// A caller with the operator's full rights, for the command line (which already has the
/// data directory, so it can do anything anyway).
pub fn operator(admin: User) -> Caller {
    Caller::operator(admin)
}
