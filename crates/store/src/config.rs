//! The configuration-entity capability: offers, users, keys, … as JSON documents with a few
//! indexed columns.
//!
//! Backends store each record as its JSON document next to the handful of values that lists
//! filter, sort or look up on ([`Index`]). The typed layer in [`crate::entity`] turns documents
//! into domain types; backends never see those.

use async_trait::async_trait;

use crate::StoreError;

/// Which kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Network settings (one record, id 1).
    Network,
    /// Users of every role.
    User,
    /// A user's password hash, kept apart from the user so it never travels with it.
    Credential,
    /// Affiliate groups.
    AffiliateGroup,
    /// Categories.
    Category,
    /// Traffic sources.
    TrafficSource,
    /// Offers.
    Offer,
    /// Coupon codes.
    Coupon,
    /// API keys.
    ApiKey,
    /// Affiliate postback configurations.
    Postback,
    /// Server secrets (signing keys), by id.
    Secret,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Self::Network,
        Self::User,
        Self::Credential,
        Self::AffiliateGroup,
        Self::Category,
        Self::TrafficSource,
        Self::Offer,
        Self::Coupon,
        Self::ApiKey,
        Self::Postback,
        Self::Secret,
    ];

    /// Stable name, used as the stored discriminator.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::User => "user",
            Self::Credential => "credential",
            Self::AffiliateGroup => "affiliate_group",
            Self::Category => "category",
            Self::TrafficSource => "traffic_source",
            Self::Offer => "offer",
            Self::Coupon => "coupon",
            Self::ApiKey => "api_key",
            Self::Postback => "postback",
            Self::Secret => "secret",
        }
    }
}

/// The indexed values of a record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// Display name, for search.
    pub name: Option<String>,
    /// Status, for filters.
    pub status: Option<String>,
    /// Role (users), for filters.
    pub role: Option<String>,
    /// The owning record (a key's user, an offer's advertiser, a postback's affiliate).
    pub owner_id: Option<i64>,
    /// A referenced record (an offer's category, a user's group, a postback's offer).
    pub ref_id: Option<i64>,
    /// Display order (traffic sources).
    pub position: Option<i64>,
    /// A value unique within the kind (e-mail, key hash, public id), with its label.
    pub unique: Option<(&'static str, String)>,
}

/// Sort order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// By id, ascending.
    #[default]
    Id,
    /// By id, descending.
    IdDesc,
    /// By position, then id.
    Position,
}

/// A filtered, paginated list request. Every set filter must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Any of these statuses.
    pub statuses: Vec<String>,
    /// This role.
    pub role: Option<String>,
    /// This owner.
    pub owner_id: Option<i64>,
    /// This referenced record.
    pub ref_id: Option<i64>,
    /// Only these ids (an empty list matches nothing).
    pub ids: Option<Vec<i64>>,
    /// Name contains this text, case-insensitively.
    pub name_contains: Option<String>,
    /// Order.
    pub order: Order,
    /// Records to skip.
    pub offset: u64,
    /// Most records to return; all when `None`.
    pub limit: Option<u64>,
}

/// One page of records and the total count of matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The records of this page.
    pub items: Vec<T>,
    /// How many records match in all.
    pub total: u64,
}

/// Persistence of configuration records.
#[async_trait]
pub trait ConfigStore: Send + Sync + 'static {
    /// Stores a new record and returns its id (ids are never reused within a kind).
    async fn insert(&self, kind: Kind, index: Index, doc: serde_json::Value) -> Result<i64, StoreError>;

    /// Stores a record under a chosen id, replacing any record there (singletons, credentials).
    async fn put(&self, kind: Kind, id: i64, index: Index, doc: serde_json::Value) -> Result<(), StoreError>;

    /// Replaces an existing record.
    async fn update(&self, kind: Kind, id: i64, index: Index, doc: serde_json::Value) -> Result<(), StoreError>;

    /// Reads a record.
    async fn get(&self, kind: Kind, id: i64) -> Result<Option<serde_json::Value>, StoreError>;

    /// Finds the record holding a unique value.
    async fn find_unique(&self, kind: Kind, value: &str) -> Result<Option<(i64, serde_json::Value)>, StoreError>;

    /// Lists records.
    async fn list(&self, kind: Kind, query: &Query) -> Result<Page<(i64, serde_json::Value)>, StoreError>;

    /// Removes a record; `false` when there was none.
    async fn delete(&self, kind: Kind, id: i64) -> Result<bool, StoreError>;

    /// Whether the backend can serve (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// A number that moves whenever a record other than an API key changes, in this process or
    /// any other (another node, the command line): a server polls it and reloads what it holds
    /// in memory when it moved. Cheap enough to ask several times a second.
    async fn version(&self) -> Result<i64, StoreError>;

    /// Moves everything written into the store's main files (SQLite: a WAL checkpoint), so a
    /// stopped store is whole in them; called at shutdown.
    async fn checkpoint(&self) -> Result<(), StoreError>;
}
