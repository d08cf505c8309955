//! [`ConfigStore`] on PostgreSQL.

use async_trait::async_trait;
use clicktrail_store::{ConfigStore, Index, Kind, Order, Page, Query, StoreError};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use crate::{PgStore, backend, count, storable};

/// Parameters of a statement built at run time.
pub(crate) type Args = Vec<Box<dyn ToSql + Sync + Send>>;

pub(crate) fn refs(args: &Args) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
}

/// Appends a parameter and returns its placeholder (`$3`).
pub(crate) fn bind(args: &mut Args, value: impl ToSql + Sync + Send + 'static) -> String {
    args.push(Box::new(value));
    format!("${}", args.len())
}

fn parse_doc(kind: Kind, id: i64, text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { kind: kind.as_str(), id, message: e.to_string() })
}

/// A unique-index violation is a `Conflict`; anything else a backend failure.
fn write_error(kind: Kind, index: &Index, e: tokio_postgres::Error) -> StoreError {
    match (&index.unique, e.code() == Some(&SqlState::UNIQUE_VIOLATION)) {
        (Some((key, value)), true) => StoreError::Conflict { kind: kind.as_str(), key, value: value.clone() },
        _ => backend(e),
    }
}

const UPSERT: &str = "INSERT INTO config_records
        (kind, id, name, status, role, owner_id, ref_id, position, unique_key, doc)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, status = excluded.status,
        role = excluded.role, owner_id = excluded.owner_id, ref_id = excluded.ref_id,
        position = excluded.position, unique_key = excluded.unique_key, doc = excluded.doc";

async fn write_row(
    client: &impl deadpool_postgres::GenericClient,
    kind: Kind,
    id: i64,
    index: &Index,
    doc: &serde_json::Value,
) -> Result<(), StoreError> {
    let unique = index.unique.as_ref().map(|(_, v)| v.as_str());
    client
        .execute(
            UPSERT,
            &[
                &kind.as_str(),
                &id,
                &index.name,
                &index.status,
                &index.role,
                &index.owner_id,
                &index.ref_id,
                &index.position,
                &unique,
                &doc.to_string(),
            ],
        )
        .await
        .map(drop)
        .map_err(|e| write_error(kind, index, e))
}

/// The WHERE clause of a list and its parameters.
fn where_clause(kind: Kind, q: &Query) -> (String, Args) {
    let mut args: Args = Vec::new();
    let mut sql = format!("kind = {}", bind(&mut args, kind.as_str()));
    if !q.statuses.is_empty() {
        sql.push_str(&format!(" AND status = ANY({})", bind(&mut args, q.statuses.clone())));
    }
    if let Some(role) = &q.role {
        sql.push_str(&format!(" AND role = {}", bind(&mut args, role.clone())));
    }
    if let Some(owner) = q.owner_id {
        sql.push_str(&format!(" AND owner_id = {}", bind(&mut args, owner)));
    }
    if let Some(r) = q.ref_id {
        sql.push_str(&format!(" AND ref_id = {}", bind(&mut args, r)));
    }
    if let Some(ids) = &q.ids {
        sql.push_str(&format!(" AND id = ANY({})", bind(&mut args, ids.clone())));
    }
    if q.name_contains.as_deref().is_some_and(|t| !storable(t)) {
        sql.push_str(" AND FALSE");
    } else if let Some(text) = &q.name_contains {
        sql.push_str(&format!(" AND strpos(lower(name), lower({})) > 0", bind(&mut args, text.clone())));
    }
    (sql, args)
}

#[async_trait]
impl ConfigStore for PgStore {
    async fn insert(&self, kind: Kind, index: Index, doc: serde_json::Value) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO config_sequences (kind, last_id) VALUES ($1, 1)
                 ON CONFLICT (kind) DO UPDATE SET last_id = config_sequences.last_id + 1
                 RETURNING last_id",
                &[&kind.as_str()],
            )
            .await
            .map_err(backend)?
            .get(0);
        write_row(&tx, kind, id, &index, &doc).await?;
        tx.commit().await.map_err(backend)?;
        Ok(id)
    }

    async fn put(&self, kind: Kind, id: i64, index: Index, doc: serde_json::Value) -> Result<(), StoreError> {
        write_row(&self.client().await?, kind, id, &index, &doc).await
    }

    async fn update(&self, kind: Kind, id: i64, index: Index, doc: serde_json::Value) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(backend)?;
        let exists = tx
            .query_opt("SELECT 1 FROM config_records WHERE kind = $1 AND id = $2 FOR UPDATE", &[&kind.as_str(), &id])
            .await
            .map_err(backend)?
            .is_some();
        if !exists {
            return Err(StoreError::NotFound { kind: kind.as_str(), id });
        }
        write_row(&tx, kind, id, &index, &doc).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get(&self, kind: Kind, id: i64) -> Result<Option<serde_json::Value>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT doc FROM config_records WHERE kind = $1 AND id = $2", &[&kind.as_str(), &id])
            .await
            .map_err(backend)?;
        row.map(|r| parse_doc(kind, id, r.get(0))).transpose()
    }

    async fn find_unique(&self, kind: Kind, value: &str) -> Result<Option<(i64, serde_json::Value)>, StoreError> {
        if !storable(value) {
            return Ok(None);
        }
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id, doc FROM config_records WHERE kind = $1 AND unique_key = $2",
                &[&kind.as_str(), &value],
            )
            .await
            .map_err(backend)?;
        row.map(|r| {
            let id: i64 = r.get(0);
            parse_doc(kind, id, r.get(1)).map(|d| (id, d))
        })
        .transpose()
    }

    async fn list(&self, kind: Kind, query: &Query) -> Result<Page<(i64, serde_json::Value)>, StoreError> {
        let client = self.client().await?;
        let (filter, args) = where_clause(kind, query);
        let total: i64 = client
            .query_one(&format!("SELECT count(*) FROM config_records WHERE {filter}"), &refs(&args))
            .await
            .map_err(backend)?
            .get(0);
        let order = match query.order {
            Order::Id => "id",
            Order::IdDesc => "id DESC",
            Order::Position => "position IS NULL, position, id",
        };
        let limit = query.limit.map_or_else(|| "ALL".to_owned(), |l| l.min(i64::MAX as u64).to_string());
        let offset = query.offset.min(i64::MAX as u64);
        let rows = client
            .query(
                &format!(
                    "SELECT id, doc FROM config_records WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
                ),
                &refs(&args),
            )
            .await
            .map_err(backend)?;
        let mut items = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.get(0);
            items.push((id, parse_doc(kind, id, row.get(1))?));
        }
        Ok(Page { items, total: count(total) })
    }

    async fn delete(&self, kind: Kind, id: i64) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM config_records WHERE kind = $1 AND id = $2", &[&kind.as_str(), &id])
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        PgStore::ping(self).await
    }

    async fn version(&self) -> Result<i64, StoreError> {
        Ok(self.changes.version())
    }

    async fn checkpoint(&self) -> Result<(), StoreError> {
        // Every commit is durable in PostgreSQL's own log.
        Ok(())
    }
}
