//! The loops every backend's long-running tasks are made of (the embedded pipeline,
//! `engage serve --backend aws`): a step repeated until the stop, and a step run on
//! a schedule. Each finishes the step in hand before it stops.

use super::Engine;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// Runs `step` until `stop` turns true: again at once after a step that did some
/// work (answered more than 0), else after `idle` resolves or the stop comes. A
/// failed step is logged as `what` and waits like an idle one.
pub async fn repeat<E, S, W>(
    mut stop: watch::Receiver<bool>,
    what: &'static str,
    mut step: impl FnMut() -> S,
    mut idle: impl FnMut() -> W,
) where
    E: std::fmt::Display,
    S: Future<Output = Result<usize, E>>,
    W: Future<Output = ()>,
{
    while !*stop.borrow() {
        match step().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "{what} step failed"),
        }
        tokio::select! {
            _ = idle() => {}
            _ = stop.changed() => {}
        }
    }
}

/// The scheduler: [`Engine::tick`] every `every` (the first at once; a late tick is
/// not made up for) until `stop` turns true.
pub async fn tick_every(engine: &Engine, every: Duration, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*stop.borrow() {
        tokio::select! {
            _ = interval.tick() => {
                if let Err(e) = engine.tick(500).await {
                    tracing::error!(error = %e, "scheduler tick failed");
                }
            }
            _ = stop.changed() => {}
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
        let (tx, rx) = watch::channel(false);
        let steps = Arc::new(AtomicUsize::new(0));
        let idles = Arc::new(AtomicUsize::new(0));
        let (s, i) = (steps.clone(), idles.clone());
        let task = tokio::spawn(repeat(
            rx,
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
        tx.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(steps.load(Ordering::SeqCst), 4, "no step after the stop");
        assert_eq!(idles.load(Ordering::SeqCst), 2, "busy steps never waited");
    }
}
