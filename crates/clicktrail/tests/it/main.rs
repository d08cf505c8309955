//! Integration tests: the real server on port 0 with a fresh data directory, over HTTP.
//!
//! One test binary for the crate (link time is precious on two cores); each file is a module.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod authz;
mod browser;
mod cli;
mod clicks;
mod cluster;
mod conversions;
mod dialects;
mod durability;
mod fidelity;
mod fuzz;
mod hardening;
mod helpers;
mod limits;
mod ops;
mod panel;
mod readme;
mod receiver;
mod reports;
mod resources;
mod tag;
mod validation;
