//! The pair fold: `rollup_net_pair_days`, the network's traffic per UTC day by the values of
//! two fields, the first a sub-id. Thirty pairs would be thirty scans of the same raw rows in
//! SQL; instead the rows are read once, grouped by every field, and summed into each pair here.

use std::collections::HashMap;

use clicktrail_store::StoreError;
use rusqlite::Transaction;

use super::{Raw, UPSERT};
use crate::backend;
use crate::tally::{FIELDS, RAW_CLICK_SUMS, RAW_IMPRESSION_SUMS, RAW_IMPRESSIONS_COUNTED, raw_clicks_counted};

/// The number of the pair of two field codes (1-5 sub-ids, 6 source, 7 country, 8 device,
/// 9 OS) in `rollup_net_pair_days`: ten times the smaller code plus the larger, when the
/// smaller is a sub-id; `None` for a pair without one (those are in `rollup_net_full_days`)
/// or a field with itself.
pub(crate) fn pair_code(a: u8, b: u8) -> Option<u8> {
    let (first, second) = (a.min(b), a.max(b));
    ((1..=5).contains(&first) && first < second && second <= 9).then(|| first * 10 + second)
}

/// Impressions, clicks, unique clicks, payout, revenue (money in 10^-8 units).
type Sums = [i64; 5];

/// Folds the raw clicks and impressions that match their conditions into every pair.
pub(super) fn fold(tx: &Transaction<'_>, clicks: Raw<'_>, impressions: Raw<'_>) -> Result<(), StoreError> {
    // The raw columns of the field codes 1-9, in code order.
    let columns = FIELDS.map(|(_, column)| column).join(", ");
    let mut pairs: HashMap<(u8, i64, String, String), Sums> = HashMap::new();
    let reads = [
        (
            format!(
                "SELECT ts / 86400000 * 86400, {columns}, {RAW_CLICK_SUMS} FROM clicks WHERE {} AND {} \
                 GROUP BY 1, {columns}",
                clicks.0,
                raw_clicks_counted()
            ),
            &clicks.1,
        ),
        (
            format!(
                "SELECT ts / 86400000 * 86400, {columns}, {RAW_IMPRESSION_SUMS} FROM impressions WHERE {} AND \
                 {RAW_IMPRESSIONS_COUNTED} GROUP BY 1, {columns}",
                impressions.0
            ),
            &impressions.1,
        ),
    ];
    for (sql, args) in reads {
        let mut stmt = tx.prepare_cached(&sql).map_err(backend)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter())).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let bucket: i64 = row.get(0).map_err(backend)?;
            let mut values: [String; 9] = Default::default();
            for (i, v) in values.iter_mut().enumerate() {
                *v = row.get(1 + i).map_err(backend)?;
            }
            let mut sums: Sums = [0; 5];
            for (i, s) in sums.iter_mut().enumerate() {
                *s = row.get::<_, Option<i64>>(10 + i).map_err(backend)?.unwrap_or(0);
            }
            for a in 1..=9u8 {
                for b in a + 1..=9 {
                    let Some(code) = pair_code(a, b) else { continue };
                    let value = |code: u8| values[usize::from(code) - 1].clone();
                    let cell = pairs.entry((code, bucket, value(a), value(b))).or_default();
                    for (c, s) in cell.iter_mut().zip(sums) {
                        *c = c.saturating_add(s);
                    }
                }
            }
        }
    }
    let mut upsert = tx
        .prepare_cached(&format!(
            "INSERT INTO rollup_net_pair_days (pair, bucket, value, value2, impressions, clicks, unique_clicks, \
             payout, revenue) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) {UPSERT}"
        ))
        .map_err(backend)?;
    for ((code, bucket, a, b), s) in pairs {
        upsert.execute(rusqlite::params![code, bucket, a, b, s[0], s[1], s[2], s[3], s[4]]).map_err(backend)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pair_code;

    #[test]
    fn pairs_need_a_sub_id_and_two_fields() {
        assert_eq!(pair_code(1, 7), Some(17), "sub1 × country");
        assert_eq!(pair_code(7, 1), Some(17), "either order");
        assert_eq!(pair_code(1, 2), Some(12));
        assert_eq!(pair_code(5, 9), Some(59));
        assert_eq!(pair_code(6, 7), None, "source × country: rollup_net_full_days");
        assert_eq!(pair_code(3, 3), None);
        assert_eq!(pair_code(1, 10), None, "facets have no pairs");
    }
}
