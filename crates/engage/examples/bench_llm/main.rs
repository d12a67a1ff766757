//! The LLM writer's throughput under a provider's rate limits (`make bench-llm`).
//!
//! llmock (the OpenAI-compatible fake of `tools/requirements.txt`) stands in for the
//! provider, with a requests-per-minute and a tokens-per-minute budget and every
//! answer held 1–3 s. `engage serve` writes its emails with the `openai` generator
//! pointed at it, with its own limits a little under the provider's. Enough clients
//! are created through the API to keep the writers busy for the whole run; the
//! steady-state request rate is measured from llmock's request log once the initial
//! burst (both buckets start full) has drained; then every email is checked: one per
//! client, every change decided, every sent email in the outbox, the fallbacks and
//! their reasons, the 429s, and the latencies.
//!
//!     cargo build --release -p engage --bin engage --example bench_llm
//!     target/release/examples/bench_llm --rpm 120 --window 120 --out docs/benchmarks.md
//!
//! `--tpm` unset: a first short run against an unlimited llmock measures the size of
//! one request, and the TPM is set so that it binds at about the RPM's rate.
//! `--concurrency` sets `llm.max_concurrency` (the writers), 8 by default.
//!
//! Writes its section to `docs/benchmarks.llm.md` and splices it into
//! `docs/benchmarks.md` between `<!-- bench-llm:begin -->` and `<!-- bench-llm:end -->`.
//! Exits non-zero when a check fails (after writing the figures). With
//! `BENCH_KEEP_DATA` set the data directory is kept; with `BENCH_SERVER_LOG` set (a
//! `RUST_LOG` filter) the server logs next to it.
//!
//! The parts: this file (the constants, the flags, `main`), [`harness`] (llmock's
//! answer, engage pointed at it, the clients created through the API, waiting for
//! the pipeline to settle, one request's size) and [`run`] (the run itself: the
//! limits, the load, the figures, the checks and the report).

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod run;

use anyhow::{Context as _, bail};
use run::run;
use std::path::PathBuf;

const MODEL: &str = "gpt-4o-mini";
/// engage's rpm and tpm as a share of the provider's: both buckets refill
/// continuously, so a request sent the instant engage's bucket allows it may arrive
/// before the provider's has refilled.
const HEADROOM: f64 = 0.975;
/// llmock holds each answer for a delay drawn uniformly from this range (seconds).
const DELAY: (f64, f64) = (1.0, 3.0);
/// Seconds of steady state after the window, so the backlog outlasts it.
const TAIL_SECS: f64 = 20.0;
/// llmock runs under `timeout 900`: the run must end well before.
const MAX_RUN_SECS: f64 = 700.0;

struct Args {
    rpm: u32,
    tpm: Option<u32>,
    window: u64,
    out: PathBuf,
    concurrency: u32,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        rpm: 120,
        tpm: None,
        window: 120,
        out: "docs/benchmarks.md".into(),
        concurrency: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--rpm" => a.rpm = v.parse()?,
            "--tpm" => a.tpm = Some(v.parse()?),
            "--window" => a.window = v.parse()?,
            "--out" => a.out = v.into(),
            "--concurrency" => a.concurrency = v.parse()?,
            _ => bail!("unknown flag {flag} (flags: --rpm, --tpm, --window, --out, --concurrency)"),
        }
    }
    anyhow::ensure!(a.rpm >= 10, "--rpm must be at least 10");
    anyhow::ensure!(a.window >= 30, "--window must be at least 30 (seconds)");
    anyhow::ensure!(
        (1..=256).contains(&a.concurrency),
        "--concurrency must be 1 to 256"
    );
    Ok(a)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    // Ctrl-C drops the run, and with it llmock and engage.
    tokio::select! {
        r = run(a) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
    }
}
