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
