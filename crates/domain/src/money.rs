//! Money: exact decimal amounts, currencies and payout models.
//!
//! Amounts are `rust_decimal::Decimal` so that sums never drift; they travel in JSON as numbers
//! (`2.5`) and are read from numbers or numeric strings through their shortest decimal form,
//! so `0.1` stays exactly one tenth.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Valid, ValidationError};
use crate::string_newtype;

/// A non-negative amount with at most four decimals (a currency amount or a percentage).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(Decimal);

impl Money {
    /// Nothing.
    pub const ZERO: Self = Self(Decimal::ZERO);
    /// Most decimals kept.
    pub const MAX_SCALE: u32 = 4;

    /// Accepts a decimal that is not negative and has at most four decimals.
    pub fn new(value: Decimal) -> Valid<Self> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(ValidationError::value(format!("must not be negative (got {value})")));
        }
        let normal = value.normalize();
        if normal.scale() > Self::MAX_SCALE {
            return Err(ValidationError::value(format!("at most {} decimals are kept (got {value})", Self::MAX_SCALE)));
        }
        if normal > Decimal::from(1_000_000_000u64) {
            return Err(ValidationError::value(format!("is too large (got {value})")));
        }
        Ok(Self(normal))
    }

    /// Parses `"2.50"`, `"3"`.
    pub fn parse(raw: &str) -> Valid<Self> {
        let value =
            Decimal::from_str(raw.trim()).map_err(|_| ValidationError::value(format!("'{raw}' is not a number")))?;
        Self::new(value)
    }

    /// The exact amount.
    pub fn amount(&self) -> Decimal {
        self.0
    }

    /// The amount as a JSON-friendly float (for output only; sums use [`Money::amount`]).
    pub fn to_f64(&self) -> f64 {
        self.0.to_f64().unwrap_or(0.0)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.to_f64())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MoneyVisitor;
        impl Visitor<'_> for MoneyVisitor {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Money, E> {
                Money::new(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Money, E> {
                Money::new(Decimal::from(v)).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Money, E> {
                if !v.is_finite() {
                    return Err(E::custom("must be a finite number"));
                }
                // `Display` of an f64 is its shortest round-tripping form: 0.1 reads as "0.1".
                Money::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(MoneyVisitor)
    }
}

/// How a payout or revenue is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PayoutType {
    /// A fixed amount per conversion (cost per action).
    #[default]
    Cpa,
    /// A fixed amount per lead.
    Cpl,
    /// A percentage of the sale amount (cost per sale).
    Cps,
    /// A percentage of the sale amount, shared on every sale.
    Revshare,
    /// A fixed amount per unique, non-filtered click.
    Cpc,
    /// A fixed amount per thousand impressions.
    Cpm,
}

impl PayoutType {
    /// Whether the amount is a percentage of the sale rather than a currency amount.
    pub fn is_percentage(self) -> bool {
        matches!(self, Self::Cps | Self::Revshare)
    }

    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpa => "cpa",
            Self::Cpl => "cpl",
            Self::Cps => "cps",
            Self::Revshare => "revshare",
            Self::Cpc => "cpc",
            Self::Cpm => "cpm",
        }
    }

    /// Checks an amount of this type: a percentage is at most 100.
    pub fn check_amount(self, amount: Money) -> Valid<()> {
        if self.is_percentage() && amount.amount() > Decimal::from(100) {
            return Err(ValidationError::value(format!(
                "is a percentage of the sale for {} and must be at most 100 (got {amount})",
                self.as_str()
            )));
        }
        Ok(())
    }
}

/// An ISO 4217 currency code (`USD`), upper-case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars, the default.
    pub const USD: Self = Self(*b"USD");

    /// Parses an ISO 4217 code (`usd`, `EUR`), any case; three letters that ISO 4217 does not
    /// list (`XYZ`) are refused.
    pub fn parse(raw: &str) -> Valid<Self> {
        let upper = raw.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b, c] if iso_currency::Currency::from_code(&upper).is_some() => Ok(Self([*a, *b, *c])),
            _ => Err(ValidationError::value(format!("'{raw}' is not an ISO 4217 currency code"))),
        }
    }

    /// The three letters.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters get past `parse`.
        std::str::from_utf8(&self.0).unwrap_or("USD")
    }
}
string_newtype!(Currency);

impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

openapi_schema!(
    Currency,
    crate::schema::text("ISO 4217 currency code", None, None, Some(crate::schema::currency_codes()))
);

openapi_schema!(
    Money,
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Number)
        .description(Some("An amount or percentage: 0 to 1,000,000,000, at most 4 decimals"))
        .minimum(Some(0))
        .maximum(Some(1_000_000_000))
        .multiple_of(Some(0.0001))
        .examples([2.5])
        .into()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_reads_numbers_exactly() {
        let m: Money = serde_json::from_str("0.1").unwrap();
        assert_eq!(m.amount(), Decimal::from_str("0.1").unwrap());
        let m: Money = serde_json::from_str("\"2.50\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "2.5");
        let m: Money = serde_json::from_str("3").unwrap();
        assert_eq!(m.to_string(), "3");
    }

    #[test]
    fn money_rejects_bad_amounts() {
        for bad in ["-1", "\"abc\"", "0.00001", "true", "1e12"] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Money>("-0.0").is_ok());
    }

    #[test]
    fn percentages_are_capped() {
        let m = Money::parse("101").unwrap();
        assert!(PayoutType::Revshare.check_amount(m).is_err());
        assert!(PayoutType::Cpa.check_amount(m).is_ok());
        assert!(PayoutType::Cps.check_amount(Money::parse("15").unwrap()).is_ok());
    }

    #[test]
    fn currencies() {
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        assert!(Currency::parse("XYZ").is_err(), "three letters ISO 4217 does not list");
        assert_eq!(Currency::parse(" jpy ").unwrap().as_str(), "JPY");
    }
}
