//! Clicktrail: self-hosted affiliate tracking.
//!
//! The library holds the whole server; `main.rs` only parses the command line. Layout:
//! - [`settings`]: defaults, TOML file, `CLICKTRAIL_*` environment;
//! - [`app`]: state, start-up and graceful shutdown; [`backends`]: every store, chosen from the
//!   settings in one place; [`bootstrap`]: first-start set-up;
//! - [`engine`]: every rule of the product — access, management, the click path, conversions,
//!   reports — spoken by no wire format;
//! - [`surfaces`]: one module per wire format (the native API, tracking, dialects A–E), each
//!   only translating between its wire and the engine;
//! - [`transport`]: the HTTP server, routing, credentials, rate limits and request parsing;
//! - [`cli`]: the subcommands, [`demo`]: the demo network.
//!
//! The domain (`clicktrail-domain`) and the storage traits (`clicktrail-store`) are crates of
//! their own; the embedded backend is `clicktrail-store-sqlite`.

#![forbid(unsafe_code)]
// The raw-click object of dialect D is one large `json!` literal.
#![recursion_limit = "256"]

pub mod app;
pub mod backends;
pub mod bootstrap;
pub mod cli;
pub mod demo;
pub mod engine;
pub mod error;
pub mod geoip;
pub mod random;
pub mod settings;
pub mod surfaces;
pub mod telemetry;
pub mod transport;

pub use app::App;

/// Installs the process's TLS crypto provider (ring) for outbound HTTPS; safe to call twice.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
pub use settings::Settings;
