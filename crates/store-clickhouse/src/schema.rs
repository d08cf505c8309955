//! The tables, as statements that run on Debian's ClickHouse 18.16 and on current ClickHouse.
//!
//! - `clicks` and `impressions`: raw events in `MergeTree`, partitioned by month, ordered by
//!   time, with the columns queries filter and group on and the batch each row came in (so a
//!   retried insert can tell it already landed); an impression row carries its whole event as
//!   JSON (`doc`), a click's is in `click_docs` (`clicks.doc` is empty since schema version 3);
//! - `rollup_traffic`: 15-minute rollups by offer, affiliate, source, country, device and OS in
//!   a `SummingMergeTree`, fed by materialized views on both raw tables — always read with
//!   `sum()` and `GROUP BY`, never trusting merges to have happened;
//! - `click_docs`: each click's whole event as JSON, in small granules (a stream or a lookup by
//!   id reads only the granules of the clicks it answers);
//! - `clicks_kept`: converted clicks with their documents, copied when they convert, so
//!   dropping old raw partitions never loses them.

use clicktrail_domain::click::Rejection;

/// The columns a click row has, in the order of [`crate::rows::ClickRow`].
const CLICK_COLUMNS: &str = "
    id String,
    ts_ms UInt64,
    offer_id Int64,
    affiliate_id Int64,
    error_code UInt16,
    is_unique UInt8,
    is_robot UInt8,
    is_filter UInt8,
    unique_key UInt64,
    source_id String,
    country String,
    device_type String,
    os String,
    sub1 String,
    sub2 String,
    sub3 String,
    sub4 String,
    sub5 String,
    creative_id Nullable(Int64),
    url_id Nullable(Int64),
    carrier String,
    os_name String,
    brand String,
    model String,
    browser String,
    language String,
    connection_type String,
    campaign String,
    coupon_code String,
    payout Int64,
    revenue Int64,
    batch String,
    doc String";

/// The keys of the 15-minute rollups.
pub const TRAFFIC_KEYS: &[&str] = &["offer_id", "affiliate_id", "source_id", "country", "device_type", "os"];

/// The keys of the hourly rollups of offers.
pub const OFFER_KEYS: &[&str] = &["offer_id", "affiliate_id"];

/// The keys of the daily rollups: every field a report groups or filters by.
pub const FULL_KEYS: &[&str] =
    &["offer_id", "affiliate_id", "source_id", "country", "device_type", "os", "sub1", "sub2", "sub3", "sub4", "sub5"];

const IMPRESSIONS_SUMS: &str = "toUInt64(1) AS impressions, toUInt64(0) AS clicks, toUInt64(0) AS unique_clicks,
    toUInt64(0) AS accepted, toUInt64(0) AS rejected, toUInt64(0) AS filtered,
    toDecimal128(payout, 0) AS payout, toDecimal128(revenue, 0) AS revenue";

/// A rollup table: a bucket (unix seconds of its start) and keys, and the sums a
/// `SummingMergeTree` adds up (money as whole 10^-8ths in `Decimal128`, so no sum overflows).
fn rollup_table(name: &str, keys: &[&str]) -> String {
    let columns: Vec<String> = keys
        .iter()
        .map(|k| format!("{k} {}", if k.ends_with("_id") && !k.starts_with("source") { "Int64" } else { "String" }))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
            bucket UInt32, {},
            impressions UInt64, clicks UInt64, unique_clicks UInt64,
            accepted UInt64, rejected UInt64, filtered UInt64,
            payout Decimal128(0), revenue Decimal128(0)
         ) ENGINE = SummingMergeTree
         PARTITION BY toYYYYMM(toDateTime(bucket))
         ORDER BY (bucket, {})",
        columns.join(", "),
        keys.join(", ")
    )
}

/// The materialized view that adds every inserted event to a rollup table.
fn rollup_view(name: &str, table: &str, keys: &[&str], grain: u32, source: &str) -> String {
    format!(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS {name} TO {table} AS
         SELECT toUInt32(intDiv(ts_ms, {ms}) * {grain}) AS bucket, {}, {source}",
        keys.join(", "),
        ms = u64::from(grain) * 1000
    )
}

