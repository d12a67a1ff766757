//! The embedded pipeline's benchmark (`make bench`): loads N clients through
//! `engage import`, runs `engage serve` on them, and measures end-to-end throughput,
//! change-to-decision latency under a paced load, `GET /api/v1/users/{id}` with wrk,
//! and the server's resident memory throughout. Writes the figures, the machine and
//! the commands to a Markdown report, followed by the LLM benchmark's section
//! (`docs/benchmarks.llm.md`, written by `bench_llm`) between its markers and by
//! `docs/benchmarks.notes.md`.
//!
//!     cargo run --release -p engage --example bench -- --clients 1000000 --out docs/benchmarks.md
//!
//! `--phases latency` (a comma-separated subset of drain, latency, get) runs only the
//! import and those phases, for investigating one figure; `--rate` sets the top rate.
//! With `BENCH_KEEP_DATA` set, the run's data directory is kept for inspection; with
//! `BENCH_SERVER_LOG` set (a `RUST_LOG` filter), the server logs to `data-PID.serve.log`.

mod common;

use anyhow::{Context as _, bail};
use common::{TOKEN, count, db, engage_bin, percentile, sh, start_server};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    clients: u64,
    out: PathBuf,
    work: PathBuf,
    window: u64,
    rate: u64,
    /// The phases to run: import always; drain, latency and get when listed.
    phases: Vec<String>,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        clients: 1_000_000,
        out: "docs/benchmarks.md".into(),
        work: std::env::temp_dir().join("engage-bench"),
        window: 60,
        rate: 2000,
        phases: vec!["drain".into(), "latency".into(), "get".into()],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--clients" => a.clients = v.parse()?,
            "--out" => a.out = v.into(),
            "--work" => a.work = v.into(),
            "--window" => a.window = v.parse()?,
            "--rate" => a.rate = v.parse()?,
            "--phases" => a.phases = v.split(',').map(str::to_string).collect(),
            _ => bail!("unknown flag {flag}"),
        }
    }
    Ok(a)
}

fn generate(path: &Path, n: u64) -> anyhow::Result<()> {
    let zones = [
        "Europe/London",
        "Europe/Paris",
        "America/New_York",
        "America/Chicago",
        "America/Los_Angeles",
        "Australia/Sydney",
    ];
    let names = [
        "Ana", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro", "Inès", "José", "Kara",
        "Liam", "Maya", "Noah", "Zoë",
    ];
    let prefs = [
        "minimal",
        "boho",
        "classic",
        "streetwear",
        "workwear",
        "romantic",
        "sporty",
    ];
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    for i in 0..n {
        let name = names[(i % names.len() as u64) as usize];
        writeln!(
            f,
            r#"{{"email":"client{i}@example.com","first_name":"{name}","last_name":"Doe","time_zone":"{}","email_opt_in":{},"profile":{{"preferences":["{}"],"top_size":"M"}}}}"#,
            zones[(i / 7 % zones.len() as u64) as usize],
            i % 5 != 0,
            prefs[(i / 3 % prefs.len() as u64) as usize],
        )?;
    }
    Ok(())
}

