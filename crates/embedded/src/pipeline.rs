//! The embedded pipeline's tasks: the stream tailer, the email workers, the email
//! writers (for a remote generator) and the scheduler. Each task is a loop around one
//! step (`pump_and_hand_off`, `work_once`, `Engine::write_due`, `Engine::tick`), and
//! tests drive the same steps directly with `run_until_idle`.
//!
//! When workers are idle, the tailer receives new messages on their behalf in the
//! write that publishes them, and hands the batches over in memory; the queue still
//! holds each message, in flight, until a worker acknowledges it. Busy workers leave
//! the messages visible, for whichever worker receives next.
//!
//! A batch is processed as on every backend ([`tasks::process_deliveries`], over
//! the email queue as the core's `EventQueue` port, [`SqliteQueue`]); the worker's
//! own step stays here for the handoff and for acknowledging a batch with the next
//! receive, which only the SQLite queue can do in one write.

use crate::Store;
use crate::queue::{EMAIL_QUEUE, Handoff, QueueSettings, Received, SqliteQueue};
use engage_core::StoreError;
use engage_core::ports::QueueDelivery;
use engage_core::processor::{Engine, ProcessError, tasks};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    pub workers: usize,
    /// Tasks writing `composing` emails, each one email at a time: as many as the
    /// generator may have requests in flight.
    pub writers: usize,
    /// Changes per tailer step, messages per worker receive.
    pub stream_batch: u32,
    pub receive_batch: u32,
    pub queue: QueueSettings,
    /// How often the scheduler runs.
    pub tick_every: Duration,
    /// How long an idle loop waits for a wake-up before looking again.
    pub idle_poll: Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            workers: 8,
            writers: 8,
            stream_batch: 500,
            receive_batch: 100,
            queue: QueueSettings::default(),
            tick_every: Duration::from_secs(60),
            idle_poll: Duration::from_secs(1),
        }
    }
}

#[derive(Debug)]
pub struct Pipeline {
    store: Store,
    /// The store's email queue, with the settings' visibility and maximum receives.
    queue: SqliteQueue,
    engine: Engine,
    settings: PipelineSettings,
    /// Receipts of messages done with, deleted by the next receive or pump.
    acks: std::sync::Mutex<Vec<String>>,
    /// Batches the tailer received on the workers' behalf, waiting for a worker; at
    /// most one per worker.
    handed_off: std::sync::Mutex<VecDeque<Vec<Received>>>,
}

/// What one message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Done,
    /// Put back for a later attempt (with backoff); it reaches the DLQ after the
    /// maximum receives.
    Retry,
}

impl Pipeline {
    pub fn new(store: Store, engine: Engine, settings: PipelineSettings) -> Self {
        Self {
            queue: SqliteQueue::email(store.clone(), settings.queue),
            store,
            engine,
            settings,
            acks: Default::default(),
            handed_off: Default::default(),
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Publishes the events of new changes; the queue's messages wait for a receive.
    pub async fn pump_once(&self) -> Result<usize, StoreError> {
        self.store.pump(self.settings.stream_batch).await
    }

    /// Publishes the events of new changes and hands as many as the idle workers can
    /// take straight to them, received in the same write ([`Store::pump_handing_off`]),
    /// which also acknowledges the messages done since the last write. Between a change
    /// and its decision there is then no receive: a write and a commit fewer.
    pub async fn pump_and_hand_off(&self) -> Result<usize, StoreError> {
        let waiting = self.handed_off.lock().expect("handoff").len();
        let room = self.settings.workers.max(1).saturating_sub(waiting);
        let batch = self.settings.receive_batch.max(1) as usize;
        let acks = std::mem::take(&mut *self.acks.lock().expect("acks"));
        let handoff = Handoff {
            max: room * batch,
            settings: self.settings.queue,
            acks: acks.clone(),
        };
        let (n, received) = match self
            .store
            .pump_handing_off(self.settings.stream_batch, handoff)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.acks.lock().expect("acks").extend(acks);
                return Err(e);
            }
        };
        if !received.is_empty() {
            let mut waiting = self.handed_off.lock().expect("handoff");
            let mut received = received.into_iter().peekable();
            while received.peek().is_some() {
                waiting.push_back(received.by_ref().take(batch).collect());
            }
        }
        Ok(n)
    }

    /// Works on one batch: one handed off by the tailer if any is waiting, else one
    /// received from the queue ([`Pipeline::receive_and_work`]). Returns its size.
    pub async fn work_once(&self) -> Result<usize, StoreError> {
        let handed = self.handed_off.lock().expect("handoff").pop_front();
        match handed {
            Some(batch) => {
                let n = batch.len();
                let (_, done) = self.process(batch).await?;
                self.acks.lock().expect("acks").extend(done);
                Ok(n)
            }
            None => self.receive_and_work().await,
        }
    }

    /// Acknowledges the messages done since the last receive and receives one batch,
    /// in one write, then handles the batch. Its done messages are acknowledged by the
    /// next receive: one write per batch fewer, and a message left unacknowledged by a
    /// stop is only redelivered, which changes nothing.
    async fn receive_and_work(&self) -> Result<usize, StoreError> {
        let acks = std::mem::take(&mut *self.acks.lock().expect("acks"));
        let batch = match self
            .store
            .receive_acking(
                EMAIL_QUEUE,
                self.settings.receive_batch,
                self.settings.queue,
                acks.clone(),
            )
            .await
        {
            Ok(b) => b,
            Err(e) => {
                self.acks.lock().expect("acks").extend(acks);
                return Err(e);
            }
        };
        let n = batch.len();
        if n > 0 {
            let (_, done) = self.process(batch).await?;
            self.acks.lock().expect("acks").extend(done);
        }
        Ok(n)
    }

