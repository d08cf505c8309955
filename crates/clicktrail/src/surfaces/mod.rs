//! The surfaces: each speaks one wire format, and only translates — it parses a request into the
//! engine's terms (`crate::engine`), calls the engine, and formats the answer, errors included,
//! in its own shape. None imports a store type or calls into another surface.
//!
//! | module | speaks | SPEC |
//! | --- | --- | --- |
//! | [`native`] | the native management API (`/api/…`) | §5 |
//! | [`tracking`] | clicks, impressions, conversions in (`/c`, `/i`, `/postback`, `/p`) | §2 |
//! | [`trafficmanager`] | the admin offer report | Dialect A |
//! | [`traffic_source`] | the traffic-source report | Dialect B |
//! | [`trackly`] | the offers list | Dialect C |
//! | [`everflow`] | raw clicks | Dialect D |
//! | [`fluxoffer`] | the affiliate API | Dialect E |
//! | [`ops`] | health, readiness, metrics, the API document | §6 |
//! | [`panel`] | the web panel (HTML pages, login sessions) | §9 |
//!
//! [`report_table`] is what the native API and the panel share: a report's rows as JSON and CSV.

pub mod everflow;
pub mod fluxoffer;
pub mod native;
pub mod openapi;
pub mod ops;
pub mod panel;
pub mod report_table;
pub mod tracking;
pub mod trackly;
pub mod traffic_source;
pub mod trafficmanager;
