//! The loops every backend's long-running tasks are made of (the embedded pipeline,
//! `engage serve --backend aws`): a step repeated until the stop, a step run on a
//! schedule, and the email queue's consumer over the [`EventQueue`] port (one batch:
//! [`consume_once`], its processing: [`process_deliveries`], the loop: [`consume`]).
//! Each finishes the step in hand before it stops.

use super::{Engine, backoff};
use crate::StoreError;
use crate::ports::{EventQueue, QueueDelivery};
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Processes delivered messages as one batch ([`Engine::process_messages`]) and
/// releases each failed one with [`backoff`] for its receive count, noting its
/// error (the queue moves it to the dead letters after its maximum receives).
/// Answers, in order, whether each is done: the caller deletes those.
pub async fn process_deliveries(
    engine: &Engine,
    queue: &dyn EventQueue,
    msgs: &[QueueDelivery],
) -> Result<Vec<bool>, StoreError> {
    let bodies: Vec<&str> = msgs.iter().map(|m| m.body.as_str()).collect();
    let results = engine.process_messages(&bodies).await;
    let mut done = Vec::with_capacity(msgs.len());
    for (msg, result) in msgs.iter().zip(results) {
        match result {
            Ok(()) => done.push(true),
            Err(e) => {
                let delay = backoff(msg.receive_count);
                tracing::warn!(message_id = msg.id, receive_count = msg.receive_count, error = %e, retry_in_ms = delay.as_millis() as u64, "message failed, will retry");
                queue.release(&msg.receipt, delay, &e.to_string()).await?;
                done.push(false);
            }
        }
    }
    Ok(done)
}

/// One batch of the email queue: receives up to `max` messages (waiting up to
/// `wait` for the first), processes them ([`process_deliveries`]) and deletes the
/// done ones in one call. Answers how many it received.
pub async fn consume_once(
    engine: &Engine,
    queue: &dyn EventQueue,
    max: u32,
    wait: Duration,
) -> Result<usize, StoreError> {
    let msgs = queue.receive(max, wait).await?;
    let n = msgs.len();
    if n == 0 {
        return Ok(0);
    }
    let done = process_deliveries(engine, queue, &msgs).await?;
    let receipts = msgs
        .into_iter()
        .zip(done)
        .filter_map(|(m, done)| done.then_some(m.receipt))
        .collect();
    queue.delete(receipts).await?;
    Ok(n)
}

/// An email worker: [`consume_once`] until `stop` is cancelled. The receive's wait
/// is its idle wait (and bounds how long a stop waits: the batch in hand is
/// finished, not raced against the stop); after a failed batch it waits
/// `after_error`, or the stop.
pub async fn consume(
    stop: CancellationToken,
    engine: &Engine,
    queue: &dyn EventQueue,
    max: u32,
    wait: Duration,
    after_error: Duration,
) {
    while !stop.is_cancelled() {
        if let Err(e) = consume_once(engine, queue, max, wait).await {
            tracing::error!(error = %e, "email worker step failed");
            tokio::select! {
                _ = tokio::time::sleep(after_error) => {}
                _ = stop.cancelled() => {}
            }
        }
    }
}

/// Runs `step` until `stop` is cancelled: again at once after a step that did some
/// work (answered more than 0), else after `idle` resolves or the stop comes. A
/// failed step is logged as `what` and waits like an idle one.
pub async fn repeat<E, S, W>(
    stop: CancellationToken,
    what: &'static str,
    mut step: impl FnMut() -> S,
    mut idle: impl FnMut() -> W,
) where
    E: std::fmt::Display,
    S: Future<Output = Result<usize, E>>,
    W: Future<Output = ()>,
{
    while !stop.is_cancelled() {
        match step().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "{what} step failed"),
        }
        tokio::select! {
            _ = idle() => {}
            _ = stop.cancelled() => {}
        }
    }
}

/// The scheduler: [`Engine::tick`] every `every` (the first at once; a late tick is
/// not made up for) until `stop` is cancelled.
pub async fn tick_every(engine: &Engine, every: Duration, stop: CancellationToken) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.is_cancelled() {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(e) = engine.tick(500).await {
                    tracing::error!(error = %e, "scheduler tick failed");
                }
            }
            _ = stop.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_busy_step_repeats_at_once_an_idle_or_failed_one_waits_and_the_stop_ends_it() {
        let stop = CancellationToken::new();
        let steps = Arc::new(AtomicUsize::new(0));
        let idles = Arc::new(AtomicUsize::new(0));
        let (s, i) = (steps.clone(), idles.clone());
        let task = tokio::spawn(repeat(
            stop.clone(),
            "test",
            move || {
                let n = s.fetch_add(1, Ordering::SeqCst);
                // Busy twice, then failing once, then idle.
                async move {
                    match n {
                        0 | 1 => Ok(1),
                        2 => Err("broken"),
                        _ => Ok(0),
                    }
                }
            },
            move || {
                let nth = i.fetch_add(1, Ordering::SeqCst);
                async move {
                    if nth >= 1 {
                        std::future::pending::<()>().await
                    }
                }
            },
        ));
        // The failed step waited once (at once), the idle one waits until the stop.
        while steps.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        task.await.unwrap();
        assert_eq!(steps.load(Ordering::SeqCst), 4, "no step after the stop");
        assert_eq!(idles.load(Ordering::SeqCst), 2, "busy steps never waited");
    }
}
