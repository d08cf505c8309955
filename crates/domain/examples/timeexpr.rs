//! How long a time expression takes to read: every distinct expression of the strtotime corpus,
//! each read many times (`cargo run --release -p clicktrail-domain --example timeexpr`).

use std::time::Instant;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clicktrail_domain::timeexpr::{Edge, parse};

fn main() {
    let corpus = include_str!("../tests/strtotime/corpus.tsv");
    let mut expressions: Vec<&str> =
        corpus.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split('\t').next()).collect();
    expressions.sort_unstable();
    expressions.dedup();
    let now = DateTime::<Utc>::from_timestamp(1_779_978_910, 0).unwrap_or_default();
    let zone: Tz = chrono_tz::America::New_York;
    let typical = ["today", "yesterday", "2026-05-21", "2026-05-21 10:00:00", "-7 days", "first day of last month"];
    for (name, set, rounds) in
        [("typical report times", &typical[..], 20_000), ("the whole corpus", &expressions[..], 20)]
    {
        let started = Instant::now();
        let mut ok = 0usize;
        for _ in 0..rounds {
            for e in set {
                ok += usize::from(parse(e, now, zone, Edge::End).is_ok());
            }
        }
        let each = started.elapsed() / u32::try_from(rounds * set.len()).unwrap_or(u32::MAX);
        println!("{name}: {} expressions × {rounds}: {each:?} each ({ok} read)", set.len());
    }
}
