//! Reports: a request (range, zone, filters, grouping) turned into the engine's rows, reading
//! the 15-minute rollups where they can answer and raw events where they must (a range that is
//! not on quarter hours, or sub-id grouping and filters).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clicktrail_domain::click::{Click, Device, Geo, Impression, Rejection};
use clicktrail_domain::conversion::Conversion;
use clicktrail_domain::offer::{ConversionStatus, DeviceType, OsFamily};
use clicktrail_domain::report::{self, Dimension, Row, Shape, Totals, Traffic};
use clicktrail_store::events::BUCKET_SECONDS;
use clicktrail_store::{ConversionQuery, ConversionStore, EventStore, RollupRow};

use crate::error::{Error, Result};
use crate::track::catalog::Catalog;

/// Who the report is for: what it may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Everything.
    Network,
    /// One affiliate's traffic; EPC from payout.
    Affiliate(i64),
    /// One advertiser's offers.
    Advertiser(i64),
}

/// Filters; every set filter must match (values within one filter are alternatives).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Offers.
    pub offers: Option<Vec<i64>>,
    /// Affiliates.
    pub affiliates: Option<Vec<i64>>,
    /// Affiliate groups (resolved to their affiliates).
    pub affiliate_groups: Option<Vec<i64>>,
    /// Advertisers (resolved to their offers).
    pub advertisers: Option<Vec<i64>>,
    /// Categories (resolved to their offers).
    pub categories: Option<Vec<i64>>,
    /// Country codes.
    pub countries: Option<Vec<String>>,
    /// `source_id` values.
    pub sources: Option<Vec<String>>,
    /// Sub-id values by position.
    pub subs: [Option<Vec<String>>; 5],
    /// Device classes.
    pub devices: Option<Vec<String>>,
    /// OS families.
    pub oses: Option<Vec<String>>,
}

/// A report request.
#[derive(Debug, Clone)]
pub struct Request {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Zone of dates and hours.
    pub tz: Tz,
    /// Grouping.
    pub group_by: Vec<Dimension>,
    /// Filters.
    pub filters: Filters,
    /// Conversion statuses counted.
    pub statuses: Vec<ConversionStatus>,
    /// Who asks.
    pub audience: Audience,
}

/// A report: rows and their total.
#[derive(Debug, Clone)]
pub struct Report {
    /// Rows, ordered by key.
    pub rows: Vec<Row>,
    /// Grand total.
    pub total: Totals,
    /// Whether the rollups served it (else raw events).
    pub from_rollups: bool,
}

/// The reporter.
pub struct Reporter {
    events: Arc<dyn EventStore>,
    conversions: Arc<dyn ConversionStore>,
    catalog: Arc<Catalog>,
}

fn within(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_ref().is_none_or(|l| l.iter().any(|v| v.eq_ignore_ascii_case(value)))
}

fn within_id(list: &Option<Vec<i64>>, value: i64) -> bool {
    list.as_ref().is_none_or(|l| l.contains(&value))
}

/// Offer and affiliate id sets implied by every id filter and the audience.
struct Scope {
    offers: Option<Vec<i64>>,
    affiliates: Option<Vec<i64>>,
}

