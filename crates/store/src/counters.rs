//! The shared-counters capability: unique-click windows and caps.
//!
//! On one node the in-memory [`MemoryCounters`] is exact; a multi-node backend (Redis) must give
//! the same answers, which the conformance suite checks.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::StoreError;

/// A counter with its limit, for [`SharedCounters::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Counter name (`cap:clicks:day:7:20261121`).
    pub key: String,
    /// Highest value the counter may reach.
    pub limit: u64,
    /// When the counter may be forgotten.
    pub expires_at: DateTime<Utc>,
}

/// Counters shared by every node.
///
/// The keys of one [`acquire`](Self::acquire) or [`release`](Self::release) share a hash tag
/// (`clicks:{offer:7}:day:…`, `clicks:{offer:7}:aff:3:day:…`), so a Redis Cluster keeps them in
/// one slot and one script can take them together.
#[async_trait]
pub trait SharedCounters: Send + Sync + 'static {
    /// Records a sighting of `key` at `at`; true when there was none in the `window` before.
    async fn first_in_window(&self, key: u64, at: DateTime<Utc>, window: Duration) -> Result<bool, StoreError>;

    /// Increments every counter by one if none is at its limit; otherwise changes nothing and
    /// returns the index of the first counter at its limit.
    async fn acquire(&self, limits: &[Limit]) -> Result<Option<usize>, StoreError>;

    /// Gives back one unit of every counter (what an [`acquire`](Self::acquire) took for work
    /// that was then not done); a counter never goes below zero.
    async fn release(&self, limits: &[Limit]) -> Result<(), StoreError>;

    /// Adds to a counter; returns the new value.
    async fn add(&self, key: &str, by: u64, expires_at: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Seeds a counter from what the stores recorded (at start, or when a cap appears): sets it
    /// to `value` when it is absent or expired, raises it to `value` when lower, and leaves it
    /// alone otherwise; returns the value it holds. Idempotent, so every node may seed on every
    /// start without inflating a shared counter.
    async fn seed(&self, key: &str, value: u64, expires_at: DateTime<Utc>) -> Result<u64, StoreError>;

    /// A counter's value (0 when unknown or expired).
    async fn get(&self, key: &str, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// A mark that changes whenever the counters lost what they held (a Redis restart or
    /// flush): the engine seeds again when it sees a new one. Counters in this process lose
    /// nothing while it runs, hence 0.
    async fn generation(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

const SHARDS: usize = 32;
/// Sightings recorded in a shard between two sweeps of expired ones.
const SWEEP_EVERY: u32 = 1 << 14;

/// The unit sightings are remembered in: seconds since 2020-01-01 (a `u32` lasts until 2156).
const SIGHTING_EPOCH_SECONDS: i64 = 1_577_836_800;

/// A visitor's 64-bit key as two halves: with 4-byte alignment an entry of the window (key and
/// last-seen second) packs into 12 bytes instead of 16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Visitor([u32; 2]);

impl Visitor {
    fn new(key: u64) -> Self {
        Self([(key >> 32) as u32, key as u32])
    }
}

impl Hash for Visitor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64((u64::from(self.0[0]) << 32) | u64::from(self.0[1]));
    }
}

/// Hashes a visitor key — already a SHA-256 prefix, but one whose low bits chose the shard —
/// with splitmix64's finaliser, instead of SipHash on every click.
#[derive(Default)]
struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One shard of the unique-click window: every visitor seen within the window and the second
/// of its last click. Exact (no visitor is forgotten before its window ends, no two share an
/// entry); times are kept to the second.
#[derive(Default)]
struct SightingShard {
    last_seen: HashMap<Visitor, u32, BuildHasherDefault<Mix>>,
    since_sweep: u32,
}

/// Exact counters in this process's memory, for one node.
pub struct MemoryCounters {
    sightings: Vec<Mutex<SightingShard>>,
    counters: Mutex<HashMap<String, (u64, DateTime<Utc>)>>,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        Self { sightings: (0..SHARDS).map(|_| Mutex::default()).collect(), counters: Mutex::default() }
    }
}

impl MemoryCounters {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sightings are held (for tests and metrics).
    pub fn sightings(&self) -> usize {
        self.sightings.iter().map(|s| s.lock().map_or(0, |s| s.last_seen.len())).sum()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters stay consistent if a holder panicked: every update is a single map operation.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl SharedCounters for MemoryCounters {
    async fn first_in_window(&self, key: u64, at: DateTime<Utc>, window: Duration) -> Result<bool, StoreError> {
        let at_s = u32::try_from((at.timestamp() - SIGHTING_EPOCH_SECONDS).max(0)).unwrap_or(u32::MAX);
        let window_s = u32::try_from(window.num_seconds().max(0)).unwrap_or(u32::MAX);
        let mut shard = lock(&self.sightings[(key as usize) % SHARDS]);
        let visitor = Visitor::new(key);
        let previous = shard.last_seen.get(&visitor).copied();
        let first = previous.is_none_or(|seen| at_s.saturating_sub(seen) >= window_s);
        if previous.is_none_or(|seen| seen < at_s) {
            shard.last_seen.insert(visitor, at_s);
        }
        shard.since_sweep += 1;
        if shard.since_sweep >= SWEEP_EVERY {
            shard.since_sweep = 0;
            shard.last_seen.retain(|_, seen| at_s.saturating_sub(*seen) < window_s);
        }
        Ok(first)
    }

    async fn acquire(&self, limits: &[Limit]) -> Result<Option<usize>, StoreError> {
        let now = Utc::now();
        let mut counters = lock(&self.counters);
        for (i, l) in limits.iter().enumerate() {
            let current = counters.get(&l.key).filter(|(_, exp)| *exp > now).map_or(0, |(v, _)| *v);
            if current >= l.limit {
                return Ok(Some(i));
            }
        }
        for l in limits {
            let entry = counters.entry(l.key.clone()).or_insert((0, l.expires_at));
            if entry.1 <= now {
                *entry = (0, l.expires_at);
            }
            entry.0 += 1;
        }
        if counters.len() > 100_000 {
            counters.retain(|_, (_, exp)| *exp > now);
        }
        Ok(None)
    }

    async fn release(&self, limits: &[Limit]) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut counters = lock(&self.counters);
        for l in limits {
            if let Some((value, expires)) = counters.get_mut(&l.key)
                && *expires > now
            {
                *value = value.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn add(&self, key: &str, by: u64, expires_at: DateTime<Utc>) -> Result<u64, StoreError> {
        let now = Utc::now();
        let mut counters = lock(&self.counters);
        let entry = counters.entry(key.to_owned()).or_insert((0, expires_at));
        if entry.1 <= now {
            *entry = (0, expires_at);
        }
        entry.0 += by;
        Ok(entry.0)
    }

    async fn seed(&self, key: &str, value: u64, expires_at: DateTime<Utc>) -> Result<u64, StoreError> {
        let now = Utc::now();
        let mut counters = lock(&self.counters);
        let entry = counters.entry(key.to_owned()).or_insert((0, expires_at));
        if entry.1 <= now {
            *entry = (0, expires_at);
        }
        entry.0 = entry.0.max(value);
        Ok(entry.0)
    }

    async fn get(&self, key: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(lock(&self.counters).get(key).filter(|(_, exp)| *exp > now).map_or(0, |(v, _)| *v))
    }
}
