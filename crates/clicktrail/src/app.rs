//! The application: state shared by handlers, and the server's life from start to shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clicktrail_store::Config;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::backends::Backends;
use crate::bootstrap::{self, Bootstrap};
use crate::engine::access::session::Sessions;
use crate::engine::convert::Conversions;
use crate::engine::convert::delivery::Deliveries;
use crate::engine::reports::Reporter;
use crate::engine::track::buffer::{BufferOptions, EventBuffer, Writer};
use crate::engine::track::enrich::{GeoIp, geoip_files};
use crate::engine::track::{Tracker, TrackerOptions};
use crate::geoip;
use crate::settings::Settings;
use crate::telemetry;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Configuration records.
    pub config: Config,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The address the server listens on (the bound one, when the settings ask for port 0).
    pub listening: SocketAddr,
    /// Prometheus rendering.
    pub metrics: PrometheusHandle,
    /// The click path.
    pub tracker: Arc<Tracker>,
    /// The conversion engine.
    pub conversions: Arc<Conversions>,
    /// The outbox (for delivery attempts).
    pub jobs: Arc<dyn clicktrail_store::JobQueue>,
    /// The reporting engine.
    pub reporter: Arc<Reporter>,
    /// Shared counters (unique windows, caps, rate limits).
    pub counters: Arc<dyn clicktrail_store::SharedCounters>,
    /// Panel sessions and logins.
    pub sessions: Sessions,
    /// Rate-limit quotas.
    pub quotas: crate::transport::limits::Quotas,
    /// Set once the shutdown signal arrived: `/readyz` answers 503 while requests drain.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    /// The tracking link of an offer for an affiliate: on the network's tracking base URL, else
    /// on the address the server listens on.
    pub fn tracking_link(&self, offer_id: i64, affiliate_id: i64) -> String {
        format!("{}/c/{offer_id}/{affiliate_id}", self.tracking_base())
    }

    /// The network's tracking base URL (no trailing slash), else the address listened on.
    pub fn tracking_base(&self) -> String {
        let snapshot = self.tracker.snapshots().snapshot();
        snapshot
            .network
            .tracking_base_url
            .as_ref()
            .map_or_else(|| format!("http://{}", self.listening), |u| u.as_str().trim_end_matches('/').to_owned())
    }

    /// Reloads what the click path holds in memory after a configuration change.
    pub async fn configuration_changed(&self) {
        if let Err(e) = self.tracker.refresh().await {
            tracing::error!(error = %e, "cannot reload the tracking catalog; it reloads again within seconds");
        }
    }
}

/// Forgets expired panel sessions, hourly.
fn spawn_session_purge(sessions: Sessions) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) = sessions.purge(chrono::Utc::now()).await {
                tracing::warn!(error = %e, "cannot purge expired panel sessions");
            }
        }
    });
}

/// A server ready to run.
pub struct App {
    listener: TcpListener,
    state: AppState,
    writer: Writer,
    deliveries: Worker,
    /// The stores, checkpointed at shutdown.
    stores: Stores,
    /// What the first start created (the generated admin key is in here, once).
    pub bootstrap: Bootstrap,
}

/// Refuses a data directory that holds no network, naming it: commands that work on an
/// existing network must never create a new one because a path was mistyped.
pub fn require_network(settings: &Settings) -> anyhow::Result<()> {
    if settings.database_url.is_some() {
        // The network lives in PostgreSQL; opening it tells whether it exists.
        return Ok(());
    }
    let dir = &settings.data_dir;
    let db = dir.join(clicktrail_store_sqlite::DB_FILE);
    if db.is_file() {
        return Ok(());
    }
    let what = if dir.is_dir() {
        format!("{} holds no {}", dir.display(), clicktrail_store_sqlite::DB_FILE)
    } else {
        format!("{} does not exist", dir.display())
    };
    anyhow::bail!(
        "no Clicktrail network in {}: {what}. Check --data-dir (or CLICKTRAIL_DATA_DIR); \
         `clicktrail serve` or `clicktrail demo` creates a new network",
        dir.display()
    )
}

