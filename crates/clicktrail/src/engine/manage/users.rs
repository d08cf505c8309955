//! Users: affiliates and advertisers (each their own API resource) and all users for admins.

use async_trait::async_trait;
use clicktrail_domain::Timestamp;
use clicktrail_domain::geo::TimeZone;
use clicktrail_domain::text::{Email, Name};
use clicktrail_domain::user::{AffiliateGroup, Role, User, UserSpec, UserStatus};
use clicktrail_store::{Config, Entity, Index, Kind, Query};
use serde::{Deserialize, Serialize};

use super::{Resource, require_ref};
use crate::engine::access::Caller;
use crate::error::{Error, Result};

/// Checks the parts of a user spec that involve other records.
async fn check_user(spec: &UserSpec, role: Role, config: &Config) -> Result<()> {
    if let Some(group) = spec.affiliate_group_id {
        if role != Role::Affiliate {
            return Err(Error::invalid("affiliate_group_id", "only affiliates belong to affiliate groups"));
        }
        require_ref::<AffiliateGroup>(config, "affiliate_group_id", "affiliate group", group, |_| true).await?;
    }
    Ok(())
}

fn new_user(role: Role, spec: UserSpec, now: Timestamp) -> User {
    let postback_secret = (role == Role::Affiliate).then(new_secret);
    User { id: 0, role, spec, postback_secret, created_at: now, updated_at: now }
}

fn new_secret() -> String {
    hex::encode(crate::random::bytes::<32>())
}

/// An affiliate's postback-signing secret, created on first use for affiliates made before
/// secrets existed.
pub async fn postback_secret(config: &Config, mut user: User) -> Result<String> {
    if let Some(secret) = &user.postback_secret {
        return Ok(secret.clone());
    }
    let secret = new_secret();
    user.postback_secret = Some(secret.clone());
    config.update(&user).await?;
    Ok(secret)
}

/// Closing is how users are deleted: their history stays, their keys stop working.
async fn close(mut user: User, config: &Config, now: Timestamp) -> Result<Option<User>> {
    user.spec.status = UserStatus::Closed;
    user.updated_at = now;
    config.update(&user).await?;
    Ok(Some(user))
}

/// A wrapper of `User` (one API resource's view of users) stored as the user itself.
macro_rules! user_entity {
    ($ty:ident) => {
        impl Entity for $ty {
            const KIND: Kind = Kind::User;
            fn id(&self) -> i64 {
                self.0.id
            }
            fn set_id(&mut self, id: i64) {
                self.0.id = id;
            }
            fn index(&self) -> Index {
                self.0.index()
            }
        }
    };
}

macro_rules! role_resource {
    ($ty:ident, $role:expr, $name:literal) => {
        #[doc = concat!("A user with the ", $name, " role, as its own API resource.")]
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $ty(pub User);

        user_entity!($ty);

        #[async_trait]
        impl Resource for $ty {
            type Spec = UserSpec;
            const NAME: &'static str = $name;
            const HAS_PASSWORD: bool = true;

            fn spec(&self) -> UserSpec {
                self.0.spec.clone()
            }
            fn create(spec: UserSpec, now: Timestamp) -> Self {
                Self(new_user($role, spec, now))
            }
            fn replace(&mut self, spec: UserSpec, now: Timestamp) {
                self.0.spec = spec;
                self.0.updated_at = now;
            }
            fn may_read(caller: &Caller) -> Result<()> {
                match caller.role() {
                    Role::Admin => caller.require_admin(),
                    role if role == $role => Ok(()),
                    _ => Err(Error::forbidden(concat!("Only admins may read ", $name, "s."))),
                }
            }
            fn visible(&self, caller: &Caller) -> bool {
                self.0.role == $role && (caller.is_admin_user() || caller.user.id == self.0.id)
            }
            fn scope_query(caller: &Caller, query: &mut Query) {
                query.role = Some($role.as_str().into());
                if !caller.is_admin_user() {
                    query.ids = Some(vec![caller.user.id]);
                }
            }
            async fn check(
                spec: UserSpec,
                config: &Config,
                _caller: &Caller,
                _current: Option<&Self>,
            ) -> Result<UserSpec> {
                check_user(&spec, $role, config).await?;
                Ok(spec)
            }
            async fn remove(self, config: &Config, _caller: &Caller, now: Timestamp) -> Result<Option<Self>> {
                Ok(close(self.0, config, now).await?.map(Self))
            }
        }
    };
}

role_resource!(Affiliate, Role::Affiliate, "affiliate");
role_resource!(Advertiser, Role::Advertiser, "advertiser");

/// The body of a user created or changed through `/api/users` (any role, admins only).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnyUserSpec {
    /// Role; fixed once created.
    pub role: Role,
    /// Display name.
    pub name: Name,
    /// E-mail, unique.
    #[serde(default)]
    pub email: Option<Email>,
    /// Status.
    #[serde(default)]
    pub status: UserStatus,
    /// Affiliate group (affiliates only).
    #[serde(default)]
    pub affiliate_group_id: Option<i64>,
    /// Time zone.
    #[serde(default)]
    pub timezone: Option<TimeZone>,
}

impl AnyUserSpec {
    fn split(self) -> (Role, UserSpec) {
        let spec = UserSpec {
            name: self.name,
            email: self.email,
            status: self.status,
            affiliate_group_id: self.affiliate_group_id,
            timezone: self.timezone,
        };
        (self.role, spec)
    }
}

/// Any user, for admins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AnyUser(pub User);

user_entity!(AnyUser);

#[async_trait]
impl Resource for AnyUser {
    type Spec = AnyUserSpec;
    const NAME: &'static str = "user";
    const HAS_PASSWORD: bool = true;

    fn spec(&self) -> AnyUserSpec {
        let user = &self.0;
        AnyUserSpec {
            role: user.role,
            name: user.spec.name.clone(),
            email: user.spec.email.clone(),
            status: user.spec.status,
            affiliate_group_id: user.spec.affiliate_group_id,
            timezone: user.spec.timezone,
        }
    }
    fn create(spec: AnyUserSpec, now: Timestamp) -> Self {
        let (role, user_spec) = spec.split();
        Self(new_user(role, user_spec, now))
    }
    fn replace(&mut self, spec: AnyUserSpec, now: Timestamp) {
        self.0.spec = spec.split().1;
        self.0.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        caller.require_admin()
    }
    async fn check(spec: AnyUserSpec, config: &Config, caller: &Caller, current: Option<&Self>) -> Result<AnyUserSpec> {
        if let Some(current) = current {
            if current.0.role != spec.role {
                return Err(Error::invalid("role", "cannot change; create a new user instead"));
            }
            if current.0.id == caller.user.id && spec.status != UserStatus::Active {
                return Err(Error::invalid("status", "you cannot deactivate your own account"));
            }
        }
        let (role, user_spec) = spec.clone().split();
        check_user(&user_spec, role, config).await?;
        Ok(spec)
    }
    async fn remove(self, config: &Config, caller: &Caller, now: Timestamp) -> Result<Option<Self>> {
        if self.0.id == caller.user.id {
            return Err(Error::forbidden("You cannot close your own account."));
        }
        Ok(close(self.0, config, now).await?.map(Self))
    }
}
