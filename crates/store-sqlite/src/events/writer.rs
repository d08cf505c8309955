//! The one thread that writes `events.db`, and a batch's write: raw rows and rollups in one
//! transaction, plus the quarters already folded when the batch is late.

use clicktrail_store::StoreError;
use clicktrail_store::events::EventBatch;
use rusqlite::Connection;

use super::{codec, rollups};
use crate::{backend, fold, ms};

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

/// The one thread that writes `events.db`. It runs at a lower scheduling priority (nice +10)
/// than the threads serving requests, so a large batch never delays a click's answer; under
/// full load it still gets its share, and a full buffer pushes back on the requests.
#[derive(Clone)]
pub(crate) struct WriterThread {
    jobs: std::sync::mpsc::Sender<WriteJob>,
}

impl WriterThread {
    pub(crate) fn spawn(mut conn: Connection) -> Result<Self, StoreError> {
        let (jobs, queue) = std::sync::mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("clicktrail-events-writer".into())
            .spawn(move || {
                lower_priority();
                // Between writes, and every second when idle, fold finished quarter hours into
                // the coarse rollups, a small step at a time.
                let mut behind = true;
                let mut folded_to = i64::MIN;
                // Consecutive steps that left more to fold.
                let mut steps = 0_u64;
                const BACKLOG_STEPS: u64 = 100;
                loop {
                    let job = if behind {
                        match queue.try_recv() {
                            Ok(job) => Some(job),
                            Err(std::sync::mpsc::TryRecvError::Empty) => None,
                            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                        }
                    } else {
                        match queue.recv_timeout(std::time::Duration::from_secs(1)) {
                            Ok(job) => Some(job),
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                    };
                    if let Some(job) = job {
                        job(&mut conn);
                    }
                    let due = fold::due_now();
                    if behind || due > folded_to {
                        behind = fold::step(&mut conn, due).unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "cannot fold rollups; trying again shortly");
                            false
                        });
                        if !behind {
                            folded_to = due;
                        }
                        // A long backlog (a store from before the coarse rollups, a bulk
                        // import) takes a while: say when it starts and ends.
                        let before = steps;
                        steps = if behind { steps + 1 } else { 0 };
                        if steps == BACKLOG_STEPS {
                            tracing::info!(
                                "folding past traffic into day and hour rollups; reports read finer data meanwhile"
                            );
                        } else if steps == 0 && before >= BACKLOG_STEPS {
                            tracing::info!("rollups folded");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the events writer: {e}")))?;
        Ok(Self { jobs })
    }

    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |conn| {
                let _ = tx.send(f(conn));
            }))
            .map_err(|_| StoreError::Backend("the events writer has stopped".into()))?;
        rx.await.map_err(|_| StoreError::Backend("the events writer stopped mid-write".into()))?
    }
}

/// Nice +10 for the calling thread (best effort: without the right, it stays as it is).
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    // The crate maps 0..99 onto nice 20..-20; 25 is about nice +10.
    if let Ok(value) = ThreadPriorityValue::try_from(25u8)
        && let Err(e) = thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
    {
        tracing::debug!(error = ?e, "cannot lower the events writer's priority");
    }
}

/// Writes a batch: raw events and their rollups in one transaction.
pub(crate) fn append_batch(conn: &mut Connection, batch: &EventBatch) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(backend)?;
    let oldest = batch.clicks.iter().map(|c| c.at).chain(batch.impressions.iter().map(|i| i.at)).min();
    let late = match oldest {
        Some(oldest) => fold::late(&tx, ms(oldest))?,
        None => None,
    };
    {
        let mut stmt = tx.prepare_cached(codec::INSERT_CLICK).map_err(backend)?;
        for c in &batch.clicks {
            codec::insert_click(&mut stmt, c).map_err(backend)?;
        }
    }
    codec::insert_impressions(&tx, &batch.impressions)?;
    rollups::add(&tx, batch)?;
    if let Some(late) = &late {
        fold::add_late(&tx, late)?;
    }
    tx.commit().map_err(backend)
}