/// How the tables are laid out on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One server: the tables under their own names.
    Single,
    /// A shard of a `remote_servers` cluster: the tables as `…_local`, and under their own names
    /// `Distributed` tables over every shard's (clicks and kept clicks sharded by their id, so
    /// one click is always on one shard).
    Shard {
        /// The cluster's name.
        cluster: String,
        /// The database, the same on every shard.
        database: String,
    },
}

impl Layout {
    /// The suffix of the tables that hold rows.
    pub fn local(&self) -> &'static str {
        match self {
            Self::Single => "",
            Self::Shard { .. } => "_local",
        }
    }
}

/// The schema's statements, each run once, in order (`schema_migrations` records the version).
pub fn migrations(layout: &Layout) -> Vec<(u32, Vec<String>)> {
    let l = layout.local();
    let uncounted = format!("({}, {})", Rejection::UnknownOffer.code(), Rejection::UnknownAffiliate.code());
    let clicks_source = format!(
        "toUInt64(0) AS impressions, toUInt64(is_filter = 0) AS clicks,
         toUInt64(is_unique = 1 AND is_filter = 0) AS unique_clicks, toUInt64(error_code = 0) AS accepted,
         toUInt64(error_code != 0) AS rejected, toUInt64(is_filter) AS filtered,
         toDecimal128(payout, 0) AS payout, toDecimal128(revenue, 0) AS revenue
         FROM clicks{l} WHERE error_code NOT IN {uncounted}"
    );
    let impressions_source = format!("{IMPRESSIONS_SUMS} FROM impressions{l} WHERE error_code = 0");
    let mut statements = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS clicks{l} ({CLICK_COLUMNS})
             ENGINE = MergeTree PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000))) ORDER BY (ts_ms, id)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS clicks_kept{l} ({CLICK_COLUMNS})
             ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000))) ORDER BY (ts_ms, id)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS impressions{l} (
                ts_ms UInt64, offer_id Int64, affiliate_id Int64, error_code UInt16,
                source_id String, country String, device_type String, os String,
                sub1 String, sub2 String, sub3 String, sub4 String, sub5 String,
                payout Int64, revenue Int64, batch String, doc String
             ) ENGINE = MergeTree PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000))) ORDER BY (ts_ms, offer_id)"
        ),
        rollup_table(&format!("rollup_traffic{l}"), TRAFFIC_KEYS),
        rollup_table(&format!("rollup_days{l}"), FULL_KEYS),
        rollup_view(
            &format!("rollup_traffic_clicks{l}"),
            &format!("rollup_traffic{l}"),
            TRAFFIC_KEYS,
            900,
            &clicks_source,
        ),
        rollup_view(
            &format!("rollup_traffic_impressions{l}"),
            &format!("rollup_traffic{l}"),
            TRAFFIC_KEYS,
            900,
            &impressions_source,
        ),
        rollup_view(&format!("rollup_days_clicks{l}"), &format!("rollup_days{l}"), FULL_KEYS, 86_400, &clicks_source),
        rollup_view(
            &format!("rollup_days_impressions{l}"),
            &format!("rollup_days{l}"),
            FULL_KEYS,
            86_400,
            &impressions_source,
        ),
    ];
    if let Layout::Shard { cluster, database } = layout {
        for (table, key) in [
            ("clicks", "cityHash64(id)"),
            ("clicks_kept", "cityHash64(id)"),
            ("impressions", "rand()"),
            ("rollup_traffic", "rand()"),
            ("rollup_days", "rand()"),
        ] {
            statements.push(format!(
                "CREATE TABLE IF NOT EXISTS {table} AS {table}_local
                 ENGINE = Distributed({cluster}, {database}, {table}_local, {key})"
            ));
        }
    }
    // Version 2: offer × affiliate hours (reports by offer read a few hundred thousand rows
    // instead of the 15-minute cube), filled from the raw events already there.
    let mut offer_hours = vec![
        rollup_table(&format!("rollup_offer_hours{l}"), OFFER_KEYS),
        rollup_view(
            &format!("rollup_offer_hours_clicks{l}"),
            &format!("rollup_offer_hours{l}"),
            OFFER_KEYS,
            3_600,
            &clicks_source,
        ),
        rollup_view(
            &format!("rollup_offer_hours_impressions{l}"),
            &format!("rollup_offer_hours{l}"),
            OFFER_KEYS,
            3_600,
            &impressions_source,
        ),
    ];
    for source in [&clicks_source, &impressions_source] {
        offer_hours.push(format!(
            "INSERT INTO rollup_offer_hours{l} SELECT toUInt32(intDiv(ts_ms, 3600000) * 3600) AS bucket, {}, {source}",
            OFFER_KEYS.join(", ")
        ));
    }
    if let Layout::Shard { cluster, database } = layout {
        offer_hours.push(format!(
            "CREATE TABLE IF NOT EXISTS rollup_offer_hours AS rollup_offer_hours_local
             ENGINE = Distributed({cluster}, {database}, rollup_offer_hours_local, rand())"
        ));
    }
    // Version 3: each click's document in a table of its own, in granules of 16 rows keyed by
    // time alone (an index entry of 8 bytes per 16 clicks), so a stream fetches the clicks it
    // answers without reading the documents of the thousands around each one (in `clicks`, a
    // granule of 8,192 rows is read whole). New clicks leave `clicks.doc` empty; the ones
    // already there are copied (a copy repeated by a cut-short migration is harmless:
    // documents are read one per id).
    let mut docs = vec![
        format!(
            "CREATE TABLE IF NOT EXISTS click_docs{l} (ts_ms UInt64, id String, batch String, doc String)
             ENGINE = MergeTree PARTITION BY toYYYYMM(toDateTime(intDiv(ts_ms, 1000))) ORDER BY ts_ms
             SETTINGS index_granularity = 16"
        ),
        format!("INSERT INTO click_docs{l} SELECT ts_ms, id, batch, doc FROM clicks{l} WHERE doc != ''"),
    ];
    if let Layout::Shard { cluster, database } = layout {
        docs.push(format!(
            "CREATE TABLE IF NOT EXISTS click_docs AS click_docs_local
             ENGINE = Distributed({cluster}, {database}, click_docs_local, cityHash64(id))"
        ));
    }
    // Version 4: day rollups small enough for a panel page, both summed within each insert
    // (a view with `GROUP BY`), so they are small before any merge. `rollup_net_days`: the
    // network's traffic by source, country, device and OS (no offer or affiliate: a few
    // hundred rows a day). `rollup_facet_days`: each of the nine report fields alone by offer
    // and affiliate, and each pair of a sub-id and a later field for the whole network (the
    // embedded store's `rollup_field_days` and `rollup_net_pair_days` in one table, told apart
    // by `code`; offer and affiliate as `off` and `aff`), written by one view per raw table
    // that turns every event into its 39 facets and sums them within the insert.
    let mut facets = vec![
        rollup_table(&format!("rollup_net_days{l}"), NET_KEYS),
        format!(
            "CREATE TABLE IF NOT EXISTS rollup_facet_days{l} (
                code UInt8, bucket UInt32, aff Int64, off Int64, a String, b String,
                impressions UInt64, clicks UInt64, unique_clicks UInt64,
                accepted UInt64, rejected UInt64, filtered UInt64,
                payout Decimal128(0), revenue Decimal128(0)
             ) ENGINE = SummingMergeTree
             PARTITION BY toYYYYMM(toDateTime(bucket))
             ORDER BY (code, bucket, aff, off, a, b)"
        ),
    ];
    let summed_sources = [
        (format!("clicks{l}"), CLICK_SUMMED, format!("error_code NOT IN {uncounted}"), "clicks"),
        (format!("impressions{l}"), IMPRESSION_SUMMED, "error_code = 0".to_owned(), "impressions"),
    ];
    for (table, sums, counted, kind) in &summed_sources {
        let (net, facet) = (net_days_select(table, sums, counted), facet_select(table, sums, counted));
        facets.push(format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_net_days_{kind}{l} TO rollup_net_days{l} AS {net}"
        ));
        facets.push(format!(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_facet_days_{kind}{l} TO rollup_facet_days{l} AS {facet}"
        ));
    }
    // Filled from the events already there.
    for (table, sums, counted, _) in &summed_sources {
        facets.push(format!("INSERT INTO rollup_facet_days{l} {}", facet_select(table, sums, counted)));
        facets.push(format!("INSERT INTO rollup_net_days{l} {}", net_days_select(table, sums, counted)));
    }
    if let Layout::Shard { cluster, database } = layout {
        for table in ["rollup_net_days", "rollup_facet_days"] {
            facets.push(format!(
                "CREATE TABLE IF NOT EXISTS {table} AS {table}_local
                 ENGINE = Distributed({cluster}, {database}, {table}_local, rand())"
            ));
        }
    }
    vec![(1, statements), (2, offer_hours), (3, docs), (4, facets)]
}

