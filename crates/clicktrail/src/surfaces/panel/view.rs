//! What every page shows around its content (the frame: who is logged in, the navigation of
//! its role, the CSRF token of its forms) and how numbers and money read.

use clicktrail_domain::report::money_out;
use clicktrail_domain::user::Role;
use rust_decimal::Decimal;

use crate::app::AppState;
use crate::engine::access::Caller;

/// A link of the navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Section key (`offers`).
    pub key: &'static str,
    /// Label.
    pub label: &'static str,
    /// Target.
    pub href: &'static str,
}

const fn item(key: &'static str, label: &'static str, href: &'static str) -> NavItem {
    NavItem { key, label, href }
}

/// The navigation of a role.
pub fn nav(role: Role) -> &'static [NavItem] {
    const ADMIN: &[NavItem] = &[
        item("dashboard", "Dashboard", "/panel/"),
        item("offers", "Offers", "/panel/offers"),
        item("affiliates", "Affiliates", "/panel/affiliates"),
        item("advertisers", "Advertisers", "/panel/advertisers"),
        item("conversions", "Conversions", "/panel/conversions"),
        item("reports", "Reports", "/panel/reports"),
        item("clicks", "Click log", "/panel/clicks"),
        item("postbacks", "Postbacks", "/panel/postbacks"),
        item("coupons", "Coupons", "/panel/coupons"),
        item("sources", "Traffic sources", "/panel/traffic-sources"),
        item("keys", "API keys", "/panel/keys"),
        item("settings", "Settings", "/panel/settings"),
    ];
    const AFFILIATE: &[NavItem] = &[
        item("dashboard", "Dashboard", "/panel/"),
        item("offers", "Offers", "/panel/offers"),
        item("reports", "Reports", "/panel/reports"),
        item("conversions", "Conversions", "/panel/conversions"),
        item("clicks", "Click log", "/panel/clicks"),
        item("postbacks", "Postbacks", "/panel/postbacks"),
        item("keys", "API keys", "/panel/keys"),
    ];
    const ADVERTISER: &[NavItem] = &[
        item("dashboard", "Dashboard", "/panel/"),
        item("offers", "Offers", "/panel/offers"),
        item("reports", "Reports", "/panel/reports"),
        item("conversions", "Conversions", "/panel/conversions"),
        item("keys", "API keys", "/panel/keys"),
    ];
    match role {
        Role::Admin => ADMIN,
        Role::Affiliate => AFFILIATE,
        Role::Advertiser => ADVERTISER,
    }
}

/// The frame of a page.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The page's title.
    pub title: String,
    /// The network's name.
    pub network: String,
    /// The user's name.
    pub user_name: String,
    /// The user's role, as shown.
    pub role: &'static str,
    /// The navigation.
    pub nav: &'static [NavItem],
    /// The current section.
    pub section: &'static str,
    /// The session's CSRF token, for every form.
    pub csrf: String,
    /// A notice to show once (after a change).
    pub notice: Option<String>,
}

impl Frame {
    /// The frame for a caller.
    pub fn new(state: &AppState, caller: &Caller, csrf: &str, title: String, section: &'static str) -> Self {
        let snapshot = state.tracker.snapshots().snapshot();
        Self {
            title,
            network: snapshot.network.name.to_string(),
            user_name: caller.user.spec.name.to_string(),
            role: caller.role().as_str(),
            nav: nav(caller.role()),
            section,
            csrf: csrf.to_owned(),
            notice: None,
        }
    }

    /// With a notice.
    pub fn notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }
}

/// A count with thousands separators (`12,345`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Money with two decimals and separators (`1,234.50`), negative with a minus.
pub fn money(d: Decimal) -> String {
    let d = money_out(d).round_dp(2);
    let negative = d.is_sign_negative() && !d.is_zero();
    let text = format!("{:.2}", d.abs());
    let (whole, cents) = text.split_once('.').unwrap_or((&text, "00"));
    let whole = count(whole.parse().unwrap_or(0));
    format!("{}{whole}.{cents}", if negative { "-" } else { "" })
}

/// A percentage with two decimals (`3.25 %`).
pub fn percent(pct: Decimal) -> String {
    format!("{:.2} %", pct.round_dp(2))
}

/// The notice a `?done=` code names after a change (fixed texts: a link cannot make the panel
/// say something of its choosing).
pub fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "created" => "Created.",
            "saved" => "Saved.",
            "approved" => "The conversion is approved; its postbacks are on their way.",
            "rejected" => "The conversion is rejected.",
            "pending" => "The conversion is pending again.",
            "requested" => "Your request was sent to the network.",
            "password" => "Your password is changed; other sessions have ended.",
            "revoked" => "The key is revoked.",
            "fired" => "A test is on its way; its delivery shows below.",
            _ => return None,
        }
        .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1234), "1,234");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(money(Decimal::new(123_456_789, 3)), "123,456.79");
        assert_eq!(money(Decimal::new(-5, 1)), "-0.50");
        assert_eq!(money(Decimal::ZERO), "0.00");
        assert_eq!(percent(Decimal::new(325, 2)), "3.25 %");
        assert_eq!(notice(Some("created")).as_deref(), Some("Created."));
        assert_eq!(notice(Some("<script>")), None);
    }
}
