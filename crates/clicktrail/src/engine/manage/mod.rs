//! Management operations on the network's records, shared by every API surface.
//!
//! Each record type says, through [`Resource`], who may read and change it, how a request body
//! becomes a valid spec (including checks against other records), and what each role sees of it.
//! The generic operations here then do the same thing for every type: create, get, list, patch
//! (a JSON merge patch validated exactly like a create), delete. Nothing here knows HTTP.

pub mod catalog;
pub mod keys;
pub mod network;
pub mod offers;
pub mod postbacks;
pub mod users;

use async_trait::async_trait;
use chrono::Utc;
use clicktrail_domain::Timestamp;
/// A list's filters (names, statuses, owner and the like), as the configuration store takes them.
pub use clicktrail_store::Query;
use clicktrail_store::{Config, Entity, Order, Page};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::engine::access::Caller;
use crate::error::{Error, Result};

/// A record type the management API serves.
#[async_trait]
pub trait Resource: Entity + Clone {
    /// The editable part, as accepted in request bodies.
    type Spec: Serialize + DeserializeOwned + Send + Sync;
    /// Human name in messages (`offer`, `affiliate group`).
    const NAME: &'static str;
    /// Whether its bodies may carry a write-only panel `password` (users).
    const HAS_PASSWORD: bool = false;

    /// The editable part of a stored record.
    fn spec(&self) -> Self::Spec;
    /// A new record (id 0 until stored).
    fn create(spec: Self::Spec, now: Timestamp) -> Self;
    /// Replaces the editable part.
    fn replace(&mut self, spec: Self::Spec, now: Timestamp);

    /// Whether the caller may read records of this type at all (scope and role).
    fn may_read(caller: &Caller) -> Result<()>;
    /// Whether the caller may create, change or delete records of this type.
    fn may_write(caller: &Caller) -> Result<()> {
        caller.require_admin()
    }
    /// Whether this record is the caller's to see (others answer "not found").
    fn visible(&self, caller: &Caller) -> bool {
        caller.is_admin_user()
    }
    /// Narrows a list query to what the caller may see, where the store can do it.
    fn scope_query(_caller: &Caller, _query: &mut Query) {}
    /// Whether [`Resource::visible`] must still filter rows after [`Resource::scope_query`]
    /// (then lists are paginated in memory).
    fn filters_rows(_caller: &Caller) -> bool {
        false
    }
    /// Validates a spec against the rules and the other records; `current` on updates.
    async fn check(spec: Self::Spec, config: &Config, caller: &Caller, current: Option<&Self>) -> Result<Self::Spec>;
    /// What the caller sees of the record.
    fn view(&self, _caller: &Caller) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
    /// Deletes (or archives, closes, revokes) the record; returns what remains, if anything.
    async fn remove(self, config: &Config, _caller: &Caller, _now: Timestamp) -> Result<Option<Self>> {
        config.delete::<Self>(self.id()).await?;
        Ok(None)
    }
}

/// A list request: filters plus a page.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Filters and order (offset and limit are set from the page).
    pub query: Query,
    /// 1-based page.
    pub page: u64,
    /// Records per page.
    pub per_page: u64,
}

/// One page of records as the caller sees them.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The records.
    pub data: Vec<Value>,
    /// Page details.
    pub meta: ListMeta,
}

/// Pagination details of a [`Listed`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListMeta {
    /// Matching records in all.
    pub total: u64,
    /// This page (1-based).
    pub page: u64,
    /// Records per page.
    pub per_page: u64,
}

/// Reads a request body into a spec, naming the field of any error.
pub fn parse_spec<S: DeserializeOwned>(body: Value) -> Result<S> {
    if !body.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde's own messages carry a trailing position that means nothing to a caller.
        let message = inner.split(" at line ").next().unwrap_or(&inner).to_owned();
        let parent = if path == "." || path.is_empty() { None } else { Some(path) };
        let child = |name: &str| parent.as_ref().map_or_else(|| name.to_owned(), |p| format!("{p}.{name}"));
        if let Some(name) = backticked(&message, "missing field `") {
            Error::invalid(child(name), "is required")
        } else if let Some(name) = backticked(&message, "unknown field `") {
            // The path already ends at the unknown field.
            let expected = message.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
            Error::invalid(
                parent.unwrap_or_else(|| name.to_owned()),
                format!("is not a known field (expected {expected})"),
            )
        } else {
            Error::invalid(parent.unwrap_or_else(|| "body".into()), message)
        }
    })
}

/// The name inside serde's "missing field `x`" style messages.
fn backticked<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    message.strip_prefix(prefix)?.split('`').next()
}

/// Applies an RFC 7396 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(map) = target {
                for (key, value) in fields {
                    if value.is_null() {
                        map.remove(&key);
                    } else {
                        merge_patch(map.entry(key).or_insert(Value::Null), value);
                    }
                }
            }
        }
        other => *target = other,
    }
}

