//! Money as every backend stores it: whole 10^-8ths of the currency unit — exact for amounts
//! (at most four decimals) and for the thousandth of a cpm amount an impression earns (at most
//! seven).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// Decimal places of a stored unit.
pub const MONEY_SCALE: u32 = 8;

/// An amount in whole 10^-8ths (truncated; 0 where it leaves an `i64`).
pub fn units(amount: Decimal) -> i64 {
    (amount * Decimal::from(10_i64.pow(MONEY_SCALE))).trunc().to_i64().unwrap_or(0)
}

/// Whole 10^-8ths as an amount.
pub fn from_units(units: i64) -> Decimal {
    Decimal::new(units, MONEY_SCALE).normalize()
}

/// A sum of units as a database writes it in decimal text (wider than an `i64`: PostgreSQL's
/// `NUMERIC`, ClickHouse's `Decimal128`), as an amount; saturating where it leaves `Decimal`'s
/// range, 0 for text that is no whole number.
pub fn units_sum(text: &str) -> Decimal {
    match text.trim().parse::<i128>() {
        Ok(units) => Decimal::try_from_i128_with_scale(units, MONEY_SCALE)
            .unwrap_or(if units < 0 { Decimal::MIN } else { Decimal::MAX })
            .normalize(),
        Err(_) => Decimal::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_trip_and_wide_sums_saturate() {
        let amount = Decimal::new(12_345, 7);
        assert_eq!(from_units(units(amount)), amount);
        assert_eq!(units_sum("18446744073709551614"), "184467440737.09551614".parse::<Decimal>().unwrap_or_default());
        assert_eq!(units_sum("-999999999999999999999999999999999999"), Decimal::MIN);
        assert_eq!(units_sum("1.5"), Decimal::ZERO);
    }
}
