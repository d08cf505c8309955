//! Click and conversion caps: counter keys per day and month in the network's time zone, and
//! the restore of click caps from the rollups after a restart.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use clicktrail_domain::offer::{CapLimits, Offer};
use clicktrail_store::Limit;
use clicktrail_store::events::AcceptedCount;

/// The local day and month of an instant, as key parts.
fn periods(at: DateTime<Utc>, tz: Tz) -> (NaiveDate, String, String) {
    let local = at.with_timezone(&tz).date_naive();
    (local, local.format("%Y%m%d").to_string(), local.format("%Y%m").to_string())
}

/// When a local date's counters may be forgotten: two days after it ends (any zone).
fn expiry(date: NaiveDate, days: i64) -> DateTime<Utc> {
    let end = date + Duration::days(days);
    Utc.from_utc_datetime(&end.and_hms_opt(0, 0, 0).unwrap_or_default()) + Duration::days(2)
}

fn first_of_next_month(date: NaiveDate) -> NaiveDate {
    let (y, m) = if date.month() == 12 { (date.year() + 1, 1) } else { (date.year(), date.month() + 1) };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(date)
}

/// What a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counted {
    Clicks,
    Conversions,
}

fn limits_of(caps: &CapLimits, counted: Counted, scope: &str, at: DateTime<Utc>, tz: Tz, out: &mut Vec<Limit>) {
    let (daily, monthly) = match counted {
        Counted::Clicks => (caps.daily_clicks, caps.monthly_clicks),
        Counted::Conversions => (caps.daily_conversions, caps.monthly_conversions),
    };
    if daily.is_none() && monthly.is_none() {
        return;
    }
    let (date, day, month) = periods(at, tz);
    if let Some(limit) = daily {
        out.push(Limit { key: format!("{scope}:day:{day}"), limit: u64::from(limit), expires_at: expiry(date, 1) });
    }
    if let Some(limit) = monthly {
        let days = (first_of_next_month(date) - date).num_days();
        out.push(Limit {
            key: format!("{scope}:month:{month}"),
            limit: u64::from(limit),
            expires_at: expiry(date, days),
        });
    }
}

fn offer_scope(offer_id: i64) -> String {
    format!("clicks:{{offer:{offer_id}}}")
}

fn affiliate_scope(offer_id: i64, affiliate_id: i64) -> String {
    format!("clicks:{{offer:{offer_id}}}:aff:{affiliate_id}")
}

/// The click-cap counters a click of `affiliate_id` on `offer` must fit in.
pub fn click_limits(offer: &Offer, affiliate_id: i64, at: DateTime<Utc>, tz: Tz) -> Vec<Limit> {
    let mut out = Vec::new();
    if !has_click_caps(offer) {
        return out;
    }
    limits_of(&offer.spec.caps.offer, Counted::Clicks, &offer_scope(offer.id), at, tz, &mut out);
    let scope = affiliate_scope(offer.id, affiliate_id);
    limits_of(&offer.spec.caps.per_affiliate, Counted::Clicks, &scope, at, tz, &mut out);
    out
}

/// Which conversion-cap counters a conversion belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionScope {
    /// The offer's own caps.
    Offer,
    /// The caps every affiliate has on the offer.
    Affiliate,
}

/// The conversion-cap counters of `scope` that a conversion of `affiliate_id` on `offer` at
/// `at` counts against (approved and pending conversions count).
pub fn conversion_limits(
    offer: &Offer,
    affiliate_id: i64,
    scope: ConversionScope,
    at: DateTime<Utc>,
    tz: Tz,
) -> Vec<Limit> {
    let mut out = Vec::new();
    let (caps, name) = match scope {
        ConversionScope::Offer => (&offer.spec.caps.offer, format!("conversions:{{offer:{}}}", offer.id)),
        ConversionScope::Affiliate => {
            (&offer.spec.caps.per_affiliate, format!("conversions:{{offer:{}}}:aff:{affiliate_id}", offer.id))
        }
    };
    limits_of(caps, Counted::Conversions, &name, at, tz, &mut out);
    out
}

/// Why a conversion was refused at this counter: `daily offer conversion cap of 20 reached`.
pub fn conversion_cap_reason(limit: &Limit) -> String {
    let period = if limit.key.contains(":day:") { "daily" } else { "monthly" };
    let scope = if limit.key.contains(":aff:") { "affiliate" } else { "offer" };
    format!("{period} {scope} conversion cap of {} reached", limit.limit)
}

