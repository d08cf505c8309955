//! A report's rows as the native API and the panel hand them out: one JSON object per row (its
//! key fields, then the metrics the audience may see) and the same as CSV.

use clicktrail_domain::report::{Dimension, Key, Totals, money_out};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};

use crate::engine::access::MoneyView;

fn number(d: Decimal) -> Value {
    Value::from(money_out(d).to_f64().unwrap_or(0.0))
}

/// One row as JSON: its key fields, then the metrics the audience may see.
pub fn row_json(group_by: &[Dimension], key: &[Key], t: &Totals, view: MoneyView) -> Value {
    let mut map = Map::new();
    for (d, k) in group_by.iter().zip(key) {
        map.insert(d.name().into(), serde_json::to_value(k).unwrap_or(Value::Null));
    }
    map.insert("impressions".into(), t.impressions.into());
    map.insert("clicks".into(), t.clicks.into());
    map.insert("unique_clicks".into(), t.unique_clicks.into());
    map.insert("leads".into(), t.leads.into());
    map.insert("conversions".into(), t.conversions.into());
    map.insert("cr".into(), number(t.cr()));
    map.insert("epc".into(), number(view.epc(t)));
    map.insert("payout".into(), number(t.payout));
    if view.shows_revenue() {
        map.insert("revenue".into(), number(t.revenue));
        map.insert("profit".into(), number(t.profit()));
        map.insert("roi".into(), number(t.roi()));
    }
    Value::Object(map)
}

/// A CSV cell. Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or
/// carriage return first: a sub-id or country an affiliate chose) gets a leading `'`, so it
/// shows as written instead (OWASP's CSV-injection advice); numbers are written as they are.
fn csv_field(v: &Value) -> String {
    match v {
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The report as CSV, quoted by the `csv` crate (commas, quotes, CR and LF inside cells).
pub fn write_csv(header: &[String], rows: &[Value]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    out.write_record(header)?;
    for row in rows {
        out.write_record(header.iter().map(|h| csv_field(&row[h.as_str()])))?;
    }
    out.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The CSV header of a report: the columns of [`row_json`].
pub fn header(group_by: &[Dimension], view: MoneyView) -> Vec<String> {
    row_json(group_by, &vec![Key::Id(0); group_by.len()], &Totals::default(), view)
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
