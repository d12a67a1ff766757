//! The three binaries start as Lambda starts them (the stack's environment, the
//! secrets as Secrets Manager ARNs, the resources in moto) and answer one event
//! through a minimal Lambda Runtime API served here on 127.0.0.1.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use engage_aws::testing::Moto;
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Clone)]
struct Runtime {
    event: Arc<Mutex<Option<Value>>>,
    done: mpsc::UnboundedSender<Result<Value, String>>,
}

async fn next(State(rt): State<Runtime>) -> axum::response::Response {
    let event = rt.event.lock().unwrap().take();
    let Some(event) = event else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut h = HeaderMap::new();
    h.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_static("req-1"),
    );
    h.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_str(&deadline.to_string()).unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:test"),
    );
    (h, event.to_string()).into_response()
}

async fn response(
    State(rt): State<Runtime>,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: String,
) -> StatusCode {
    assert_eq!(id, "req-1");
    let _ = rt
        .done
        .send(serde_json::from_str(&body).map_err(|e| e.to_string()));
    StatusCode::ACCEPTED
}

async fn error(State(rt): State<Runtime>, body: String) -> StatusCode {
    let _ = rt.done.send(Err(body));
    StatusCode::ACCEPTED
}

/// Runs `bin` with `env` against a Runtime API handing out `event`; its answer.
async fn invoke(bin: &str, env: &[(String, String)], event: Value) -> Result<Value, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(Runtime {
            event: Arc::new(Mutex::new(Some(event))),
            done: tx,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut child = Command::new(bin)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", &addr)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // The answer, or the process's exit (a start that fails ends the process).
    let waited = std::time::Instant::now();
    let answer = loop {
        if let Ok(a) = rx.try_recv() {
            break Some(a);
        }
        if child.try_wait().expect("the child's status").is_some()
            || waited.elapsed() > Duration::from_secs(60)
        {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = child.kill();
    let out = child.wait_with_output().expect("the binary stops");
    let logs = String::from_utf8_lossy(&out.stderr);
    match answer {
        Some(a) => a.map_err(|e| format!("{e}\n{logs}")),
        None => Err(format!("{bin} answered nothing\n{logs}")),
    }
}

async fn secret(sdk: &aws_config::SdkConfig, name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("a secret in moto")
        .arn
        .expect("its ARN")
}

/// What CloudFront sends as `X-Origin-Verify` in these tests.
const ORIGIN_SECRET: &str = "test-origin-secret-0123456789abcdef";

/// moto with the resources and secrets, and the stack's environment pointing at it.
async fn world() -> (Moto, Vec<(String, String)>) {
    let moto = Moto::start().await;
    let sdk = moto.sdk_config();
    let r = engage_aws::tables::Resources::with_prefix("lambda-test");
    let init = engage_aws::init(&sdk, &r).await.expect("the resources");
    let admin = secret(&sdk, "test/admin-token", "test-admin-token-0123456789").await;
    let unsubscribe = secret(
        &sdk,
        "test/unsubscribe-key",
        "test-unsubscribe-key-0123456789",
    )
    .await;
    let origin = secret(&sdk, "test/origin-verify", ORIGIN_SECRET).await;
    let env = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_LAMBDA_FUNCTION_NAME", "test"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "test"),
        ("ENGAGE_BACKEND", "aws"),
        ("ENGAGE_LOG_FORMAT", "json"),
        ("ENGAGE_PUBLIC_URL", "https://engage.example.com"),
        ("ENGAGE_MAIL__SENDER", "ses"),
        (
            "ENGAGE_FEEDBACK__SNS_TOPIC_ARNS",
            "[\"arn:aws:sns:us-east-1:123456789012:test-feedback\"]",
        ),
        ("ENGAGE_AWS__ENDPOINT_URL", &moto.endpoint),
        ("ENGAGE_AWS__USERS_TABLE", &r.users_table),
        ("ENGAGE_AWS__EMAILS_TABLE", &r.emails_table),
        ("ENGAGE_AWS__LEDGER_TABLE", &r.ledger_table),
        ("ENGAGE_AWS__EVENTS_TOPIC_ARN", &init.topic_arn),
        ("ENGAGE_AWS__EMAIL_QUEUE_URL", &init.email_queue_url),
        ("ENGAGE_AWS__EMAIL_QUEUE_ARN", &init.email_queue_arn),
        ("ENGAGE_AWS__EMAIL_DLQ_URL", &init.email_dlq_url),
        ("ENGAGE_AWS__ADMIN_TOKEN_SECRET_ARN", &admin),
        ("ENGAGE_AWS__UNSUBSCRIBE_SECRET_ARN", &unsubscribe),
        ("ENGAGE_AWS__ORIGIN_SECRET_ARN", &origin),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    (moto, env)
}

#[tokio::test]
async fn the_binaries_start_and_answer_one_event_each() {
    let (_moto, env) = world().await;

    let out = invoke(env!("CARGO_BIN_EXE_mailer"), &env, json!({"sweep": true}))
        .await
        .unwrap();
    assert!(out["sweep"]["sent"].is_number(), "{out}");

    let guard = json!({"Records": [{
        "eventID": "g", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_772_452_800.0,
            "Keys": {"pk": {"S": "email#ada@example.com"}},
            "NewImage": {"pk": {"S": "email#ada@example.com"}, "kind": {"S": "email"}, "user_id": {"S": "usr_1"}},
            "SequenceNumber": "1", "SizeBytes": 64, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    }]});
    // The stream function uses no secret, and starts without any.
    let no_secrets: Vec<_> = env
        .iter()
        .filter(|(k, _)| !k.ends_with("_SECRET_ARN"))
        .cloned()
        .collect();
    let out = invoke(env!("CARGO_BIN_EXE_stream"), &no_secrets, guard)
        .await
        .unwrap();
    assert_eq!(out, json!({"batchItemFailures": []}));

    let health = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/health", "rawQueryString": "",
        "headers": {"host": "test.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "test",
            "domainName": "test.execute-api.us-east-1.amazonaws.com", "domainPrefix": "test",
            "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
            "requestId": "r-1", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 1_764_374_400_000_i64
        },
        "isBase64Encoded": false
    });
    // Around CloudFront (no `X-Origin-Verify`): refused.
    let out = invoke(env!("CARGO_BIN_EXE_api"), &env, health.clone())
        .await
        .unwrap();
    assert_eq!(out["statusCode"], 403, "{out}");
    let mut through_cloudfront = health;
    through_cloudfront["headers"]["x-origin-verify"] = json!(ORIGIN_SECRET);
    let out = invoke(env!("CARGO_BIN_EXE_api"), &env, through_cloudfront)
        .await
        .unwrap();
    assert_eq!(out["statusCode"], 200, "{out}");

    // Without the unsubscribe key (neither its ARN nor the value), the mailer reports
    // its init error instead of serving.
    let without: Vec<_> = env
        .iter()
        .filter(|(k, _)| k != "ENGAGE_AWS__UNSUBSCRIBE_SECRET_ARN")
        .cloned()
        .collect();
    let e = invoke(
        env!("CARGO_BIN_EXE_mailer"),
        &without,
        json!({"sweep": true}),
    )
    .await
    .unwrap_err();
    assert!(e.contains("unsubscribe_secret"), "{e}");
}
