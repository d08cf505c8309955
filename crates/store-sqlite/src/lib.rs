//! The embedded backend: SQLite in the data directory.
//!
//! One file, `clicktrail.db`, in WAL mode. SQLite calls block, so every call runs on Tokio's
//! blocking pool, never on an async worker. Migrations are applied when the store opens and by
//! `clicktrail migrate`.

#![forbid(unsafe_code)]

mod config;
mod conversions;
mod events;
mod fold;
mod migrate;
mod sessions;
mod tally;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use clicktrail_domain::money::Money;
use clicktrail_store::StoreError;
use rusqlite::Connection;
use rust_decimal::Decimal;

pub use events::{EVENTS_FILE, SqliteEvents};
pub use migrate::{EVENT_MIGRATIONS, MIGRATIONS, migrate, migrate_with};

pub(crate) use clicktrail_store::units::{from_units, units as decimal_units};

pub(crate) fn to_units(m: Money) -> i64 {
    decimal_units(m.amount())
}

/// The SQL of an overflow-proof sum of a money column: its whole currency units and its
/// remainders summed apart (each fits an `i64` for more rows than any table holds), read back
/// by [`split_sum`]. A plain `sum()` of 10^-8ths overflows at 92 billion.
macro_rules! money_sum {
    ($column:literal) => {
        concat!("sum(", $column, " / 100000000), sum(", $column, " % 100000000)")
    };
}
pub(crate) use money_sum;

/// The SQL of a money column's sum as one integer that saturates at the largest `i64` instead
/// of failing (SQLite's `sum()` raises "integer overflow"): for folding rollup cells.
macro_rules! saturating_money_sum {
    ($column:literal) => {
        concat!(
            "CASE WHEN sum(",
            $column,
            " / 100000000) + sum(",
            $column,
            " % 100000000) / 100000000 >= 92233720368 ",
            "THEN 9223372036854775807 ELSE sum(",
            $column,
            " / 100000000) * 100000000 + sum(",
            $column,
            " % 100000000) END"
        )
    };
}
pub(crate) use saturating_money_sum;

/// The payout and revenue sums of a tally, each written by `$sum` ([`money_sum!`] to read a
/// report exactly, [`saturating_money_sum!`] to fold a rollup cell).
macro_rules! money_columns {
    ($sum:ident) => {
        concat!(crate::$sum!("payout"), ", ", crate::$sum!("revenue"))
    };
}
pub(crate) use money_columns;

/// Reads the two columns of [`money_sum!`] at `at`.
pub(crate) fn split_sum(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Decimal> {
    let whole: Option<i64> = r.get(at)?;
    let rest: Option<i64> = r.get(at + 1)?;
    Ok((Decimal::from(whole.unwrap_or(0)) + from_units(rest.unwrap_or(0))).normalize())
}

/// SQL adding `excluded.{column}` to a rollup cell without leaving the integers: SQLite turns
/// an overflowing integer sum into a float, which would poison every report over the cell.
/// A cell (one hour of one offer, affiliate and status) saturates at ±92,233,720,368.54775807.
macro_rules! saturating_add {
    ($column:literal) => {
        concat!(
            $column,
            " = CASE WHEN excluded.",
            $column,
            " > 0 AND ",
            $column,
            " > 9223372036854775807 - excluded.",
            $column,
            " THEN 9223372036854775807 WHEN excluded.",
            $column,
            " < 0 AND ",
            $column,
            " < -9223372036854775807 - excluded.",
            $column,
            " THEN -9223372036854775807 ELSE ",
            $column,
            " + excluded.",
            $column,
            " END"
        )
    };
}
pub(crate) use saturating_add;

/// Unix milliseconds, as times are stored.
pub(crate) fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Unsigned count from SQL.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "clicktrail.db";

/// The databases of a data directory in the order a backup copies them: the configuration
/// (with conversions) first, then the events, so that every click a copied conversion points
/// to is in the copied events.
pub const DATABASES: [&str; 2] = [DB_FILE, events::EVENTS_FILE];

/// Writes the WAL into the database file and empties it (`wal_checkpoint(TRUNCATE)`).
pub(crate) fn checkpoint(conn: &mut Connection) -> Result<(), StoreError> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).map_err(backend)?;
    if busy != 0 {
        return Err(StoreError::Backend("the WAL checkpoint was blocked by a reader".into()));
    }
    Ok(())
}

/// Copies the database at `source` into a new file `dest` (`0600`) with SQLite's online
/// backup, in one step: one read transaction, so the copy is the database as it was at one
/// instant, while other connections and processes keep writing (WAL readers never block
/// writers). Returns the bytes copied.
pub fn backup_database(source: &Path, dest: &Path) -> Result<u64, StoreError> {
    use rusqlite::OpenFlags;
    let open_failed = |p: &Path, e: rusqlite::Error| StoreError::Backend(format!("cannot open {}: {e}", p.display()));
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let from = Connection::open_with_flags(source, flags).map_err(|e| open_failed(source, e))?;
    from.busy_timeout(std::time::Duration::from_secs(30)).map_err(backend)?;
    if dest.exists() {
        return Err(StoreError::Backend(format!("{} already exists", dest.display())));
    }
    private_database(dest)?;
    let mut to = Connection::open(dest).map_err(|e| open_failed(dest, e))?;
    {
        let backup = rusqlite::backup::Backup::new(&from, &mut to).map_err(backend)?;
        loop {
            match backup.step(-1).map_err(backend)? {
                rusqlite::backup::StepResult::Done => break,
                // Locked or busy: another connection holds a lock for a moment.
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
    let pages: i64 = to.query_row("PRAGMA page_count", [], |r| r.get(0)).map_err(backend)?;
    let size: i64 = to.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(backend)?;
    to.close().map_err(|(_, e)| backend(e))?;
    Ok(count(pages.saturating_mul(size)))
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(backend)?;
    Ok(())
}

/// Creates the data directory readable by its owner only (`0700`) when it does not exist; an
/// existing directory is left as the operator made it.
pub fn create_data_dir(data_dir: &Path) -> Result<(), StoreError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(data_dir)
        .map_err(|e| StoreError::Backend(format!("cannot create data directory {}: {e}", data_dir.display())))
}

/// Makes a database file (and its WAL and shared-memory files, which SQLite creates with the
/// database's mode) readable by its owner only (`0600`): it holds secrets.
pub(crate) fn private_database(path: &Path) -> Result<(), StoreError> {
    let fail = |e: std::io::Error| StoreError::Backend(format!("cannot secure {}: {e}", path.display()));
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(path).map_err(fail)?;
    }
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(fail)?;
        }
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        create_data_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        private_database(&path)?;
        let mut conn =
            Connection::open(&path).map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: Some(path) })
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory().map_err(backend)?;
        configure(&conn)?;
        migrate(&mut conn)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), path: None })
    }

    /// Writes the WAL into the database file (at shutdown).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.with(checkpoint).await
    }

    /// The database file, when on disk.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn with<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite itself consistent (every write is a
            // transaction), so a poisoned lock is safe to take over.
            let mut guard = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    }
}
