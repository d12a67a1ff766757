//! The Lambda functions' benchmark (`make bench-lambda`): builds `engage-lambda`'s
//! three binaries with cargo-lambda (`provided.al2023`, x86_64, zipped as the CDK
//! deploys them), reports each zip's size, and each function's local cold start:
//! from spawning the process to its first response, against a minimal Lambda Runtime
//! API served here on 127.0.0.1, with the AWS resources in moto. A plain Node.js
//! custom-runtime loop (no npm packages, as the seed's TypeScript functions would
//! start) is measured the same way, for comparison. The figures go to
//! `docs/benchmarks.lambda.md`, spliced into `docs/benchmarks.md` between
//! `<!-- bench-lambda:begin -->` and `<!-- bench-lambda:end -->` when that exists.
//!
//!     cargo run --release -p engage --example bench_lambda -- --runs 10
//!
//! cargo-lambda (and the zig linker it cross-compiles with) comes from PyPI:
//! `make bench-lambda` installs it into `.venv` (`tools/bench-requirements.txt`).

mod common;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const ZIP_TARGET_MB: f64 = 10.0;
const COLD_TARGET_MS: f64 = 50.0;

#[derive(Debug)]
struct Args {
    out: PathBuf,
    runs: usize,
    skip_build: bool,
}

fn args() -> Args {
    let mut a = Args {
        out: PathBuf::from("docs/benchmarks.md"),
        runs: 10,
        skip_build: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        match k.as_str() {
            "--out" => a.out = it.next().expect("--out PATH").into(),
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--skip-build" => a.skip_build = true,
            other => panic!("unknown argument {other} (--out PATH, --runs N, --skip-build)"),
        }
    }
    a
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// As the CDK stack bundles them: `[profile.lambda]` (stripped, LTO, size-optimised),
/// `engage-lambda`'s own features (no Swagger UI).
const BUILD: &str =
    "cargo lambda build --profile lambda --x86-64 -p engage-lambda --output-format zip";

/// `cargo lambda build`, with the venv's cargo-lambda and zig.
fn build() {
    let venv = root().join(".venv/bin");
    let cargo_lambda = venv.join("cargo-lambda");
    assert!(
        cargo_lambda.exists(),
        "{} is missing: run `make bench-lambda` (it installs tools/bench-requirements.txt, which has cargo-lambda)",
        cargo_lambda.display()
    );
    let path = format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new(&cargo_lambda)
        .args(BUILD.split(' ').skip(1))
        .current_dir(root())
        .env("PATH", path)
        .status()
        .expect("cargo-lambda runs");
    assert!(status.success(), "`{BUILD}` failed");
}

/// The function's zip, and its `bootstrap` extracted into `dir`.
fn unpack(name: &str, dir: &Path) -> (u64, PathBuf) {
    let zip = target_dir().join("lambda").join(name).join("bootstrap.zip");
    let size = std::fs::metadata(&zip)
        .unwrap_or_else(|e| panic!("{}: {e} (build first)", zip.display()))
        .len();
    let to = dir.join(name);
    let ok = Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(&to)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "unzipping {}", zip.display());
    let bin = to.join("bootstrap");
    let ok = Command::new("chmod")
        .arg("+x")
        .arg(&bin)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "chmod {}", bin.display());
    (size, bin)
}

/// What the runtime API saw of one invocation.
#[derive(Debug)]
enum Outcome {
    Response(Instant, Value),
    Error(String),
}

#[derive(Clone)]
struct Runtime {
    event: Arc<Mutex<Option<Value>>>,
    done: mpsc::UnboundedSender<Outcome>,
}

const REQUEST_ID: &str = "bench-0001";

async fn next(State(rt): State<Runtime>) -> axum::response::Response {
    let event = rt.event.lock().unwrap().take();
    let Some(event) = event else {
        // One event per process: later polls wait until the process is stopped.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut h = HeaderMap::new();
    h.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_static(REQUEST_ID),
    );
    h.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    h.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000;Sampled=0"),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (h, event.to_string()).into_response()
}

