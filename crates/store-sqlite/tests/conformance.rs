//! The storage conformance suite, on SQLite: in memory and on disk.

#![allow(clippy::expect_used)]

use std::sync::Arc;

use clicktrail_store::ConfigStore;
use clicktrail_store_sqlite::SqliteStore;

mod in_memory {
    use super::*;
    clicktrail_store::config_store_conformance!(async {
        Arc::new(SqliteStore::open_in_memory().expect("in-memory SQLite")) as Arc<dyn ConfigStore>
    });
}

mod on_disk {
    use super::*;
    clicktrail_store::config_store_conformance!(async {
        // The directory is leaked on purpose: it must outlive the test's store.
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(SqliteStore::open(&dir).expect("SQLite on disk")) as Arc<dyn ConfigStore>
    });
}

#[test]
fn migrations_are_idempotent_and_refuse_newer_schemas() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(SqliteStore::open(dir.path()).expect("first open"));
    drop(SqliteStore::open(dir.path()).expect("second open applies nothing new"));
    let mut conn = rusqlite::Connection::open(dir.path().join(clicktrail_store_sqlite::DB_FILE)).expect("open");
    assert!(clicktrail_store_sqlite::migrate(&mut conn).expect("migrate").is_empty());
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let err = SqliteStore::open(dir.path()).err().expect("a newer schema is refused");
    assert!(err.to_string().contains("newer than this build"), "{err}");
}

mod events {
    use clicktrail_store::EventStore;
    use clicktrail_store_sqlite::SqliteEvents;

    use super::*;

    clicktrail_store::event_store_conformance!(async {
        // The directory is leaked on purpose: it must outlive the test's store.
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Arc::new(SqliteEvents::open(&dir).expect("events store")) as Arc<dyn EventStore>
    });
}

mod sessions {
    use clicktrail_store::{MemorySessions, SessionStore};

    use super::*;

    mod sqlite {
        use super::*;
        clicktrail_store::session_store_conformance!(async {
            Arc::new(SqliteStore::open_in_memory().expect("in-memory SQLite")) as Arc<dyn SessionStore>
        });
    }

    mod memory {
        use super::*;
        clicktrail_store::session_store_conformance!(async {
            Arc::new(MemorySessions::new()) as Arc<dyn SessionStore>
        });
    }
}

mod memory_counters {
    use clicktrail_store::{MemoryCounters, SharedCounters};

    use super::*;

    clicktrail_store::counters_conformance!(async { Arc::new(MemoryCounters::new()) as Arc<dyn SharedCounters> });
}

mod conversions {
    use clicktrail_store::{ConversionStore, JobQueue};

    use super::*;

    clicktrail_store::conversion_store_conformance!(async {
        let store = Arc::new(SqliteStore::open_in_memory().expect("in-memory SQLite"));
        (store.clone() as Arc<dyn ConversionStore>, store as Arc<dyn JobQueue>)
    });
}

