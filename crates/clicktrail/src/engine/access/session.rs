//! Panel sessions: logging in with an e-mail and a password, the session a login opens (one
//! more kind of [`Grant`]), and what ends it.
//!
//! - A login verifies the password with Argon2 and opens a new session with a new random
//!   secret every time (the id is rotated at login: a secret planted before it is worth
//!   nothing). The store keeps only the SHA-256 of the secret.
//! - Failed logins are counted per account and per client address in the shared counters (so
//!   they follow to Redis when scaled out): after [`ACCOUNT_FAILURES`] failures for one account
//!   within [`THROTTLE_WINDOW`], or [`ADDRESS_FAILURES`] from one address, logins are refused
//!   for [`THROTTLE_WINDOW`] whatever the password.
//! - The answer to a wrong e-mail and a wrong password is the same, and takes as long: an
//!   unknown e-mail is checked against a hash of its own.
//! - A session slides ([`IDLE`]) up to [`LIFETIME`] after login; it ends at logout, and every
//!   session of a user ends when its password changes or the account is closed.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use clicktrail_domain::key::hash_secret;
use clicktrail_domain::text::Email;
use clicktrail_domain::user::{Credential, User};
use clicktrail_store::{Config, SessionRecord, SessionStore, SharedCounters, StoreError};

use super::{Caller, Grant};
use crate::error::{Error, ErrorKind, Result};

/// A session ends this long after its last use…
pub const IDLE: Duration = Duration::hours(12);
/// …and this long after login, whatever its use.
pub const LIFETIME: Duration = Duration::days(7);
/// How often a used session's expiry is moved forward, at most.
const EXTEND_PRECISION: Duration = Duration::minutes(5);
/// Failed logins of one account that lock it…
pub const ACCOUNT_FAILURES: u64 = 10;
/// …and from one address.
pub const ADDRESS_FAILURES: u64 = 50;
/// The window failures are counted in, and how long a lock lasts.
pub const THROTTLE_WINDOW: Duration = Duration::minutes(15);
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest (Argon2 takes any length; a bound keeps a request's work bounded).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The one message for a wrong e-mail or a wrong password.
pub const BAD_LOGIN: &str = "The e-mail address or the password is not right.";

/// Why a login failed.
#[derive(Debug)]
pub enum LoginError {
    /// Wrong e-mail or password (which one is not said).
    Rejected,
    /// Too many failures: refused until this instant.
    Throttled(DateTime<Utc>),
    /// The account may not log in (closed, or without panel access).
    Refused(String),
    /// A store failed.
    Store(Error),
}

impl From<Error> for LoginError {
    fn from(e: Error) -> Self {
        Self::Store(e)
    }
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.into())
    }
}

/// A session just opened: the secret for the cookie (shown once), and the caller it grants.
#[derive(Debug)]
pub struct Opened {
    /// The secret of the cookie.
    pub secret: String,
    /// The logged-in caller.
    pub caller: Caller,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A live session found from its cookie.
#[derive(Debug, Clone)]
pub struct Live {
    /// The caller it grants.
    pub caller: Caller,
    /// Its CSRF token (every form carries it).
    pub csrf: String,
}

/// Sessions and logins.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn SessionStore>,
    config: Config,
    counters: Arc<dyn SharedCounters>,
}

/// A hash an unknown e-mail's password is checked against, so that it takes as long as a
/// known one's.
static DECOY: LazyLock<String> =
    LazyLock::new(|| hash_password("a password nobody has, for timing only").unwrap_or_default());

/// Hashes a password with Argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&crate::random::bytes::<16>())
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot make a salt: {e}")))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::new(ErrorKind::Internal, format!("cannot hash the password: {e}")))
}

