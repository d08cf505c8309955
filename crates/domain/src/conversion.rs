//! Conversions: how a sale or lead is attributed, priced and moved through its statuses.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::click::Click;
use crate::error::{Valid, ValidationError};
use crate::money::{Currency, Money, PayoutType};
use crate::offer::{ConversionStatus, Offer, OfferEvent};

/// One change of a conversion's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChange {
    /// When.
    pub at: DateTime<Utc>,
    /// Status before (none for the first record).
    pub from: Option<ConversionStatus>,
    /// Status after.
    pub to: ConversionStatus,
    /// Why.
    pub reason: String,
    /// The user who changed it (none for the system).
    pub by_user_id: Option<i64>,
}

/// A conversion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversion {
    /// Numeric id.
    pub id: i64,
    /// The click it belongs to (none for coupon-only conversions).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub click_id: Option<String>,
    /// Offer.
    pub offer_id: i64,
    /// Affiliate credited.
    pub affiliate_id: i64,
    /// Event (goal) code; none for the offer's main conversion.
    pub event: Option<String>,
    /// Whether the event counts as a lead.
    pub is_lead: bool,
    /// Status.
    pub status: ConversionStatus,
    /// Why it has that status (pending or rejected), if there is a reason.
    pub reason: String,
    /// Payout to the affiliate.
    pub payout: Money,
    /// Revenue from the advertiser.
    pub revenue: Money,
    /// Sale amount reported.
    pub sale_amount: Option<Money>,
    /// Currency.
    pub currency: Currency,
    /// Advertiser's order id (unique per offer).
    pub txid: Option<String>,
    /// Coupon code that attributed it.
    pub coupon_code: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
    /// When the click happened.
    pub click_at: Option<DateTime<Utc>>,
    /// Sub-ids copied from the click.
    pub subs: [String; 5],
    /// Traffic source copied from the click.
    pub source_id: String,
    /// Country copied from the click.
    pub country: String,
    /// Device class copied from the click.
    #[serde(default)]
    pub device: String,
    /// OS family copied from the click.
    #[serde(default)]
    pub os: String,
    /// Address the advertiser's postback came from.
    pub postback_ip: String,
    /// Status history, oldest first.
    pub history: Vec<StatusChange>,
}

/// Values an advertiser's postback may set on the money (when the offer allows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoneyOverrides {
    /// Payout to use.
    pub payout: Option<Money>,
    /// Revenue to use.
    pub revenue: Option<Money>,
}

fn percentage(rate: Money, sale: Option<Money>) -> Money {
    let amount = sale.map_or(Decimal::ZERO, |s| s.amount()) * rate.amount() / Decimal::from(100);
    Money::new(amount.round_dp(Money::MAX_SCALE)).unwrap_or(Money::ZERO)
}

/// What one amount comes to: a fixed amount, or a percentage of the sale; nothing for cpc and
/// cpm (paid per click and per thousand impressions, not per conversion).
fn amount(kind: PayoutType, rate: Money, sale: Option<Money>) -> Money {
    match kind {
        PayoutType::Cpa | PayoutType::Cpl => rate,
        PayoutType::Cps | PayoutType::Revshare => percentage(rate, sale),
        PayoutType::Cpc | PayoutType::Cpm => Money::ZERO,
    }
}

/// Payout and revenue of a conversion.
///
/// Payout: the event's own payout when it has one; else the affiliate's override on the offer;
/// else the highest tier reached by `approved_this_month`; else the offer's payout. Revenue:
/// the event's, else the offer's. A percentage type takes that percentage of the sale amount.
/// Postback overrides replace both when the offer allows them.
pub fn price(
    offer: &Offer,
    affiliate_id: i64,
    event: Option<&OfferEvent>,
    sale: Option<Money>,
    approved_this_month: u64,
    overrides: MoneyOverrides,
) -> (Money, Money) {
    let spec = &offer.spec;
    let tier = spec.tiers.iter().rev().find(|t| u64::from(t.min_conversions) <= approved_this_month).map(|t| t.payout);
    let base = spec.access_for(affiliate_id).and_then(|a| a.payout).or(tier).unwrap_or(spec.payout);
    let (payout_rate, payout_type) = match event {
        Some(e) => (e.payout.unwrap_or(base), e.payout_type.unwrap_or(spec.payout_type)),
        None => (base, spec.payout_type),
    };
    let (revenue_rate, revenue_type) = match event {
        Some(e) => (e.revenue.unwrap_or(spec.revenue), e.revenue_type.unwrap_or(spec.revenue_type())),
        None => (spec.revenue, spec.revenue_type()),
    };
    let mut payout = amount(payout_type, payout_rate, sale);
    let mut revenue = amount(revenue_type, revenue_rate, sale);
    if spec.guards.allow_payout_override {
        payout = overrides.payout.unwrap_or(payout);
        revenue = overrides.revenue.unwrap_or(revenue);
    }
    (payout, revenue)
}

