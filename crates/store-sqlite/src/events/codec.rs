//! The rows of `events.db`: a click or an impression to and from its columns.

use chrono::{DateTime, Utc};
use clicktrail_domain::click::{Click, ClickId, Device, Geo, Impression, Rejection, TrackingParams};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::money::Money;
use clicktrail_domain::offer::{DeviceType, OsFamily};
use clicktrail_store::StoreError;
use rusqlite::{Row, Transaction, params};

use crate::{backend, decimal_units, from_ms, from_units, ms, to_units};

fn money(units: i64) -> Money {
    Money::new(from_units(units)).unwrap_or(Money::ZERO)
}

pub(crate) const INSERT_CLICK: &str =
    "INSERT INTO clicks (id, ts, offer_id, affiliate_id, error_code, is_unique, is_robot, is_filter,
    unique_key, source_id, campaign, sub1, sub2, sub3, sub4, sub5, coupon_code, creative_id, url_id, deep_link, ip,
    user_agent, referer, accept_language, language, country, region, city, isp, carrier, organization, connection_type,
    device_type, os, os_name, os_version, browser, browser_version, brand, model, is_mobile, is_tablet, idfa,
    google_ad_id, android_id, query, payout, revenue)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23,
    ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, ?39, ?40, ?41, ?42, ?43, ?44, ?45, ?46,
    ?47, ?48)";

pub(crate) const CLICK_COLUMNS: &str =
    "id, ts, offer_id, affiliate_id, error_code, is_unique, is_robot, is_filter, source_id,
    campaign, sub1, sub2, sub3, sub4, sub5, coupon_code, creative_id, url_id, deep_link, ip, user_agent, referer,
    accept_language, language, country, region, city, isp, carrier, organization, connection_type, device_type, os,
    os_name, os_version, browser, browser_version, brand, model, is_mobile, is_tablet, idfa, google_ad_id, android_id,
    query, payout, revenue";

pub(crate) fn insert_click(stmt: &mut rusqlite::CachedStatement<'_>, c: &Click) -> rusqlite::Result<usize> {
    let p = &c.params;
    let d = &c.device;
    let g = &c.geo;
    let query = serde_json::to_string(&p.extra).unwrap_or_else(|_| "[]".into());
    stmt.execute(rusqlite::params![
        c.id.to_bytes().to_vec(),
        ms(c.at),
        c.offer_id,
        c.affiliate_id,
        c.rejection.map_or(0, Rejection::code),
        c.is_unique,
        c.is_robot,
        c.is_filter,
        c.unique_key() as i64,
        p.source_id,
        p.campaign,
        p.subs[0],
        p.subs[1],
        p.subs[2],
        p.subs[3],
        p.subs[4],
        p.coupon_code,
        p.creative_id,
        p.url_id,
        p.deep_link,
        c.ip.to_string(),
        c.user_agent,
        c.referer,
        c.accept_language,
        c.language,
        g.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
        g.region,
        g.city,
        g.isp,
        g.carrier,
        g.organization,
        g.connection_type,
        d.device_type.map_or("", DeviceType::as_str),
        d.os.map_or("", OsFamily::as_str),
        d.os_name,
        d.os_version,
        d.browser,
        d.browser_version,
        d.brand,
        d.model,
        d.is_mobile,
        d.is_tablet,
        p.idfa,
        p.google_ad_id,
        p.android_id,
        query,
        to_units(c.payout),
        to_units(c.revenue),
    ])
}

