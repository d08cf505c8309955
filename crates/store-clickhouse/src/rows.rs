//! Events as the rows ClickHouse stores, and back.

use clicktrail_domain::click::{Click, Impression};
use clicktrail_domain::offer::{DeviceType, OsFamily};
use clicktrail_store::StoreError;
use serde::Serialize;

pub use clicktrail_store::units::{units, units_sum as units_text};

/// A click's row (the columns of `schema::CLICK_COLUMNS` but its document, which goes to
/// `click_docs`).
#[derive(Serialize)]
pub struct ClickRow<'a> {
    id: String,
    ts_ms: u64,
    offer_id: i64,
    affiliate_id: i64,
    error_code: u16,
    is_unique: u8,
    is_robot: u8,
    is_filter: u8,
    unique_key: u64,
    source_id: &'a str,
    country: &'a str,
    device_type: &'a str,
    os: &'a str,
    sub1: &'a str,
    sub2: &'a str,
    sub3: &'a str,
    sub4: &'a str,
    sub5: &'a str,
    creative_id: Option<i64>,
    url_id: Option<i64>,
    carrier: &'a str,
    os_name: &'a str,
    brand: &'a str,
    model: &'a str,
    browser: &'a str,
    language: &'a str,
    connection_type: &'a str,
    campaign: &'a str,
    coupon_code: &'a str,
    payout: i64,
    revenue: i64,
    batch: &'a str,
}

/// A click's document row (the columns of `click_docs`).
#[derive(Serialize)]
pub struct ClickDocRow<'a> {
    ts_ms: u64,
    id: String,
    batch: &'a str,
    doc: String,
}

impl<'a> ClickDocRow<'a> {
    pub fn of(c: &Click, batch: &'a str) -> Result<Self, StoreError> {
        Ok(Self {
            ts_ms: c.id.unix_ms(),
            id: c.id.to_hex(),
            batch,
            doc: serde_json::to_string(c).map_err(|e| StoreError::Backend(format!("a click as JSON: {e}")))?,
        })
    }
}

impl<'a> ClickRow<'a> {
    pub fn of(c: &'a Click, batch: &'a str) -> Self {
        let sub = |i: usize| c.params.subs.get(i).map_or("", String::as_str);
        Self {
            id: c.id.to_hex(),
            ts_ms: c.id.unix_ms(),
            offer_id: c.offer_id,
            affiliate_id: c.affiliate_id,
            error_code: c.rejection.map_or(0, |r| r.code()),
            is_unique: u8::from(c.is_unique),
            is_robot: u8::from(c.is_robot),
            is_filter: u8::from(c.is_filter),
            unique_key: c.unique_key(),
            source_id: &c.params.source_id,
            country: c.geo.country.as_ref().map_or("", |x| x.as_str()),
            device_type: c.device.device_type.map_or("", DeviceType::as_str),
            os: c.device.os.map_or("", OsFamily::as_str),
            sub1: sub(0),
            sub2: sub(1),
            sub3: sub(2),
            sub4: sub(3),
            sub5: sub(4),
            creative_id: c.params.creative_id.map(i64::from),
            url_id: c.params.url_id.map(i64::from),
            carrier: &c.geo.carrier,
            os_name: &c.device.os_name,
            brand: &c.device.brand,
            model: &c.device.model,
            browser: &c.device.browser,
            language: &c.language,
            connection_type: &c.geo.connection_type,
            campaign: &c.params.campaign,
            coupon_code: &c.params.coupon_code,
            payout: units(c.payout.amount()),
            revenue: units(c.revenue.amount()),
            batch,
        }
    }
}

/// An impression's row.
#[derive(Serialize)]
pub struct ImpressionRow<'a> {
    ts_ms: u64,
    offer_id: i64,
    affiliate_id: i64,
    error_code: u16,
    source_id: &'a str,
    country: &'a str,
    device_type: &'a str,
    os: &'a str,
    sub1: &'a str,
    sub2: &'a str,
    sub3: &'a str,
    sub4: &'a str,
    sub5: &'a str,
    payout: i64,
    revenue: i64,
    batch: &'a str,
    doc: String,
}

impl<'a> ImpressionRow<'a> {
    pub fn of(i: &'a Impression, batch: &'a str) -> Result<Self, StoreError> {
        let sub = |n: usize| i.params.subs.get(n).map_or("", String::as_str);
        Ok(Self {
            ts_ms: u64::try_from(i.at.timestamp_millis()).unwrap_or(0),
            offer_id: i.offer_id,
            affiliate_id: i.affiliate_id,
            error_code: i.rejection.map_or(0, |r| r.code()),
            source_id: &i.params.source_id,
            country: i.geo.country.as_ref().map_or("", |x| x.as_str()),
            device_type: i.device.device_type.map_or("", DeviceType::as_str),
            os: i.device.os.map_or("", OsFamily::as_str),
            sub1: sub(0),
            sub2: sub(1),
            sub3: sub(2),
            sub4: sub(3),
            sub5: sub(4),
            payout: units(i.payout),
            revenue: units(i.revenue),
            batch,
            doc: serde_json::to_string(i).map_err(|e| StoreError::Backend(format!("an impression as JSON: {e}")))?,
        })
    }
}

/// Rows as `TabSeparated` lines, their fields in the struct's (the table's) order: much less
/// for ClickHouse to parse than JSON, which matters at tens of thousands of clicks a second.
pub fn tsv<T: Serialize>(rows: &[T]) -> Result<String, StoreError> {
    let mut out = String::with_capacity(rows.len() * 1024);
    for row in rows {
        let value = serde_json::to_value(row).map_err(|e| StoreError::Backend(format!("a row: {e}")))?;
        let serde_json::Value::Object(fields) = value else {
            return Err(StoreError::Backend("a row is not a record".into()));
        };
        for (i, field) in fields.values().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            match field {
                serde_json::Value::Null => out.push_str("\\N"),
                serde_json::Value::String(text) => escape_into(&mut out, text),
                serde_json::Value::Bool(b) => out.push(if *b { '1' } else { '0' }),
                other => out.push_str(&other.to_string()),
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// A `TabSeparated` field: backslash, tab, newline and carriage return escaped.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
}

/// The column names of a row type, in its (the table's) order, for the insert.
pub fn columns<T: Serialize>(row: &T) -> Result<String, StoreError> {
    match serde_json::to_value(row).map_err(|e| StoreError::Backend(format!("a row: {e}")))? {
        serde_json::Value::Object(fields) => Ok(fields.keys().cloned().collect::<Vec<_>>().join(", ")),
        _ => Err(StoreError::Backend("a row is not a record".into())),
    }
}
