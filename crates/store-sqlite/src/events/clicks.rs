//! Raw-click queries: every filter and exclusion of a [`ClickQuery`] becomes SQL, so SQLite
//! reads only the clicks asked for, in id (time) order, and stops at the limit.

use clicktrail_domain::click::Click;
use clicktrail_store::StoreError;
use clicktrail_store::events::{ClickCondition, ClickField, ClickQuery};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::codec::{CLICK_COLUMNS, id_bound, read_click};
use crate::backend;

/// The column of a field in `clicks`.
fn column(field: ClickField) -> &'static str {
    match field {
        ClickField::Offer => "offer_id",
        ClickField::Affiliate => "affiliate_id",
        ClickField::Creative => "creative_id",
        ClickField::OfferUrl => "url_id",
        ClickField::Country => "country",
        ClickField::DeviceType => "device_type",
        ClickField::Carrier => "carrier",
        ClickField::OsName => "os_name",
        ClickField::Brand => "brand",
        ClickField::Model => "model",
        ClickField::Browser => "browser",
        ClickField::Language => "language",
        ClickField::ConnectionType => "connection_type",
        ClickField::Campaign => "campaign",
        ClickField::Source => "source_id",
        ClickField::Sub(0) => "sub1",
        ClickField::Sub(1) => "sub2",
        ClickField::Sub(2) => "sub3",
        ClickField::Sub(3) => "sub4",
        ClickField::Sub(_) => "sub5",
        ClickField::CouponCode => "coupon_code",
    }
}

/// A condition as SQL that is true or false, never NULL (so `NOT` of it is exact too).
fn condition(c: &ClickCondition, args: &mut Vec<Value>) -> String {
    let column = column(c.field);
    let Some(value) = &c.value else { return "0".to_owned() };
    if c.field.is_numeric() {
        match value.parse::<i64>() {
            Ok(n) => {
                args.push(n.into());
                format!("{column} IS ?")
            }
            Err(_) => "0".to_owned(),
        }
    } else {
        args.push(value.clone().into());
        format!("{column} = ? COLLATE NOCASE")
    }
}

/// `column IN (?, …)`, or false for an empty list.
fn one_of(column: &str, ids: &[i64], args: &mut Vec<Value>) -> String {
    if ids.is_empty() {
        return "0".to_owned();
    }
    args.extend(ids.iter().map(|&id| Value::from(id)));
    format!("{column} IN ({})", vec!["?"; ids.len()].join(", "))
}

/// The clicks a query asks for, oldest first.
pub(crate) fn select(conn: &Connection, query: &ClickQuery) -> Result<Vec<Click>, StoreError> {
    let mut args: Vec<Value> = vec![id_bound(query.from).into(), id_bound(query.to).into()];
    let mut conditions = vec!["id >= ?".to_owned(), "id < ?".to_owned()];
    if let Some(offers) = &query.offers {
        conditions.push(one_of("offer_id", offers, &mut args));
    }
    if let Some(affiliates) = &query.affiliates {
        conditions.push(one_of("affiliate_id", affiliates, &mut args));
    }
    for (_, alternatives) in query.filter_groups() {
        let any: Vec<String> = alternatives.iter().map(|c| condition(c, &mut args)).collect();
        conditions.push(format!("({})", any.join(" OR ")));
    }
    for x in &query.exclusions {
        conditions.push(format!("NOT ({})", condition(x, &mut args)));
    }
    args.push(i64::try_from(query.limit).unwrap_or(i64::MAX).into());
    let sql = format!("SELECT {CLICK_COLUMNS} FROM clicks WHERE {} ORDER BY id LIMIT ?", conditions.join(" AND "));
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), read_click).map_err(backend)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(backend)
}