/// Reads a row of `CLICK_COLUMNS` (by position: a lookup by name scans every column name).
pub(crate) fn read_click(r: &Row<'_>) -> rusqlite::Result<Click> {
    let id: Vec<u8> = r.get(0)?;
    let mut bytes = [0u8; 16];
    if id.len() == 16 {
        bytes.copy_from_slice(&id);
    }
    let text = |i: usize| r.get::<_, String>(i);
    let query: String = text(44)?;
    let ip: String = text(19)?;
    let error: u16 = r.get(4)?;
    Ok(Click {
        id: ClickId::from_bytes(bytes),
        at: from_ms(r.get(1)?),
        offer_id: r.get(2)?,
        affiliate_id: r.get(3)?,
        params: TrackingParams {
            subs: [text(10)?, text(11)?, text(12)?, text(13)?, text(14)?],
            source_id: text(8)?,
            creative_id: r.get(16)?,
            url_id: r.get(17)?,
            campaign: text(9)?,
            coupon_code: text(15)?,
            idfa: text(41)?,
            google_ad_id: text(42)?,
            android_id: text(43)?,
            deep_link: text(18)?,
            extra: if query == "[]" { Vec::new() } else { serde_json::from_str(&query).unwrap_or_default() },
        },
        ip: ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        user_agent: text(20)?,
        referer: text(21)?,
        accept_language: text(22)?,
        language: text(23)?,
        device: Device {
            device_type: DeviceType::parse(&text(31)?),
            os: OsFamily::parse(&text(32)?),
            os_name: text(33)?,
            os_version: text(34)?,
            browser: text(35)?,
            browser_version: text(36)?,
            brand: text(37)?,
            model: text(38)?,
            is_mobile: r.get(39)?,
            is_tablet: r.get(40)?,
        },
        geo: Geo {
            country: CountryCode::parse(&text(24)?).ok(),
            region: text(25)?,
            city: text(26)?,
            isp: text(27)?,
            carrier: text(28)?,
            organization: text(29)?,
            connection_type: text(30)?,
        },
        is_unique: r.get(5)?,
        is_robot: r.get(6)?,
        is_filter: r.get(7)?,
        rejection: Rejection::from_code(error),
        payout: money(r.get(45)?),
        revenue: money(r.get(46)?),
    })
}

/// Writes impressions in the caller's transaction.
pub(crate) fn insert_impressions(tx: &Transaction<'_>, impressions: &[Impression]) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO impressions (ts, offer_id, affiliate_id, error_code, creative_id, source_id, sub1, sub2,
             sub3, sub4, sub5, ip, country, device_type, os, payout, revenue)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        )
        .map_err(backend)?;
    for i in impressions {
        let p = &i.params;
        stmt.execute(params![
            ms(i.at),
            i.offer_id,
            i.affiliate_id,
            i.rejection.map_or(0, Rejection::code),
            p.creative_id,
            p.source_id,
            p.subs[0],
            p.subs[1],
            p.subs[2],
            p.subs[3],
            p.subs[4],
            i.ip.to_string(),
            i.geo.country.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            i.device.device_type.map_or("", DeviceType::as_str),
            i.device.os.map_or("", OsFamily::as_str),
            decimal_units(i.payout),
            decimal_units(i.revenue),
        ])
        .map_err(backend)?;
    }
    Ok(())
}

/// The columns [`read_impression`] reads.
pub(crate) const IMPRESSION_COLUMNS: &str = "ts, offer_id, affiliate_id, error_code, creative_id, source_id, sub1,
    sub2, sub3, sub4, sub5, ip, country, device_type, os, payout, revenue";

/// Reads a row of [`IMPRESSION_COLUMNS`].
pub(crate) fn read_impression(r: &Row<'_>) -> rusqlite::Result<Impression> {
    let ip: String = r.get(11)?;
    let country: String = r.get(12)?;
    let device_type: String = r.get(13)?;
    let os: String = r.get(14)?;
    Ok(Impression {
        at: from_ms(r.get(0)?),
        offer_id: r.get(1)?,
        affiliate_id: r.get(2)?,
        rejection: Rejection::from_code(r.get(3)?),
        params: TrackingParams {
            creative_id: r.get(4)?,
            source_id: r.get(5)?,
            subs: [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?],
            ..TrackingParams::default()
        },
        ip: ip.parse().unwrap_or(std::net::IpAddr::from([0, 0, 0, 0])),
        device: Device { device_type: DeviceType::parse(&device_type), os: OsFamily::parse(&os), ..Device::default() },
        geo: Geo { country: CountryCode::parse(&country).ok(), ..Geo::default() },
        payout: from_units(r.get(15)?),
        revenue: from_units(r.get(16)?),
    })
}

/// The smallest click id of a moment: ranges of ids are ranges of time.
pub(crate) fn id_bound(at: DateTime<Utc>) -> Vec<u8> {
    id_bound_ms(ms(at))
}

/// The smallest click id of a millisecond.
pub(crate) fn id_bound_ms(ms: i64) -> Vec<u8> {
    ClickId::floor(u64::try_from(ms).unwrap_or(0)).to_bytes().to_vec()
}
