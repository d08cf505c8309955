//! The report benchmark's loader (run by `bench/reports.sh`): a network of 24 offers and 20
//! affiliates, and COUNT synthetic clicks spread over DAYS days up to now — with 1 % of them
//! converting — written straight into the stores through the storage traits: the data
//! directory's, or PostgreSQL, ClickHouse and Redis when `CLICKTRAIL_DATABASE_URL`,
//! `CLICKTRAIL_CLICKHOUSE_URL` and `CLICKTRAIL_REDIS_URL` name them.
//!
//! Usage: `report_load DATA_DIR ADMIN_KEY COUNT DAYS` — prints an affiliate's API key.

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, Utc};
use clicktrail::engine::manage;
use clicktrail::engine::manage::users::Affiliate;
use clicktrail_domain::click::{Click, ClickId, Device, Geo, TrackingParams};
use clicktrail_domain::conversion::{Conversion, StatusChange};
use clicktrail_domain::geo::CountryCode;
use clicktrail_domain::money::{Currency, Money};
use clicktrail_domain::offer::{ConversionStatus, DeviceType, Offer, OsFamily};
use clicktrail_store::EventBatch;
use rand::{Rng, SeedableRng};
use serde_json::json;

const COUNTRIES: [&str; 20] = [
    "US", "GB", "DE", "FR", "IT", "ES", "RO", "PL", "NL", "BE", "CA", "AU", "BR", "MX", "IN", "JP", "KR", "SE", "NO",
    "DK",
];
const SOURCES: [&str; 5] = ["newsletter", "triggered-emails", "rec-engine", "pop-ups", "other"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, admin, count, days] = args.as_slice() else {
        anyhow::bail!("usage: report_load DATA_DIR ADMIN_KEY COUNT DAYS");
    };
    let (count, days): (u64, i64) = (count.parse()?, days.parse()?);
    let mut settings = clicktrail::Settings::default();
    settings.data_dir = dir.into();
    settings.admin_key = Some(clicktrail::settings::Secret::new(admin.clone()));
    let from_env =
        |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()).map(clicktrail::settings::Secret::new);
    settings.database_url = from_env("CLICKTRAIL_DATABASE_URL");
    settings.clickhouse_url = from_env("CLICKTRAIL_CLICKHOUSE_URL");
    settings.redis_url = from_env("CLICKTRAIL_REDIS_URL");
    let (config, op) = clicktrail::cli::open_network(&settings).await?;
    let mut offers = Vec::new();
    for i in 0..24 {
        let body = json!({"name": format!("Offer {i}"), "destination_url": "https://shop.example/?c={click_id}", "payout": 2, "payout_type": "cpa", "revenue": 3});
        let offer: Offer = manage::create(&config, &op, body).await.map_err(|e| anyhow::anyhow!(e.message))?;
        offers.push(offer.id);
    }
    let mut affiliates = Vec::new();
    for i in 0..20 {
        let a: Affiliate = manage::create(&config, &op, json!({"name": format!("Affiliate {i}")}))
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
        affiliates.push(clicktrail_store::Entity::id(&a));
    }
    for name in ["Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"] {
        let _: clicktrail_domain::catalog::TrafficSource =
            manage::create(&config, &op, json!({"name": name})).await.map_err(|e| anyhow::anyhow!(e.message))?;
    }
    let key = manage::keys::create(&config, &op, json!({"user_id": affiliates[0], "scopes": ["read:offers", "read:stats", "read:conversions"], "tier": "premium"}))
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?;
    println!("AFFILIATE_KEY={}", key.key.unwrap_or_default());
    println!("AFFILIATE_ID={}", affiliates[0]);

    let backends = clicktrail::backends::Backends::open(&settings).await?;
    let (events, store) = (backends.events.clone(), backends.conversions.clone());
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let end = Utc::now() - Duration::minutes(5);
    let start = end - Duration::days(days);
    let span_ms = (end - start).num_milliseconds();
    let started = Instant::now();
    let batch_size = 20_000u64;
    let mut conversions = Vec::new();
    let mut written = 0u64;
    while written < count {
        let n = batch_size.min(count - written);
        let mut clicks = Vec::with_capacity(n as usize);
        for i in written..written + n {
            let at = start + Duration::milliseconds(span_ms * i as i64 / count as i64);
            let mut params = TrackingParams {
                source_id: SOURCES[rng.random_range(0..SOURCES.len())].into(),
                ..TrackingParams::default()
            };
            params.subs[0] = format!("s{}", rng.random_range(0..50));
            params.subs[1] = format!("t{}", rng.random_range(0..10));
            let mobile = rng.random_bool(0.6);
            let click = Click {
                id: ClickId::new(u64::try_from(at.timestamp_millis()).unwrap_or(0), rng.random()),
                at,
                offer_id: offers[rng.random_range(0..offers.len())],
                affiliate_id: affiliates[rng.random_range(0..affiliates.len())],
                params,
                ip: std::net::IpAddr::from([203, 0, 113, rng.random()]),
                user_agent: "Mozilla/5.0 (bench)".into(),
                referer: String::new(),
                accept_language: "en-US".into(),
                language: "en".into(),
                device: Device {
                    device_type: Some(if mobile { DeviceType::Mobile } else { DeviceType::Desktop }),
                    os: Some(if mobile { OsFamily::Android } else { OsFamily::Windows }),
                    ..Device::default()
                },
                geo: Geo {
                    country: CountryCode::parse(COUNTRIES[rng.random_range(0..COUNTRIES.len())]).ok(),
                    ..Geo::default()
                },
                is_unique: rng.random_bool(0.7),
                is_robot: false,
                is_filter: false,
                rejection: None,
                payout: Money::ZERO,
                revenue: Money::ZERO,
            };
            if rng.random_bool(0.01) {
                conversions.push(click.clone());
            }
            clicks.push(click);
        }
        events.append(Arc::new(EventBatch { clicks, impressions: vec![] })).await?;
        written += n;
        if written % (count / 20).max(batch_size) < batch_size {
            eprintln!("  {written} / {count} clicks ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    eprintln!("writing {} conversions …", conversions.len());
    for c in &conversions {
        let at = c.at + Duration::minutes(1);
        let conversion = Conversion {
            id: 0,
            click_id: Some(c.id.to_hex()),
            offer_id: c.offer_id,
            affiliate_id: c.affiliate_id,
            event: None,
            is_lead: false,
            status: ConversionStatus::Approved,
            reason: String::new(),
            payout: Money::parse("2")?,
            revenue: Money::parse("3")?,
            sale_amount: None,
            currency: Currency::USD,
            txid: None,
            coupon_code: None,
            created_at: at,
            updated_at: at,
            click_at: Some(c.at),
            subs: c.params.subs.clone(),
            source_id: c.params.source_id.clone(),
            country: c.geo.country.map(|x| x.as_str().to_owned()).unwrap_or_default(),
            device: String::new(),
            os: String::new(),
            postback_ip: String::new(),
            history: vec![StatusChange {
                at,
                from: None,
                to: ConversionStatus::Approved,
                reason: String::new(),
                by_user_id: None,
            }],
        };
        store.record(conversion, Box::new(|_| Vec::new())).await?;
    }
    eprintln!(
        "loaded {count} clicks and {} conversions in {:.0} s",
        conversions.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
