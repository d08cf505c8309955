//! Who is calling and what they may see and do: the one access model every surface asks.
//!
//! A [`Caller`] is a user acting through a [`Grant`]: an API key (scopes and a rate-limit
//! tier), a panel session, or the operator at the command line. Every rule that depends on the
//! caller lives here, once:
//!
//! - may they: [`Caller::require`], [`Caller::require_admin`];
//! - which offers they see and may run: [`Caller::reaches`];
//! - the payout they are shown: [`Caller::payout`];
//! - their report audience: [`Caller::audience`];
//! - what money they see: [`Caller::money_view`] ([`money`]);
//! - how a conversion or click query is narrowed: [`Caller::narrow_conversions`],
//!   [`Caller::narrow_clicks`], [`Caller::sees_conversion`], [`Caller::sees_click`].

pub mod money;
pub mod session;

use chrono::Utc;
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::geo::TimeZone;
use clicktrail_domain::key::{ApiKey, Scope, Tier, hash_secret};
use clicktrail_domain::money::Money;
use clicktrail_domain::offer::{Offer, OfferStatus};
use clicktrail_domain::user::{Role, User};
use clicktrail_store::{ClickQuery, Config, ConversionQuery};
use subtle::ConstantTimeEq;

pub use self::money::MoneyView;
use crate::engine::reports::Audience;
use crate::engine::snapshot::Snapshot;
use crate::error::{Error, ErrorKind, Result};

/// How a caller holds its rights.
#[derive(Debug, Clone)]
pub enum Grant {
    /// An API key: its scopes and tier.
    Key(ApiKey),
    /// A logged-in panel session: every scope the user's role may hold, the standard tier.
    Session {
        /// The session's id (as stored, never the cookie's secret).
        id: String,
    },
    /// The operator at the command line, who holds the data directory and so every right.
    Operator,
}

/// An authenticated caller: a user and the grant it acts through.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// How the user holds its rights here.
    pub grant: Grant,
}

/// The message for an unknown or revoked key (seed 004's wording).
pub const INVALID_KEY: &str = "The provided API key is invalid or has been revoked.";

/// How often a key's last-used time is written, at most.
const LAST_USED_PRECISION_SECS: i64 = 60;

/// The scopes a role may hold (what a session of that role grants).
pub fn role_scopes(role: Role) -> &'static [Scope] {
    match role {
        Role::Admin => &[Scope::Admin],
        Role::Affiliate => &[Scope::ReadOffers, Scope::ReadStats, Scope::ReadConversions, Scope::WritePostback],
        Role::Advertiser => &[Scope::ReadOffers, Scope::ReadStats, Scope::ReadConversions],
    }
}

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
    Ok(Caller { user, grant: Grant::Key(key) })
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

/// How far a caller reaches an offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// May see it (lists, details, reports).
    See,
    /// May send traffic to it (affiliates: public, or approved for it).
    Run,
}

impl Caller {
    /// The operator at the command line, acting as an admin user.
    pub fn operator(admin: User) -> Self {
        Self { user: admin, grant: Grant::Operator }
    }

    /// The caller's role.
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// The key used, when the caller came with one.
    pub fn key(&self) -> Option<&ApiKey> {
        match &self.grant {
            Grant::Key(key) => Some(key),
            Grant::Session { .. } | Grant::Operator => None,
        }
    }

    /// The scopes held.
    pub fn scopes(&self) -> Vec<Scope> {
        match &self.grant {
            Grant::Key(key) => key.scopes.clone(),
            Grant::Session { .. } => role_scopes(self.user.role).to_vec(),
            Grant::Operator => vec![Scope::Admin],
        }
    }

    /// Whether the grant holds `scope` (`admin` holds every scope).
    pub fn grants(&self, scope: Scope) -> bool {
        match &self.grant {
            Grant::Key(key) => key.grants(scope),
            Grant::Session { .. } => clicktrail_domain::key::grants(role_scopes(self.user.role), scope),
            Grant::Operator => true,
        }
    }

    /// The rate-limit tier.
    pub fn tier(&self) -> Tier {
        match &self.grant {
            Grant::Key(key) => key.tier,
            Grant::Session { .. } => Tier::Standard,
            Grant::Operator => Tier::Premium,
        }
    }

    /// What rate limits count against: one key, or one session.
    pub fn limited_as(&self) -> String {
        match &self.grant {
            Grant::Key(key) => key.id.to_string(),
            Grant::Session { id } => format!("session:{id}"),
            Grant::Operator => "operator".to_owned(),
        }
    }