impl App {
    /// Opens the store, applies first-start set-up and settings, and takes the listener.
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        settings.validate()?;
        crate::install_crypto();
        let backends = Backends::open(&settings).await?;
        for line in &backends.described {
            tracing::info!("store: {line}");
        }
        let Backends { config, conversions: store, jobs, events, counters, sessions, .. } = backends.clone();
        let sessions = Sessions::new(sessions, config.clone(), counters.clone());
        spawn_session_purge(sessions.clone());
        let bootstrap = bootstrap::run(&config, &settings).await?;
        let wanted = events.batching();
        let options = BufferOptions {
            capacity: settings.buffer_capacity,
            batch_size: settings.batch_size.max(wanted.batch_size).min(settings.buffer_capacity),
            linger: std::time::Duration::from_millis(settings.write_linger_ms).max(wanted.linger),
            mode: settings.write_mode,
        };
        let (buffer, writer) = EventBuffer::start(events.clone(), options);
        let files = geoip_files(settings.geoip_db.as_deref(), &settings.data_dir);
        let geo = GeoIp::open(&files)?;
        if files.is_empty() {
            tracing::warn!(
                "no GeoIP database: clicks get no country (run `clicktrail geoip install` or set CLICKTRAIL_GEOIP_DB)"
            );
        }
        let tracker_options = TrackerOptions {
            unique_window: chrono::Duration::hours(i64::from(settings.unique_window_hours)),
            trusted_proxies: settings.trusted_proxies.clone(),
        };
        let tracker = Arc::new(
            Tracker::start(config.clone(), events.clone(), counters.clone(), buffer, geo, tracker_options).await?,
        );
        crate::engine::track::spawn_retention(tracker.clone(), events.clone());
        spawn_catalog_follow(tracker.clone());
        if files.is_empty() && settings.geoip_auto_install && settings.geoip_db.is_none() {
            geoip::spawn_auto_install(settings.data_dir.clone(), tracker.clone());
        }
        let wake = Arc::new(tokio::sync::Notify::new());
        let conversions = Arc::new(Conversions::new(
            config.clone(),
            store.clone(),
            events.clone(),
            tracker.snapshots_arc(),
            counters.clone(),
            jobs.clone(),
            wake.clone(),
        ));
        spawn_counter_watch(tracker.clone(), conversions.clone());
        let reporter = Arc::new(Reporter::new(events, store, tracker.snapshots_arc()));
        let worker = Arc::new(Deliveries::new(
            jobs.clone(),
            config.clone(),
            tracker.snapshots_arc(),
            settings.postback_allowlist.clone(),
            wake,
        )?);
        let quotas = crate::transport::limits::Quotas {
            standard: settings.rate_limit_standard,
            premium: settings.rate_limit_premium,
            burst: settings.rate_limit_burst,
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let deliveries = (stop, tokio::spawn(worker.run(stopped)));
        let listening = listener.local_addr().context("cannot read the listening address")?;
        let state = AppState {
            config,
            listening,
            settings: Arc::new(settings),
            metrics: telemetry::metrics_handle(),
            tracker,
            conversions,
            jobs,
            reporter,
            counters,
            sessions,
            quotas,
            draining: Arc::default(),
        };
        Ok(Self { listener, state, writer, deliveries, stores: backends, bootstrap })
    }

    /// The shared state (tests reach the tracker through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests (for at most
    /// `shutdown_timeout_secs`); then the event buffer is drained, so every answered
    /// click is stored before this returns, and the databases are checkpointed.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let options = crate::transport::serve::ServeOptions {
            header_read_timeout: std::time::Duration::from_secs(self.state.settings.header_read_timeout_secs),
            shutdown_timeout: std::time::Duration::from_secs(self.state.settings.shutdown_timeout_secs),
        };
        let draining = self.state.draining.clone();
        let shutdown = async move {
            shutdown.await;
            draining.store(true, std::sync::atomic::Ordering::Relaxed);
        };
        let Self { listener, state, writer, deliveries, stores, bootstrap: _ } = self;
        let router = crate::transport::router(state);
        let served =
            crate::transport::serve::serve(listener, router, options, shutdown).await.context("the HTTP server failed");
        finish(writer, deliveries, stores).await;
        served
    }

    /// Ends a server that did not serve, or has stopped serving: drains the event buffer,
    /// stops the delivery worker (an attempt under way finishes), and checkpoints the stores.
    pub async fn close(self) {
        finish(self.writer, self.deliveries, self.stores).await;
    }
}

/// The stores of a running app, checkpointed at the end.
type Stores = Backends;

/// The delivery worker: its stop signal and its task.
type Worker = (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<()>);

/// The end of an app's life: every buffered event written, deliveries stopped, stores
/// checkpointed.
async fn finish(writer: Writer, deliveries: Worker, stores: Stores) {
    writer.drain().await;
    let (stop, worker) = deliveries;
    let _ = stop.send(true);
    let _ = worker.await;
    // Everything in the main database files, so a copy of the stopped data directory (or of
    // its `*.db` files alone) is whole.
    stores.checkpoint().await;
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal sent as soon as the server says it is
/// listening is never lost (it would otherwise end the process uncleanly).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    };
    async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM and SIGINT");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("shutting down");
    }
}

/// Watches the shared counters every second: when they lost their values (Redis restarted
/// empty), the windows and caps are seeded again from the event and conversion stores.
fn spawn_counter_watch(tracker: Arc<Tracker>, conversions: Arc<Conversions>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        every.tick().await;
        loop {
            every.tick().await;
            match tracker.follow_counters().await {
                Ok(true) => {
                    conversions.forget_seeded_caps().await;
                    tracing::warn!("the shared counters lost their values (a Redis restart?); seeded them again");
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot check the shared counters"),
            }
        }
    });
}

/// How often a server asks the configuration store whether anything changed.
const CATALOG_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// How often the catalog is reloaded whatever the store says (a missed change is repaired).
const CATALOG_RELOAD: std::time::Duration = std::time::Duration::from_secs(60);

/// Follows changes made by other processes (other nodes, the command line): reloads the catalog
/// when the configuration store's version moves, which every node notices within
/// [`CATALOG_POLL`] of the change (on PostgreSQL the version follows a `LISTEN`, so asking is
/// free; on SQLite it is one read of one row).
fn spawn_catalog_follow(tracker: Arc<Tracker>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CATALOG_POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reloaded = tokio::time::Instant::now();
        loop {
            every.tick().await;
            let due = reloaded.elapsed() >= CATALOG_RELOAD;
            let stale = match tracker.snapshots().stale().await {
                Ok(stale) => stale,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the configuration version");
                    false
                }
            };
            if !(stale || due) {
                continue;
            }
            match tracker.refresh().await {
                Ok(()) => reloaded = tokio::time::Instant::now(),
                Err(e) => tracing::warn!(error = %e, "cannot reload the tracking catalog"),
            }
        }
    });
}
