//! Schema migrations, tracked in SQLite's `user_version`.

use clicktrail_store::StoreError;
use rusqlite::Connection;

use crate::backend;

/// Migrations of the configuration database, in order: (name, SQL). Never edit one that has
/// shipped; add the next.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_config", include_str!("migrations/0001_config.sql")),
    ("0002_conversions", include_str!("migrations/0002_conversions.sql")),
    ("0003_conversion_tallies", include_str!("migrations/0003_conversion_tallies.sql")),
    ("0004_sessions", include_str!("migrations/0004_sessions.sql")),
    ("0005_config_version", include_str!("migrations/0005_config_version.sql")),
];

/// Migrations of the events database.
pub const EVENT_MIGRATIONS: &[(&str, &str)] = &[
    ("events_0001", include_str!("migrations/events_0001.sql")),
    ("events_0002", include_str!("migrations/events_0002.sql")),
    ("events_0003", include_str!("migrations/events_0003.sql")),
    ("events_0004", include_str!("migrations/events_0004.sql")),
    ("events_0005", include_str!("migrations/events_0005.sql")),
    ("events_0006", include_str!("migrations/events_0006.sql")),
];

/// Applies the configuration migrations the database has not seen; returns their names.
pub fn migrate(conn: &mut Connection) -> Result<Vec<&'static str>, StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// Applies the migrations of `list` the database has not seen; returns their names.
pub fn migrate_with(conn: &mut Connection, list: &[(&'static str, &str)]) -> Result<Vec<&'static str>, StoreError> {
    let current: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))
        .map_err(backend)?
        .try_into()
        .map_err(backend)?;
    if current > list.len() {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {current}, newer than this build knows ({}); \
             run a newer clicktrail or restore a backup",
            list.len()
        )));
    }
    let mut applied = Vec::new();
    for (version, (name, sql)) in list.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(|e| StoreError::Backend(format!("migration {name} failed: {e}")))?;
        tx.pragma_update(None, "user_version", (version + 1) as i64).map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(migration = name, "applied migration");
        applied.push(*name);
    }
    Ok(applied)
}
