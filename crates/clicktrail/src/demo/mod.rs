//! `clicktrail demo`: a realistic network to explore — advertisers, categories, 24 offers of
//! every payout type, affiliates in groups, the four traffic sources of seed 001, coupons,
//! a postback and one key per role — filled with 30 days of traffic through the real engine
//! ([`traffic`]), then the keys and example requests.

pub mod traffic;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::bail;
use clicktrail_domain::catalog::{Category, Coupon, TrafficSource};
use clicktrail_domain::offer::Offer;
use clicktrail_domain::postback::Postback;
use clicktrail_domain::user::AffiliateGroup;
use clicktrail_store::{Entity, Page, Query};
use serde_json::{Value, json};

use crate::app::App;
use crate::engine::access::Caller;
use crate::engine::manage::keys;
use crate::engine::manage::users::{Advertiser, Affiliate};
use crate::engine::manage::{self, Resource};
use crate::settings::Settings;

const CATEGORIES: &[&str] = &["Health", "Dating", "E-commerce", "Finance", "Gaming"];
const SOURCES: &[&str] = &["Newsletter", "Triggered Emails", "Rec. Engine", "Pop-ups"];
const ADVERTISERS: &[(&str, &str)] = &[
    ("Acme Health", "partners@acme-health.example"),
    ("LoveMate Inc", "affiliates@lovemate.example"),
    ("ShopNow Retail", "partners@shopnow.example"),
];
const AFFILIATES: &[(&str, &str, Option<usize>)] = &[
    ("Media Buyers Ltd", "ops@mediabuyers.example", Some(0)),
    ("Coupon Garden", "team@coupongarden.example", Some(1)),
    ("Inbox Deals", "hello@inboxdeals.example", Some(1)),
    ("Push Traffic Co", "bd@pushtraffic.example", None),
    ("Review Central", "editor@reviewcentral.example", Some(0)),
    ("Solo Publisher", "solo@publisher.example", None),
];
/// (payout type, payout, revenue type, revenue) per offer family.
const MONEY: &[(&str, f64, &str, f64)] = &[
    ("cpa", 8.5, "cpa", 12.0),
    ("cpl", 2.25, "cpl", 3.5),
    ("cps", 10.0, "cps", 15.0),
    ("revshare", 25.0, "revshare", 40.0),
    ("cpc", 0.12, "cpc", 0.2),
    ("cpm", 1.5, "cpm", 2.5),
];
const GEOS: &[&[&str]] = &[&["US"], &["US", "CA", "GB"], &["DE", "AT", "CH"], &[]];

async fn add<R: Resource>(config: &clicktrail_store::Config, caller: &Caller, body: Value) -> anyhow::Result<R> {
    manage::create::<R>(config, caller, body).await.map_err(|e| anyhow::anyhow!("demo {}: {}", R::NAME, e.message))
}

fn step(what: &str, count: usize) {
    println!("  created {count:>2} {what}");
}

/// The URL template of the demo affiliate's postback once the demo is over.
const TRACKER_URL: &str = "https://tracker.example/postback?cid={click_id}&payout={payout}&status={status}";