/// The reason of a conversion whose click was refused or filtered at click time (SPEC §2): it is
/// rejected, pays nothing and fires only `rejected` postbacks.
pub const CLICK_REFUSED: &str = "click_refused";

/// The click a conversion is attributed to, as the guards see it.
#[derive(Debug, Clone, Copy)]
pub struct ClickSeen {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Whether it was refused or filtered (an error code other than 0).
    pub refused: bool,
}

impl From<&Click> for ClickSeen {
    fn from(click: &Click) -> Self {
        ClickSeen { at: click.at, refused: click.rejection.is_some() }
    }
}

/// The status a new conversion gets, with its reason: rejected when its click was refused or
/// outside the attribution window, pending when suspiciously fast, else what the postback asked
/// or the offer's default.
pub fn initial_status(
    offer: &Offer,
    click: Option<ClickSeen>,
    now: DateTime<Utc>,
    requested: Option<ConversionStatus>,
) -> (ConversionStatus, String) {
    let guards = &offer.spec.guards;
    if let Some(click) = click {
        if click.refused {
            return (ConversionStatus::Rejected, CLICK_REFUSED.to_owned());
        }
        let age = now - click.at;
        if age > Duration::days(i64::from(guards.attribution_window_days)) {
            return (
                ConversionStatus::Rejected,
                format!("outside the attribution window of {} days", guards.attribution_window_days),
            );
        }
        if let Some(min) = guards.min_seconds_to_convert
            && age < Duration::seconds(i64::from(min))
        {
            return (
                ConversionStatus::Pending,
                format!("suspicious: converted {} s after the click (minimum {min} s)", age.num_seconds().max(0)),
            );
        }
    }
    (requested.unwrap_or(spec_default(offer)), String::new())
}

fn spec_default(offer: &Offer) -> ConversionStatus {
    offer.spec.default_conversion_status
}

/// Checks an order id from an advertiser: 1 to 128 visible characters.
pub fn parse_txid(raw: &str) -> Valid<String> {
    let t = raw.trim();
    if t.is_empty() || t.len() > 128 || t.chars().any(char::is_control) {
        return Err(ValidationError::new("txid", "must be 1 to 128 characters"));
    }
    Ok(t.to_owned())
}