fn intersect(a: Option<Vec<i64>>, b: Option<Vec<i64>>) -> Option<Vec<i64>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.into_iter().filter(|x| b.contains(x)).collect()),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Reporter {
    /// A reporter over the stores.
    pub fn new(events: Arc<dyn EventStore>, conversions: Arc<dyn ConversionStore>, catalog: Arc<Catalog>) -> Self {
        Self { events, conversions, catalog }
    }

    fn scope(&self, req: &Request) -> Scope {
        let snapshot = self.catalog.snapshot();
        let f = &req.filters;
        let by_offer = |pick: &dyn Fn(&clicktrail_domain::offer::Offer) -> bool| -> Vec<i64> {
            snapshot.offers.values().filter(|o| pick(o)).map(|o| o.id).collect()
        };
        let mut offers = f.offers.clone();
        if let Some(ids) = &f.advertisers {
            offers = intersect(offers, Some(by_offer(&|o| o.spec.advertiser_id.is_some_and(|a| ids.contains(&a)))));
        }
        if let Some(ids) = &f.categories {
            offers = intersect(offers, Some(by_offer(&|o| o.spec.category_id.is_some_and(|c| ids.contains(&c)))));
        }
        let mut affiliates = f.affiliates.clone();
        if let Some(groups) = &f.affiliate_groups {
            let members: Vec<i64> = snapshot
                .affiliates
                .values()
                .filter(|a| a.spec.affiliate_group_id.is_some_and(|g| groups.contains(&g)))
                .map(|a| a.id)
                .collect();
            affiliates = intersect(affiliates, Some(members));
        }
        match req.audience {
            Audience::Network => {}
            Audience::Affiliate(me) => affiliates = intersect(affiliates, Some(vec![me])),
            Audience::Advertiser(me) => {
                offers = intersect(offers, Some(by_offer(&|o| o.spec.advertiser_id == Some(me))))
            }
        }
        Scope { offers, affiliates }
    }

    /// Runs a report.
    pub async fn run(&self, req: &Request) -> Result<Report> {
        if req.to <= req.from {
            return Err(Error::invalid("to", "must be after the start of the range"));
        }
        let scope = self.scope(req);
        let f = &req.filters;
        let aligned = req.from.timestamp() % BUCKET_SECONDS == 0 && req.to.timestamp() % BUCKET_SECONDS == 0;
        let needs_subs = req.group_by.iter().any(|d| !d.in_rollups()) || f.subs.iter().any(Option::is_some);
        let from_rollups = aligned && !needs_subs;
        let traffic: Vec<Traffic> = if from_rollups {
            self.events.rollups(req.from, req.to).await?.into_iter().map(from_rollup).collect()
        } else {
            let clicks = self.events.clicks(req.from, req.to, usize::MAX).await?;
            let impressions = self.events.impressions(req.from, req.to, usize::MAX).await?;
            clicks.iter().filter_map(from_click).chain(impressions.iter().filter_map(from_impression)).collect()
        };
        let keep =
            |offer: i64, affiliate: i64, country: &str, source: &str, device: &str, os: &str, subs: &[String; 5]| {
                within_id(&scope.offers, offer)
                    && within_id(&scope.affiliates, affiliate)
                    && within(&f.countries, country)
                    && within(&f.sources, source)
                    && within(&f.devices, device)
                    && within(&f.oses, os)
                    && f.subs.iter().zip(subs.iter()).all(|(want, have)| within(want, have))
            };
        let traffic: Vec<Traffic> = traffic
            .into_iter()
            .filter(|t| keep(t.offer_id, t.affiliate_id, &t.country, &t.source_id, &t.device, &t.os, &t.subs))
            .collect();
        let query = ConversionQuery { from: Some(req.from), to: Some(req.to), ..ConversionQuery::default() };
        let conversions: Vec<Conversion> = self
            .conversions
            .conversions(&query)
            .await?
            .items
            .into_iter()
            .filter(|c| keep(c.offer_id, c.affiliate_id, &c.country, &c.source_id, &c.device, &c.os, &c.subs))
            .collect();
        let shape = Shape { group_by: req.group_by.clone(), tz: req.tz, statuses: req.statuses.clone() };
        let (rows, total) = report::run(&shape, &traffic, &conversions);
        Ok(Report { rows, total, from_rollups })
    }
}

fn from_rollup(r: RollupRow) -> Traffic {
    Traffic {
        at: r.bucket,
        offer_id: r.offer_id,
        affiliate_id: r.affiliate_id,
        source_id: r.source_id,
        country: r.country,
        device: r.device_type,
        os: r.os,
        subs: Default::default(),
        impressions: r.impressions,
        clicks: r.clicks,
        unique_clicks: r.unique_clicks,
        payout: r.payout,
        revenue: r.revenue,
    }
}

fn country(geo: &Geo) -> String {
    geo.country.map(|c| c.as_str().to_owned()).unwrap_or_default()
}

fn device_type(device: &Device) -> String {
    device.device_type.map_or("", DeviceType::as_str).to_owned()
}

fn os(device: &Device) -> String {
    device.os.map_or("", OsFamily::as_str).to_owned()
}

/// A raw click counted as the rollups count it (traffic on unknown ids is never counted).
fn from_click(c: &Click) -> Option<Traffic> {
    if matches!(c.rejection, Some(Rejection::UnknownOffer | Rejection::UnknownAffiliate)) {
        return None;
    }
    Some(Traffic {
        at: c.at,
        offer_id: c.offer_id,
        affiliate_id: c.affiliate_id,
        source_id: c.params.source_id.clone(),
        country: country(&c.geo),
        device: device_type(&c.device),
        os: os(&c.device),
        subs: c.params.subs.clone(),
        impressions: 0,
        clicks: u64::from(!c.is_filter),
        unique_clicks: u64::from(c.is_unique && !c.is_filter),
        payout: c.payout.amount(),
        revenue: c.revenue.amount(),
    })
}

fn from_impression(i: &Impression) -> Option<Traffic> {
    if i.rejection.is_some() {
        return None;
    }
    Some(Traffic {
        at: i.at,
        offer_id: i.offer_id,
        affiliate_id: i.affiliate_id,
        source_id: i.params.source_id.clone(),
        country: country(&i.geo),
        device: device_type(&i.device),
        os: os(&i.device),
        subs: i.params.subs.clone(),
        impressions: 1,
        payout: i.payout,
        revenue: i.revenue,
        ..Traffic::default()
    })
}