async fn response(
    State(rt): State<Runtime>,
    UrlPath(_id): UrlPath<String>,
    body: String,
) -> StatusCode {
    let at = Instant::now();
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = rt.done.send(Outcome::Response(at, v));
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Runtime>, body: String) -> StatusCode {
    let _ = rt.done.send(Outcome::Error(body));
    StatusCode::ACCEPTED
}

/// Serves one event on a fresh Runtime API; answers its address and the outcomes.
async fn runtime_api(event: Value) -> (String, mpsc::UnboundedReceiver<Outcome>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let rt = Runtime {
        event: Arc::new(Mutex::new(Some(event))),
        done: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(rt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, rx)
}

/// One cold start: spawn → the first response posted. Answers milliseconds and the
/// response.
async fn cold_start(program: &[String], env: &[(String, String)], event: &Value) -> (f64, Value) {
    let (addr, mut rx) = runtime_api(event.clone()).await;
    let started = Instant::now();
    let mut child = Command::new(&program[0])
        .args(&program[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &addr)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the function starts");
    let outcome = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    let _ = child.kill();
    let out = child.wait_with_output().expect("the function stops");
    let logs = String::from_utf8_lossy(&out.stderr);
    match outcome {
        Ok(Some(Outcome::Response(at, v))) => ((at - started).as_secs_f64() * 1000.0, v),
        Ok(Some(Outcome::Error(why))) => panic!("{program:?} answered an error: {why}\n{logs}"),
        _ => panic!("{program:?} answered nothing within 30 s\n{logs}"),
    }
}

/// A secret in moto's Secrets Manager (its JSON API, routed by the credential scope);
/// answers its ARN.
async fn create_secret(endpoint: &str, name: &str, value: &str) -> String {
    let out: Value = reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "secretsmanager.CreateSecret")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(json!({"Name": name, "SecretString": value}).to_string())
        .send()
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("JSON");
    out["ARN"]
        .as_str()
        .unwrap_or_else(|| panic!("CreateSecret: {out}"))
        .to_string()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    common::percentile(&v, 0.5)
}

/// A Node.js custom runtime: polls the Runtime API, answers each event (22 lines).
const NODE_BOOTSTRAP: &str = r#"const http = require('http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const base = '/2018-06-01/runtime/invocation/';
function next() {
  http.get({ host, port, path: base + 'next' }, (res) => {
    let body = '';
    res.on('data', (c) => (body += c));
    res.on('end', () => {
      const id = res.headers['lambda-runtime-aws-request-id'];
      const event = JSON.parse(body);
      const out = JSON.stringify({ ok: true, sweep: event.sweep === true });
      const req = http.request(
        { host, port, method: 'POST', path: base + id + '/response',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) } },
        (r) => { r.resume(); r.on('end', next); },
      );
      req.end(out);
    });
  });
}
next();
"#;

fn api_event() -> Value {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/health", "rawQueryString": "",
        "headers": {"host": "bench.execute-api.us-east-1.amazonaws.com", "user-agent": "bench"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com", "domainPrefix": "bench",
            "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
            "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 1_764_374_400_000_i64
        },
        "isBase64Encoded": false
    })
}

/// An address guard item of the Users table: the function decodes it and publishes
/// nothing.
fn stream_event() -> Value {
    json!({"Records": [{
        "eventID": "g", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_772_452_800.0,
            "Keys": {"pk": {"S": "email#ada@example.com"}},
            "NewImage": {"pk": {"S": "email#ada@example.com"}, "kind": {"S": "email"}, "user_id": {"S": "usr_1"}},
            "SequenceNumber": "1", "SizeBytes": 64, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }]})
}

