//! The click pipeline as named steps: parse → geo → device and bot → unique → access,
//! targeting and caps → destination. A step that refuses returns a typed [`Rejection`], which
//! becomes the click's error code and message and a Prometheus label.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Click, ClickId, Rejection, TrackingParams, primary_language};
use clicktrail_domain::money::Money;
use clicktrail_domain::offer::Offer;
use clicktrail_domain::tracking;

/// Longest value kept of any parameter or header, in characters.
const MAX_VALUE: usize = 512;
/// Most extra query parameters kept.
const MAX_EXTRA: usize = 32;

/// What arrived: the link's path ids, its query, and the request's headers.
#[derive(Debug, Clone)]
pub struct Visit {
    /// Offer id as written in the path.
    pub offer: String,
    /// Affiliate id as written in the path.
    pub affiliate: String,
    /// Query parameters in order.
    pub query: Vec<(String, String)>,
    /// The visitor's address.
    pub ip: IpAddr,
    /// `User-Agent`.
    pub user_agent: String,
    /// `Referer`.
    pub referer: String,
    /// `Accept-Language`.
    pub accept_language: String,
    /// When.
    pub at: DateTime<Utc>,
}

fn bounded(value: &str) -> String {
    if value.len() <= MAX_VALUE { value.to_owned() } else { value.chars().take(MAX_VALUE).collect() }
}

/// Step `parse`: tracking parameters from the query; everything unknown is kept as extra.
pub fn parse_params(query: &[(String, String)]) -> TrackingParams {
    let mut p = TrackingParams::default();
    for (name, value) in query {
        let v = bounded(value.trim());
        // Kept as sent for the raw-click log too (everything but sub-ids, source, ad ids, async).
        let shown = !matches!(
            name.as_str(),
            "sub1"
                | "aff_sub"
                | "s1"
                | "sub2"
                | "aff_sub2"
                | "s2"
                | "sub3"
                | "aff_sub3"
                | "s3"
                | "sub4"
                | "aff_sub4"
                | "s4"
                | "sub5"
                | "aff_sub5"
                | "s5"
                | "source_id"
                | "idfa"
                | "gaid"
                | "google_ad_id"
                | "android_id"
                | "async"
        );
        if shown && p.extra.len() < MAX_EXTRA {
            p.extra.push((bounded(name), v.clone()));
        }
        match name.as_str() {
            "sub1" | "aff_sub" | "s1" => p.subs[0] = v,
            "sub2" | "aff_sub2" | "s2" => p.subs[1] = v,
            "sub3" | "aff_sub3" | "s3" => p.subs[2] = v,
            "sub4" | "aff_sub4" | "s4" => p.subs[3] = v,
            "sub5" | "aff_sub5" | "s5" => p.subs[4] = v,
            "source_id" => p.source_id = v,
            "creative_id" => p.creative_id = v.parse().ok(),
            "url_id" => p.url_id = v.parse().ok(),
            "campaign" => p.campaign = v,
            "__cc" | "coupon_code" => p.coupon_code = v,
            "idfa" => p.idfa = v,
            "gaid" | "google_ad_id" => p.google_ad_id = v,
            "android_id" => p.android_id = v,
            "url" => p.deep_link = v,
            _ => {}
        }
    }
    p
}

/// A parsed path id; anything that is not a positive number names nothing (0).
pub fn path_id(raw: &str) -> i64 {
    raw.parse::<i64>().ok().filter(|id| *id > 0).unwrap_or(0)
}

/// A click before the checks, with what enrichment found.
pub fn new_click(visit: &Visit, id: ClickId, params: TrackingParams) -> Click {
    Click {
        id,
        at: visit.at,
        offer_id: path_id(&visit.offer),
        affiliate_id: path_id(&visit.affiliate),
        params,
        ip: visit.ip,
        user_agent: bounded(&visit.user_agent),
        referer: bounded(&visit.referer),
        accept_language: bounded(&visit.accept_language),
        language: primary_language(&visit.accept_language),
        device: Default::default(),
        geo: Default::default(),
        is_unique: false,
        is_robot: false,
        is_filter: false,
        rejection: None,
        payout: Money::ZERO,
        revenue: Money::ZERO,
    }
}

/// Step `access, targeting`: every check but caps, in order; the first refusal wins.
pub fn check(
    offer: Option<&Offer>,
    affiliate: Option<&clicktrail_domain::user::User>,
    click: &mut Click,
) -> Result<(), Rejection> {
    tracking::check_parties(offer, affiliate)?;
    let offer = offer.ok_or(Rejection::UnknownOffer)?;
    if click.is_robot && offer.spec.filter_bots {
        click.is_filter = true;
        return Err(Rejection::FilteredBot);
    }
    tracking::check_targeting(offer, click.geo.country, &click.device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn parameters_are_sorted_into_their_places() {
        let p = parse_params(&q(&[
            ("sub1", "fb"),
            ("aff_sub3", "x"),
            ("source_id", "newsletter"),
            ("creative_id", "4"),
            ("url_id", "nope"),
            ("__cc", "summer"),
            ("gaid", "g-1"),
            ("url", "https://shop.example/deep"),
            ("async", "json"),
            ("utm_source", "mail"),
        ]));
        assert_eq!((p.subs[0].as_str(), p.subs[2].as_str()), ("fb", "x"));
        assert_eq!((p.source_id.as_str(), p.creative_id, p.url_id), ("newsletter", Some(4), None));
        assert_eq!((p.coupon_code.as_str(), p.google_ad_id.as_str()), ("summer", "g-1"), "the coupon as sent");
        assert_eq!(p.deep_link, "https://shop.example/deep");
        assert_eq!(
            p.extra,
            q(&[
                ("creative_id", "4"),
                ("url_id", "nope"),
                ("__cc", "summer"),
                ("url", "https://shop.example/deep"),
                ("utm_source", "mail")
            ]),
            "the parameters as sent but sub-ids, source, ad ids and async"
        );
    }

    #[test]
    fn values_are_bounded() {
        let long = "x".repeat(5000);
        let many: Vec<(String, String)> = (0..100).map(|i| (format!("p{i}"), long.clone())).collect();
        let p = parse_params(&many);
        assert_eq!(p.extra.len(), MAX_EXTRA);
        assert!(p.extra.iter().all(|(_, v)| v.len() == MAX_VALUE));
        assert_eq!(path_id("12"), 12);
        assert_eq!(path_id("-3"), 0);
        assert_eq!(path_id("abc"), 0);
    }
}