/// The keys of the network's daily rollups: the traffic fields without offer and affiliate.
pub const NET_KEYS: &[&str] = &["source_id", "country", "device_type", "os"];

/// The report fields of `rollup_facet_days`, their code its place here from 1 (the embedded
/// store's codes).
pub const FACET_FIELDS: [&str; 9] =
    ["sub1", "sub2", "sub3", "sub4", "sub5", "source_id", "country", "device_type", "os"];

/// The code of a field alone in `rollup_facet_days`.
pub fn field_code(column: &str) -> Option<u8> {
    (1..).zip(FACET_FIELDS).find(|(_, c)| *c == column).map(|(code, _)| code)
}

/// The code of a pair of fields in `rollup_facet_days` (the network's traffic by both): ten
/// times the smaller field code plus the larger, when the smaller is a sub-id.
pub fn pair_code(a: u8, b: u8) -> Option<u8> {
    let (first, second) = (a.min(b), a.max(b));
    ((1..=5).contains(&first) && first < second && second <= 9).then(|| first * 10 + second)
}

/// The sums of a rollup row, summed within a view's `GROUP BY`.
const CLICK_SUMMED: &str = "sum(toUInt64(0)) AS impressions, sum(toUInt64(is_filter = 0)) AS clicks,
    sum(toUInt64(is_unique = 1 AND is_filter = 0)) AS unique_clicks, sum(toUInt64(error_code = 0)) AS accepted,
    sum(toUInt64(error_code != 0)) AS rejected, sum(toUInt64(is_filter)) AS filtered,
    sum(toDecimal128(payout, 0)) AS payout, sum(toDecimal128(revenue, 0)) AS revenue";
