//! The long-running tasks that stand in for the Lambda functions under `engage serve
//! --backend aws`: the stream poller (Users table stream → events topic), the email
//! queue's workers, the email writers and the scheduler. The loops are the core's
//! (`engage_core::processor::tasks`), the embedded pipeline's too: the queue's
//! workers are [`tasks::consume`] over [`SqsQueue`] as the `EventQueue` port (the
//! same batch processing and backoff for failed messages), the writers
//! [`tasks::repeat`], the scheduler [`tasks::tick_every`].

use crate::backend::AwsBackend;
use crate::{SqsQueue, StreamCheckpoints, StreamPoller};
use engage_core::StoreError;
use engage_core::ports::EventPublisher;
use engage_core::processor::{Engine, tasks};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long the stream poller waits after a poll that found nothing.
const STREAM_IDLE: Duration = Duration::from_millis(500);
/// Long polling of a worker's receive.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);
/// How long an idle email writer waits before looking again.
const WRITER_IDLE: Duration = Duration::from_millis(500);
/// How long a worker waits after a failed batch.
const WORKER_ERROR_WAIT: Duration = Duration::from_secs(1);

/// How many of each task.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// Email queue consumers.
    pub workers: usize,
    /// Email writers (for a remote generator): as many as may have requests in flight.
    pub writers: usize,
    pub tick_every: Duration,
}

/// The tasks of one process, over one backend.
#[derive(Debug)]
pub struct AwsWorkers {
    backend: AwsBackend,
    engine: Engine,
    queue: SqsQueue,
    settings: WorkerSettings,
}

impl AwsWorkers {
    pub fn new(
        backend: AwsBackend,
        engine: Engine,
        queue: SqsQueue,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            backend,
            engine,
            queue,
            settings,
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Receives up to ten messages (long polling for up to a second), processes them
    /// as one batch, deletes the done ones in one call and releases each failed one
    /// with backoff. Returns how many it received.
    pub async fn work_once(&self) -> Result<usize, StoreError> {
        tasks::consume_once(&self.engine, &self.queue, 10, RECEIVE_WAIT).await
    }

    /// Starts the stream poller, the queue workers, the email writers and the
    /// scheduler; they stop when `shutdown` is cancelled, finishing the batch or email
    /// in hand.
    pub fn spawn(self: Arc<Self>, shutdown: CancellationToken) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let sdk = &self.backend.sdk;
        let poller = StreamPoller::new(
            sdk,
            self.backend.resources.users_table.clone(),
            self.backend.publisher.clone() as Arc<dyn EventPublisher>,
        )
        // A restart resumes after the last record handled.
        .with_checkpoints(StreamCheckpoints::new(
            aws_sdk_dynamodb::Client::new(sdk),
            self.backend.resources.ledger_table.clone(),
        ));
        let stop = shutdown.clone();
        set.spawn(poller.run(STREAM_IDLE, async move {
            stop.cancelled().await;
        }));
        for _ in 0..self.settings.workers.max(1) {
            let me = self.clone();
            let stop = shutdown.clone();
            set.spawn(async move {
                tasks::consume(
                    stop,
                    &me.engine,
                    &me.queue,
                    10,
                    RECEIVE_WAIT,
                    WORKER_ERROR_WAIT,
                )
                .await;
            });
        }
        for _ in 0..self.settings.writers.max(1) {
            let me = self.clone();
            let stop = shutdown.clone();
            set.spawn(async move {
                tasks::repeat(
                    stop,
                    "email writer",
                    || me.engine.write_due(1),
                    || tokio::time::sleep(WRITER_IDLE),
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