    /// Whether the caller is network staff with the `admin` scope.
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin && self.grants(Scope::Admin)
    }

    /// Whether the caller's user is an admin (whatever the grant's scopes).
    pub fn is_admin_user(&self) -> bool {
        self.user.role == Role::Admin
    }

    /// Fails unless the grant holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.grants(scope) {
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

    /// Fails unless the caller may approve, reject or re-open conversions: admins with the
    /// `admin` scope, and advertisers (for the conversions of their offers, which are all they
    /// can reach).
    pub fn require_reviewer(&self) -> Result<()> {
        match self.user.role {
            Role::Admin => self.require_admin(),
            Role::Advertiser => self.require(Scope::ReadConversions),
            Role::Affiliate => Err(Error::forbidden("Affiliates cannot change conversions.")),
        }
    }

    /// The caller's id when it is an affiliate.
    pub fn affiliate_id(&self) -> Option<i64> {
        (self.user.role == Role::Affiliate).then_some(self.user.id)
    }

    /// The caller's id when it is an advertiser.
    pub fn advertiser_id(&self) -> Option<i64> {
        (self.user.role == Role::Advertiser).then_some(self.user.id)
    }

    /// Whether the caller reaches an offer: admins every one, advertisers their own, affiliates
    /// those not archived that are visible to them (to see) or open to them (to run).
    pub fn reaches(&self, offer: &Offer, reach: Reach) -> bool {
        match self.user.role {
            Role::Admin => true,
            Role::Advertiser => offer.spec.advertiser_id == Some(self.user.id),
            Role::Affiliate => {
                offer.spec.status != OfferStatus::Archived
                    && match reach {
                        Reach::See => offer.spec.visible_to(self.user.id),
                        Reach::Run => offer.spec.runnable_by(self.user.id),
                    }
            }
        }
    }

    /// The offers the caller reaches, by id.
    pub fn offers<'s>(&self, snapshot: &'s Snapshot, reach: Reach) -> Vec<&'s Offer> {
        let mut list: Vec<&Offer> =
            snapshot.offers.values().map(AsRef::as_ref).filter(|o| self.reaches(o, reach)).collect();
        list.sort_by_key(|o| o.id);
        list
    }

    /// The payout the caller is shown for an offer: an affiliate's own terms, else the offer's.
    pub fn payout(&self, offer: &Offer) -> Money {
        self.affiliate_id().map_or(offer.spec.payout, |me| offer.spec.payout_for(me))
    }

    /// Whose traffic a report for this caller covers.
    pub fn audience(&self) -> Audience {
        match self.user.role {
            Role::Admin => Audience::Network,
            Role::Affiliate => Audience::Affiliate(self.user.id),
            Role::Advertiser => Audience::Advertiser(self.user.id),
        }
    }

    /// The zone the caller's dates are in: its own, else the network's.
    pub fn zone(&self, network: TimeZone) -> chrono_tz::Tz {
        self.user.spec.timezone.unwrap_or(network).tz()
    }

    /// What money the caller sees.
    pub fn money_view(&self) -> MoneyView {
        MoneyView::of(self.user.role)
    }

    /// Narrows a conversion query to what the caller may see: an affiliate its own (asking
    /// for another affiliate's finds nothing), an advertiser its offers'.
    pub fn narrow_conversions(&self, query: &mut ConversionQuery, snapshot: &Snapshot) {
        match self.user.role {
            Role::Admin => {}
            Role::Affiliate => {
                if query.affiliate_id.is_some_and(|a| a != self.user.id) {
                    query.offer_ids = Some(Vec::new());
                }
                query.affiliate_id = Some(self.user.id);
            }
            Role::Advertiser => query.offer_ids = Some(advertiser_offers(snapshot, self.user.id)),
        }
    }

    /// Whether the caller may see a conversion.
    pub fn sees_conversion(&self, conversion: &Conversion, snapshot: &Snapshot) -> bool {
        self.owns_traffic(conversion.offer_id, conversion.affiliate_id, snapshot)
    }

    /// Narrows a raw-click query to what the caller may see: an affiliate its own clicks, an
    /// advertiser its offers'.
    pub fn narrow_clicks(&self, query: &mut ClickQuery, snapshot: &Snapshot) {
        match self.user.role {
            Role::Admin => {}
            Role::Affiliate => query.affiliates = Some(vec![self.user.id]),
            Role::Advertiser => query.offers = Some(advertiser_offers(snapshot, self.user.id)),
        }
    }

    /// Whether the caller may see a click of this offer and affiliate.
    pub fn sees_click(&self, offer_id: i64, affiliate_id: i64, snapshot: &Snapshot) -> bool {
        self.owns_traffic(offer_id, affiliate_id, snapshot)
    }

    fn owns_traffic(&self, offer_id: i64, affiliate_id: i64, snapshot: &Snapshot) -> bool {
        match self.user.role {
            Role::Admin => true,
            Role::Affiliate => affiliate_id == self.user.id,
            Role::Advertiser => {
                snapshot.offers.get(&offer_id).is_some_and(|o| o.spec.advertiser_id == Some(self.user.id))
            }
        }
    }
}

/// The ids of an advertiser's offers.
fn advertiser_offers(snapshot: &Snapshot, advertiser_id: i64) -> Vec<i64> {
    let mut ids: Vec<i64> =
        snapshot.offers.values().filter(|o| o.spec.advertiser_id == Some(advertiser_id)).map(|o| o.id).collect();
    ids.sort_unstable();
    ids
}

#[cfg(test)]
mod tests {
    use clicktrail_domain::user::UserSpec;

    use super::*;

    fn user(role: Role) -> User {
        let now = Utc::now();
        let spec: UserSpec = serde_json::from_value(serde_json::json!({"name": "U"})).expect("a minimal user spec");
        User { id: 7, role, spec, postback_secret: None, created_at: now, updated_at: now }
    }

    #[test]
    fn a_session_grants_what_its_role_may_hold() {
        let affiliate = Caller { user: user(Role::Affiliate), grant: Grant::Session { id: "s".into() } };
        assert!(affiliate.require(Scope::ReadStats).is_ok());
        assert!(affiliate.require(Scope::Admin).is_err());
        assert!(affiliate.require_admin().is_err());
        assert_eq!(affiliate.audience(), Audience::Affiliate(7));
        assert!(!affiliate.money_view().shows_revenue());
        let admin = Caller { user: user(Role::Admin), grant: Grant::Session { id: "s".into() } };
        assert!(admin.is_admin());
        assert_eq!(admin.limited_as(), "session:s");
        let advertiser = Caller { user: user(Role::Advertiser), grant: Grant::Session { id: "s".into() } };
        assert!(advertiser.require(Scope::WritePostback).is_err());
    }

    #[test]
    fn the_operator_may_do_anything() {
        let op = Caller::operator(user(Role::Admin));
        assert!(op.require_admin().is_ok() && op.key().is_none());
    }
}
