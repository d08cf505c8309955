//! The network's settings: created on first start, then changed by admins.

use clicktrail_domain::network::NetworkSettings;
use clicktrail_store::Config;
use serde_json::Value;

use super::{merge_patch, parse_spec};
use crate::engine::access::Caller;
use crate::error::{Error, Result};

/// The settings (admins only).
pub async fn get(config: &Config, caller: &Caller) -> Result<NetworkSettings> {
    caller.require_admin()?;
    config.network().await?.ok_or_else(|| Error::internal("the network has not been set up"))
}

/// Changes the settings with a merge patch (admins only).
pub async fn update(config: &Config, caller: &Caller, patch: Value) -> Result<NetworkSettings> {
    let current = get(config, caller).await?;
    if !patch.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let mut merged = serde_json::to_value(&current).map_err(|e| Error::internal(e.to_string()))?;
    merge_patch(&mut merged, patch);
    let settings: NetworkSettings = parse_spec(merged)?;
    settings.validate()?;
    config.put_network(&settings).await?;
    Ok(settings)
}
