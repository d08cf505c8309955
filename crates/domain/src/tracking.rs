//! The rules of the click path that need no IO: who may send a click where, and where it goes.

use std::borrow::Cow;

use crate::click::{Click, Device, Rejection};
use crate::geo::CountryCode;
use crate::macros::HttpUrl;
use crate::money::{Money, PayoutType};
use crate::offer::{Offer, OfferStatus};
use crate::user::{Role, User};

/// The query parameters a tracking link keeps with the click (besides `async`, which only asks
/// for a JSON answer): sub-ids, the source, creative and offer URL, campaign, coupon, device
/// ad ids and the deep link.
pub const TRACKING_PARAMETERS: &[&str] = &[
    "sub1",
    "sub2",
    "sub3",
    "sub4",
    "sub5",
    "source_id",
    "creative_id",
    "url_id",
    "campaign",
    "__cc",
    "idfa",
    "gaid",
    "android_id",
    "url",
];

/// Checks that the offer and affiliate exist, are live, and may work together.
pub fn check_parties(offer: Option<&Offer>, affiliate: Option<&User>) -> Result<(), Rejection> {
    let offer = offer.ok_or(Rejection::UnknownOffer)?;
    let affiliate = affiliate.filter(|u| u.role == Role::Affiliate).ok_or(Rejection::UnknownAffiliate)?;
    match offer.spec.status {
        OfferStatus::Active => {}
        OfferStatus::Paused => return Err(Rejection::OfferPaused),
        OfferStatus::Archived => return Err(Rejection::OfferArchived),
    }
    if !affiliate.spec.status.may_send_traffic() {
        return Err(Rejection::AffiliateInactive);
    }
    if !offer.spec.runnable_by(affiliate.id) {
        return Err(Rejection::NoAccess);
    }
    Ok(())
}

/// Checks the offer's geo, device and OS targeting. An unknown country or device passes only
/// when the offer does not target that dimension.
pub fn check_targeting(offer: &Offer, country: Option<CountryCode>, device: &Device) -> Result<(), Rejection> {
    let spec = &offer.spec;
    if !spec.geo.is_empty() && !country.is_some_and(|c| spec.geo.contains(&c)) {
        return Err(Rejection::GeoNotTargeted);
    }
    let t = &spec.targeting;
    if !t.device_types.is_empty() && !device.device_type.is_some_and(|d| t.device_types.contains(&d)) {
        return Err(Rejection::DeviceNotTargeted);
    }
    if !t.os.is_empty() && !device.os.is_some_and(|o| t.os.contains(&o)) {
        return Err(Rejection::DeviceNotTargeted);
    }
    Ok(())
}

/// Whether `host` matches an allowed pattern (`example.com`, or `*.example.com` for subdomains
/// and the domain itself).
fn host_allowed(host: &str, pattern: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
        None => host == pattern,
    }
}

/// The deep link to honour, if the offer allows deep links and the link's host is allowed
/// (the offer's allowed hosts, else its destination's host). Anything else is refused, so a
/// tracking link can never become an open redirect.
pub fn allowed_deep_link(offer: &Offer, requested: &str) -> Option<HttpUrl> {
    let rules = &offer.spec.deep_links;
    if !rules.enabled || requested.is_empty() {
        return None;
    }
    let url = HttpUrl::parse(requested).ok()?;
    let host = url.host().to_ascii_lowercase();
    let allowed = if rules.allowed_hosts.is_empty() {
        let probe = offer.spec.destination_url.render(|_| Some(Cow::Borrowed("x")));
        HttpUrl::parse(&probe).is_ok_and(|d| d.host().eq_ignore_ascii_case(&host))
    } else {
        rules.allowed_hosts.iter().any(|p| host_allowed(&host, p))
    };
    allowed.then_some(url)
}

/// The destination of an accepted click, macros substituted: the deep link when allowed, else
/// the offer URL named by `url_id`, else the offer's destination.
pub fn destination(offer: &Offer, click: &Click) -> String {
    if let Some(link) = allowed_deep_link(offer, &click.params.deep_link) {
        return link.as_str().to_owned();
    }
    let template = click
        .params
        .url_id
        .and_then(|id| offer.spec.offer_urls.iter().find(|u| u.id == Some(id)))
        .map_or(&offer.spec.destination_url, |u| &u.url);
    template.render(|name| click_macro(click, name))
}

