//! Offers: who sees which, and what each role is shown.

use async_trait::async_trait;
use clicktrail_domain::Timestamp;
use clicktrail_domain::catalog::Category;
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::{AccessStatus, AffiliateAccess, Offer, OfferSpec, OfferStatus, PublicId};
use clicktrail_domain::user::{Role, User};
use clicktrail_store::{Config, Query};
use serde_json::Value;

use super::{Resource, require_ref};
use crate::engine::access::{Caller, Reach};
use crate::error::{Error, Result};
use crate::random;

/// Fields an affiliate is not shown: the network's revenue, other affiliates' terms, the
/// advertiser's postback secrets.
const HIDDEN_FROM_AFFILIATES: &[&str] = &["revenue", "revenue_type", "access", "guards", "advertiser_id"];

#[async_trait]
impl Resource for Offer {
    type Spec = OfferSpec;
    const NAME: &'static str = "offer";

    fn spec(&self) -> OfferSpec {
        self.spec.clone()
    }
    fn create(spec: OfferSpec, now: Timestamp) -> Self {
        Self { id: 0, public_id: PublicId::new(now, random::bytes()), spec, created_at: now, updated_at: now }
    }
    fn replace(&mut self, spec: OfferSpec, now: Timestamp) {
        self.spec = spec;
        self.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        caller.require(Scope::ReadOffers)
    }
    fn visible(&self, caller: &Caller) -> bool {
        caller.reaches(self, Reach::See)
    }
    fn scope_query(caller: &Caller, query: &mut Query) {
        if let Some(me) = caller.advertiser_id() {
            super::narrow_to_owner(query, me);
        }
    }
    fn filters_rows(caller: &Caller) -> bool {
        caller.role() == Role::Affiliate
    }
    async fn check(spec: OfferSpec, config: &Config, _caller: &Caller, _current: Option<&Self>) -> Result<OfferSpec> {
        let spec = spec.normalize()?;
        if let Some(id) = spec.advertiser_id {
            require_ref::<User>(config, "advertiser_id", "advertiser", id, |u| u.role == Role::Advertiser).await?;
        }
        if let Some(id) = spec.category_id {
            require_ref::<Category>(config, "category_id", "category", id, |_| true).await?;
        }
        for (i, access) in spec.access.iter().enumerate() {
            let field = format!("access[{i}].affiliate_id");
            require_ref::<User>(config, &field, "affiliate", access.affiliate_id, |u| u.role == Role::Affiliate)
                .await?;
        }
        Ok(spec)
    }
    fn view(&self, caller: &Caller) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        match caller.role() {
            Role::Admin => {}
            Role::Advertiser => {
                if let Some(map) = value.as_object_mut() {
                    map.remove("access");
                }
            }
            Role::Affiliate => {
                if let Some(map) = value.as_object_mut() {
                    for field in HIDDEN_FROM_AFFILIATES {
                        map.remove(*field);
                    }
                    map.insert("payout".into(), Value::from(caller.payout(self).to_f64()));
                    if let Some(Value::Array(events)) = map.get_mut("events") {
                        for event in events.iter_mut().filter_map(Value::as_object_mut) {
                            event.remove("revenue");
                            event.remove("revenue_type");
                        }
                    }
                }
            }
        }
        value
    }
    async fn remove(mut self, config: &Config, _caller: &Caller, now: Timestamp) -> Result<Option<Self>> {
        // Offers are archived, never deleted: their clicks and conversions keep pointing at them.
        self.spec.status = OfferStatus::Archived;
        self.updated_at = now;
        config.update(&self).await?;
        Ok(Some(self))
    }
}

/// An affiliate asks to run an offer that needs the network's approval: it is listed as
/// pending on the offer until an admin approves or blocks it. Asking again changes nothing.
pub async fn request_access(config: &Config, caller: &Caller, offer_id: i64) -> Result<Offer> {
    let Some(me) = caller.affiliate_id() else {
        return Err(Error::forbidden("Only affiliates ask for access to offers."));
    };
    let mut offer = super::get::<Offer>(config, caller, offer_id).await?;
    if caller.reaches(&offer, Reach::Run) {
        return Ok(offer);
    }
    match offer.spec.access_for(me).map(|a| a.status) {
        Some(AccessStatus::Blocked) => Err(Error::forbidden("The network has closed this offer to you.")),
        Some(_) => Ok(offer),
        None => {
            offer.spec.access.push(AffiliateAccess { affiliate_id: me, status: AccessStatus::Pending, payout: None });
            offer.updated_at = chrono::Utc::now();
            config.update(&offer).await?;
            Ok(offer)
        }
    }
}