/// Checks a new password's length.
pub fn check_new_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(Error::invalid("password", format!("must be at least {MIN_PASSWORD_CHARS} characters")));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(Error::invalid("password", format!("must be at most {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Argon2 is slow on purpose: run it off the async workers.
async fn verify_off_thread(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || verify(&password, &hash)).await.unwrap_or(false)
}

fn account_key(email: &str) -> String {
    format!("login:account:{}", hash_secret(email))
}

fn address_key(ip: IpAddr) -> String {
    format!("login:address:{ip}")
}

/// A fresh secret: 32 random bytes, URL-safe.
fn fresh_token() -> String {
    hex::encode(crate::random::bytes::<32>())
}

impl Sessions {
    /// Sessions over these stores.
    pub fn new(store: Arc<dyn SessionStore>, config: Config, counters: Arc<dyn SharedCounters>) -> Self {
        Self { store, config, counters }
    }

    /// When the throttle refuses this account or address until, if it does.
    async fn locked_until(&self, keys: &[String], now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let mut until = None;
        for key in keys {
            let lock = self.counters.get(&format!("{key}:locked"), now).await?;
            if lock > 0 {
                let at = DateTime::from_timestamp(lock as i64, 0).unwrap_or(now + THROTTLE_WINDOW);
                until = until.max(Some(at));
            }
        }
        Ok(until)
    }

    /// Counts a failure; locks what reached its limit.
    async fn failed(&self, keys: &[(String, u64)], now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        let mut locked = None;
        for (key, limit) in keys {
            let failures = self.counters.add(key, 1, now + THROTTLE_WINDOW).await?;
            if failures >= *limit {
                let until = now + THROTTLE_WINDOW;
                self.counters.seed(&format!("{key}:locked"), until.timestamp() as u64, until).await?;
                locked = Some(until);
            }
        }
        Ok(locked)
    }

    /// Logs in: a new session for the user with this e-mail and password.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> std::result::Result<Opened, LoginError> {
        let email = Email::parse(email).map(String::from).unwrap_or_else(|_| email.trim().to_lowercase());
        let (account, address) = (account_key(&email), address_key(ip));
        if let Some(until) =
            self.locked_until(&[account.clone(), address.clone()], now).await.map_err(LoginError::Store)?
        {
            return Err(LoginError::Throttled(until));
        }
        let password = password.chars().take(MAX_PASSWORD_CHARS + 1).collect::<String>();
        let user: Option<User> = self.config.find(&email).await?;
        let credential = match &user {
            Some(u) => self.config.credential(u.id).await?,
            None => None,
        };
        let hash = credential.as_ref().map_or_else(|| DECOY.clone(), |c| c.password_hash.clone());
        let matches = verify_off_thread(password, hash).await && credential.is_some();
        let (Some(user), true) = (user, matches) else {
            let locked = self
                .failed(&[(account, ACCOUNT_FAILURES), (address, ADDRESS_FAILURES)], now)
                .await
                .map_err(LoginError::Store)?;
            return Err(locked.map_or(LoginError::Rejected, LoginError::Throttled));
        };
        if !user.spec.status.may_read() {
            return Err(LoginError::Refused(format!(
                "This account is {}; ask the network to reactivate it.",
                user.spec.status.as_str()
            )));
        }
        Ok(self.open(user, now).await?)
    }

    /// Opens a new session for a user who proved who they are (a login, or a password change
    /// that ended the user's other sessions).
    pub async fn open(&self, user: User, now: DateTime<Utc>) -> Result<Opened> {
        let secret = fresh_token();
        let id = hash_secret(&secret);
        let csrf = fresh_token();
        let record = SessionRecord { user_id: user.id, csrf: csrf.clone(), created_at: now, expires_at: now + IDLE };
        self.store.create(&id, &record).await?;
        Ok(Opened { secret, caller: Caller { user, grant: Grant::Session { id } }, csrf })
    }

    /// The live session a cookie's secret names, with its user (who must still be allowed in).
    pub async fn resolve(&self, secret: &str, now: DateTime<Utc>) -> Result<Option<Live>> {
        if secret.is_empty() || secret.len() > 128 {
            return Ok(None);
        }
        let id = hash_secret(secret);
        let Some(record) = self.store.get(&id, now).await? else { return Ok(None) };
        if now - record.created_at >= LIFETIME {
            self.store.delete(&id).await?;
            return Ok(None);
        }
        let Some(user) = self.config.get::<User>(record.user_id).await? else {
            self.store.delete(&id).await?;
            return Ok(None);
        };
        if !user.spec.status.may_read() {
            self.store.delete_user(user.id).await?;
            return Ok(None);
        }
        let next = (now + IDLE).min(record.created_at + LIFETIME);
        if next - record.expires_at >= EXTEND_PRECISION {
            self.store.extend(&id, next).await?;
        }
        Ok(Some(Live { caller: Caller { user, grant: Grant::Session { id } }, csrf: record.csrf }))
    }

    /// Ends the session a cookie's secret names (logout).
    pub async fn logout(&self, secret: &str) -> Result<()> {
        self.store.delete(&hash_secret(secret)).await?;
        Ok(())
    }

    /// Ends every session of a user (its password changed, or it was closed).
    pub async fn end_all(&self, user_id: i64) -> Result<u64> {
        Ok(self.store.delete_user(user_id).await?)
    }

    /// Sets a user's password and ends every session it had.
    pub async fn set_password(&self, user_id: i64, password: &str) -> Result<()> {
        check_new_password(password)?;
        let password_hash = {
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| Error::new(ErrorKind::Internal, format!("hashing failed: {e}")))??
        };
        self.config.put_credential(user_id, &Credential { password_hash }).await?;
        self.end_all(user_id).await?;
        Ok(())
    }

    /// Changes the caller's own password after checking its current one; the caller's
    /// sessions end, so the panel opens a new one for it.
    pub async fn change_password(&self, user_id: i64, current: &str, new: &str) -> Result<()> {
        let hash = self.config.credential(user_id).await?.map(|c| c.password_hash);
        let ok = match hash {
            Some(hash) => verify_off_thread(current.to_owned(), hash).await,
            None => false,
        };
        if !ok {
            return Err(Error::invalid("current_password", "is not right"));
        }
        self.set_password(user_id, new).await
    }

    /// Forgets expired sessions.
    pub async fn purge(&self, now: DateTime<Utc>) -> Result<u64> {
        Ok(self.store.purge(now).await?)
    }
}