/// The value of a click macro.
pub fn click_macro<'a>(click: &'a Click, name: &str) -> Option<Cow<'a, str>> {
    let p = &click.params;
    Some(match name {
        "click_id" | "transaction_id" => Cow::Owned(click.id.to_hex()),
        "offer_id" => Cow::Owned(click.offer_id.to_string()),
        "affiliate_id" => Cow::Owned(click.affiliate_id.to_string()),
        "sub1" => Cow::Borrowed(p.subs[0].as_str()),
        "sub2" => Cow::Borrowed(p.subs[1].as_str()),
        "sub3" => Cow::Borrowed(p.subs[2].as_str()),
        "sub4" => Cow::Borrowed(p.subs[3].as_str()),
        "sub5" => Cow::Borrowed(p.subs[4].as_str()),
        "source_id" => Cow::Borrowed(p.source_id.as_str()),
        "creative_id" => Cow::Owned(p.creative_id.map(|c| c.to_string()).unwrap_or_default()),
        "country" => Cow::Borrowed(click.geo.country.as_ref().map_or("", |c| c.as_str())),
        _ => return None,
    })
}

/// Payout and revenue a click earns: cpc offers pay per unique, non-filtered, accepted click.
pub fn click_money(offer: &Offer, affiliate_id: i64, click: &Click) -> (Money, Money) {
    let paid = click.is_unique && !click.is_filter && click.rejection.is_none();
    let payout = if paid && offer.spec.payout_type == PayoutType::Cpc {
        offer.spec.payout_for(affiliate_id)
    } else {
        Money::ZERO
    };
    let revenue = if paid && offer.spec.revenue_type() == PayoutType::Cpc { offer.spec.revenue } else { Money::ZERO };
    (payout, revenue)
}

