//! The unique-click window's memory and speed: VISITORS distinct visitors (default 10 M) over
//! one day recorded in `MemoryCounters`, the structure `clicktrail serve` keeps, with the
//! server's allocator; then every visitor once more, which must all be repeats (the window
//! forgets no one). Prints the resident memory the window took, bytes per visitor and time per
//! sighting. `bench/unique-window.sh` runs it.
//!
//! Usage: `unique_window [VISITORS]`

use std::time::Instant;

use chrono::{Duration, Utc};
use clicktrail_store::{MemoryCounters, SharedCounters};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Distinct, well-spread 64-bit keys, like the SHA-256 prefixes of real visitors.
fn key(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let visitors: u64 = std::env::args().nth(1).map(|v| v.parse()).transpose()?.unwrap_or(10_000_000);
    let window = Duration::hours(24);
    let counters = MemoryCounters::new();
    let start = Utc::now() - window;
    let before = rss();
    let began = Instant::now();
    for i in 0..visitors {
        let at = start + Duration::milliseconds((i as f64 / visitors as f64 * 86_400_000.0) as i64);
        assert!(counters.first_in_window(key(i), at, window).await?, "visitor {i} was taken for another");
        if (i + 1) % (visitors / 10).max(1) == 0 {
            eprintln!("  {:>3}%  {} visitors", (i + 1) * 100 / visitors, i + 1);
        }
    }
    let per_sighting = began.elapsed().as_nanos() as f64 / visitors as f64;
    let after = rss();
    let end = start + window - Duration::seconds(1);
    let mut repeats = 0;
    for i in 0..visitors {
        if !counters.first_in_window(key(i), end, window).await? {
            repeats += 1;
        }
    }
    let grown = after.saturating_sub(before);
    println!(
        "visitors {visitors}  remembered {}  repeats recognised {repeats}  window RSS {:.1} MB  {:.1} bytes/visitor  {per_sighting:.0} ns/sighting",
        counters.sightings(),
        grown as f64 / 1_048_576.0,
        grown as f64 / visitors as f64,
    );
    Ok(())
}
