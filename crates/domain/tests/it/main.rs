//! Integration tests of the domain crate: one test binary, each file a module.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod strtotime;
mod timefuzz;
