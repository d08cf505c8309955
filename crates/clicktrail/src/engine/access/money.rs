//! What a caller is shown of money, decided once for every surface (native API and CSV,
//! reports and totals, dialects A–E).
//!
//! - The network (admins) and advertisers see both sides of an offer's money: the payout to
//!   affiliates and the revenue from the advertiser (an advertiser's offer editor shows both).
//! - An affiliate sees only its own earnings: never revenue, profit or ROI. Where a wire format
//!   has a single money figure called "revenue" (dialect B's rows, dialect D's click, dialect
//!   E's stats), an affiliate's key gets its payout there; EPC is payout ÷ clicks.

use clicktrail_domain::money::Money;
use clicktrail_domain::report::Totals;
use clicktrail_domain::user::Role;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::engine::reports::Audience;

/// How much of the money a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyView {
    /// Payout and revenue (admins, advertisers).
    Full,
    /// The caller's own payout only (affiliates).
    Earnings,
}

impl MoneyView {
    /// The view of a caller with this role.
    pub fn of(role: Role) -> Self {
        match role {
            Role::Admin | Role::Advertiser => MoneyView::Full,
            Role::Affiliate => MoneyView::Earnings,
        }
    }

    /// The view of a report's audience.
    pub fn of_audience(audience: Audience) -> Self {
        match audience {
            Audience::Network | Audience::Advertiser(_) => MoneyView::Full,
            Audience::Affiliate(_) => MoneyView::Earnings,
        }
    }

    /// Whether revenue, profit and ROI may be shown.
    pub fn shows_revenue(self) -> bool {
        self == MoneyView::Full
    }

    /// A wire format's single money figure: the network's revenue, or an affiliate's earnings.
    pub fn headline(self, payout: Decimal, revenue: Decimal) -> Decimal {
        if self.shows_revenue() { revenue } else { payout }
    }

    /// [`Self::headline`] of a stored amount pair.
    pub fn headline_money(self, payout: Money, revenue: Money) -> Money {
        if self.shows_revenue() { revenue } else { payout }
    }

    /// Earnings per click: revenue-based for the network, payout-based for an affiliate.
    pub fn epc(self, totals: &Totals) -> Decimal {
        totals.epc(!self.shows_revenue())
    }

    /// Removes from a serialised conversion what this view may not show.
    pub fn redact_conversion(self, conversion: &mut Value) {
        if !self.shows_revenue()
            && let Some(map) = conversion.as_object_mut()
        {
            map.remove("revenue");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affiliates_see_earnings_only() {
        let view = MoneyView::of(Role::Affiliate);
        assert_eq!(view, MoneyView::of_audience(Audience::Affiliate(3)));
        assert!(!view.shows_revenue());
        assert_eq!(view.headline(Decimal::ONE, Decimal::TEN), Decimal::ONE);
        let mut c = serde_json::json!({"payout": 1.0, "revenue": 10.0});
        view.redact_conversion(&mut c);
        assert_eq!(c, serde_json::json!({"payout": 1.0}));
        for role in [Role::Admin, Role::Advertiser] {
            assert_eq!(MoneyView::of(role).headline(Decimal::ONE, Decimal::TEN), Decimal::TEN);
        }
    }
}
