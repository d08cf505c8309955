//! Reports: a request (range, zone, filters, grouping) turned into one tally query for each
//! store (they sum in the database, from the coarsest rollups that answer it) and the engine's
//! rows.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use clicktrail_domain::offer::ConversionStatus;
use clicktrail_domain::report::{self, Dimension, Key, Row, Shape, Totals};
use clicktrail_store::events::bucket_start;
use clicktrail_store::{ConversionStore, EventStore, Served, TallyQuery};
use rust_decimal::Decimal;

use crate::engine::snapshot::Snapshots;
use crate::error::{Error, Result};

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
    /// What served it: rollups, raw events, or both.
    pub served: Served,
}

/// A report by traffic source: every source in display order, its traffic (zero if none),
/// and what came with a `source_id` that names no source.
#[derive(Debug, Clone)]
pub struct SourceReport {
    /// Each source's name and sums.
    pub sources: Vec<(String, Totals)>,
    /// Traffic whose `source_id` names no source.
    pub other: Totals,
}

/// The reporter.
pub struct Reporter {
    events: Arc<dyn EventStore>,
    conversions: Arc<dyn ConversionStore>,
    snapshots: Arc<Snapshots>,
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
    pub fn new(events: Arc<dyn EventStore>, conversions: Arc<dyn ConversionStore>, snapshots: Arc<Snapshots>) -> Self {
        Self { events, conversions, snapshots }
    }

    fn scope(&self, req: &Request) -> Scope {
        let snapshot = self.snapshots.snapshot();
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

    /// Network-wide affiliate EPC (payout ÷ clicks) of the last 30 days, per offer (`offers`
    /// narrows it to those asked about); whole quarter hours, so repeated asks hit the same
    /// rollups.
    pub async fn affiliate_epc(&self, offers: Option<Vec<i64>>) -> Result<HashMap<i64, Decimal>> {
        let now = Utc::now();
        let request = Request {
            from: bucket_start(now - chrono::Duration::days(30)),
            to: bucket_start(now) + chrono::Duration::minutes(15),
            tz: Tz::UTC,
            group_by: vec![Dimension::Offer],
            filters: Filters { offers, ..Filters::default() },
            statuses: vec![ConversionStatus::Approved],
            audience: Audience::Network,
        };
        let report = self.run(&request).await?;
        Ok(report
            .rows
            .iter()
            .filter_map(|r| match r.key.first() {
                Some(Key::Id(id)) => Some((*id, r.totals.epc(true))),
                _ => None,
            })
            .collect())
    }

    /// Runs a report by traffic source: the request grouped by `source_id`, each value put to
    /// the configured source it names.
    pub async fn by_traffic_source(&self, req: &Request) -> Result<SourceReport> {
        let req = Request { group_by: vec![Dimension::Source], ..req.clone() };
        let report = self.run(&req).await?;
        let snapshot = self.snapshots.snapshot();
        let mut sources: Vec<(String, Totals)> =
            snapshot.traffic_sources.iter().map(|s| (s.spec.name.to_string(), Totals::default())).collect();
        let mut other = Totals::default();
        for row in &report.rows {
            let Some(Key::Text(source_id)) = row.key.first() else { continue };
            let slot = snapshot
                .traffic_sources
                .iter()
                .position(|s| !source_id.is_empty() && s.matches(source_id))
                .map_or(&mut other, |i| &mut sources[i].1);
            slot.add(&row.totals);
        }
        Ok(SourceReport { sources, other })
    }

    /// Runs a report: the stores sum traffic and conversions by the request's fields, and the
    /// engine puts the sums into the rows of the report's zone.
    pub async fn run(&self, req: &Request) -> Result<Report> {
        if req.to <= req.from {
            return Err(Error::invalid("to", "must be after the start of the range"));
        }
        // Events are stamped by the server's clock, so none lies before 1970 or after tomorrow:
        // a range of centuries costs what the days that can hold data cost.
        let from = req.from.max(DateTime::UNIX_EPOCH);
        let to = req.to.min(Utc::now() + chrono::Duration::days(1));
        let scope = self.scope(req);
        let f = &req.filters;
        let shape = Shape { group_by: req.group_by.clone(), tz: req.tz };
        let ids = |v: &Option<Vec<i64>>| v.as_ref().map(|l| l.iter().map(|i| Key::Id(*i)).collect::<Vec<_>>());
        let texts =
            |v: &Option<Vec<String>>| v.as_ref().map(|l| l.iter().map(|t| Key::Text(t.clone())).collect::<Vec<_>>());
        let mut filters: Vec<(Dimension, Option<Vec<Key>>)> = vec![
            (Dimension::Offer, ids(&scope.offers)),
            (Dimension::Affiliate, ids(&scope.affiliates)),
            (Dimension::Country, texts(&f.countries)),
            (Dimension::Source, texts(&f.sources)),
            (Dimension::Device, texts(&f.devices)),
            (Dimension::Os, texts(&f.oses)),
        ];
        for (i, sub) in f.subs.iter().enumerate() {
            filters.push((Dimension::Sub(i as u8), texts(sub)));
        }
        let query = TallyQuery {
            from,
            to,
            cuts: shape.cuts(from, to),
            by_time: shape.by_time(),
            group: shape.fields(),
            filters: filters.into_iter().filter_map(|(d, v)| v.map(|v| (d, v))).collect(),
            statuses: req.statuses.clone(),
        };
        let (traffic, conversions) =
            tokio::try_join!(self.events.traffic_tally(&query), self.conversions.conversion_tally(&query))?;
        let served = traffic.served.and(conversions.served);
        let (rows, total) = report::run(&shape, traffic.rows.into_iter().chain(conversions.rows));
        Ok(Report { rows, total, served })
    }
}
