//! Affiliate postback configurations (the native API and dialect E share these rules).

use async_trait::async_trait;
use clicktrail_domain::Timestamp;
use clicktrail_domain::key::Scope;
use clicktrail_domain::offer::Offer;
use clicktrail_domain::postback::{Postback, PostbackSpec};
use clicktrail_domain::user::{Role, User};
use clicktrail_store::{Config, Query};

use super::{Resource, require_ref};
use crate::engine::access::Caller;
use crate::error::{Error, Result};

#[async_trait]
impl Resource for Postback {
    type Spec = PostbackSpec;
    const NAME: &'static str = "postback";

    fn spec(&self) -> PostbackSpec {
        self.spec.clone()
    }
    fn create(spec: PostbackSpec, now: Timestamp) -> Self {
        Self { id: 0, spec, created_at: now, updated_at: now }
    }
    fn replace(&mut self, spec: PostbackSpec, now: Timestamp) {
        self.spec = spec;
        self.updated_at = now;
    }
    fn may_read(caller: &Caller) -> Result<()> {
        if caller.role() == Role::Advertiser {
            return Err(Error::forbidden("Postbacks report to affiliates; advertisers have none."));
        }
        caller.require(Scope::WritePostback)
    }
    fn may_write(caller: &Caller) -> Result<()> {
        Self::may_read(caller)
    }
    fn visible(&self, caller: &Caller) -> bool {
        caller.is_admin_user() || caller.affiliate_id().is_some_and(|me| self.spec.affiliate_id == Some(me))
    }
    fn scope_query(caller: &Caller, query: &mut Query) {
        if let Some(me) = caller.affiliate_id() {
            super::narrow_to_owner(query, me);
        }
    }
    async fn check(mut spec: PostbackSpec, config: &Config, caller: &Caller, _: Option<&Self>) -> Result<PostbackSpec> {
        match caller.affiliate_id() {
            Some(me) => {
                if spec.affiliate_id.is_some_and(|id| id != me) {
                    return Err(Error::invalid("affiliate_id", "must be your own id (or left out)"));
                }
                spec.affiliate_id = Some(me);
            }
            None => {
                let id =
                    spec.affiliate_id.ok_or_else(|| Error::invalid("affiliate_id", "is required for admin keys"))?;
                require_ref::<User>(config, "affiliate_id", "affiliate", id, |u| u.role == Role::Affiliate).await?;
            }
        }
        if let Some(offer_id) = spec.offer_id {
            let me = caller.affiliate_id();
            require_ref::<Offer>(config, "offer_id", "offer", offer_id, |o| me.is_none_or(|me| o.spec.visible_to(me)))
                .await?;
        }
        Ok(spec)
    }
}

/// Fills `url` from `preset` and `domain` (`{"preset": "voluum", "domain": "trk.example.com"}`)
/// when the body names a tracker instead of a URL.
pub fn expand_preset(mut body: serde_json::Value) -> Result<serde_json::Value> {
    let Some(map) = body.as_object_mut() else { return Ok(body) };
    let Some(preset) = map.remove("preset") else { return Ok(body) };
    let preset: clicktrail_domain::postback::Preset = serde_json::from_value(preset)
        .map_err(|_| Error::invalid("preset", "must be one of voluum, binom, redtrack, bemob, keitaro"))?;
    let domain = map
        .remove("domain")
        .and_then(|d| d.as_str().map(str::to_owned))
        .ok_or_else(|| Error::invalid("domain", "is required with a preset (your tracker's host name)"))?;
    let host_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !host_ok {
        return Err(Error::invalid("domain", format!("'{domain}' is not a host name")));
    }
    if map.contains_key("url") {
        return Err(Error::invalid("url", "give either a url or a preset, not both"));
    }
    map.insert("url".into(), preset.template(&domain).into());
    Ok(body)
}