/// Upgrades: conversions stored before their report columns and rollups existed, and events
/// before the coarse rollups, report the same after the migrations and the first folds.
mod upgrades {
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use clicktrail_domain::conversion::Conversion;
    use clicktrail_domain::money::{Currency, Money};
    use clicktrail_domain::offer::ConversionStatus;
    use clicktrail_domain::report::{Dimension, Key};
    use clicktrail_store::conformance::sample_click;
    use clicktrail_store::{ConversionStore, EventBatch, EventStore, TallyQuery};
    use clicktrail_store_sqlite::{DB_FILE, EVENTS_FILE, MIGRATIONS, SqliteEvents, migrate_with};

    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 8, h, 0, 0).single().expect("a time")
    }

    fn query(group: Vec<Dimension>) -> TallyQuery {
        TallyQuery {
            from: at(0),
            to: at(0) + Duration::days(1),
            cuts: Vec::new(),
            by_time: false,
            group,
            filters: Vec::new(),
            statuses: vec![ConversionStatus::Approved],
        }
    }

    fn sums(t: &clicktrail_store::Tallies) -> Vec<(Vec<Key>, u64, u64, String)> {
        let mut rows: Vec<_> = t
            .rows
            .iter()
            .map(|r| (r.key.clone(), r.totals.conversions, r.totals.leads, r.totals.payout.to_string()))
            .collect();
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn conversions_from_before_the_report_columns() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("open");
        migrate_with(&mut conn, &MIGRATIONS[..2]).expect("the schema before report columns");
        for (i, (country, payout, lead)) in
            [("US", "1.5", false), ("DE", "2.0625", false), ("US", "0.75", true)].iter().enumerate()
        {
            let c = Conversion {
                id: 0,
                click_id: None,
                offer_id: 7,
                affiliate_id: 3,
                event: None,
                is_lead: *lead,
                status: ConversionStatus::Approved,
                reason: String::new(),
                payout: Money::parse(payout).expect("money"),
                revenue: Money::parse("3").expect("money"),
                sale_amount: None,
                currency: Currency::USD,
                txid: None,
                coupon_code: None,
                created_at: at(i as u32 + 1),
                updated_at: at(i as u32 + 1),
                click_at: None,
                subs: ["a".into(), String::new(), String::new(), String::new(), String::new()],
                source_id: "newsletter".into(),
                country: (*country).into(),
                device: "mobile".into(),
                os: "ios".into(),
                postback_ip: String::new(),
                history: Vec::new(),
            };
            conn.execute(
                "INSERT INTO conversions (offer_id, affiliate_id, status, created_at, txid, doc) VALUES (7, 3, 'approved', ?1, NULL, ?2)",
                rusqlite::params![c.created_at.timestamp_millis(), serde_json::to_string(&c).expect("json")],
            )
            .expect("an old row");
        }
        drop(conn);
        let store = SqliteStore::open(dir.path()).expect("migrates");
        let by_offer = store.conversion_tally(&query(vec![Dimension::Offer])).await.expect("tally");
        assert!(by_offer.served.rollups, "the backfilled rollups answer by offer");
        assert_eq!(sums(&by_offer), [(vec![Key::Id(7)], 2, 1, "4.3125".to_owned())]);
        let by_country =
            store.conversion_tally(&query(vec![Dimension::Country, Dimension::Sub(0)])).await.expect("tally");
        assert_eq!(
            sums(&by_country),
            [
                (vec![Key::Text("DE".into()), Key::Text("a".into())], 1, 0, "2.0625".to_owned()),
                (vec![Key::Text("US".into()), Key::Text("a".into())], 1, 1, "2.25".to_owned()),
            ]
        );
    }

    #[tokio::test]
    async fn events_from_before_the_coarse_rollups() {
        let dir = tempfile::tempdir().expect("temp dir");
        let events = SqliteEvents::open(dir.path()).expect("events store");
        let clicks = (0..40).map(|i| sample_click(at(1) + Duration::minutes(i * 17), i as u8, 1 + i % 2, 3)).collect();
        events.append(Arc::new(EventBatch { clicks, impressions: Vec::new() })).await.expect("append");
        let before: Vec<_> = [
            vec![Dimension::Offer],
            vec![Dimension::Country],
            vec![Dimension::Sub(2)],
            vec![Dimension::Country, Dimension::Sub(0)],
            vec![Dimension::Sub(0), Dimension::Sub(2)],
        ]
        .into_iter()
        .map(query)
        .collect();
        // Sums per key (how many tallies carry them depends on which rollups were folded).
        let merged = |t: clicktrail_store::Tallies| {
            let mut m: std::collections::BTreeMap<Vec<Key>, clicktrail_domain::report::Totals> = Default::default();
            for r in t.rows {
                m.entry(r.key).or_default().add(&r.totals);
            }
            m
        };
        let mut expected = Vec::new();
        for q in &before {
            expected.push(merged(events.traffic_tally(q).await.expect("tally")));
        }
        drop(events);
        // What a store written by the first schema looks like: no marks, nothing folded.
        let conn = rusqlite::Connection::open(dir.path().join(EVENTS_FILE)).expect("open");
        conn.execute_batch(
            "DELETE FROM rollup_marks; DELETE FROM rollup_offer_hours; DELETE FROM rollup_offer_days;
             DELETE FROM rollup_days; DELETE FROM rollup_field_days; DELETE FROM rollup_net_hours;
             DELETE FROM rollup_net_days; DELETE FROM rollup_key_days; DELETE FROM rollup_net_full_days;
             DELETE FROM rollup_net_field_days; DELETE FROM rollup_net_pair_days;",
        )
        .expect("unfold");
        drop(conn);
        let events = SqliteEvents::open(dir.path()).expect("reopen");
        events.compact(Utc::now()).await.expect("fold from the oldest rollup on");
        for (q, want) in before.iter().zip(expected) {
            let got = events.traffic_tally(q).await.expect("tally");
            assert!(got.served.rollups && !got.served.raw, "{q:?} reads the folded days");
            assert_eq!(merged(got), want, "{q:?}");
        }
    }

    /// Every fold reaches the present, facets included (raw-click queries skip days by them).
    #[tokio::test]
    async fn every_fold_reaches_its_mark() {
        let dir = tempfile::tempdir().expect("temp dir");
        let events = SqliteEvents::open(dir.path()).expect("events store");
        let clicks = (0..40).map(|i| sample_click(at(1) + Duration::minutes(i * 17), i as u8, 1 + i % 2, 3)).collect();
        events.append(Arc::new(EventBatch { clicks, impressions: Vec::new() })).await.expect("append");
        events.compact(Utc::now()).await.expect("fold");
        drop(events);
        let conn = rusqlite::Connection::open(dir.path().join(EVENTS_FILE)).expect("open");
        let names: Vec<String> = conn
            .prepare("SELECT name FROM rollup_marks ORDER BY name")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("marks");
        assert_eq!(
            names,
            ["facets", "fields", "full", "keys", "net_full", "net_pairs", "net_subs", "network", "offer", "subs"]
        );
        let browsers: i64 = conn
            .query_row("SELECT count(*) FROM rollup_field_days WHERE field = 16 AND value = 'Safari'", [], |r| r.get(0))
            .expect("facet rows");
        assert!(browsers > 0, "the browsers each day saw are kept");
    }
}
