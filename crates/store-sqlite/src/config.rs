//! [`ConfigStore`] on SQLite.

use async_trait::async_trait;
use clicktrail_store::{ConfigStore, Index, Kind, Order, Page, Query, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::{SqliteStore, backend};

fn parse_doc(kind: Kind, id: i64, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { kind: kind.as_str(), id, message: e.to_string() })
}

/// Maps a unique-index violation to `Conflict`, anything else to `Backend`.
fn write_error(kind: Kind, index: &Index, e: rusqlite::Error) -> StoreError {
    let unique = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    );
    match (&index.unique, unique) {
        (Some((key, value)), true) => StoreError::Conflict { kind: kind.as_str(), key, value: value.clone() },
        _ => backend(e),
    }
}

fn write_row(conn: &Connection, kind: Kind, id: i64, index: &Index, doc: &str) -> Result<(), StoreError> {
    conn.execute(
        // Upsert on the primary key only: a clash on the unique index must fail, never
        // replace the other record (which `INSERT OR REPLACE` would silently do).
        "INSERT INTO config_records
            (kind, id, name, status, role, owner_id, ref_id, position, unique_key, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, status = excluded.status,
            role = excluded.role, owner_id = excluded.owner_id, ref_id = excluded.ref_id,
            position = excluded.position, unique_key = excluded.unique_key, doc = excluded.doc",
        params![
            kind.as_str(),
            id,
            index.name,
            index.status,
            index.role,
            index.owner_id,
            index.ref_id,
            index.position,
            index.unique.as_ref().map(|(_, v)| v),
            doc
        ],
    )
    .map(drop)
    .map_err(|e| write_error(kind, index, e))
}

/// The WHERE clause and its parameters for a query.
fn where_clause(kind: Kind, q: &Query) -> (String, Vec<Value>) {
    let mut sql = String::from("kind = ?");
    let mut args = vec![Value::Text(kind.as_str().into())];
    if !q.statuses.is_empty() {
        sql.push_str(" AND status IN (SELECT value FROM json_each(?))");
        args.push(Value::Text(serde_json::Value::from(q.statuses.clone()).to_string()));
    }
    let mut eq = |column: &str, value: Value| {
        sql.push_str(&format!(" AND {column} = ?"));
        args.push(value);
    };
    if let Some(role) = &q.role {
        eq("role", Value::Text(role.clone()));
    }
    if let Some(owner) = q.owner_id {
        eq("owner_id", Value::Integer(owner));
    }
    if let Some(r) = q.ref_id {
        eq("ref_id", Value::Integer(r));
    }
    if let Some(ids) = &q.ids {
        sql.push_str(" AND id IN (SELECT value FROM json_each(?))");
        args.push(Value::Text(serde_json::Value::from(ids.clone()).to_string()));
    }
    if let Some(text) = &q.name_contains {
        sql.push_str(" AND instr(lower(name), lower(?)) > 0");
        args.push(Value::Text(text.clone()));
    }
    (sql, args)
}

#[async_trait]
impl ConfigStore for SqliteStore {
    async fn insert(&self, kind: Kind, index: Index, doc: serde_json::Value) -> Result<i64, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let id: i64 = tx
                .query_row(
                    "INSERT INTO config_sequences (kind, last_id) VALUES (?1, 1)
                     ON CONFLICT (kind) DO UPDATE SET last_id = last_id + 1
                     RETURNING last_id",
                    params![kind.as_str()],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            write_row(&tx, kind, id, &index, &doc.to_string())?;
            tx.commit().map_err(backend)?;
            Ok(id)
        })
        .await
    }

    async fn put(&self, kind: Kind, id: i64, index: Index, doc: serde_json::Value) -> Result<(), StoreError> {
        self.with(move |conn| write_row(conn, kind, id, &index, &doc.to_string())).await
    }

    async fn update(&self, kind: Kind, id: i64, index: Index, doc: serde_json::Value) -> Result<(), StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let exists = tx
                .query_row(
                    "SELECT 1 FROM config_records WHERE kind = ?1 AND id = ?2",
                    params![kind.as_str(), id],
                    |_| Ok(()),
                )
                .optional()
                .map_err(backend)?
                .is_some();
            if !exists {
                return Err(StoreError::NotFound { kind: kind.as_str(), id });
            }
            write_row(&tx, kind, id, &index, &doc.to_string())?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn get(&self, kind: Kind, id: i64) -> Result<Option<serde_json::Value>, StoreError> {
        self.with(move |conn| {
            let text: Option<String> = conn
                .query_row(
                    "SELECT doc FROM config_records WHERE kind = ?1 AND id = ?2",
                    params![kind.as_str(), id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?;
            text.map(|t| parse_doc(kind, id, &t)).transpose()
        })
        .await
    }

    async fn find_unique(&self, kind: Kind, value: &str) -> Result<Option<(i64, serde_json::Value)>, StoreError> {
        let value = value.to_owned();
        self.with(move |conn| {
            let row: Option<(i64, String)> = conn
                .query_row(
                    "SELECT id, doc FROM config_records WHERE kind = ?1 AND unique_key = ?2",
                    params![kind.as_str(), value],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(backend)?;
            row.map(|(id, t)| parse_doc(kind, id, &t).map(|d| (id, d))).transpose()
        })
        .await
    }

    async fn list(&self, kind: Kind, query: &Query) -> Result<Page<(i64, serde_json::Value)>, StoreError> {
        let query = query.clone();
        self.with(move |conn| {
            let (filter, args) = where_clause(kind, &query);
            let total: i64 = conn
                .query_row(
                    &format!("SELECT count(*) FROM config_records WHERE {filter}"),
                    params_from_iter(&args),
                    |r| r.get(0),
                )
                .map_err(backend)?;
            let order = match query.order {
                Order::Id => "id",
                Order::IdDesc => "id DESC",
                Order::Position => "position IS NULL, position, id",
            };
            let limit = query.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
            let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
            let sql = format!(
                "SELECT id, doc FROM config_records WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
            );
            let mut stmt = conn.prepare(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(params_from_iter(&args), |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?)))
                .map_err(backend)?;
            let mut items = Vec::new();
            for row in rows {
                let (id, text) = row.map_err(backend)?;
                items.push((id, parse_doc(kind, id, &text)?));
            }
            Ok(Page { items, total: u64::try_from(total).unwrap_or(0) })
        })
        .await
    }

    async fn delete(&self, kind: Kind, id: i64) -> Result<bool, StoreError> {
        self.with(move |conn| {
            conn.execute("DELETE FROM config_records WHERE kind = ?1 AND id = ?2", params![kind.as_str(), id])
                .map(|n| n > 0)
                .map_err(backend)
        })
        .await
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        SqliteStore::checkpoint(self).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)).await
    }

    async fn version(&self) -> Result<i64, StoreError> {
        self.with(|conn| {
            conn.prepare_cached("SELECT version FROM config_version")
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(backend)
        })
        .await
    }
}
