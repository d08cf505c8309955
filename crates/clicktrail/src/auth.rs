//! Who is calling: API keys resolved to a user, and the checks every route makes.

use chrono::Utc;
use clicktrail_domain::key::{ApiKey, Scope, hash_secret};
use clicktrail_domain::user::{Role, User};
use clicktrail_store::Config;
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorKind, Result};

/// An authenticated caller: a live key and the user it acts as.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The key used.
    pub key: ApiKey,
}

/// The message for an unknown or revoked key (seed 004's wording).
pub const INVALID_KEY: &str = "The provided API key is invalid or has been revoked.";

/// How often a key's last-used time is written, at most.
const LAST_USED_PRECISION_SECS: i64 = 60;

/// Resolves a presented secret to its caller.
///
/// The key is found by the SHA-256 of the secret, then the stored hash is compared again in
/// constant time, so the lookup's timing says nothing about how close a guess was.
pub async fn authenticate(config: &Config, secret: &str) -> Result<Caller> {
    let secret = secret.trim();
    if secret.is_empty() || secret.len() > 512 {
        return Err(Error::new(ErrorKind::Unauthenticated, INVALID_KEY));
    }
    let hash = hash_secret(secret);
    let key: ApiKey = config.find(&hash).await?.ok_or_else(|| Error::new(ErrorKind::Unauthenticated, INVALID_KEY))?;
    if !bool::from(key.secret_hash.as_bytes().ct_eq(hash.as_bytes())) || !key.is_active() {
        return Err(Error::new(ErrorKind::Unauthenticated, INVALID_KEY));
    }
    let user: User =
        config.get(key.user_id).await?.ok_or_else(|| Error::new(ErrorKind::Unauthenticated, INVALID_KEY))?;
    if !user.spec.status.may_read() {
        return Err(Error::forbidden(format!(
            "Your account is {}; ask the network to reactivate it.",
            user.spec.status.as_str()
        )));
    }
    touch(config, &key);
    Ok(Caller { user, key })
}

/// Records that a key was used, at most once a minute and off the request.
fn touch(config: &Config, key: &ApiKey) {
    let now = Utc::now();
    if key.last_used_at.is_some_and(|t| (now - t).num_seconds() < LAST_USED_PRECISION_SECS) {
        return;
    }
    let config = config.clone();
    let mut key = key.clone();
    tokio::spawn(async move {
        key.last_used_at = Some(now);
        if let Err(e) = config.update(&key).await {
            tracing::warn!(key_id = key.id, error = %e, "could not record key use");
        }
    });
}

impl Caller {
    /// The caller's role.
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Whether the caller is network staff with the `admin` scope.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin && self.key.grants(Scope::Admin)
    }

    /// Whether the caller's user is an admin (whatever the key's scopes).
    pub fn is_admin_user(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Fails unless the key grants `scope`.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.key.grants(scope) {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::MissingScope, format!("This API key lacks the '{}' scope.", scope.as_str())))
        }
    }

    /// Fails unless the caller is an admin with the `admin` scope.
    pub fn require_admin(&self) -> Result<()> {
        if self.user.role != Role::Admin {
            return Err(Error::forbidden("Only network admins may do this."));
        }
        self.require(Scope::Admin)
    }

    /// The caller's id when it is an affiliate.
    pub fn affiliate_id(&self) -> Option<i64> {
        (self.user.role == Role::Affiliate).then_some(self.user.id)
    }

    /// The caller's id when it is an advertiser.
    pub fn advertiser_id(&self) -> Option<i64> {
        (self.user.role == Role::Advertiser).then_some(self.user.id)
    }
}
