//! The typed layer over [`ConfigStore`]: domain types in, domain types out.
//!
//! Each domain record names its kind and its indexed values ([`Entity`]); [`Config`] turns it
//! into a document (without its id, which the backend owns) and back.

use std::sync::Arc;

use clicktrail_domain::catalog::{Category, Coupon, TrafficSource};
use clicktrail_domain::key::ApiKey;
use clicktrail_domain::network::NetworkSettings;
use clicktrail_domain::offer::Offer;
use clicktrail_domain::postback::Postback;
use clicktrail_domain::user::{AffiliateGroup, Credential, User};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StoreError;
use crate::config::{ConfigStore, Index, Kind, Page, Query};

/// A domain record the configuration store keeps.
pub trait Entity: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Its kind.
    const KIND: Kind;
    /// Its id (0 before it is stored).
    fn id(&self) -> i64;
    /// Sets the id the backend assigned.
    fn set_id(&mut self, id: i64);
    /// Its indexed values.
    fn index(&self) -> Index;
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

macro_rules! id_field {
    () => {
        fn id(&self) -> i64 {
            self.id
        }
        fn set_id(&mut self, id: i64) {
            self.id = id;
        }
    };
}

impl Entity for User {
    const KIND: Kind = Kind::User;
    id_field!();
    fn index(&self) -> Index {
        Index {
            name: Some(self.spec.name.to_string()),
            status: Some(self.spec.status.as_str().into()),
            role: Some(self.role.as_str().into()),
            ref_id: self.spec.affiliate_group_id,
            unique: self.spec.email.as_ref().map(|e| ("email", e.to_string())),
            ..Index::default()
        }
    }
}

impl Entity for AffiliateGroup {
    const KIND: Kind = Kind::AffiliateGroup;
    id_field!();
    fn index(&self) -> Index {
        let name = self.spec.name.to_string();
        Index { unique: Some(("name", lower(&name))), name: Some(name), ..Index::default() }
    }
}

impl Entity for Category {
    const KIND: Kind = Kind::Category;
    id_field!();
    fn index(&self) -> Index {
        let name = self.spec.name.to_string();
        Index { unique: Some(("name", lower(&name))), name: Some(name), ..Index::default() }
    }
}

impl Entity for TrafficSource {
    const KIND: Kind = Kind::TrafficSource;
    id_field!();
    fn index(&self) -> Index {
        Index {
            name: Some(self.spec.name.to_string()),
            position: self.spec.position.map(i64::from),
            unique: self.spec.slug.as_ref().map(|s| ("slug", s.to_string())),
            ..Index::default()
        }
    }
}

impl Entity for Offer {
    const KIND: Kind = Kind::Offer;
    id_field!();
    fn index(&self) -> Index {
        Index {
            name: Some(self.spec.name.to_string()),
            status: Some(self.spec.status.as_str().into()),
            owner_id: self.spec.advertiser_id,
            ref_id: self.spec.category_id,
            unique: Some(("public_id", self.public_id.to_hex())),
            ..Index::default()
        }
    }
}

impl Entity for Coupon {
    const KIND: Kind = Kind::Coupon;
    id_field!();
    fn index(&self) -> Index {
        Index {
            name: Some(self.spec.code.to_string()),
            owner_id: Some(self.spec.affiliate_id),
            ref_id: self.spec.offer_id,
            unique: Some(("code", self.spec.code.to_string())),
            ..Index::default()
        }
    }
}

impl Entity for ApiKey {
    const KIND: Kind = Kind::ApiKey;
    id_field!();
    fn index(&self) -> Index {
        Index {
            name: self.name.as_ref().map(ToString::to_string),
            status: Some(if self.is_active() { "active" } else { "revoked" }.into()),
            owner_id: Some(self.user_id),
            unique: Some(("key", self.secret_hash.clone())),
            ..Index::default()
        }
    }
}

impl Entity for Postback {
    const KIND: Kind = Kind::Postback;
    id_field!();
    fn index(&self) -> Index {
        Index {
            status: Some(self.spec.status.as_str().into()),
            owner_id: self.spec.affiliate_id,
            ref_id: self.spec.offer_id,
            ..Index::default()
        }
    }
}

/// Typed access to the configuration store.
#[derive(Clone)]
pub struct Config {
    store: Arc<dyn ConfigStore>,
}

fn to_doc<T: Serialize>(kind: Kind, id: i64, value: &T) -> Result<serde_json::Value, StoreError> {
    let mut doc = serde_json::to_value(value).map_err(|e| StoreError::Corrupt {
        kind: kind.as_str(),
        id,
        message: e.to_string(),
    })?;
    if let Some(map) = doc.as_object_mut() {
        map.remove("id");
    }
    Ok(doc)
}