const IMPRESSION_SUMMED: &str = "count() AS impressions, sum(toUInt64(0)) AS clicks,
    sum(toUInt64(0)) AS unique_clicks, sum(toUInt64(0)) AS accepted, sum(toUInt64(0)) AS rejected,
    sum(toUInt64(0)) AS filtered, sum(toDecimal128(payout, 0)) AS payout, sum(toDecimal128(revenue, 0)) AS revenue";

/// Every event of `table` (the ones `counted`) by UTC day and the network's keys, summed.
fn net_days_select(table: &str, sums: &str, counted: &str) -> String {
    let keys = NET_KEYS.join(", ");
    format!(
        "SELECT toUInt32(intDiv(ts_ms, 86400000) * 86400) AS bucket, {keys}, {sums}
         FROM {table} WHERE {counted} GROUP BY bucket, {keys}"
    )
}

/// Every event of `table` (the ones `counted`) as its facets, summed by facet and UTC day.
fn facet_select(table: &str, sums: &str, counted: &str) -> String {
    let mut facets = Vec::new();
    for (code, field) in (1u8..).zip(FACET_FIELDS) {
        facets.push(format!("(toUInt8({code}), affiliate_id, offer_id, {field}, '')"));
    }
    for (i, first) in (1u8..).zip(FACET_FIELDS) {
        for (j, second) in (1u8..).zip(FACET_FIELDS) {
            if let Some(code) = pair_code(i, j).filter(|_| i < j) {
                facets.push(format!("(toUInt8({code}), toInt64(0), toInt64(0), {first}, {second})"));
            }
        }
    }
    // One flat SELECT (18.16's views take no subquery), its names apart from the raw
    // columns it reads (an alias that shadows a column it is made of is a cycle).
    format!(
        "SELECT tupleElement(f, 1) AS code, toUInt32(intDiv(ts_ms, 86400000) * 86400) AS bucket,
            tupleElement(f, 2) AS aff, tupleElement(f, 3) AS off, tupleElement(f, 4) AS a,
            tupleElement(f, 5) AS b, {sums}
         FROM {table} ARRAY JOIN [{}] AS f
         WHERE {counted}
         GROUP BY code, bucket, aff, off, a, b",
        facets.join(", ")
    )
}

/// The names of a click row's columns but its document, in table order.
pub fn click_columns_but_doc() -> Vec<&'static str> {
    CLICK_COLUMNS.split(',').filter_map(|line| line.split_whitespace().next()).filter(|name| *name != "doc").collect()
}