/// The values a conversion copies from its click.
pub fn copy_click(conversion: &mut Conversion, click: &Click) {
    conversion.click_id = Some(click.id.to_hex());
    conversion.click_at = Some(click.at);
    conversion.subs = click.params.subs.clone();
    conversion.source_id = click.params.source_id.clone();
    conversion.country = click.geo.country.map(|c| c.as_str().to_owned()).unwrap_or_default();
    conversion.device = click.device.device_type.map(|d| d.as_str().to_owned()).unwrap_or_default();
    conversion.os = click.device.os.map(|o| o.as_str().to_owned()).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offer::{OfferSpec, PublicId};
    use serde_json::json;

    fn offer(extra: serde_json::Value) -> Offer {
        let mut body = json!({"name": "O", "destination_url": "https://x.example/", "payout": 5, "payout_type": "cpa", "revenue": 8});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let spec: OfferSpec = serde_json::from_value(body).unwrap();
        let now = Utc::now();
        Offer {
            id: 1,
            public_id: PublicId::new(now, [0; 8]),
            spec: spec.normalize().unwrap(),
            created_at: now,
            updated_at: now,
        }
    }

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn fixed_percentage_and_per_click_models() {
        let none = MoneyOverrides::default();
        assert_eq!(price(&offer(json!({})), 9, None, None, 0, none), (m("5"), m("8")));
        let cps = offer(json!({"payout_type": "cps", "payout": 10, "revenue_type": "revshare", "revenue": 25}));
        assert_eq!(price(&cps, 9, None, Some(m("199.99")), 0, none), (m("19.999"), m("49.9975")));
        assert_eq!(price(&cps, 9, None, None, 0, none), (Money::ZERO, Money::ZERO), "no sale amount, no percentage");
        let cpc = offer(json!({"payout_type": "cpc", "payout": 0.1}));
        assert_eq!(price(&cpc, 9, None, None, 0, none).0, Money::ZERO, "cpc pays per click, not per conversion");
    }

    #[test]
    fn overrides_tiers_and_events() {
        let none = MoneyOverrides::default();
        let o = offer(json!({
            "tiers": [{"min_conversions": 10, "payout": 6}, {"min_conversions": 100, "payout": 7}],
            "access": [{"affiliate_id": 3, "payout": 9}],
            "events": [{"code": "lead", "name": "Lead", "is_lead": true, "payout": 1, "revenue": 1.5}, {"code": "sale", "name": "Sale"}]
        }));
        assert_eq!(price(&o, 9, None, None, 9, none).0, m("5"));
        assert_eq!(price(&o, 9, None, None, 10, none).0, m("6"));
        assert_eq!(price(&o, 9, None, None, 150, none).0, m("7"));
        assert_eq!(price(&o, 3, None, None, 150, none).0, m("9"), "an affiliate's own payout beats tiers");
        let lead = &o.spec.events[0];
        assert_eq!(price(&o, 3, Some(lead), None, 0, none), (m("1"), m("1.5")), "the event's own money");
        let sale = &o.spec.events[1];
        assert_eq!(
            price(&o, 9, Some(sale), None, 10, none),
            (m("6"), m("8")),
            "an event without money uses the offer's"
        );
        let overrides = MoneyOverrides { payout: Some(m("2")), revenue: Some(m("3")) };
        assert_eq!(price(&o, 9, None, None, 0, overrides), (m("5"), m("8")), "overrides need the offer's permission");
        let open = offer(json!({"guards": {"allow_payout_override": true}}));
        assert_eq!(price(&open, 9, None, None, 0, overrides), (m("2"), m("3")));
    }

    fn seen(at: DateTime<Utc>) -> ClickSeen {
        ClickSeen { at, refused: false }
    }

    #[test]
    fn a_refused_click_rejects_its_conversion() {
        let now = Utc::now();
        let o = offer(json!({"default_conversion_status": "approved"}));
        let refused = ClickSeen { at: now - Duration::hours(1), refused: true };
        assert_eq!(
            initial_status(&o, Some(refused), now, Some(ConversionStatus::Approved)),
            (ConversionStatus::Rejected, CLICK_REFUSED.to_owned())
        );
    }

    #[test]
    fn guards_set_the_first_status() {
        let now = Utc::now();
        let o = offer(
            json!({"guards": {"attribution_window_days": 7, "min_seconds_to_convert": 30}, "default_conversion_status": "pending"}),
        );
        let (s, r) = initial_status(&o, Some(seen(now - Duration::days(8))), now, None);
        assert_eq!(s, ConversionStatus::Rejected);
        assert!(r.contains("attribution window of 7 days"));
        let (s, r) = initial_status(&o, Some(seen(now - Duration::seconds(5))), now, Some(ConversionStatus::Approved));
        assert_eq!(s, ConversionStatus::Pending);
        assert!(r.starts_with("suspicious"), "{r}");
        assert_eq!(initial_status(&o, Some(seen(now - Duration::hours(1))), now, None).0, ConversionStatus::Pending);
        assert_eq!(
            initial_status(&o, Some(seen(now - Duration::hours(1))), now, Some(ConversionStatus::Approved)).0,
            ConversionStatus::Approved
        );
    }
}