#[tokio::main]
async fn main() {
    let a = args();
    if !a.skip_build {
        build();
    }
    let tmp = tempfile::tempdir().expect("a temp dir");

    let moto = engage_aws::testing::Moto::start().await;
    let resources = engage_aws::tables::Resources::with_prefix("bench");
    let init = engage_aws::init(&moto.sdk_config(), &resources)
        .await
        .expect("the resources in moto");
    let admin_arn = create_secret(&moto.endpoint, "bench/admin-token", common::TOKEN).await;
    let unsubscribe_arn = create_secret(
        &moto.endpoint,
        "bench/unsubscribe-key",
        "bench-unsubscribe-key-0123456789abcdef",
    )
    .await;

    // The stack's environment (infra/lib/functions.ts), pointed at moto. No OpenAI
    // key secret: the template writes the emails.
    let mut env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_LAMBDA_FUNCTION_NAME", "bench"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
        ("RUST_LOG", "info"),
        ("ENGAGE_BACKEND", "aws"),
        ("ENGAGE_LOG_FORMAT", "json"),
        ("ENGAGE_PUBLIC_URL", "https://engage.example.com"),
        ("ENGAGE_MAIL__SENDER", "ses"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in [
        ("ENGAGE_AWS__ENDPOINT_URL", moto.endpoint.clone()),
        ("ENGAGE_AWS__USERS_TABLE", resources.users_table.clone()),
        ("ENGAGE_AWS__EMAILS_TABLE", resources.emails_table.clone()),
        ("ENGAGE_AWS__LEDGER_TABLE", resources.ledger_table.clone()),
        ("ENGAGE_AWS__EVENTS_TOPIC_ARN", init.topic_arn.clone()),
        ("ENGAGE_AWS__EMAIL_QUEUE_URL", init.email_queue_url.clone()),
        ("ENGAGE_AWS__EMAIL_QUEUE_ARN", init.email_queue_arn.clone()),
        ("ENGAGE_AWS__EMAIL_DLQ_URL", init.email_dlq_url.clone()),
        ("ENGAGE_AWS__ADMIN_TOKEN_SECRET_ARN", admin_arn),
        ("ENGAGE_AWS__UNSUBSCRIBE_SECRET_ARN", unsubscribe_arn),
    ] {
        env.push((k.into(), v));
    }
    // As the stack: SES feedback on, from its topic (no certificate is fetched at start).
    env.push((
        "ENGAGE_FEEDBACK__SNS_TOPIC_ARNS".into(),
        "[\"arn:aws:sns:us-east-1:123456789012:bench-feedback\"]".into(),
    ));

    let events = [
        (
            "api",
            api_event(),
            "`GET /health` (API Gateway HTTP API, payload 2.0): DescribeTable and three GetQueueAttributes in moto; at start, two Secrets Manager reads",
        ),
        (
            "stream",
            stream_event(),
            "a batch of one address guard record: decoded, nothing to publish (no AWS call); no secret",
        ),
        (
            "mailer",
            json!({"sweep": true}),
            "`{\"sweep\": true}`: the scheduler's DynamoDB queries in moto; at start, one Secrets Manager read",
        ),
    ];
    let mut rows = Vec::new();
    let mut total_zip = 0;
    for (name, event, what) in &events {
        let (size, bin) = unpack(name, tmp.path());
        total_zip += size;
        let program = vec![bin.display().to_string()];
        let mut times = Vec::new();
        let mut last = Value::Null;
        for _ in 0..a.runs {
            let (ms, out) = cold_start(&program, &env, event).await;
            times.push(ms);
            last = out;
        }
        let (min, max) = (
            times.iter().copied().fold(f64::MAX, f64::min),
            times.iter().copied().fold(0.0, f64::max),
        );
        let med = median(times);
        eprintln!(
            "bench-lambda: {name}: zip {:.2} MB, cold start median {med:.1} ms (min {min:.1}, max {max:.1}); answered {}",
            size as f64 / 1e6,
            truncate(&last.to_string(), 200)
        );
        rows.push((name.to_string(), size, med, min, max, what.to_string()));
    }

    // The Node.js baseline: the same Runtime API, the mailer's event.
    let node_dir = tmp.path().join("node");
    std::fs::create_dir_all(&node_dir).unwrap();
    let script = node_dir.join("bootstrap.js");
    std::fs::write(&script, NODE_BOOTSTRAP).unwrap();
    let node_version = common::sh("node --version");
    let node_program = vec!["node".to_string(), script.display().to_string()];
    let mut node_times = Vec::new();
    for _ in 0..a.runs {
        let (ms, _) = cold_start(&node_program, &env, &json!({"sweep": true})).await;
        node_times.push(ms);
    }
    let node_min = node_times.iter().copied().fold(f64::MAX, f64::min);
    let node_max = node_times.iter().copied().fold(0.0, f64::max);
    let node_med = median(node_times);
    eprintln!(
        "bench-lambda: node {node_version}: cold start median {node_med:.1} ms (min {node_min:.1}, max {node_max:.1})"
    );

    let mut table = String::new();
    let verdict = |mb: f64| if mb < ZIP_TARGET_MB { "met" } else { "NOT met" };
    for (name, size, ..) in &rows {
        let mb = *size as f64 / 1e6;
        table.push_str(&format!(
            "| `{name}` zip size | {mb:.2} MB | < {ZIP_TARGET_MB:.0} MB ({}) | `target/lambda/{name}/bootstrap.zip` from `{BUILD}`, as the CDK stack deploys it |\n",
            verdict(mb)
        ));
    }
    for (name, _, med, min, max, what) in &rows {
        let verdict = if *med < COLD_TARGET_MS {
            "met"
        } else {
            "NOT met"
        };
        table.push_str(&format!(
            "| `{name}` local cold start | {med:.1} ms median (min {min:.1}, max {max:.1}) | < {COLD_TARGET_MS:.0} ms ({verdict}) | spawn of the unzipped `bootstrap` → its response POST, {runs} runs; event: {what} |\n",
            runs = a.runs
        ));
    }
    table.push_str(&format!(
        "| Node.js baseline cold start | {node_med:.1} ms median (min {node_min:.1}, max {node_max:.1}) | reported | `node bootstrap.js` ({node_version}): a 22-line custom-runtime loop on the `http` module, no npm packages and no AWS SDK, answering the mailer's event; {runs} runs |\n",
        runs = a.runs
    ));
    let md = format!(
        "## Lambda functions: size and local cold start\n\n\
         Written by `make bench-lambda` (`crates/engage/examples/bench_lambda.rs`); rerun it to refresh.\n\n\
         - date: {date}\n- machine: {machine}\n\
         - command: `{BUILD}` (cargo-lambda and zig from `.venv`, `tools/bench-requirements.txt`), then each zip's `bootstrap` started {runs} times\n\
         - runtime API: a minimal one served by the benchmark on 127.0.0.1 (`AWS_LAMBDA_RUNTIME_API`): `GET …/invocation/next` hands out one event with its request id and deadline, the time stops at `POST …/invocation/{{id}}/response`\n\
         - AWS: moto 5.2.5 on 127.0.0.1 (`tools/moto_peer.py`), resources made by `engage_aws::init`, the stack's environment (`infra/lib/functions.ts`) with the admin token and unsubscribe key as Secrets Manager ARNs\n\n\
         | measure | result | target | how |\n|---|---|---|---|\n{table}\n\
         All three zips together: {total:.2} MB. A local cold start is the process's own start (loading the binary, \
         the configuration, the secrets, the clients) and its first event over loopback; Lambda adds the \
         download and unpacking of the zip, the sandbox's start and real AWS latencies (Secrets Manager, \
         DynamoDB: a few ms each inside a region). The Node.js baseline does no work at all (no configuration, no \
         SDK, no AWS call): it is the floor of a Node.js function's start, which the seed's TypeScript \
         functions, with the AWS SDK v3 bundled, would be above.\n",
        date = common::sh("date -u +%Y-%m-%dT%H:%MZ"),
        machine = common::machine(),
        runs = a.runs,
        total = total_zip as f64 / 1e6,
    );
    println!("{md}");
    std::fs::write(common::section_path(&a.out, "lambda"), &md).expect("writing the section");
    if let Ok(report) = std::fs::read_to_string(&a.out) {
        std::fs::write(&a.out, common::splice_section(&report, "lambda", &md))
            .expect("writing the report");
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}
