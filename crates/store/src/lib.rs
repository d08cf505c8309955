//! Clicktrail's storage seams.
//!
//! Every capability the server persists sits behind one trait, held as `Arc<dyn Trait>`, so a
//! backend (SQLite now; PostgreSQL, ClickHouse and Redis later) slots in without touching the
//! HTTP or domain code. This crate holds the traits, the typed layer the rest of the server
//! uses, and (with the `conformance` feature, for tests) the suite every backend runs unchanged.

#![forbid(unsafe_code)]

pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod conversions;
pub mod counters;
pub mod entity;
mod error;
pub mod events;
pub mod sessions;
pub mod tally;
pub mod units;

pub use config::{ConfigStore, Index, Kind, Order, Page, Query};
pub use conversions::{Attempt, ConversionQuery, ConversionStore, Job, JobNext, JobQueue, JobsFor, NewJob, Recorded};
pub use counters::{Limit, MemoryCounters, SharedCounters};
pub use entity::{Config, Entity};
pub use error::StoreError;
pub use events::{Batching, ClickCondition, ClickField, ClickQuery, EventBatch, EventStore, RollupRow};
pub use sessions::{MemorySessions, SessionRecord, SessionStore};
pub use tally::{Served, Tallies, TallyQuery};
