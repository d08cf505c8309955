//! Following configuration changes made on any node: a connection of its own `LISTEN`s on the
//! schema's channel (see `0002_config_changes.sql`) and counts the notifications.
//!
//! The count is what [`ConfigStore::version`](clicktrail_store::ConfigStore::version) answers,
//! so asking costs nothing. A lost connection is opened again after a second, and counted as a
//! change: notifications sent while it was away are gone, so the node reloads once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio_postgres::{AsyncMessage, NoTls};

/// How long a lost listening connection waits before it connects again.
const RECONNECT: Duration = Duration::from_secs(1);

/// The notifications seen, and the listener that counts them (started by the first ask).
pub(crate) struct Changes {
    config: tokio_postgres::Config,
    seen: Arc<AtomicI64>,
    started: OnceLock<()>,
}

impl Changes {
    pub(crate) fn new(config: tokio_postgres::Config) -> Self {
        Self { config, seen: Arc::new(AtomicI64::new(0)), started: OnceLock::new() }
    }

    /// The count so far; the first call starts listening.
    pub(crate) fn version(&self) -> i64 {
        self.started.get_or_init(|| {
            tokio::spawn(listen(self.config.clone(), self.seen.clone()));
        });
        self.seen.load(Ordering::Acquire)
    }
}

/// Listens until the runtime stops, connecting again whenever the connection is lost.
async fn listen(config: tokio_postgres::Config, seen: Arc<AtomicI64>) {
    loop {
        match follow(&config, &seen).await {
            Ok(()) => tracing::warn!("the configuration change feed closed; listening again"),
            Err(e) => tracing::warn!(error = %e, "the configuration change feed failed; listening again"),
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

/// One listening connection, until it ends. Once it listens it counts one change: whatever
/// changed before (since the node loaded its catalog, or while no connection listened) is
/// read again.
async fn follow(config: &tokio_postgres::Config, seen: &AtomicI64) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    // The connection delivers notifications, and the answers to the client's queries, only
    // while polled: poll it here, and send the `LISTEN` from a second task.
    let (ready, subscribed) = tokio::sync::oneshot::channel();
    let subscribe = tokio::spawn(async move {
        let listened = async {
            let schema: String = client.query_one("SELECT current_schema()", &[]).await?.get(0);
            let channel = format!("clicktrail_config:{schema}").replace('"', "\"\"");
            client.batch_execute(&format!("LISTEN \"{channel}\"")).await
        };
        match listened.await {
            Ok(()) => {
                let _ = ready.send(());
                // Keep the client (dropping it closes the connection) until the task is ended.
                std::future::pending::<()>().await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for configuration changes"),
        }
    });
    let mut subscribed = Some(subscribed);
    let result = loop {
        tokio::select! {
            listening = async {
                match subscribed.as_mut() {
                    Some(waiting) => waiting.await,
                    None => std::future::pending().await,
                }
            }, if subscribed.is_some() => {
                subscribed = None;
                if listening.is_err() {
                    break Ok(());
                }
                seen.fetch_add(1, Ordering::AcqRel);
            }
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    seen.fetch_add(1, Ordering::AcqRel);
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            },
        }
    };
    subscribe.abort();
    result
}