/// Payout and revenue one counted impression earns: a thousandth of the cpm amounts (exact:
/// at most seven decimals).
pub fn impression_money(offer: &Offer, affiliate_id: i64) -> (rust_decimal::Decimal, rust_decimal::Decimal) {
    let per_mille = |m: Money| m.amount() / rust_decimal::Decimal::from(1000);
    let payout = if offer.spec.payout_type == PayoutType::Cpm {
        per_mille(offer.spec.payout_for(affiliate_id))
    } else {
        rust_decimal::Decimal::ZERO
    };
    let revenue = if offer.spec.revenue_type() == PayoutType::Cpm {
        per_mille(offer.spec.revenue)
    } else {
        rust_decimal::Decimal::ZERO
    };
    (payout, revenue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::click::{ClickId, Geo, TrackingParams};
    use crate::offer::{DeviceType, OfferSpec, PublicId};
    use crate::user::{UserSpec, UserStatus};
    use serde_json::json;

    fn offer(extra: serde_json::Value) -> Offer {
        let mut body = json!({"name": "O", "destination_url": "https://shop.example/l?c={click_id}&s={sub1}&cc={country}", "payout": 1, "payout_type": "cpc", "revenue": 2});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let spec: OfferSpec = serde_json::from_value(body).unwrap();
        let now = chrono::Utc::now();
        Offer {
            id: 7,
            public_id: PublicId::new(now, [0; 8]),
            spec: spec.normalize().unwrap(),
            created_at: now,
            updated_at: now,
        }
    }

    fn affiliate(status: UserStatus) -> User {
        let spec: UserSpec = serde_json::from_value(json!({"name": "A", "status": status})).unwrap();
        User {
            id: 3,
            role: Role::Affiliate,
            spec,
            postback_secret: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn click(deep: &str, url_id: Option<u32>) -> Click {
        let mut params = TrackingParams { deep_link: deep.into(), url_id, ..TrackingParams::default() };
        params.subs[0] = "a b".into();
        Click {
            id: ClickId::new(1, [1; 10]),
            at: chrono::Utc::now(),
            offer_id: 7,
            affiliate_id: 3,
            params,
            ip: "203.0.113.9".parse().unwrap(),
            user_agent: String::new(),
            referer: String::new(),
            accept_language: String::new(),
            language: String::new(),
            device: Device::default(),
            geo: Geo { country: Some(CountryCode::parse("US").unwrap()), ..Geo::default() },
            is_unique: true,
            is_robot: false,
            is_filter: false,
            rejection: None,
            payout: Money::ZERO,
            revenue: Money::ZERO,
        }
    }

    #[test]
    fn parties() {
        let o = offer(json!({}));
        let a = affiliate(UserStatus::Active);
        assert_eq!(check_parties(None, Some(&a)), Err(Rejection::UnknownOffer));
        assert_eq!(check_parties(Some(&o), None), Err(Rejection::UnknownAffiliate));
        assert_eq!(check_parties(Some(&o), Some(&affiliate(UserStatus::Suspended))), Err(Rejection::AffiliateInactive));
        assert_eq!(check_parties(Some(&offer(json!({"status": "paused"}))), Some(&a)), Err(Rejection::OfferPaused));
        assert_eq!(check_parties(Some(&offer(json!({"status": "archived"}))), Some(&a)), Err(Rejection::OfferArchived));
        assert_eq!(check_parties(Some(&offer(json!({"visibility": "private"}))), Some(&a)), Err(Rejection::NoAccess));
        assert_eq!(check_parties(Some(&o), Some(&a)), Ok(()));
    }

    #[test]
    fn targeting() {
        let o = offer(json!({"geo": ["US"], "targeting": {"device_types": ["mobile"]}}));
        let mobile = Device { device_type: Some(DeviceType::Mobile), ..Device::default() };
        let us = CountryCode::parse("US").ok();
        assert_eq!(check_targeting(&o, us, &mobile), Ok(()));
        assert_eq!(check_targeting(&o, CountryCode::parse("DE").ok(), &mobile), Err(Rejection::GeoNotTargeted));
        assert_eq!(check_targeting(&o, None, &mobile), Err(Rejection::GeoNotTargeted));
        assert_eq!(check_targeting(&o, us, &Device::default()), Err(Rejection::DeviceNotTargeted));
        assert_eq!(check_targeting(&offer(json!({})), None, &Device::default()), Ok(()));
    }

    #[test]
    fn destinations_and_deep_links() {
        let o = offer(json!({"offer_urls": [{"id": 2, "name": "Alt", "url": "https://alt.example/?c={click_id}"}]}));
        let c = click("", None);
        assert_eq!(destination(&o, &c), format!("https://shop.example/l?c={}&s=a+b&cc=US", c.id));
        assert_eq!(destination(&o, &click("", Some(2))), format!("https://alt.example/?c={}", c.id));
        assert!(destination(&o, &click("", Some(9))).starts_with("https://shop.example/"), "unknown url_id falls back");
        assert!(
            destination(&o, &click("https://shop.example/deep", None)).starts_with("https://shop.example/l?"),
            "deep links off"
        );

        let d = offer(json!({"deep_links": {"enabled": true}}));
        assert_eq!(destination(&d, &click("https://shop.example/deep?x=1", None)), "https://shop.example/deep?x=1");
        assert!(destination(&d, &click("https://evil.example/", None)).starts_with("https://shop.example/l?"));
        assert!(destination(&d, &click("javascript:alert(1)", None)).starts_with("https://shop.example/l?"));
        let w = offer(json!({"deep_links": {"enabled": true, "allowed_hosts": ["*.brand.example"]}}));
        assert!(allowed_deep_link(&w, "https://m.brand.example/p").is_some());
        assert!(allowed_deep_link(&w, "https://brand.example/p").is_some());
        assert!(allowed_deep_link(&w, "https://evilbrand.example/p").is_none());
        assert!(allowed_deep_link(&w, "https://brand.example.evil.example/").is_none());
    }

    #[test]
    fn cpm_money_per_impression() {
        let o = offer(json!({"payout_type": "cpm", "payout": 1.2345, "revenue_type": "cpm", "revenue": 2}));
        let (p, r) = impression_money(&o, 3);
        assert_eq!((p.to_string(), r.to_string()), ("0.0012345".to_owned(), "0.002".to_owned()));
        assert_eq!(impression_money(&offer(json!({})), 3), (rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO));
    }

    #[test]
    fn cpc_money() {
        let o = offer(json!({}));
        let mut c = click("", None);
        assert_eq!(click_money(&o, 3, &c), (Money::parse("1").unwrap(), Money::parse("2").unwrap()));
        c.is_unique = false;
        assert_eq!(click_money(&o, 3, &c), (Money::ZERO, Money::ZERO));
        let cpa = offer(json!({"payout_type": "cpa"}));
        c.is_unique = true;
        assert_eq!(click_money(&cpa, 3, &c), (Money::ZERO, Money::ZERO));
    }
}