fn from_doc<T: DeserializeOwned>(
    kind: Kind,
    id: i64,
    mut doc: serde_json::Value,
    with_id: bool,
) -> Result<T, StoreError> {
    if with_id && let Some(map) = doc.as_object_mut() {
        map.insert("id".into(), id.into());
    }
    serde_json::from_value(doc).map_err(|e| StoreError::Corrupt { kind: kind.as_str(), id, message: e.to_string() })
}

/// The id of the one network record.
const NETWORK_ID: i64 = 1;

impl Config {
    /// Wraps a backend.
    pub fn new(store: Arc<dyn ConfigStore>) -> Self {
        Self { store }
    }

    /// The backend.
    pub fn store(&self) -> &Arc<dyn ConfigStore> {
        &self.store
    }

    /// Stores a new record, returning it with its assigned id.
    pub async fn insert<T: Entity>(&self, mut record: T) -> Result<T, StoreError> {
        let doc = to_doc(T::KIND, 0, &record)?;
        let id = self.store.insert(T::KIND, record.index(), doc).await?;
        record.set_id(id);
        Ok(record)
    }

    /// Replaces a stored record.
    pub async fn update<T: Entity>(&self, record: &T) -> Result<(), StoreError> {
        let doc = to_doc(T::KIND, record.id(), record)?;
        self.store.update(T::KIND, record.id(), record.index(), doc).await
    }

    /// Reads a record.
    pub async fn get<T: Entity>(&self, id: i64) -> Result<Option<T>, StoreError> {
        match self.store.get(T::KIND, id).await? {
            Some(doc) => from_doc(T::KIND, id, doc, true).map(Some),
            None => Ok(None),
        }
    }

    /// Finds a record by its unique value.
    pub async fn find<T: Entity>(&self, unique: &str) -> Result<Option<T>, StoreError> {
        match self.store.find_unique(T::KIND, unique).await? {
            Some((id, doc)) => from_doc(T::KIND, id, doc, true).map(Some),
            None => Ok(None),
        }
    }

    /// Lists records.
    pub async fn list<T: Entity>(&self, query: &Query) -> Result<Page<T>, StoreError> {
        let page = self.store.list(T::KIND, query).await?;
        let items =
            page.items.into_iter().map(|(id, doc)| from_doc(T::KIND, id, doc, true)).collect::<Result<Vec<T>, _>>()?;
        Ok(Page { items, total: page.total })
    }

    /// Removes a record; `false` when there was none.
    pub async fn delete<T: Entity>(&self, id: i64) -> Result<bool, StoreError> {
        self.store.delete(T::KIND, id).await
    }

    /// The network's settings, once created.
    pub async fn network(&self) -> Result<Option<NetworkSettings>, StoreError> {
        match self.store.get(Kind::Network, NETWORK_ID).await? {
            Some(doc) => from_doc(Kind::Network, NETWORK_ID, doc, false).map(Some),
            None => Ok(None),
        }
    }

    /// Saves the network's settings.
    pub async fn put_network(&self, settings: &NetworkSettings) -> Result<(), StoreError> {
        let doc = to_doc(Kind::Network, NETWORK_ID, settings)?;
        self.store.put(Kind::Network, NETWORK_ID, Index::default(), doc).await
    }

    /// A user's password hash, if they have a password.
    pub async fn credential(&self, user_id: i64) -> Result<Option<Credential>, StoreError> {
        match self.store.get(Kind::Credential, user_id).await? {
            Some(doc) => from_doc(Kind::Credential, user_id, doc, false).map(Some),
            None => Ok(None),
        }
    }

    /// A server secret of 32 bytes, created from `fresh` the first time it is asked for.
    pub async fn secret(&self, id: i64, fresh: impl FnOnce() -> [u8; 32]) -> Result<[u8; 32], StoreError> {
        let decode = |doc: &serde_json::Value| -> Option<[u8; 32]> {
            let mut out = [0u8; 32];
            hex_decode(doc.get("value")?.as_str()?, &mut out).then_some(out)
        };
        if let Some(doc) = self.store.get(Kind::Secret, id).await? {
            return decode(&doc).ok_or(StoreError::Corrupt { kind: "secret", id, message: "not 32 hex bytes".into() });
        }
        let value = fresh();
        let hex: String = value.iter().map(|b| format!("{b:02x}")).collect();
        self.store.put(Kind::Secret, id, Index::default(), serde_json::json!({ "value": hex })).await?;
        Ok(value)
    }

    /// Sets a user's password hash.
    pub async fn put_credential(&self, user_id: i64, credential: &Credential) -> Result<(), StoreError> {
        let doc = to_doc(Kind::Credential, user_id, credential)?;
        self.store.put(Kind::Credential, user_id, Index::default(), doc).await
    }
}

fn hex_decode(text: &str, out: &mut [u8; 32]) -> bool {
    if text.len() != 64 {
        return false;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        match u8::from_str_radix(&text[2 * i..2 * i + 2], 16) {
            Ok(b) => *byte = b,
            Err(_) => return false,
        }
    }
    true
}
