//! The benchmark's pieces: llmock's fixed answer, engage configured for and started
//! against it, clients created through the API, waiting for the pipeline to settle,
//! the size of one request (a short calibration run), and reading `/metrics`.

use crate::MODEL;
use crate::common::{Server, TOKEN, count, db, start_server};
use anyhow::{Context as _, bail};
use engage_llm::testing::Llmock;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// The model's answer: a valid welcome email (two paragraphs, no links, no braces,
/// none of the banned phrases), the same for every request.
pub(super) fn answer() -> String {
    json!({
        "subject": "Welcome, your stylist is getting to know you",
        "preheader": "A few words about your first Fix and what happens next",
        "body": "Hi there,\n\nWelcome aboard. Your stylist has read your style profile and is already thinking about pieces that suit the way you like to dress.\n\nWhenever you are ready, tell us a little more about your favourite fits and colours, and we will put together your first Fix with care."
    })
    .to_string()
}

pub(super) fn free_addr() -> anyhow::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.to_string())
}

/// engage's configuration for the `openai` generator against `mock`.
pub(super) fn llm_env(
    mock: &Llmock,
    concurrency: u32,
    limits: Option<(u32, u32)>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("ENGAGE_LLM__GENERATOR", "openai".to_string()),
        ("ENGAGE_LLM__BASE_URL", mock.v1()),
        ("ENGAGE_LLM__MODEL", MODEL.to_string()),
        ("ENGAGE_LLM__MAX_CONCURRENCY", concurrency.to_string()),
        ("ENGAGE_LLM__TIMEOUT_SECS", "30".to_string()),
        // No quiet hours: every welcome goes out now, whatever the time of the run.
        ("ENGAGE_POLICY__QUIET_START_HOUR", "0".to_string()),
        ("ENGAGE_POLICY__QUIET_END_HOUR", "0".to_string()),
    ];
    if let Some((rpm, tpm)) = limits {
        env.push(("ENGAGE_LLM__RPM", rpm.to_string()));
        env.push(("ENGAGE_LLM__TPM", tpm.to_string()));
    }
    env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub(super) fn start_engage(
    bin: &Path,
    data: &Path,
    addr: &str,
    env: &[(String, String)],
) -> anyhow::Result<Server> {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_server(bin, data, addr, &env)
}

/// What a request charges against a TPM budget, as llmock and engage both count it:
/// the body's bytes / 4, plus its `max_tokens`.
pub(super) fn request_tokens(body: &Value) -> u64 {
    let bytes = serde_json::to_vec(body).map(|b| b.len()).unwrap_or(0) as u64;
    (bytes / 4).max(1) + body["max_tokens"].as_u64().unwrap_or(0)
}

/// Creates `n` opted-in clients through the API, `parallel` requests at a time.
pub(super) async fn create_clients(base: &str, n: u64, parallel: usize) -> anyhow::Result<()> {
    let names = [
        "Ada", "Ben", "Chloé", "Dev", "Emma", "Farid", "Grace", "Hiro",
    ];
    let http = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        while tasks.len() >= parallel {
            tasks.join_next().await.expect("a task")??;
        }
        let (http, url) = (http.clone(), format!("{base}/api/v1/users"));
        let name = names[i as usize % names.len()];
        tasks.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(TOKEN)
                .json(&json!({
                    "email": format!("llm-bench-{i}@example.com"),
                    "first_name": name,
                    "time_zone": "Europe/London",
                    "email_opt_in": true,
                }))
                .send()
                .await?;
            anyhow::ensure!(
                r.status().is_success(),
                "creating client {i}: HTTP {}: {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

/// Emails not yet in a final status (or scheduled).
pub(super) const UNFINISHED: &str =
    "SELECT COUNT(*) FROM emails WHERE status IN ('composing', 'pending', 'sending')";
/// Changes without their decision (`dec_{seq}`).
pub(super) const UNDECIDED: &str = "SELECT COUNT(*) FROM user_changes u
     WHERE NOT EXISTS (SELECT 1 FROM decisions d WHERE d.id = 'dec_' || u.seq)";

/// Waits until every change is decided and no email is being written or sent.
async fn settle(server: &mut Server, c: &rusqlite::Connection, secs: f64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        server.check_running()?;
        if count(c, UNFINISHED) == 0 && count(c, UNDECIDED) == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "not settled after {secs:.0} s: {} emails unfinished, {} changes undecided",
                count(c, UNFINISHED),
                count(c, UNDECIDED)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The size of one request, from a short run against an unlimited llmock: one client,
/// one welcome email. Returns the tokens it charges.
pub(super) async fn measure_request(
    bin: &Path,
    work: &Path,
    concurrency: u32,
) -> anyhow::Result<u64> {
    let mock = Llmock::start().await;
    mock.script(json!([{"type": "reply", "text": answer(), "times": null}]))
        .await;
    let data = work.join("calibration");
    let addr = free_addr()?;
    let mut server = start_engage(bin, &data, &addr, &llm_env(&mock, concurrency, None))?;
    create_clients(&format!("http://{addr}"), 1, 1).await?;
    settle(&mut server, &db(&data)?, 60.0).await?;
    drop(server);
    let requests = mock.requests().await;
    let body = requests
        .first()
        .map(|r| &r["body"])
        .filter(|b| b.is_object())
        .context("the calibration run sent no request to llmock")?;
    Ok(request_tokens(body))
}

/// A sample from engage's `/metrics`: the lines starting `prefix`, summed over their labels.
pub(super) fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

pub(super) fn ms(v: f64) -> String {
    if v.is_nan() {
        "n/a".into()
    } else {
        format!("{v:.0} ms")
    }
}