/// Takes the write-only panel `password` out of a user's request body, checked, before the
/// body is read as a spec (it is never stored with the record: see [`Sessions::set_password`]).
///
/// [`Sessions::set_password`]: crate::engine::access::session::Sessions::set_password
pub fn take_password<R: Resource>(body: &mut Value) -> Result<Option<String>> {
    if !R::HAS_PASSWORD {
        return Ok(None);
    }
    match body.as_object_mut().and_then(|m| m.remove("password")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) => {
            crate::engine::access::session::check_new_password(&p)?;
            Ok(Some(p))
        }
        Some(_) => Err(Error::invalid("password", "must be a string")),
    }
}

/// Creates a record from a request body.
pub async fn create<R: Resource>(config: &Config, caller: &Caller, body: Value) -> Result<R> {
    R::may_write(caller)?;
    let spec = R::check(parse_spec(body)?, config, caller, None).await?;
    Ok(config.insert(R::create(spec, Utc::now())).await?)
}

/// Reads one record the caller may see.
pub async fn get<R: Resource>(config: &Config, caller: &Caller, id: i64) -> Result<R> {
    R::may_read(caller)?;
    match config.get::<R>(id).await? {
        Some(record) if record.visible(caller) => Ok(record),
        _ => Err(Error::not_found(R::NAME, id)),
    }
}

/// Lists the records the caller may see.
pub async fn list<R: Resource>(
    config: &Config,
    caller: &Caller,
    mut request: ListRequest,
) -> Result<(Vec<R>, ListMeta)> {
    R::may_read(caller)?;
    R::scope_query(caller, &mut request.query);
    let per_page = request.per_page.max(1);
    let offset = (request.page.max(1) - 1).saturating_mul(per_page);
    let (items, total) = if R::filters_rows(caller) {
        let all: Page<R> = config.list(&request.query).await?;
        let visible: Vec<R> = all.items.into_iter().filter(|r| r.visible(caller)).collect();
        let total = visible.len() as u64;
        let page =
            visible.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX)).take(per_page as usize).collect();
        (page, total)
    } else {
        request.query.offset = offset;
        request.query.limit = Some(per_page);
        let page: Page<R> = config.list(&request.query).await?;
        (page.items.into_iter().filter(|r| r.visible(caller)).collect(), page.total)
    };
    Ok((items, ListMeta { total, page: request.page.max(1), per_page }))
}

/// Renders records as the caller sees them.
pub fn views<R: Resource>(caller: &Caller, items: &[R], meta: ListMeta) -> Listed {
    Listed { data: items.iter().map(|r| r.view(caller)).collect(), meta }
}

/// Changes a record with a JSON merge patch, validated like a create.
pub async fn update<R: Resource>(config: &Config, caller: &Caller, id: i64, patch: Value) -> Result<R> {
    R::may_write(caller)?;
    let mut record = get::<R>(config, caller, id).await?;
    if !patch.is_object() {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let mut merged = serde_json::to_value(record.spec()).map_err(|e| Error::internal(e.to_string()))?;
    merge_patch(&mut merged, patch);
    let spec = R::check(parse_spec(merged)?, config, caller, Some(&record)).await?;
    record.replace(spec, Utc::now());
    config.update(&record).await?;
    Ok(record)
}

/// Deletes (or archives) a record.
pub async fn delete<R: Resource>(config: &Config, caller: &Caller, id: i64) -> Result<Option<R>> {
    R::may_write(caller)?;
    let record = get::<R>(config, caller, id).await?;
    record.remove(config, caller, Utc::now()).await
}

/// Fails unless a referenced record exists and passes `ok`: `404` naming the field, as for a
/// record asked for by its path (the reference is to something that is not there).
pub async fn require_ref<R: Entity>(
    config: &Config,
    field: &str,
    what: &str,
    id: i64,
    ok: impl FnOnce(&R) -> bool,
) -> Result<R> {
    match config.get::<R>(id).await? {
        Some(record) if ok(&record) => Ok(record),
        _ => Err(Error {
            kind: crate::error::ErrorKind::NotFound,
            ..Error::invalid(field, format!("there is no {what} with id {id}"))
        }),
    }
}

/// Narrows a query to one owner: a filter naming another owner then matches nothing, so a
/// filter can only ever narrow what the caller sees, never widen it.
pub fn narrow_to_owner(query: &mut Query, me: i64) {
    if query.owner_id.is_some_and(|asked| asked != me) {
        query.ids = Some(Vec::new());
    }
    query.owner_id = Some(me);
}

/// Fails with a conflict when other records still point at this one.
pub async fn refuse_if_used<R: Entity>(config: &Config, query: Query, message: String) -> Result<()> {
    let used: Page<R> = config.list(&Query { limit: Some(1), order: Order::Id, ..query }).await?;
    if used.total > 0 {
        return Err(Error::new(crate::error::ErrorKind::Conflict, message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "keep": 1});
        merge_patch(&mut doc, json!({"a": "z", "c": {"f": null}, "n": [1]}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}, "keep": 1, "n": [1]}));
    }

    #[test]
    fn spec_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct S {
            inner: Vec<clicktrail_domain::money::Money>,
        }
        let e = parse_spec::<S>(json!({"inner": [1, -2]})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("inner[1]"));
        assert!(e.message.starts_with("inner[1]: must not be negative"), "{}", e.message);
        let e = parse_spec::<S>(json!([])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("body"));
        let e = parse_spec::<S>(json!({})).unwrap_err();
        assert_eq!(e.message, "inner: is required");
    }
}
