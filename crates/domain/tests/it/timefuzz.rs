//! A property test of the time grammar (SPEC §3): whatever the text — words and amounts PHP
//! reads, numbers at and past the ends of `i64`, dates with impossible fields, zones, or any
//! string at all — evaluating it never panics, answers the same twice, and a refusal is the
//! API's message. Bounded: a fixed number of cases, so CI pays a second or two.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clicktrail_domain::timeexpr::{Edge, parse, strtotime};
use proptest::prelude::*;

const UNITS: &[&str] = &[
    "sec",
    "secs",
    "second",
    "seconds",
    "min",
    "mins",
    "minute",
    "minutes",
    "hour",
    "hours",
    "day",
    "days",
    "week",
    "weeks",
    "fortnight",
    "fortnights",
    "month",
    "months",
    "year",
    "years",
    "weekday",
    "weekdays",
    "msec",
    "millisecond",
    "usec",
    "microseconds",
    "µs",
    "monday",
    "fri",
    "sat",
];

const WORDS: &[&str] = &[
    "now",
    "today",
    "midnight",
    "noon",
    "tomorrow",
    "yesterday",
    "next",
    "last",
    "previous",
    "this",
    "first",
    "third",
    "twelfth",
    "ago",
    "of",
    "day of",
    "first day of",
    "last day of",
    "monday",
    "sunday",
    "january",
    "feb",
    "sept",
    "dec",
    "back of",
    "front of",
    "am",
    "pm",
    "T",
    "W",
    "@",
    "UTC",
    "GMT",
    "EST",
    "CEST",
    "Z",
    "Europe/Paris",
    "America/New_York",
    "Mars/Olympus",
    "+",
    "-",
    "--",
    "++",
    ",",
    ".",
    ":",
    "/",
];

/// A number at or near the edges of what any field can hold, or an ordinary one.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just(i64::MIN.to_string()),
        Just(i64::MAX.to_string()),
        Just("99999999999999999999999".to_owned()),
        (0u32..100_000).prop_map(|n| n.to_string()),
        (0u32..100).prop_map(|n| format!("{n:02}")),
    ]
}

/// One piece of an expression.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop_oneof![Just(""), Just("+"), Just("-")], number(), prop::sample::select(UNITS))
            .prop_map(|(sign, n, unit)| format!("{sign}{n} {unit}")),
        prop::sample::select(WORDS).prop_map(str::to_owned),
        (number(), number(), number()).prop_map(|(y, m, d)| format!("{y}-{m}-{d}")),
        (number(), number(), number()).prop_map(|(m, d, y)| format!("{m}/{d}/{y}")),
        (number(), number(), number()).prop_map(|(d, m, y)| format!("{d}.{m}.{y}")),
        (number(), number(), number()).prop_map(|(h, i, s)| format!("{h}:{i}:{s}")),
        (number(), prop_oneof![Just("am"), Just("pm")]).prop_map(|(h, m)| format!("{h}{m}")),
        number().prop_map(|n| format!("@{n}")),
        number(),
        (number(), number()).prop_map(|(y, w)| format!("{y}-W{w}")),
        (prop_oneof![Just("+"), Just("-")], number(), number()).prop_map(|(s, h, m)| format!("{s}{h}:{m}")),
        "\\PC{0,12}",
    ]
}

/// A whole expression: one to five pieces.
fn expression() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(token(), 1..=5).prop_map(|t| t.join(" ")),
        1 => any::<String>(),
    ]
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(vec![
        Tz::UTC,
        Tz::Europe__Berlin,
        Tz::America__New_York,
        Tz::Asia__Kathmandu,
        Tz::Pacific__Chatham,
        Tz::Australia__Lord_Howe,
        Tz::Pacific__Kiritimati,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_read_or_refused_never_a_panic(text in expression(), tz in zone(), now in -5_000_000_000i64..5_000_000_000) {
        let now = DateTime::<Utc>::from_timestamp(now, 123_456_000).unwrap();
        for edge in [Edge::Start, Edge::End] {
            let first = parse(&text, now, tz, edge);
            let again = parse(&text, now, tz, edge);
            prop_assert_eq!(first.as_ref().ok(), again.as_ref().ok());
            if let Err(e) = first {
                prop_assert!(e.message.contains("is not a time this API can read"), "{}", e.message);
            }
        }
        // PHP's own reading may lie past chrono's years (PHP answers such instants too); it
        // must still be an answer, the same each time.
        prop_assert_eq!(strtotime(&text, now.timestamp(), tz), strtotime(&text, now.timestamp(), tz));
    }
}
