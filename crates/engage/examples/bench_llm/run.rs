//! One benchmark run: the TPM (calibrated unless given), the warm-up and the window,
//! llmock and engage started with their limits, the clients created, the backlog
//! watched until written; then the figures from llmock's request log, the checks
//! against engage's database and outbox, and the report spliced into
//! `docs/benchmarks.md`.

use crate::common::{self, TOKEN, count, db, engage_bin, percentile, sh};
use crate::harness::{
    UNDECIDED, UNFINISHED, answer, create_clients, free_addr, llm_env, measure_request, metric, ms,
    request_tokens, start_engage,
};
use crate::{Args, DELAY, HEADROOM, MAX_RUN_SECS, TAIL_SECS};
use anyhow::bail;
use engage_llm::testing::Llmock;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub(super) async fn run(a: Args) -> anyhow::Result<()> {
    let bin = engage_bin()?;
    let tmp = tempfile::Builder::new()
        .prefix("engage-bench-llm-")
        .tempdir()?;
    let work = tmp.path().to_path_buf();
    if std::env::var_os("BENCH_KEEP_DATA").is_some() {
        eprintln!("bench-llm: keeping the data in {}", tmp.keep().display());
    }

    // 1. The TPM: from the size of one request, so that it binds at about the RPM's rate.
    let (tpm, calibrated) = match a.tpm {
        Some(t) => (t, None),
        None => {
            eprintln!("bench-llm: measuring one request's size");
            let tokens = measure_request(&bin, &work, a.concurrency).await?;
            let tpm = (a.rpm as u64 * tokens).div_ceil(1000) * 1000;
            (u32::try_from(tpm)?, Some(tokens))
        }
    };
    let engage_rpm = (a.rpm as f64 * HEADROOM).floor() as u32;
    let engage_tpm = (tpm as f64 * HEADROOM).floor() as u32;

    // 2. The warm-up. Both buckets start full with a minute's budget; until engage's
    // drains, the writers send as fast as the delays let them (concurrency / mean
    // delay), which is more than the limit; after, at engage's limit. Measuring starts
    // once the drain is surely over.
    let tokens_guess = calibrated.unwrap_or((tpm / a.rpm) as u64).max(1) as f64;
    let engage_rate = (engage_rpm as f64).min(engage_tpm as f64 / tokens_guess) / 60.0;
    let mean_delay = (DELAY.0 + DELAY.1) / 2.0;
    let unthrottled = a.concurrency as f64 / mean_delay;
    let burst = engage_rate * 60.0;
    let drain_secs = if unthrottled > engage_rate * 1.05 {
        burst / (unthrottled - engage_rate)
    } else {
        eprintln!(
            "bench-llm: warning: {} writers at a {mean_delay} s mean delay send at most {unthrottled:.2}/s, no more than the limit of {engage_rate:.2}/s: the writers, not the limiter, bound this run",
            a.concurrency
        );
        0.0
    };
    let warmup = (drain_secs * 1.2 + 20.0).ceil();
    let window = a.window as f64;
    let run_secs = warmup + window + TAIL_SECS;
    anyhow::ensure!(
        run_secs < MAX_RUN_SECS,
        "a {run_secs:.0} s run would outlive llmock's `timeout 900`: shorten --window or raise --rpm"
    );
    // Enough clients for the burst, then the limit's rate until the tail's end.
    let sustained = engage_rate.min(unthrottled);
    let clients = (if drain_secs > 0.0 { burst } else { 0.0 } + sustained * run_secs).ceil() as u64;

    // 3. The provider, and engage pointed at it.
    let rpm_s = a.rpm.to_string();
    let tpm_s = tpm.to_string();
    let mock = Llmock::start_with(&["--rpm", &rpm_s, "--tpm", &tpm_s]).await;
    let delays = (clients * 3).max(2000);
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261129);
    let mut behaviors: Vec<Value> = (0..delays)
        .map(|_| {
            let s: f64 = rng.random_range(DELAY.0..=DELAY.1);
            json!({"type": "delay", "seconds": (s * 1000.0).round() / 1000.0, "times": 1})
        })
        .collect();
    behaviors.push(json!({"type": "reply", "text": answer(), "times": null}));
    mock.script(Value::Array(behaviors)).await;

    let data = work.join("data");
    let addr = free_addr()?;
    let base = format!("http://{addr}");
    let env = llm_env(&mock, a.concurrency, Some((engage_rpm, engage_tpm)));
    let mut server = start_engage(&bin, &data, &addr, &env)?;
    let c = db(&data)?;

    eprintln!(
        "bench-llm: llmock --rpm {} --tpm {tpm}; engage rpm {engage_rpm} tpm {engage_tpm}, {} writers; {clients} clients; warm-up {warmup:.0} s, window {window:.0} s",
        a.rpm, a.concurrency
    );
    let t = Instant::now();
    create_clients(&base, clients, 32).await?;
    let create_secs = t.elapsed().as_secs_f64();

    // 4. Until the backlog is written: the writers' backlog sampled every second.
    let mut backlog: Vec<(f64, u64)> = Vec::new();
    let expected = clients as f64 / sustained + 60.0;
    let deadline = t + Duration::from_secs_f64(expected.max(run_secs) * 1.5);
    loop {
        server.check_running()?;
        let composing = count(&c, "SELECT COUNT(*) FROM emails WHERE status = 'composing'");
        backlog.push((t.elapsed().as_secs_f64(), composing));
        if count(&c, UNFINISHED) == 0 && count(&c, UNDECIDED) == 0 {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "engage did not finish in {:.0} s: {} emails unfinished, {} changes undecided",
                t.elapsed().as_secs_f64(),
                count(&c, UNFINISHED),
                count(&c, UNDECIDED)
            );
        }
        if backlog.len().is_multiple_of(30) {
            eprintln!(
                "bench-llm: {:.0} s: {} of {clients} emails sent, {composing} waiting for a writer or the model",
                t.elapsed().as_secs_f64(),
                count(&c, "SELECT COUNT(*) FROM emails WHERE status = 'sent'")
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let total_secs = t.elapsed().as_secs_f64();
    let metrics = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let peak_mb = server.peak_rss_kb.load(Ordering::Relaxed) as f64 / 1024.0;
    let requests = mock.requests().await;
    drop(server);
    drop(mock);

    // 5. The figures, from llmock's log.
    anyhow::ensure!(!requests.is_empty(), "llmock received no request");
    let at = |r: &Value, k: &str| r[k].as_f64().unwrap_or(f64::NAN);
    let t0 = requests
        .iter()
        .map(|r| at(r, "started_at"))
        .fold(f64::INFINITY, f64::min);
    let last = requests
        .iter()
        .map(|r| at(r, "started_at") - t0)
        .fold(0.0, f64::max);
    let status = |r: &Value| r["status"].as_u64().unwrap_or(0);
    let mut statuses = BTreeMap::<u64, u64>::new();
    for r in &requests {
        *statuses.entry(status(r)).or_default() += 1;
    }
    let ok = statuses.get(&200).copied().unwrap_or(0);
    let limited = statuses.get(&429).copied().unwrap_or(0);
    let (w0, w1) = (warmup, warmup + window);
    let in_window = |r: &&Value| (w0..w1).contains(&(at(r, "started_at") - t0));
    let window_ok = requests
        .iter()
        .filter(in_window)
        .filter(|r| status(r) == 200)
        .count() as f64;
    let window_429 = requests
        .iter()
        .filter(in_window)
        .filter(|r| status(r) == 429)
        .count();
    let burst_ok = requests
        .iter()
        .filter(|r| at(r, "started_at") - t0 < drain_secs && status(r) == 200)
        .count();
    let achieved = window_ok / window * 60.0;
    let mut tokens: Vec<u64> = requests
        .iter()
        .filter(|r| r["body"].is_object())
        .map(|r| request_tokens(&r["body"]))
        .collect();
    tokens.sort_unstable();
    let mean_tokens = tokens.iter().sum::<u64>() as f64 / tokens.len().max(1) as f64;
    let by_tokens = tpm as f64 / mean_tokens;
    let allowed = (a.rpm as f64).min(by_tokens);
    let (rpm_f, engage_rpm_f) = (a.rpm as f64, engage_rpm as f64);
    let engage_by_tokens = engage_tpm as f64 / mean_tokens;
    let tighter = |rpm: f64, by_tokens: f64| if by_tokens < rpm { "TPM" } else { "RPM" };
    let binds = format!(
        "{}: the RPM allows {rpm_f:.0} requests/min, the TPM {by_tokens:.1} at {mean_tokens:.0} tokens each, so the {} is the tighter; engage's own: {engage_rpm_f:.0} and {engage_by_tokens:.1}, its {}",
        if (by_tokens - rpm_f).abs() / rpm_f < 0.02 {
            "both, within 2 %"
        } else {
            tighter(rpm_f, by_tokens)
        },
        tighter(rpm_f, by_tokens),
        tighter(engage_rpm_f, engage_by_tokens),
    );
    let share = achieved / allowed * 100.0;
    let mut served: Vec<f64> = requests
        .iter()
        .filter(|r| status(r) == 200)
        .map(|r| (at(r, "ended_at") - at(r, "started_at")) * 1000.0)
        .collect();
    served.sort_by(f64::total_cmp);
    let window_backlog = backlog
        .iter()
        .filter(|(s, _)| (w0..w1).contains(s))
        .map(|&(_, n)| n)
        .min()
        .unwrap_or(0);

    // 6. The checks, from engage's database and outbox.
    let changes = count(&c, "SELECT COUNT(*) FROM user_changes");
    let decisions = count(&c, "SELECT COUNT(*) FROM decisions");
    let undecided = count(&c, UNDECIDED);
    let users = count(&c, "SELECT COUNT(*) FROM users");
    let emails = count(&c, "SELECT COUNT(*) FROM emails");
    let duplicated = count(
        &c,
        "SELECT COUNT(*) FROM (SELECT user_id FROM emails GROUP BY user_id HAVING COUNT(*) > 1)",
    );
    let without = count(
        &c,
        "SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM emails e WHERE e.user_id = u.id)",
    );
    let mut by_status = BTreeMap::<String, u64>::new();
    {
        let mut s = c.prepare("SELECT status, COUNT(*) FROM emails GROUP BY status")?;
        for row in s.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
            let (k, v) = row?;
            by_status.insert(k, v as u64);
        }
    }
    let sent = by_status.get("sent").copied().unwrap_or(0);
    let outbox = std::fs::read_dir(data.join("outbox"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                .count() as u64
        })
        .unwrap_or(0);
    let content = |expr: &str| -> anyhow::Result<Vec<String>> {
        let mut s = c.prepare(&format!(
            "SELECT {expr} FROM emails e JOIN email_contents x ON x.id = e.id WHERE {expr} IS NOT NULL"
        ))?;
        let rows = s.query_map([], |r| r.get::<_, rusqlite::types::Value>(0))?;
        Ok(rows
            .flatten()
            .map(|v| match v {
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Real(f) => f.to_string(),
                _ => String::new(),
            })
            .collect())
    };
    let fallbacks = content("json_extract(x.body, '$.fallback_reason')")?;
    let mut reasons = BTreeMap::<String, u64>::new();
    for f in &fallbacks {
        let short: String = f.chars().take(80).collect();
        *reasons.entry(short).or_default() += 1;
    }
    let by_model = content("json_extract(x.body, '$.generator')")?
        .iter()
        .filter(|g| g.starts_with("llm:"))
        .count();
    let retried = content("json_extract(x.body, '$.generation.attempts')")?
        .iter()
        .filter(|n| n.parse::<u64>().unwrap_or(1) > 1)
        .count();
    // Each email's generation latency, in the order the emails were sent; those sent
    // k0..k1 were (about) the ones whose answers came in the window.
    let timeline: Vec<f64> = {
        let mut s = c.prepare(
            "SELECT json_extract(x.body, '$.generation.latency_ms') FROM emails e
               JOIN email_contents x ON x.id = e.id
              WHERE json_extract(x.body, '$.generation.latency_ms') IS NOT NULL
              ORDER BY json_extract(e.state, '$.sent_at'), e.id",
        )?;
        s.query_map([], |r| r.get::<_, f64>(0))?
            .collect::<Result<_, _>>()?
    };
    let answered_before = |secs: f64| {
        requests
            .iter()
            .filter(|r| status(r) == 200 && at(r, "ended_at") - t0 < secs)
            .count()
    };
    let (k0, k1) = (
        answered_before(w0).min(timeline.len()),
        answered_before(w1).min(timeline.len()),
    );
    let mut steady = timeline[k0..k1.max(k0)].to_vec();
    steady.sort_by(f64::total_cmp);
    let mut latency = timeline;
    latency.sort_by(f64::total_cmp);
    let limiter_waits = metric(&metrics, "engage_llm_limiter_wait_seconds_count");
    let limiter_mean =
        metric(&metrics, "engage_llm_limiter_wait_seconds_sum") / limiter_waits.max(1.0);
    let llm_errors = metric(&metrics, "engage_llm_errors_total");
    let breaker_open = metric(&metrics, "engage_llm_circuit_open");
    drop(c);

    let mut failed = Vec::<String>::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failed.push(what);
        }
    };
    check(
        share >= 95.0,
        format!(
            "rate {achieved:.1}/min is {share:.1} % of the allowed {allowed:.1}/min, under 95 %"
        ),
    );
    check(
        limited * 100 <= requests.len() as u64,
        format!("{limited} of {} requests got 429", requests.len()),
    );
    check(
        last >= w1,
        format!("the backlog ran out {last:.0} s in, before the window's end at {w1:.0} s"),
    );
    check(
        undecided == 0 && changes == clients,
        format!("{undecided} of {changes} changes undecided ({clients} clients created)"),
    );
    check(
        duplicated == 0 && without == 0 && emails == users,
        format!(
            "{emails} emails for {users} clients: {duplicated} with more than one, {without} with none"
        ),
    );
    check(
        sent == emails && outbox == sent,
        format!("{sent} of {emails} emails sent, {outbox} files in the outbox ({by_status:?})"),
    );
    check(
        (delays as usize) >= requests.len(),
        format!(
            "{} requests, more than the {delays} scripted delays",
            requests.len()
        ),
    );
    check(
        fallbacks.is_empty(),
        format!("{} fallbacks to the template: {reasons:?}", fallbacks.len()),
    );

    // 7. The report.
    let mut rows = Vec::<[String; 4]>::new();
    rows.push([
        "sustained request rate to the model".into(),
        format!(
            "**{achieved:.1} requests/min = {share:.1} % of the {allowed:.0} allowed** ({window_ok:.0} answered requests in {window:.0} s; engage's own limit {:.1}/min = {:.1} %)",
            engage_rate * 60.0,
            engage_rate * 60.0 / allowed * 100.0
        ),
        "≥ 95 % of the allowed rate".into(),
        format!(
            "requests llmock answered 200 that started from {w0:.0} s to {w1:.0} s after the first (the warm-up: engage's full bucket of {burst:.0} requests drains in about {drain_secs:.0} s at {unthrottled:.1}/s sent less {:.2}/s refilled; {burst_ok} answered in that time); writers' backlog at least {window_backlog} emails throughout",
            engage_rate
        ),
    ]);
    rows.push([
        "which limit binds".into(),
        binds.clone(),
        "both about equal".into(),
        format!(
            "a request charges body bytes / 4 + `max_tokens` (700): {}–{} tokens here{}",
            tokens.first().copied().unwrap_or(0),
            tokens.last().copied().unwrap_or(0),
            match calibrated {
                Some(n) => format!(
                    "; TPM {tpm} = RPM × {n} (one request measured first), rounded up to 1,000"
                ),
                None => String::new(),
            }
        ),
    ]);
    rows.push([
        "429s from the provider".into(),
        format!(
            "{limited} of {} requests ({window_429} in the window); statuses {statuses:?}",
            requests.len()
        ),
        "none (no 429 storms)".into(),
        "llmock's request log".into(),
    ]);
    rows.push([
        "lost events".into(),
        format!("{undecided} ({changes} changes, {decisions} decisions)"),
        "0".into(),
        "each `user_changes` row has its decision `dec_{seq}`".into(),
    ]);
    rows.push([
        "duplicate emails".into(),
        format!("{duplicated} clients with more than one email, {without} with none ({users} clients, {emails} emails; {ok} model answers)"),
        "0".into(),
        "`emails` grouped by client".into(),
    ]);
    rows.push([
        "sent and in the outbox".into(),
        format!("{sent} sent, {outbox} files in the outbox; statuses {by_status:?}"),
        "every email sent, once".into(),
        "`emails.status`, `*.eml` files in `DATA/outbox`".into(),
    ]);
    rows.push([
        "fallbacks to the template".into(),
        if fallbacks.is_empty() {
            format!(
                "0 ({by_model} emails written by the model; {retried} needed more than one attempt)"
            )
        } else {
            format!(
                "{} ({reasons:?}); {by_model} written by the model",
                fallbacks.len()
            )
        },
        "0".into(),
        "emails whose `fallback_reason` is set".into(),
    ]);
    rows.push([
        "generation latency (engage)".into(),
        format!(
            "steady state: p50 {}, p99 {}, max {} ({} emails); all: p50 {}, p99 {}, max {}",
            ms(percentile(&steady, 0.5)),
            ms(percentile(&steady, 0.99)),
            ms(steady.last().copied().unwrap_or(f64::NAN)),
            steady.len(),
            ms(percentile(&latency, 0.5)),
            ms(percentile(&latency, 0.99)),
            ms(latency.last().copied().unwrap_or(f64::NAN))
        ),
        "reported".into(),
        format!(
            "`generation.latency_ms` of each email: the limiter's wait and the request (mean limiter wait {limiter_mean:.2} s over {limiter_waits:.0} requests, burst included); steady state: the emails sent while the window's answers came in"
        ),
    ]);
    rows.push([
        "request latency (llmock)".into(),
        format!(
            "p50 {}, p99 {}",
            ms(percentile(&served, 0.5)),
            ms(percentile(&served, 0.99))
        ),
        "1–3 s, as scripted".into(),
        "`ended_at − started_at` of the answered requests".into(),
    ]);
    rows.push([
        "resident memory of `engage serve`".into(),
        format!("peak {peak_mb:.0} MB"),
        "reported".into(),
        "VmRSS from /proc/PID/status, every 100 ms".into(),
    ]);

    let command = format!(
        "bench_llm --rpm {} {}--window {} --concurrency {} --out {}",
        a.rpm,
        a.tpm.map(|t| format!("--tpm {t} ")).unwrap_or_default(),
        a.window,
        a.concurrency,
        a.out.display()
    );
    let mut md = String::from("## LLM writer: throughput under a provider's rate limits\n\n");
    md.push_str(
        "Written by `make bench-llm` (`crates/engage/examples/bench_llm/`); rerun it to refresh.\n\n",
    );
    md.push_str(&format!(
        "- date: {}\n- machine: {}\n- command: `{command}` (`make bench-llm` runs it with the defaults)\n- provider: llmock {} on 127.0.0.1 with `--rpm {} --tpm {tpm}`; each answer held for a random {}–{} s (seeded), then a fixed valid welcome email\n- engage: `openai` generator, `llm.rpm = {engage_rpm}`, `llm.tpm = {engage_tpm}` ({:.1} % of the provider's), `llm.max_concurrency = {}` (as many writers), no quiet hours\n- load: {clients} opted-in clients created through `POST /api/v1/users` in {create_secs:.2} s (32 at a time), one welcome email each; all written and sent {total_secs:.0} s after the first was created\n\n",
        sh("date -u +%Y-%m-%dT%H:%MZ"),
        common::machine(),
        sh(&format!(
            "{}/../../.venv/bin/pip show llmock 2>/dev/null | awk '/^Version:/ {{print $2}}'",
            env!("CARGO_MANIFEST_DIR")
        )),
        a.rpm,
        DELAY.0,
        DELAY.1,
        HEADROOM * 100.0,
        a.concurrency,
    ));
    md.push_str("| measure | result | target | how |\n|---|---|---|---|\n");
    for [m, r, t, h] in &rows {
        md.push_str(&format!("| {m} | {r} | {t} | {h} |\n"));
    }
    md.push_str(&format!(
        "\nHow to read it. The provider's buckets and engage's start full, with a minute's budget each, so the first {drain_secs:.0} s or so are a burst: the {} writers send as fast as the {mean_delay:.0} s mean delay lets them ({unthrottled:.1} requests/s) until engage's bucket is empty. From then on engage's limiter paces the writers at its own limit, {:.1} % of the provider's, and the measured window starts {w0:.0} s after the first request, once that burst is surely over. The rate is therefore bounded by engage's configured headroom, not by the writers: a writer that has its permit waits in the limiter (mean wait {limiter_mean:.2} s) while the others' requests are held by the provider. The generation latency includes that wait; llmock's latency is the provider's alone. At the limit each writer's turn comes round every {:.1} s on average ({} writers / {:.2} requests/s), and the steady-state generation latency is that turn: the limiter's wait plus the provider's delay. A p99 far beyond it would mean the writers do not take their turns in order. Setting engage's limits a few per cent under the provider's is what keeps the 429s away: the provider charges each request when it answers it, after engage has, and both buckets refill continuously.\n",
        a.concurrency,
        HEADROOM * 100.0,
        a.concurrency as f64 / sustained,
        a.concurrency,
        sustained,
    ));
    if !failed.is_empty() {
        md.push_str(&format!(
            "\n**This run failed its checks:** {}.\n",
            failed.join("; ")
        ));
    }
    if llm_errors > 0.0 || breaker_open > 0.0 {
        md.push_str(&format!(
            "\nengage counted {llm_errors:.0} failed LLM requests (`engage_llm_errors_total`); circuit breaker open at the end: {}.\n",
            breaker_open > 0.0
        ));
    }

    let section = common::section_path(&a.out, "llm");
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&section, &md)?;
    let report = std::fs::read_to_string(&a.out).unwrap_or_else(|_| "# Benchmarks\n".into());
    std::fs::write(&a.out, common::splice_section(&report, "llm", &md))?;
    println!("{md}");
    eprintln!(
        "bench-llm: wrote {} and its section in {}",
        section.display(),
        a.out.display()
    );
    if !failed.is_empty() {
        bail!("bench-llm failed:\n- {}", failed.join("\n- "));
    }
    Ok(())
}
