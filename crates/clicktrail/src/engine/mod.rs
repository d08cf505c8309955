//! The engine: every rule of the product, spoken by no wire format. Surfaces (`crate::surfaces`)
//! translate requests into the calls here and the answers back.
//!
//! - [`access`]: who is calling and what they may see and do (one model for every surface);
//! - [`manage`]: management operations on the network's records;
//! - [`track`]: the click path, as the named steps of [`track::pipeline`];
//! - [`convert`]: conversions in, postbacks out;
//! - [`reports`]: report requests turned into store tallies and rows;
//! - [`snapshot`]: the configuration in memory (offers, affiliates, the network, …), swapped in
//!   whole after every change; every part above reads it.

pub mod access;
pub mod convert;
pub mod manage;
pub mod reports;
pub mod snapshot;
pub mod track;