    /// Gives back the batches handed off and not yet worked on, at shutdown, so they
    /// are delivered at once after a restart rather than after the visibility timeout.
    pub async fn return_handed_off(&self) -> Result<(), StoreError> {
        let receipts: Vec<String> = std::mem::take(&mut *self.handed_off.lock().expect("handoff"))
            .into_iter()
            .flatten()
            .map(|m| m.receipt)
            .collect();
        self.store.unreceive(receipts).await.map(|_| ())
    }

    /// Deletes the messages done but not yet acknowledged (at shutdown).
    pub async fn flush_acks(&self) -> Result<(), StoreError> {
        let acks = std::mem::take(&mut *self.acks.lock().expect("acks"));
        self.store.delete_messages(acks).await.map(|_| ())
    }

    /// Processes one message and acknowledges it, or releases it with backoff.
    pub async fn handle(&self, msg: Received) -> Result<Handled, StoreError> {
        Ok(self
            .handle_batch(vec![msg])
            .await?
            .pop()
            .expect("one per message"))
    }

    /// Processes messages as one batch ([`Engine::process_batch`]) and deletes those
    /// done in one write; each failed one is released with its own backoff, and
    /// reaches the DLQ after the maximum receives. When the store fails as a whole,
    /// every message is released.
    pub async fn handle_batch(&self, msgs: Vec<Received>) -> Result<Vec<Handled>, StoreError> {
        let (handled, done) = self.process(msgs).await?;
        self.store.delete_messages(done).await?;
        Ok(handled)
    }

    /// Processes a batch, releasing the failed messages; returns what each came to and
    /// the receipts of those done, to be deleted.
    #[tracing::instrument(skip_all, fields(messages = msgs.len()))]
    async fn process(
        &self,
        msgs: Vec<Received>,
    ) -> Result<(Vec<Handled>, Vec<String>), StoreError> {
        let deliveries: Vec<QueueDelivery> = msgs.into_iter().map(QueueDelivery::from).collect();
        let results = tasks::process_deliveries(&self.engine, &self.queue, &deliveries).await?;
        let mut handled = Vec::with_capacity(deliveries.len());
        let mut done = Vec::new();
        for (msg, ok) in deliveries.into_iter().zip(results) {
            if ok {
                handled.push(Handled::Done);
                done.push(msg.receipt);
            } else {
                handled.push(Handled::Retry);
            }
        }
        Ok((handled, done))
    }

    /// Runs the tailer and the workers until there is nothing left to do now (for
    /// tests and one-shot commands). Messages backing off are not waited for.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let pumped = self.pump_and_hand_off().await?;
            let worked = self.work_once().await?;
            let written = self.write_once(100).await?;
            total += worked;
            if pumped == 0 && worked == 0 && written == 0 {
                return Ok(total);
            }
        }
    }

    /// Writes up to `limit` `composing` emails ([`Engine::write_due`]).
    pub async fn write_once(&self, limit: u32) -> Result<usize, StoreError> {
        match self.engine.write_due(limit).await {
            Ok(n) => Ok(n),
            Err(ProcessError::Store(e)) => Err(e),
            Err(e) => Err(StoreError::Unexpected(anyhow::anyhow!("{e}"))),
        }
    }

    /// Starts the tailer, `workers` email workers, `writers` email writers and the
    /// scheduler; they stop when `shutdown` is cancelled, finishing the message or email
    /// in hand.
    pub fn spawn(self: Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let idle = self.settings.idle_poll;
        let me = self.clone();
        let stop = shutdown.clone();
        set.spawn(async move {
            tasks::repeat(
                stop,
                "stream tailer",
                || me.pump_and_hand_off(),
                || me.store.wait_for_changes(idle),
            )
            .await;
            if let Err(e) = me.return_handed_off().await {
                tracing::warn!(error = %e, "returning messages handed off to the queue failed; they will be redelivered after the visibility timeout");
            }
        });
        for _ in 0..self.settings.workers.max(1) {
            let me = self.clone();
            let stop = shutdown.clone();
            set.spawn(async move {
                tasks::repeat(
                    stop,
                    "email worker",
                    || me.work_once(),
                    || me.store.wait_for_messages(idle),
                )
                .await;
                if let Err(e) = me.flush_acks().await {
                    tracing::warn!(error = %e, "acknowledging the last messages failed; they will be redelivered");
                }
                if let Err(e) = me.return_handed_off().await {
                    tracing::warn!(error = %e, "returning messages handed off to the queue failed; they will be redelivered after the visibility timeout");
                }
            });
        }
        for _ in 0..self.settings.writers.max(1) {
            let me = self.clone();
            let stop = shutdown.clone();
            set.spawn(async move {
                tasks::repeat(
                    stop,
                    "email writer",
                    || me.write_once(1),
                    || me.store.wait_for_composing(idle),
                )
                .await;
            });
        }
        let me = self;
        set.spawn(async move {
            tasks::tick_every(&me.engine, me.settings.tick_every, shutdown).await;
        });
        set
    }
}
