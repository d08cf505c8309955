//! Writes off the request: a bounded buffer and a batch writer.
//!
//! Handlers hand each event to the buffer. A single writer task takes whatever is waiting (up to
//! a batch), lingers briefly for more, and writes it in one transaction with its rollups. In
//! `default` mode the handler answers as soon as the event is buffered; in `durable` mode it
//! answers once the batch holding it is committed (many requests share one commit). A full
//! buffer makes handlers wait (back-pressure), so memory stays bounded. On shutdown the buffer
//! stops taking events and the writer drains everything already taken.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clicktrail_domain::click::{Click, Impression};
use clicktrail_store::{EventBatch, EventStore};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// When a handler may answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WriteMode {
    /// Once the event is buffered; SIGTERM drains the buffer.
    #[default]
    Default,
    /// Once the event is committed to the store.
    Durable,
}

/// One tracking event.
#[derive(Debug, Clone)]
pub enum Event {
    /// A click.
    Click(Box<Click>),
    /// An impression.
    Impression(Box<Impression>),
}

struct Pending {
    event: Event,
    committed: Option<oneshot::Sender<()>>,
}

/// Why an event could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum BufferError {
    /// The server is shutting down.
    #[error("the event buffer is closed")]
    Closed,
    /// The writer stopped before confirming the commit.
    #[error("the event was not confirmed as written")]
    NotConfirmed,
}

/// Tuning of the buffer and writer.
#[derive(Debug, Clone, Copy)]
pub struct BufferOptions {
    /// Events the buffer holds before handlers wait.
    pub capacity: usize,
    /// Most events written in one transaction.
    pub batch_size: usize,
    /// How long the writer waits for more events before writing a partial batch.
    pub linger: Duration,
    /// When handlers answer.
    pub mode: WriteMode,
}

/// The handlers' side of the buffer.
#[derive(Clone)]
pub struct EventBuffer {
    tx: mpsc::Sender<Pending>,
    mode: WriteMode,
}

/// The writer task, to be drained on shutdown.
pub struct Writer {
    close: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Writer {
    /// Stops taking events, writes everything taken, and returns when done.
    pub async fn drain(self) {
        let _ = self.close.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the event writer failed while draining");
        }
    }
}

impl EventBuffer {
    /// Starts the writer over `store`.
    pub fn start(store: Arc<dyn EventStore>, options: BufferOptions) -> (Self, Writer) {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let (close, closed) = oneshot::channel();
        let task = tokio::spawn(write_loop(store, rx, closed, options));
        (Self { tx, mode: options.mode }, Writer { close, task })
    }

    /// Whether the writer still takes events (it stops at shutdown, or if its task ended).
    pub fn accepting(&self) -> bool {
        !self.tx.is_closed()
    }

    /// The write mode.
    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Hands an event over; in durable mode, returns once it is committed.
    pub async fn submit(&self, event: Event) -> Result<(), BufferError> {
        let (committed, confirmation) = match self.mode {
            WriteMode::Durable => {
                let (tx, rx) = oneshot::channel();
                (Some(tx), Some(rx))
            }
            WriteMode::Default => (None, None),
        };
        self.tx.send(Pending { event, committed }).await.map_err(|_| BufferError::Closed)?;
        if let Some(rx) = confirmation {
            rx.await.map_err(|_| BufferError::NotConfirmed)?;
        }
        Ok(())
    }
}

async fn write_loop(
    store: Arc<dyn EventStore>,
    mut rx: mpsc::Receiver<Pending>,
    mut closed: oneshot::Receiver<()>,
    options: BufferOptions,
) {
    let batch_size = options.batch_size.max(1);
    // Durable requests are waiting for the commit: write at once, batching only what queued up
    // meanwhile (group commit). Otherwise linger so batches grow, sleeping rather than waking
    // for every event.
    let linger = if options.mode == WriteMode::Durable { Duration::ZERO } else { options.linger };
    let mut items: Vec<Pending> = Vec::with_capacity(batch_size);
    let mut closing = false;
    loop {
        if closing {
            if rx.recv_many(&mut items, batch_size).await == 0 {
                break;
            }
        } else {
            tokio::select! {
                n = rx.recv_many(&mut items, batch_size) => {
                    if n == 0 { break; }
                }
                _ = &mut closed => {
                    closing = true;
                    rx.close();
                    continue;
                }
            }
            if !linger.is_zero() && items.len() < batch_size {
                tokio::time::sleep(linger).await;
            }
            while items.len() < batch_size {
                match rx.try_recv() {
                    Ok(p) => items.push(p),
                    Err(_) => break,
                }
            }
        }
        metrics::gauge!("clicktrail_event_buffer_queued")
            .set((options.capacity - rx.capacity().min(options.capacity)) as f64);
        write(&store, std::mem::take(&mut items)).await;
        items.reserve(batch_size);
    }
    tracing::info!("event writer drained");
}

/// Writes one batch, retrying until it is stored: an event that was answered must not be lost.
async fn write(store: &Arc<dyn EventStore>, items: Vec<Pending>) {
    let mut batch = EventBatch::default();
    let mut confirmations = Vec::new();
    for p in items {
        match p.event {
            Event::Click(c) => batch.clicks.push(*c),
            Event::Impression(i) => batch.impressions.push(*i),
        }
        if let Some(tx) = p.committed {
            confirmations.push(tx);
        }
    }
    let batch = Arc::new(batch);
    let mut delay = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        match store.append(batch.clone()).await {
            Ok(()) => {
                metrics::histogram!("clicktrail_event_batch_seconds").record(started.elapsed().as_secs_f64());
                metrics::counter!("clicktrail_events_written_total").increment(batch.len() as u64);
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), retry_in_ms = delay.as_millis() as u64, "cannot write events; retrying");
                metrics::counter!("clicktrail_event_write_errors_total").increment(1);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
    for tx in confirmations {
        let _ = tx.send(());
    }
}