/// A stand-in for the demo affiliate's tracker on loopback: answers every postback `200` and
/// counts them.
async fn stand_in_tracker() -> anyhow::Result<(SocketAddr, Arc<AtomicU64>, tokio::task::JoinHandle<()>)> {
    let hits = Arc::new(AtomicU64::new(0));
    let counted = hits.clone();
    let router = axum::Router::new().route(
        "/postback",
        axum::routing::get(move || {
            counted.fetch_add(1, Ordering::Relaxed);
            std::future::ready("ok")
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let options = crate::transport::serve::ServeOptions {
        header_read_timeout: std::time::Duration::from_secs(10),
        shutdown_timeout: std::time::Duration::from_secs(1),
    };
    let task = tokio::spawn(async move {
        let _ = crate::transport::serve::serve(listener, router, options, std::future::pending()).await;
    });
    Ok((addr, hits, task))
}

/// Creates the demo network in the settings' data directory and fills it with `clicks` clicks
/// of traffic over the past 30 days.
pub async fn run(settings: &Settings, listen: SocketAddr, clicks: usize) -> anyhow::Result<()> {
    let mut settings = settings.clone();
    settings.network_name = "Clicktrail Demo".into();
    if settings.tracking_base_url.is_none() {
        settings.tracking_base_url = Some(format!("http://{listen}"));
    }
    settings.validate()?;
    // The traffic needs countries: install the default GeoIP database first, as `serve` would.
    let installed = crate::engine::track::enrich::geoip_files(settings.geoip_db.as_deref(), &settings.data_dir);
    if installed.is_empty() && settings.geoip_db.is_none() && settings.geoip_auto_install {
        let dir = settings.data_dir.clone();
        let fetched = tokio::task::spawn_blocking(move || crate::geoip::install(&dir, |m| println!("  {m}"))).await?;
        if let Err(e) = fetched {
            println!("  no GeoIP database ({e:#}); clicks will have no country");
        }
    }
    settings.geoip_auto_install = false;
    // Every click committed before it is answered, so each conversion finds its click; the
    // stand-in tracker on loopback may receive the demo's postbacks.
    settings.write_mode = crate::settings::WriteMode::Durable;
    settings.postback_allowlist.push(ipnet::IpNet::from(std::net::IpAddr::from([127, 0, 0, 1])));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let app = App::build(settings.clone(), listener).await?;
    let config = app.state().config.clone();
    let existing: Page<Category> = config.list(&Query { limit: Some(1), ..Query::default() }).await?;
    if existing.total > 0 {
        app.close().await;
        bail!(
            "{} already holds a network with categories; run the demo on a fresh --data-dir",
            settings.data_dir.display()
        );
    }
    let admin_user = crate::bootstrap::first_admin(&config).await?.ok_or_else(|| anyhow::anyhow!("no admin user"))?;
    let op = crate::bootstrap::operator(admin_user);
    let (tracker_addr, deliveries, tracker_task) = stand_in_tracker().await?;
    println!("Creating the demo network in {} …", settings.data_dir.display());
    let created = catalog(
        &config,
        &op,
        &format!("http://{tracker_addr}/postback?cid={{click_id}}&payout={{payout}}&status={{status}}"),
    )
    .await?;
    app.state().configuration_changed().await;

    println!("Sending {clicks} clicks over the past {} days through the click path …", traffic::DAYS);
    let summary = traffic::generate(app.state(), clicks, |line| println!("  {line}")).await?;
    // Deliveries run in the background; wait for the outbox to empty (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while app.state().jobs.next_due(crate::engine::convert::delivery::KIND).await?.is_some()
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    manage::update::<Postback>(&config, &op, created.postback, json!({"url": TRACKER_URL}))
        .await
        .map_err(|e| anyhow::anyhow!("demo postback: {}", e.message))?;
    let keys = keys_for(&config, &op, &created, &app, &settings).await?;
    app.close().await;
    tracker_task.abort();

    let refused: Vec<String> = summary.refused.iter().map(|(why, n)| format!("{n} {}", why.to_lowercase())).collect();
    let statuses: Vec<String> = summary.conversions.iter().map(|(status, n)| format!("{n} {status}")).collect();
    println!();
    println!("Traffic of the past {} days:", traffic::DAYS);
    println!(
        "  clicks       {:>6}  ({} to the offers; refused: {})",
        summary.clicks,
        summary.accepted,
        refused.join(", ")
    );
    println!("  impressions  {:>6}", summary.impressions);
    println!(
        "  conversions  {:>6}  ({}; repeated order ids answered as duplicates: {})",
        summary.conversions.values().sum::<u64>(),
        statuses.join(", "),
        summary.duplicates
    );
    println!(
        "  postbacks    {:>6}  delivered to a stand-in tracker on loopback; the affiliate's postback now points at tracker.example",
        deliveries.load(Ordering::Relaxed)
    );

    let base = format!("http://{listen}");
    println!();
    println!("Demo keys (shown once):");
    println!("  admin               {}", keys.admin);
    println!("  affiliate {:<9} {}", created.affiliates[0], keys.affiliate);
    println!("  advertiser {:<8} {}", created.advertisers[0], keys.advertiser);
    println!();
    println!("Start the server:  clicktrail serve --data-dir {} --listen {listen}", settings.data_dir.display());
    let admin = if settings.admin_key.is_some() { "$CLICKTRAIL_ADMIN_KEY".to_owned() } else { keys.admin.clone() };
    let affiliate = &keys.affiliate;
    println!("Then try:");
    println!("  curl -s '{base}/api/reports?from=-30+days&group_by=date' -H \"Authorization: Bearer {admin}\"");
    println!("  curl -s '{base}/api/reports?from=-30+days&group_by=country' -H \"Authorization: Bearer {affiliate}\"");
    println!("  curl -s '{base}/api/conversions?per_page=5' -H \"Authorization: Bearer {admin}\"");
    println!("  curl -s '{base}/api/offers?per_page=5' -H \"Authorization: Bearer {affiliate}\"");
    println!(
        "  curl -s \"{base}/v1/stats?date_from=$(date -d -30days +%F)&date_to=$(date +%F)\" -H \"Authorization: Bearer {affiliate}\""
    );
    println!("  curl -s {base}/api/openapi.json | head -c 300");
    Ok(())
}

/// The ids the demo created.
struct Created {
    advertisers: Vec<i64>,
    affiliates: Vec<i64>,
    postback: i64,
}

/// The demo's three keys, as they are printed.
struct DemoKeys {
    admin: String,
    affiliate: String,
    advertiser: String,
}

async fn keys_for(
    config: &clicktrail_store::Config,
    op: &Caller,
    created: &Created,
    app: &App,
    settings: &Settings,
) -> anyhow::Result<DemoKeys> {
    let secret = |r: Result<keys::KeyView, crate::error::Error>| {
        r.map(|v| v.key.unwrap_or_default()).map_err(|e| anyhow::anyhow!(e.message))
    };
    // The admin key: the one the operator chose, else the one the first start generated.
    let admin = match (&settings.admin_key, &app.bootstrap.generated_admin_key) {
        (Some(_), _) => "the key in CLICKTRAIL_ADMIN_KEY".to_owned(),
        (None, Some(generated)) => generated.to_string(),
        (None, None) => secret(
            keys::create(config, op, json!({"user_id": op.user.id, "scopes": ["admin"], "name": "demo admin"})).await,
        )?,
    };
    let affiliate = keys::create(
        config,
        op,
        json!({"user_id": created.affiliates[0], "name": "demo affiliate",
        "scopes": ["read:offers", "read:stats", "read:conversions", "write:postback"]}),
    )
    .await;
    let advertiser = keys::create(
        config,
        op,
        json!({"user_id": created.advertisers[0], "name": "demo advertiser",
        "scopes": ["read:offers", "read:stats", "read:conversions"]}),
    )
    .await;
    Ok(DemoKeys { admin, affiliate: secret(affiliate)?, advertiser: secret(advertiser)? })
}

/// Creates the catalog; `postback_url` is the demo affiliate's postback.
async fn catalog(config: &clicktrail_store::Config, op: &Caller, postback_url: &str) -> anyhow::Result<Created> {
    let mut categories = Vec::new();
    for name in CATEGORIES {
        categories.push(add::<Category>(config, op, json!({"name": name})).await?.id);
    }
    step("categories", categories.len());
    for name in SOURCES {
        add::<TrafficSource>(config, op, json!({"name": name})).await?;
    }
    step("traffic sources", SOURCES.len());
    let mut groups = Vec::new();
    for name in ["Top performers", "Email publishers"] {
        groups.push(add::<AffiliateGroup>(config, op, json!({"name": name})).await?.id);
    }
    step("affiliate groups", groups.len());
    let mut advertisers = Vec::new();
    for (name, email) in ADVERTISERS {
        advertisers.push(add::<Advertiser>(config, op, json!({"name": name, "email": email})).await?.id());
    }
    step("advertisers", advertisers.len());
    let mut affiliates = Vec::new();
    for (name, email, group) in AFFILIATES {
        let body = json!({"name": name, "email": email, "affiliate_group_id": group.map(|g| groups[g])});
        affiliates.push(add::<Affiliate>(config, op, body).await?.id());
    }
    step("affiliates", affiliates.len());

    let mut offers = Vec::new();
    for (i, (ptype, payout, rtype, revenue)) in MONEY.iter().enumerate() {
        for variant in 0..4 {
            let n = i * 4 + variant;
            let category = categories[n % categories.len()];
            let visibility = ["public", "public", "require_approval", "private"][variant];
            let mut body = json!({
                "name": format!("{} {} #{}", CATEGORIES[n % CATEGORIES.len()], ptype.to_uppercase(), variant + 1),
                "description": "Demo offer: convert visitors into customers.",
                "destination_url": format!("https://landing.example/offer{n}?cid={{click_id}}&aff={{affiliate_id}}&s1={{sub1}}"),
                "preview_url": format!("https://landing.example/offer{n}"),
                "payout": payout, "payout_type": ptype, "revenue": revenue, "revenue_type": rtype,
                "advertiser_id": advertisers[n % advertisers.len()],
                "category_id": category,
                "geo": GEOS[variant],
                "visibility": visibility,
                "filter_bots": variant % 2 == 0,
                "status": if n == 23 { "paused" } else { "active" },
                "events": [
                    {"code": "lead", "name": "Lead", "is_lead": true, "payout": 1.0, "payout_type": "cpl", "revenue": 1.5, "revenue_type": "cpl"},
                    {"code": "sale", "name": "Sale"}
                ],
                "creatives": [{"name": "Banner 300x250", "kind": "banner", "url": format!("https://cdn.example/offer{n}/300x250.png"), "width": 300, "height": 250}],
                "tiers": [{"min_conversions": 100, "payout": cents(payout * 1.2)}],
                "caps": {"per_affiliate": {"daily_conversions": 500}},
                "external_platform": if variant == 1 { Some("tune") } else { None },
                "external_id": if variant == 1 { Some(format!("{}", 4500 + n)) } else { None },
                "metadata": {"vertical": CATEGORIES[n % CATEGORIES.len()].to_lowercase()},
            });
            if visibility != "public"
                && let Some(map) = body.as_object_mut()
            {
                // The first affiliate is approved for the offers that need approval; the second
                // is the one invited to the private ones.
                let invited = if visibility == "private" { affiliates[1] } else { affiliates[0] };
                map.insert("access".into(), json!([{"affiliate_id": invited, "payout": cents(payout * 1.1)}]));
            }
            offers.push(add::<Offer>(config, op, body).await?.id);
        }
    }
    step("offers", offers.len());
    add::<Coupon>(config, op, json!({"code": "SUMMER", "affiliate_id": affiliates[0]})).await?;
    add::<Coupon>(config, op, json!({"code": "INBOX10", "affiliate_id": affiliates[2], "offer_id": offers[8]})).await?;
    step("coupons", 2);
    let postback = json!({"affiliate_id": affiliates[0], "url": postback_url});
    let postback = add::<Postback>(config, op, postback).await?.id;
    step("postbacks", 1);
    Ok(Created { advertisers, affiliates, postback })
}

/// Rounds a demo amount to cents (floats would carry binary noise into the offer).
fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}
