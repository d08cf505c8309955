//! The application: state shared by handlers, and the server's life from start to shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use clicktrail_store::Config;
use clicktrail_store_sqlite::SqliteStore;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::bootstrap::{self, Bootstrap};
use crate::settings::Settings;
use crate::telemetry;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Configuration records.
    pub config: Config,
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// Prometheus rendering.
    pub metrics: PrometheusHandle,
}

/// A server ready to run.
pub struct App {
    listener: TcpListener,
    state: AppState,
    /// What the first start created (the generated admin key is in here, once).
    pub bootstrap: Bootstrap,
}

/// Opens the embedded store in the settings' data directory.
pub fn open_store(settings: &Settings) -> anyhow::Result<SqliteStore> {
    SqliteStore::open(&settings.data_dir).with_context(|| {
        format!("cannot open the store in {} (check the path and its permissions)", settings.data_dir.display())
    })
}

impl App {
    /// Opens the store, applies first-start set-up and settings, and takes the listener.
    pub async fn build(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let store = open_store(&settings)?;
        let config = Config::new(Arc::new(store));
        let bootstrap = bootstrap::run(&config, &settings).await?;
        let state = AppState { config, settings: Arc::new(settings), metrics: telemetry::metrics_handle() };
        Ok(Self { listener, state, bootstrap })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let router = crate::http::router(self.state);
        axum::serve(self.listener, router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("the HTTP server failed")
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
