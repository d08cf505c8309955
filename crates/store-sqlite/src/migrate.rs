//! Schema migrations, tracked in SQLite's `user_version`.

use clicktrail_store::StoreError;
use rusqlite::Connection;

use crate::backend;

/// Every migration, in order: (name, SQL). Never edit one that has shipped; add the next.
pub const MIGRATIONS: &[(&str, &str)] = &[("0001_config", include_str!("migrations/0001_config.sql"))];

/// Applies the migrations the database has not seen; returns their names.
pub fn migrate(conn: &mut Connection) -> Result<Vec<&'static str>, StoreError> {
    let current: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get::<_, i64>(0))
        .map_err(backend)?
        .try_into()
        .map_err(backend)?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {current}, newer than this build knows ({}); \
             run a newer clicktrail or restore a backup",
            MIGRATIONS.len()
        )));
    }
    let mut applied = Vec::new();
    for (version, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(|e| StoreError::Backend(format!("migration {name} failed: {e}")))?;
        tx.pragma_update(None, "user_version", (version + 1) as i64).map_err(backend)?;
        tx.commit().map_err(backend)?;
        tracing::info!(migration = name, "applied migration");
        applied.push(*name);
    }
    Ok(applied)
}
