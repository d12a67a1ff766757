//! `engage replay --from SEQ`: re-runs the stream processor over the change log, by
//! moving the tailer's checkpoint back. Event ids come from the changes and the email
//! processor claims each event once, so a replay repeats no decision and no email; it
//! is how an operator re-publishes events after fixing a consumer.
//!
//! The checkpoint lives in the store; the wake-up signal does not cross processes. A
//! running `engage serve` publishes the changes within its idle poll (a second), a
//! stopped one at its next start, and `--process` runs the pipeline here until idle.

use crate::Application;
use crate::config::Config;
use anyhow::Context as _;
use engage_core::clock::SystemClock;
use engage_core::ports::StreamReplay;
use engage_embedded::queue::EMAIL_QUEUE;
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Replay the changes after this sequence number; 0 replays the whole log.
    #[arg(long)]
    pub from: u64,
    /// Also run the pipeline in this process until nothing is left to do (for when
    /// no `engage serve` is running).
    #[arg(long)]
    pub process: bool,
}

/// Rewinds the stream of `config`'s data directory, and processes what follows when
/// asked to; writes what happened to `out`.
pub async fn run(config: Config, args: &ReplayArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let store = super::open_store(&config)?;
    let (head, _) = store.stream_position().await?;
    let head = u64::try_from(head).unwrap_or(0);
    if args.from > head {
        anyhow::bail!(
            "--from {} is past the end of the change log (its last change is {head})",
            args.from
        );
    }
    let changes = store.replay_from(args.from).await?;
    writeln!(
        out,
        "{changes} change{} after {} will be published again",
        if changes == 1 { "" } else { "s" },
        args.from
    )?;
    if !args.process {
        if changes == 0 {
            return Ok(());
        }
        writeln!(
            out,
            "a running `engage serve` publishes them within a second, a stopped one at its next start; or run this with --process"
        )?;
        return Ok(());
    }
    drop(store);
    let processed = process(config).await?;
    writeln!(
        out,
        "processed {processed} message{}",
        if processed == 1 { "" } else { "s" }
    )?;
    Ok(())
}

/// Runs the tailer and the email workers here until idle; returns how many messages
/// were handled. The application is built as `engage serve` builds it, on port 0 and
/// without its background tasks.
async fn process(mut config: Config) -> anyhow::Result<usize> {
    config.addr = "127.0.0.1:0".parse()?;
    config.pipeline.autostart = false;
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    if let Some(token) = &app.created_admin_token {
        // The data directory had no token yet: this is its one showing.
        eprintln!("engage: created an admin API token (shown only this once, keep it): {token}");
    }
    let pipeline = app
        .pipeline()
        .context("`engage replay` works on the embedded backend only")?;
    let processed = pipeline.run_until_idle().await?;
    let waiting = pipeline.store().queue_depth(EMAIL_QUEUE).await?;
    if waiting.delayed + waiting.in_flight > 0 {
        eprintln!(
            "engage: {} message(s) failed and wait for a retry by `engage serve`",
            waiting.delayed + waiting.in_flight
        );
    }
    Ok(processed)
}
