//! The engine's view of the configuration: offers, affiliates, categories, traffic sources,
//! postbacks and the network, in memory.
//!
//! Clicks never read configuration from the store. A snapshot is loaded at start and after every
//! management write (and when the configuration store's version moves, for changes made by
//! another node or the command line), then swapped in atomically; readers take an `Arc` of the
//! current snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use clicktrail_domain::catalog::{Category, TrafficSource};
use clicktrail_domain::network::NetworkSettings;
use clicktrail_domain::offer::Offer;
use clicktrail_domain::postback::Postback;
use clicktrail_domain::text::Name;
use clicktrail_domain::user::{Role, User};
use clicktrail_store::{Config, Order, Page, Query, StoreError};

/// Everything a click needs to know, at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Offers by id.
    pub offers: HashMap<i64, Arc<Offer>>,
    /// Affiliates by id.
    pub affiliates: HashMap<i64, Arc<User>>,
    /// Category names by id.
    pub categories: HashMap<i64, String>,
    /// Traffic sources, in display order.
    pub traffic_sources: Vec<Arc<TrafficSource>>,
    /// Active and inactive postback configurations by affiliate.
    pub postbacks: HashMap<i64, Vec<Arc<Postback>>>,
    /// The network.
    pub network: NetworkSettings,
}

impl Snapshot {
    /// The category a caller names by id or by name (without regard to case).
    pub fn category_id(&self, raw: &str) -> Option<i64> {
        let raw = raw.trim();
        match raw.parse::<i64>() {
            Ok(id) => self.categories.contains_key(&id).then_some(id),
            Err(_) => {
                let raw = raw.to_lowercase();
                self.categories.iter().find(|(_, name)| name.to_lowercase() == raw).map(|(id, _)| *id)
            }
        }
    }

    fn empty() -> Self {
        let name = Name::parse("Clicktrail").unwrap_or_else(|_| unreachable!("a literal name parses"));
        Self {
            offers: HashMap::new(),
            affiliates: HashMap::new(),
            categories: HashMap::new(),
            traffic_sources: Vec::new(),
            postbacks: HashMap::new(),
            network: NetworkSettings::new(name),
        }
    }
}

/// The current snapshot, swappable.
pub struct Snapshots {
    current: ArcSwap<Snapshot>,
    config: Config,
    /// Held for a whole reload: two reloads at once (a management write's and the change
    /// follower's) could otherwise swap in the older read last.
    reloading: tokio::sync::Mutex<()>,
    /// The configuration store's version read as the current snapshot's reload began.
    loaded: std::sync::atomic::AtomicI64,
}

impl Snapshots {
    /// Loads the first snapshot.
    pub async fn load(config: Config) -> Result<Self, StoreError> {
        let catalog = Self {
            current: ArcSwap::from_pointee(Snapshot::empty()),
            config,
            reloading: tokio::sync::Mutex::new(()),
            loaded: std::sync::atomic::AtomicI64::new(i64::MIN),
        };
        catalog.reload().await?;
        Ok(catalog)
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Reads the configuration again and swaps the new snapshot in.
    pub async fn reload(&self) -> Result<Arc<Snapshot>, StoreError> {
        let _one_at_a_time = self.reloading.lock().await;
        // Read first: a change committed during the reload moves it past this again.
        let version = self.config.store().version().await?;
        let offers: Page<Offer> = self.config.list(&Query::default()).await?;
        let affiliates: Page<User> =
            self.config.list(&Query { role: Some(Role::Affiliate.as_str().into()), ..Query::default() }).await?;
        let network = self.config.network().await?.unwrap_or_else(|| Snapshot::empty().network);
        let categories: Page<Category> = self.config.list(&Query::default()).await?;
        let sources: Page<TrafficSource> =
            self.config.list(&Query { order: Order::Position, ..Query::default() }).await?;
        let all_postbacks: Page<Postback> = self.config.list(&Query::default()).await?;
        let mut postbacks: HashMap<i64, Vec<Arc<Postback>>> = HashMap::new();
        for p in all_postbacks.items {
            if let Some(affiliate) = p.spec.affiliate_id {
                postbacks.entry(affiliate).or_default().push(Arc::new(p));
            }
        }
        let snapshot = Arc::new(Snapshot {
            offers: offers.items.into_iter().map(|o| (o.id, Arc::new(o))).collect(),
            affiliates: affiliates.items.into_iter().map(|u| (u.id, Arc::new(u))).collect(),
            categories: categories.items.into_iter().map(|c| (c.id, c.spec.name.to_string())).collect(),
            traffic_sources: sources.items.into_iter().map(Arc::new).collect(),
            postbacks,
            network,
        });
        self.current.store(snapshot.clone());
        self.loaded.store(version, std::sync::atomic::Ordering::Release);
        Ok(snapshot)
    }

    /// Whether the configuration changed since the current snapshot was read (by this process
    /// or any other).
    pub async fn stale(&self) -> Result<bool, StoreError> {
        Ok(self.config.store().version().await? != self.loaded.load(std::sync::atomic::Ordering::Acquire))
    }
}