/// Whether an offer has any click cap.
pub fn has_click_caps(offer: &Offer) -> bool {
    let c = &offer.spec.caps;
    [c.offer.daily_clicks, c.offer.monthly_clicks, c.per_affiliate.daily_clicks, c.per_affiliate.monthly_clicks]
        .iter()
        .any(Option::is_some)
}

/// The earliest instant whose clicks count against a cap now: the start of this local month.
pub fn restore_since(now: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
    let local = now.with_timezone(&tz).date_naive();
    let first = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).unwrap_or(local);
    tz.from_local_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .map_or(now - Duration::days(31), |t| t.with_timezone(&Utc))
}

/// Counter additions that restore an offer's caps from accepted counts: (key, count, expiry),
/// for today and this month only.
pub fn restore_additions(
    offer: &Offer,
    counts: &[AcceptedCount],
    now: DateTime<Utc>,
    tz: Tz,
) -> Vec<(String, u64, DateTime<Utc>)> {
    let (today, _, this_month) = periods(now, tz);
    let mut out: std::collections::BTreeMap<String, (u64, DateTime<Utc>)> = Default::default();
    for c in counts.iter().filter(|c| c.offer_id == offer.id) {
        let (date, _, month) = periods(c.bucket, tz);
        if month != this_month {
            continue;
        }
        let mut limits = Vec::new();
        limits_of(&offer.spec.caps.offer, Counted::Clicks, &offer_scope(offer.id), c.bucket, tz, &mut limits);
        limits_of(
            &offer.spec.caps.per_affiliate,
            Counted::Clicks,
            &affiliate_scope(offer.id, c.affiliate_id),
            c.bucket,
            tz,
            &mut limits,
        );
        for l in limits.into_iter().filter(|l| !l.key.contains(":day:") || date == today) {
            let entry = out.entry(l.key).or_insert((0, l.expires_at));
            entry.0 += c.accepted;
        }
    }
    out.into_iter().map(|(k, (n, exp))| (k, n, exp)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clicktrail_domain::offer::{OfferSpec, PublicId};
    use serde_json::json;

    fn offer(caps: serde_json::Value) -> Offer {
        let spec: OfferSpec = serde_json::from_value(json!({"name": "O", "destination_url": "https://x.example/", "payout": 1, "payout_type": "cpa", "revenue": 1, "caps": caps})).unwrap();
        let now = Utc::now();
        Offer { id: 5, public_id: PublicId::new(now, [0; 8]), spec, created_at: now, updated_at: now }
    }

    #[test]
    fn days_follow_the_network_time_zone() {
        let o = offer(json!({"offer": {"daily_clicks": 10}, "per_affiliate": {"monthly_clicks": 3}}));
        let at = Utc.with_ymd_and_hms(2026, 5, 1, 2, 0, 0).unwrap();
        let utc = click_limits(&o, 9, at, Tz::UTC);
        assert_eq!(
            utc.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
            ["clicks:{offer:5}:day:20260501", "clicks:{offer:5}:aff:9:month:202605"]
        );
        let ny = click_limits(&o, 9, at, chrono_tz::America::New_York);
        assert_eq!(ny[0].key, "clicks:{offer:5}:day:20260430", "22:00 the day before in New York");
        assert_eq!(ny[1].key, "clicks:{offer:5}:aff:9:month:202604");
        assert!(ny.iter().all(|l| l.expires_at > at));
        assert!(has_click_caps(&o) && !has_click_caps(&offer(json!({}))));
    }

    #[test]
    fn restore_counts_today_and_this_month() {
        let o = offer(json!({"offer": {"daily_clicks": 10, "monthly_clicks": 100}}));
        let now = Utc.with_ymd_and_hms(2026, 5, 20, 12, 0, 0).unwrap();
        let at = |d, h| Utc.with_ymd_and_hms(2026, 5, d, h, 0, 0).unwrap();
        let counts = [
            AcceptedCount { bucket: at(20, 1), offer_id: 5, affiliate_id: 1, accepted: 4 },
            AcceptedCount { bucket: at(19, 1), offer_id: 5, affiliate_id: 1, accepted: 6 },
            AcceptedCount { bucket: at(20, 2), offer_id: 6, affiliate_id: 1, accepted: 50 },
        ];
        let adds = restore_additions(&o, &counts, now, Tz::UTC);
        let get = |k: &str| adds.iter().find(|(key, ..)| key == k).map(|a| a.1);
        assert_eq!(get("clicks:{offer:5}:day:20260520"), Some(4));
        assert_eq!(get("clicks:{offer:5}:month:202605"), Some(10));
        assert_eq!(adds.len(), 2);
        assert_eq!(restore_since(now, Tz::UTC), Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap());
    }
}