/// The pipeline-lag histogram's sample count and the samples within 100 ms, from
/// `/metrics`. The lag is observed once the decision has committed.
async fn lag_samples(base: &str) -> (u64, u64) {
    let text = match reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
    {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let value = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    (
        value("engage_pipeline_lag_seconds_count"),
        value("engage_pipeline_lag_seconds_bucket{le=\"0.1\"}"),
    )
}

/// Posts logins for clients at `rate` per second for `secs` seconds; returns the
/// requests that succeeded and failed.
async fn paced_load(base: &str, ids: &[String], rate: u64, secs: u64) -> (u64, u64) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("an HTTP client");
    let sent = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = (rate / 100).max(1);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut i = 0usize;
    while started.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        for _ in 0..per_tick {
            let url = format!("{base}/api/v1/users/{}/activity", ids[i % ids.len()]);
            i += 1;
            let (http, sent, failed) = (http.clone(), sent.clone(), failed.clone());
            tasks.spawn(async move {
                let ok = http
                    .post(url)
                    .bearer_auth(TOKEN)
                    .json(&serde_json::json!({"type": "login"}))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                let counter = if ok { sent } else { failed };
                counter.fetch_add(1, Ordering::Relaxed);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    (sent.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let bin = engage_bin()?;
    std::fs::create_dir_all(&a.work)?;
    // A fresh directory per run, removed at its end. Removing the last run's data here
    // instead (hundreds of thousands of outbox files) slowed this run's file creation
    // by up to 4x: ext4 skips inodes freed in the last minutes when allocating.
    remove_old_runs(&a.work);
    let data = a.work.join(format!("data-{}", std::process::id()));
    let file = a.work.join(format!("clients-{}.ndjson", a.clients));
    if !file.exists() {
        eprintln!("bench: generating {} clients", a.clients);
        generate(&file, a.clients)?;
    }
    let mut report = Vec::<[String; 4]>::new();

    // 1. Bulk import through the CLI.
    eprintln!("bench: importing");
    let t = Instant::now();
    let out = Command::new(&bin)
        .arg("import")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secs = t.elapsed().as_secs_f64();
    report.push([
        "bulk import through the CLI".into(),
        format!(
            "{:.0} rows/s ({} rows in {secs:.1} s)",
            a.clients as f64 / secs,
            a.clients
        ),
        "≥ 50,000 rows/s".into(),
        format!("`engage import clients-{}.ndjson`", a.clients),
    ]);

    // 2. End to end: the server works through the import's change backlog.
    let addr = "127.0.0.1:18080";
    let base = format!("http://{addr}");
    let c = db(&data)?;
    let has = |phase: &str| a.phases.iter().any(|p| p == phase);
    if has("drain") {
        let server = start_server(&bin, &data, addr, &[])?;
        eprintln!("bench: end-to-end throughput for {} s", a.window);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let decisions = "SELECT COUNT(*) FROM decisions";
        let emails = "SELECT COUNT(*) FROM emails";
        let (d0, e0, t0) = (count(&c, decisions), count(&c, emails), Instant::now());
        tokio::time::sleep(Duration::from_secs(a.window)).await;
        let (d1, e1) = (count(&c, decisions), count(&c, emails));
        let secs = t0.elapsed().as_secs_f64();
        report.push([
        "end to end: change → event → decision → email recorded (template generator, outbox)"
            .into(),
        format!(
            "{:.0} changes/s ({} decisions and {} emails in {secs:.0} s)",
            (d1 - d0) as f64 / secs,
            d1 - d0,
            e1 - e0
        ),
        "≥ 10,000 changes/s".into(),
        "`engage serve` (8 workers, batches of 100) draining the import's change backlog; decisions counted in SQLite".into(),
    ]);
        drop(server);
    }

    // Skip the rest of the backlog so the next figures measure fresh load only.
    {
        let w = rusqlite::Connection::open(data.join("engage.db"))?;
        w.busy_timeout(Duration::from_secs(30))?;
        w.execute_batch(
            "INSERT INTO checkpoints (name, seq) SELECT 'stream', COALESCE(MAX(seq), 0) FROM user_changes
               WHERE true ON CONFLICT (name) DO UPDATE SET seq = excluded.seq;
             DELETE FROM queue_messages;",
        )?;
    }
    let ids: Vec<String> = {
        let mut s = c.prepare("SELECT id FROM users ORDER BY random() LIMIT 20000")?;
        s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };

    // 3. Latency from committed change to recorded decision at paced rates: a quarter
    // of the target rate (below saturation), then the target rate.
    let server = start_server(&bin, &data, addr, &[])?;
    let rates = if has("latency") {
        vec![a.rate / 4, a.rate]
    } else {
        vec![]
    };
    for rate in rates {
        let head: i64 = c.query_row("SELECT COALESCE(MAX(seq), 0) FROM user_changes", [], |r| {
            r.get(0)
        })?;
        eprintln!("bench: {} changes/s for 30 s", rate);
        let before = lag_samples(&base).await;
        let t = Instant::now();
        let (sent, failed) = paced_load(&base, &ids, rate, 30).await;
        let achieved = sent as f64 / t.elapsed().as_secs_f64();
        let event_seq = "CAST(substr(json_extract(d.body, '$.event_id'), 5) AS INTEGER)";
        for _ in 0..600 {
            let changes = count(
                &c,
                &format!("SELECT COUNT(*) FROM user_changes WHERE seq > {head}"),
            );
            let decided = count(
                &c,
                &format!("SELECT COUNT(*) FROM decisions d WHERE {event_seq} > {head}"),
            );
            if decided >= changes {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut lat: Vec<f64> = {
            let mut s = c.prepare(&format!(
                "SELECT (julianday(json_extract(d.body, '$.at')) - julianday(u.committed_at)) * 86400000.0
                   FROM decisions d JOIN user_changes u ON u.seq = {event_seq}
                  WHERE u.seq > {head} AND json_extract(d.body, '$.event_id') NOT LIKE 'evt_sweep%'"
            ))?;
            s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        lat.sort_by(f64::total_cmp);
        let after = lag_samples(&base).await;
        let (n, within) = (after.0 - before.0, after.1 - before.1);
        report.push([
            format!(
                "latency, committed change → recorded decision, at {} changes/s",
                rate
            ),
            format!(
                "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.2} % committed within 100 ms ({} decisions; load achieved {achieved:.0}/s, {failed} failed requests)",
                percentile(&lat, 0.5),
                percentile(&lat, 0.99),
                lat.last().copied().unwrap_or(f64::NAN),
                within as f64 * 100.0 / n.max(1) as f64,
                lat.len()
            ),
            "p99 < 100 ms".into(),
            format!(
                "paced `POST /api/v1/users/{{id}}/activity` (login) at {}/s for 30 s; percentiles from each decision's time against its change's commit time, the share within 100 ms from `engage_pipeline_lag_seconds` (observed after the decision's commit)",
                rate
            ),
        ]);
    }

    // 4. GET /api/v1/users/{id} with wrk.
    if has("get") {
        let script = a.work.join("get.lua");
        {
            let mut f = std::fs::File::create(&script)?;
            writeln!(f, "local ids = {{")?;
            for id in ids.iter().take(5000) {
                writeln!(f, "  \"{id}\",")?;
            }
            writeln!(
                f,
                "}}\nlocal i = 0\nrequest = function()\n  i = i % #ids + 1\n  return wrk.format(\"GET\", \"/api/v1/users/\" .. ids[i], {{[\"Authorization\"] = \"Bearer {TOKEN}\"}})\nend"
            )?;
        }
        let wrk_cmd = format!(
            "wrk -t1 -c64 -d20s --latency -s {} {base}",
            script.display()
        );
        eprintln!("bench: {wrk_cmd}");
        let wrk = sh(&format!("{wrk_cmd} 2>&1"));
        let field = |prefix: &str| {
            wrk.lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("n/a")
                .to_string()
        };
        let non2xx = wrk
            .lines()
            .find(|l| l.contains("Non-2xx"))
            .map(str::trim)
            .unwrap_or("no non-2xx responses")
            .to_string();
        report.push([
        "`GET /api/v1/users/{id}` over loopback".into(),
        format!(
            "{} requests/s, p99 {} ({non2xx})",
            field("Requests/sec:"),
            field("99%")
        ),
        "≥ 20,000 requests/s, p99 < 10 ms".into(),
        "`wrk -t1 -c64 -d20s --latency -s get.lua` (5,000 random ids, bearer token; one wrk thread, as the server needs the other core)".into(),
    ]);
    }
    let peak_mb = server.peak_rss_kb.load(Ordering::Relaxed) as f64 / 1024.0;
    drop(server);
    report.push([
        "resident memory of `engage serve`".into(),
        format!("peak {peak_mb:.0} MB (sampled every 100 ms during the latency and GET runs)"),
        "< 150 MB".into(),
        "VmRSS from /proc/PID/status".into(),
    ]);

    let mut md = String::from(
        "# Benchmarks\n\nWritten by `make bench` (`crates/engage/examples/bench.rs`); rerun it to refresh.\n\n",
    );
    md.push_str(&format!(
        "- date: {}\n- machine: {}\n- clients stored: {}\n- build: release; SQLite in WAL mode, `durability = \"full\"` (fsync per commit)\n\n",
        sh("date -u +%Y-%m-%dT%H:%MZ"),
        common::machine(),
        a.clients
    ));
    md.push_str("| measure | result | target | how |\n|---|---|---|---|\n");
    for [m, r, t, h] in &report {
        md.push_str(&format!("| {m} | {r} | {t} | {h} |\n"));
    }
    md.push_str(
        "\nEverything runs on the one machine: the load generators share its two cores with the server.\n",
    );
    // The side benchmarks' sections (`bench_llm`, `bench_smtp`, `bench_lambda`, the
    // console's), each kept between its markers.
    md.push('\n');
    md.push_str(&common::section_block(&a.out, "llm")?);
    md.push('\n');
    md.push_str(&common::section_block(&a.out, "smtp")?);
    md.push('\n');
    md.push_str(&common::section_block(&a.out, "lambda")?);
    md.push('\n');
    md.push_str(&common::section_block(&a.out, "console")?);
    let notes = a.out.with_extension("notes.md");
    if notes.exists() {
        md.push('\n');
        md.push_str(&std::fs::read_to_string(&notes)?);
    }
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&a.out, &md)?;
    println!("{md}");
    drop(c);
    if std::env::var_os("BENCH_KEEP_DATA").is_none() {
        remove_old_runs(&a.work);
    }
    Ok(())
}

/// Removes the data directories of runs in `work` (this one's included, once done).
fn remove_old_runs(work: &Path) {
    for entry in std::fs::read_dir(work).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with("data") && entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
