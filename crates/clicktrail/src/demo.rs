//! `clicktrail demo`: a realistic network to explore — advertisers, categories, 24 offers of
//! every payout type, affiliates in groups, the four traffic sources of seed 001, coupons,
//! a postback and one key per role — then the keys and example requests.

use std::net::SocketAddr;

use anyhow::bail;
use clicktrail_domain::catalog::{Category, Coupon, TrafficSource};
use clicktrail_domain::offer::Offer;
use clicktrail_domain::postback::Postback;
use clicktrail_domain::user::AffiliateGroup;
use clicktrail_store::{Entity, Page, Query};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::manage::keys;
use crate::manage::users::{Advertiser, Affiliate};
use crate::manage::{self, Resource};
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

/// Creates the demo network in the settings' data directory.
pub async fn run(settings: &Settings, listen: SocketAddr) -> anyhow::Result<()> {
    let mut settings = settings.clone();
    settings.network_name = "Clicktrail Demo".into();
    if settings.tracking_base_url.is_none() {
        settings.tracking_base_url = Some(format!("http://{listen}"));
    }
    let (config, op) = crate::cli::open_network(&settings).await?;
    let existing: Page<Category> = config.list(&Query { limit: Some(1), ..Query::default() }).await?;
    if existing.total > 0 {
        bail!(
            "{} already holds a network with categories; run the demo on a fresh --data-dir",
            settings.data_dir.display()
        );
    }
    println!("Creating the demo network in {} …", settings.data_dir.display());

    let mut categories = Vec::new();
    for name in CATEGORIES {
        categories.push(add::<Category>(&config, &op, json!({"name": name})).await?.id);
    }
    step("categories", categories.len());
    for name in SOURCES {
        add::<TrafficSource>(&config, &op, json!({"name": name})).await?;
    }
    step("traffic sources", SOURCES.len());
    let mut groups = Vec::new();
    for name in ["Top performers", "Email publishers"] {
        groups.push(add::<AffiliateGroup>(&config, &op, json!({"name": name})).await?.id);
    }
    step("affiliate groups", groups.len());
    let mut advertisers = Vec::new();
    for (name, email) in ADVERTISERS {
        advertisers.push(add::<Advertiser>(&config, &op, json!({"name": name, "email": email})).await?.id());
    }
    step("advertisers", advertisers.len());
    let mut affiliates = Vec::new();
    for (name, email, group) in AFFILIATES {
        let body = json!({"name": name, "email": email, "affiliate_group_id": group.map(|g| groups[g])});
        affiliates.push(add::<Affiliate>(&config, &op, body).await?.id());
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
            offers.push(add::<Offer>(&config, &op, body).await?.id);
        }
    }
    step("offers", offers.len());
    add::<Coupon>(&config, &op, json!({"code": "SUMMER", "affiliate_id": affiliates[0]})).await?;
    add::<Coupon>(&config, &op, json!({"code": "INBOX10", "affiliate_id": affiliates[2], "offer_id": offers[8]}))
        .await?;
    step("coupons", 2);
    let postback = json!({"affiliate_id": affiliates[0], "url": "https://tracker.example/postback?cid={click_id}&payout={payout}&status={status}"});
    add::<Postback>(&config, &op, postback).await?;
    step("postbacks", 1);

    let admin =
        keys::create(&config, &op, json!({"user_id": op.user.id, "scopes": ["admin"], "name": "demo admin"})).await;
    let affiliate = keys::create(
        &config,
        &op,
        json!({"user_id": affiliates[0], "name": "demo affiliate",
        "scopes": ["read:offers", "read:stats", "read:conversions", "write:postback"]}),
    )
    .await;
    let advertiser = keys::create(
        &config,
        &op,
        json!({"user_id": advertisers[0], "name": "demo advertiser",
        "scopes": ["read:offers", "read:stats", "read:conversions"]}),
    )
    .await;
    let secret = |r: Result<keys::KeyView, crate::error::Error>| {
        r.map(|v| v.key.unwrap_or_default()).map_err(|e| anyhow::anyhow!(e.message))
    };
    let (admin, affiliate, advertiser) = (secret(admin)?, secret(affiliate)?, secret(advertiser)?);

    let base = format!("http://{listen}");
    println!();
    println!("Demo keys (shown once):");
    println!("  admin               {admin}");
    println!("  affiliate {:<9} {affiliate}", affiliates[0]);
    println!("  advertiser {:<8} {advertiser}", advertisers[0]);
    println!();
    println!("Start the server:  clicktrail serve --data-dir {} --listen {listen}", settings.data_dir.display());
    println!("Then try:");
    println!("  curl -s {base}/api/me -H 'Authorization: Bearer {affiliate}'");
    println!("  curl -s '{base}/api/offers?per_page=5' -H 'Authorization: Bearer {affiliate}'");
    println!("  curl -s '{base}/api/offers?status=paused' -H 'X-Api-Key: {admin}'");
    println!("  curl -s {base}/api/traffic-sources -H 'Authorization: Bearer {admin}'");
    println!("  curl -s {base}/api/postbacks -H 'Authorization: Bearer {affiliate}'");
    println!("  curl -s {base}/api/openapi.json | head -c 300");
    Ok(())
}

/// Rounds a demo amount to cents (floats would carry binary noise into the offer).
fn cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}
