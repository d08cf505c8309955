//! Affiliate groups, categories, traffic sources and coupon codes.

use async_trait::async_trait;
use clicktrail_domain::Timestamp;
use clicktrail_domain::catalog::{Category, CategorySpec, Coupon, CouponSpec, TrafficSource, TrafficSourceSpec};
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::Offer;
use clicktrail_domain::text::Slug;
use clicktrail_domain::user::{AffiliateGroup, AffiliateGroupSpec, Role, User};
use clicktrail_store::{Config, Order, Page, Query};

use super::{Resource, refuse_if_used, require_ref};
use crate::engine::access::Caller;
use crate::error::{Error, Result};

#[async_trait]
impl Resource for AffiliateGroup {
    type Spec = AffiliateGroupSpec;
    const NAME: &'static str = "affiliate group";

    fn spec(&self) -> AffiliateGroupSpec {
        self.spec.clone()
    }
    fn create(spec: AffiliateGroupSpec, now: Timestamp) -> Self {
        Self { id: 0, spec, created_at: now, updated_at: now }
    }
    fn replace(&mut self, spec: AffiliateGroupSpec, now: Timestamp) {
        self.spec = spec;
        self.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        caller.require_admin()
    }
    async fn check(spec: AffiliateGroupSpec, _: &Config, _: &Caller, _: Option<&Self>) -> Result<AffiliateGroupSpec> {
        Ok(spec)
    }
    async fn remove(self, config: &Config, _caller: &Caller, _now: Timestamp) -> Result<Option<Self>> {
        let members = Query { ref_id: Some(self.id), role: Some(Role::Affiliate.as_str().into()), ..Query::default() };
        refuse_if_used::<User>(
            config,
            members,
            format!("affiliate group {} still has affiliates; move them first", self.id),
        )
        .await?;
        config.delete::<Self>(self.id).await?;
        Ok(None)
    }
}

#[async_trait]
impl Resource for Category {
    type Spec = CategorySpec;
    const NAME: &'static str = "category";

    fn spec(&self) -> CategorySpec {
        self.spec.clone()
    }
    fn create(spec: CategorySpec, now: Timestamp) -> Self {
        Self { id: 0, spec, created_at: now, updated_at: now }
    }
    fn replace(&mut self, spec: CategorySpec, now: Timestamp) {
        self.spec = spec;
        self.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        caller.require(Scope::ReadOffers)
    }
    fn visible(&self, _caller: &Caller) -> bool {
        true
    }
    async fn check(spec: CategorySpec, _: &Config, _: &Caller, _: Option<&Self>) -> Result<CategorySpec> {
        Ok(spec)
    }
    async fn remove(self, config: &Config, _caller: &Caller, _now: Timestamp) -> Result<Option<Self>> {
        let offers = Query { ref_id: Some(self.id), ..Query::default() };
        refuse_if_used::<Offer>(
            config,
            offers,
            format!("category {} is still used by offers; change them first", self.id),
        )
        .await?;
        config.delete::<Self>(self.id).await?;
        Ok(None)
    }
}

#[async_trait]
impl Resource for TrafficSource {
    type Spec = TrafficSourceSpec;
    const NAME: &'static str = "traffic source";

    fn spec(&self) -> TrafficSourceSpec {
        self.spec.clone()
    }
    fn create(spec: TrafficSourceSpec, now: Timestamp) -> Self {
        Self { id: 0, spec, created_at: now, updated_at: now }
    }
    fn replace(&mut self, spec: TrafficSourceSpec, now: Timestamp) {
        self.spec = spec;
        self.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        caller.require(Scope::ReadStats)
    }
    fn visible(&self, _caller: &Caller) -> bool {
        true
    }
    fn scope_query(_caller: &Caller, query: &mut Query) {
        query.order = Order::Position;
    }
    async fn check(
        mut spec: TrafficSourceSpec,
        config: &Config,
        _: &Caller,
        current: Option<&Self>,
    ) -> Result<TrafficSourceSpec> {
        if spec.slug.is_none() {
            // A name of digits alone (`2024`) would give a slug that reads as an id.
            let derived = Slug::from_name(&spec.name);
            spec.slug = Some(if derived.as_str().bytes().all(|b| b.is_ascii_digit()) {
                let digits = derived.as_str();
                Slug::parse(&format!("source-{}", &digits[..digits.len().min(57)])).unwrap_or(derived)
            } else {
                derived
            });
        }
        if let Some(slug) = &spec.slug
            && slug.as_str().bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::invalid("slug", "must not be all digits (numbers name sources by id)"));
        }
        if spec.position.is_none() {
            spec.position = match current.and_then(|c| c.spec.position) {
                Some(kept) => Some(kept),
                None => {
                    let last: Page<TrafficSource> =
                        config.list(&Query { order: Order::Position, ..Query::default() }).await?;
                    let max = last.items.iter().filter_map(|s| s.spec.position).max();
                    Some(max.map_or(1, |m| m.saturating_add(1)))
                }
            };
        }
        Ok(spec)
    }
}

#[async_trait]
impl Resource for Coupon {
    type Spec = CouponSpec;
    const NAME: &'static str = "coupon";

    fn spec(&self) -> CouponSpec {
        self.spec.clone()
    }
    fn create(spec: CouponSpec, now: Timestamp) -> Self {
        Self { id: 0, spec, created_at: now, updated_at: now }
    }
    fn replace(&mut self, spec: CouponSpec, now: Timestamp) {
        self.spec = spec;
        self.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        if caller.role() == Role::Advertiser {
            return Err(Error::forbidden("Coupon codes belong to affiliates; advertisers cannot read them."));
        }
        caller.require(Scope::ReadOffers)
    }
    fn visible(&self, caller: &Caller) -> bool {
        caller.is_admin_user() || caller.affiliate_id() == Some(self.spec.affiliate_id)
    }
    fn scope_query(caller: &Caller, query: &mut Query) {
        if let Some(me) = caller.affiliate_id() {
            super::narrow_to_owner(query, me);
        }
    }
    async fn check(spec: CouponSpec, config: &Config, _: &Caller, _: Option<&Self>) -> Result<CouponSpec> {
        require_ref::<User>(config, "affiliate_id", "affiliate", spec.affiliate_id, |u| u.role == Role::Affiliate)
            .await?;
        if let Some(offer) = spec.offer_id {
            require_ref::<Offer>(config, "offer_id", "offer", offer, |_| true).await?;
        }
        Ok(spec)
    }
}
