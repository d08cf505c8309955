//! Clicktrail: self-hosted affiliate tracking.
//!
//! The library holds the whole server; `main.rs` only parses the command line. Layout:
//! - [`settings`]: defaults, TOML file, `CLICKTRAIL_*` environment;
//! - [`app`]: state, start-up and graceful shutdown; [`bootstrap`]: first-start set-up;
//! - [`auth`]: API keys to callers; [`access`]: what each caller sees of money;
//!   [`manage`]: management operations shared by every API;
//! - [`http`]: routes and the mapping of [`error::Error`] to each dialect's bodies;
//! - [`cli`]: the subcommands, [`demo`]: the demo network.
//!
//! The domain (`clicktrail-domain`) and the storage traits (`clicktrail-store`) are crates of
//! their own; the embedded backend is `clicktrail-store-sqlite`.

#![forbid(unsafe_code)]
// The raw-click object of dialect D is one large `json!` literal.
#![recursion_limit = "256"]

pub mod access;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod cli;
pub mod convert;
pub mod demo;
pub mod error;
pub mod geoip;
pub mod http;
pub mod manage;
pub mod random;
pub mod reports;
pub mod settings;
pub mod telemetry;
pub mod track;

pub use app::App;

/// Installs the process's TLS crypto provider (ring) for outbound HTTPS; safe to call twice.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use settings::Settings;
