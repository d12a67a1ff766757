//! The AWS backend end to end against the AWS emulator (moto's server on 127.0.0.1):
//! `engage_aws::init` creates the resources, the application serves on them with its
//! background tasks running, and a client created over HTTP goes the whole way —
//! API → DynamoDB → the Users table's stream → SNS → SQS → the email processor → the
//! sender → the Emails table — to the same decision and email as on the embedded
//! backend.

use crate::helpers::*;
use engage::Application;
use engage::config::{Backend, Config};
use engage_aws::testing::Moto;
use engage_aws::{SnsPublisher, StreamPoller};
use engage_core::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct AwsApp {
    base: String,
    http: reqwest::Client,
    moto: Moto,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

async fn spawn_aws_app() -> AwsApp {
    spawn_aws_app_with(Moto::start().await, |_| {}).await
}

async fn spawn_aws_app_with(moto: Moto, tweak: impl FnOnce(&mut Config)) -> AwsApp {
    let report = engage_aws::init(&moto.sdk_config(), &Default::default())
        .await
        .expect("init creates the resources");
    assert!(!report.created.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        admin_token: Some(TOKEN.into()),
        unsubscribe_secret: Some("aws-test-unsubscribe-secret-0123".into()),
        backend: Backend::Aws,
        ..Config::default()
    };
    config.aws.endpoint_url = Some(moto.endpoint.clone());
    config.aws.region = Some("us-east-1".into());
    config.pipeline.autostart = true;
    config.pipeline.workers = 2;
    tweak(&mut config);
    config.validate().expect("a valid configuration");
    let clock = Arc::new(ManualClock::new(t0()));
    let app = Application::build_with(config, clock, Some(moto.sdk_config()))
        .await
        .expect("the AWS app builds");
    assert!(app.pipeline().is_none() && app.aws().is_some());
    let base = format!("http://{}", app.addr());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    AwsApp {
        base,
        http: reqwest::Client::new(),
        moto,
        data_dir: dir.path().to_path_buf(),
        _dir: dir,
        stop: Some(tx),
        server: Some(server),
    }
}

impl AwsApp {
    async fn get_json(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    async fn items(&self, path: &str) -> Vec<Value> {
        self.get_json(path).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits (up to 30 s) until the client has a `sent` email; answers its decisions
    /// and emails then.
    async fn wait_for_sent(&self, id: &str) -> (Vec<Value>, Vec<Value>) {
        for _ in 0..300 {
            let emails = self
                .items(&format!("/api/v1/users/{id}/emails?limit=200"))
                .await;
            if emails.iter().any(|e| e["status"] == "sent") {
                let decisions = self
                    .items(&format!("/api/v1/users/{id}/decisions?limit=200"))
                    .await;
                return (decisions, emails);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no email was sent to {id} within 30 s");
    }

    fn outbox_files(&self) -> usize {
        std::fs::read_dir(self.data_dir.join("outbox"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(15), h)
                .await
                .expect("the host stops on the shutdown signal")
                .unwrap()
                .unwrap();
        }
    }
}

/// What the comparison looks at: the decision's outcome and campaign, the email's
/// campaign and status.
fn summary(decisions: &[Value], emails: &[Value]) -> Value {
    json!({
        "decisions": decisions.iter().map(|d| json!([d["outcome"], d["campaign"], d["event_type"]])).collect::<Vec<_>>(),
        "emails": emails.iter().map(|e| json!([e["campaign"], e["status"]])).collect::<Vec<_>>(),
    })
}

fn ada() -> Value {
    json!({"email": "ada@example.com", "first_name": "Ada", "time_zone": "Europe/London", "email_opt_in": true})
}

#[tokio::test]
async fn a_new_client_gets_the_same_welcome_email_on_aws_as_embedded() {
    let mut app = spawn_aws_app().await;
    let health = app.get_json("/health").await;
    assert!(health.to_string().contains("dynamodb"), "{health}");
    let mail = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mail")
        .unwrap();
    assert_eq!(mail["status"], "up", "{health}");

    let r = app
        .http
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(TOKEN)
        .json(&ada())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (decisions, emails) = app.wait_for_sent(&id).await;
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert_eq!(app.outbox_files(), 1);
    assert!(emails[0]["subject"].as_str().unwrap().contains("Ada"));
    // `/metrics` serves the counters (the store's gauges are embedded-only).
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("engage_events_total"), "{metrics}");

    // The embedded backend, same clock and campaigns, comes to the same.
    let embedded = spawn_app().await;
    let eid = embedded.create_user(ada()).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    embedded.settle().await;
    let expected = summary(
        &embedded.decisions(&eid).await,
        &embedded.emails(&eid).await,
    );
    assert_eq!(summary(&decisions, &emails), expected);
    assert_eq!(
        summary(&decisions, &emails),
        json!({"decisions": [["send", "welcome", "client_created"]], "emails": [["welcome", "sent"]]})
    );

    // The stream read again from its start (as after a restart) publishes the same
    // events again: nothing is decided or sent twice.
    let sdk = app.moto.sdk_config();
    let sns = aws_sdk_sns::Client::new(&sdk);
    let topic = engage_aws::sns::find_topic_arn(&sns, "engage-events")
        .await
        .unwrap()
        .unwrap();
    let mut poller = StreamPoller::new(
        &sdk,
        "engage-users",
        Arc::new(SnsPublisher::new(sns, topic)),
    );
    let again = poller.poll_once().await.unwrap();
    assert!(again.events >= 1, "{again:?}");
    // Let the workers take the redelivered events off the queue.
    let queue = engage_aws::SqsQueue::named(aws_sdk_sqs::Client::new(&sdk), "engage-email")
        .await
        .unwrap();
    // (The emulator delivers from the topic to the queue within the publish.)
    for _ in 0..100 {
        if queue_depth(&sdk, queue.url()).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        queue_depth(&sdk, queue.url()).await,
        0,
        "the workers took the events again and were done with them"
    );
    let decisions = app
        .items(&format!("/api/v1/users/{id}/decisions?limit=200"))
        .await;
    let emails = app
        .items(&format!("/api/v1/users/{id}/emails?limit=200"))
        .await;
    assert_eq!(summary(&decisions, &emails), expected);
    assert_eq!(app.outbox_files(), 1, "nothing was sent twice");

    app.stop().await;
}

/// Messages visible or in flight in the queue.
async fn queue_depth(sdk: &aws_config::SdkConfig, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let a = aws_sdk_sqs::Client::new(sdk)
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|k| a.get(k).and_then(|v| v.parse::<u64>().ok()))
    .sum()
}

#[tokio::test]
async fn init_is_idempotent_and_dead_letters_are_listed_and_redriven() {
    let mut app = spawn_aws_app().await;
    let sdk = app.moto.sdk_config();
    let report = engage_aws::init(&sdk, &Default::default()).await.unwrap();
    assert!(report.created.is_empty(), "{:?}", report.created);
    let printed = report.to_string();
    assert!(
        printed.starts_with("everything was already in place"),
        "{printed}"
    );

    // A dead letter, as SQS leaves one after the maximum receives: the event in
    // SNS's envelope.
    let event = engage_core::change::Event::rescore(
        &engage_core::ids::UserId::from_string("usr_gone"),
        1,
        t0(),
    );
    let envelope = json!({
        "Type": "Notification",
        "MessageId": "sns-1",
        "Message": engage_core::records::encode_event(&event).unwrap(),
        "MessageAttributes": {"event_type": {"Type": "String", "Value": "rescore_due"}},
    });
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    sqs.send_message()
        .queue_url(&report.email_dlq_url)
        .message_body(envelope.to_string())
        .send()
        .await
        .unwrap();

    let listed = app.items("/api/v1/dead-letters").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["source_queue"], "engage-email");
    assert_eq!(listed[0]["body"]["id"], event.id.to_string());
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let one = app.get_json(&format!("/api/v1/dead-letters/{id}")).await;
    assert_eq!(one["body"]["type"], "rescore_due");
    // Looking leaves it there.
    assert_eq!(app.items("/api/v1/dead-letters").await.len(), 1);

    let r = app
        .http
        .post(format!("{}/api/v1/dead-letters/nope/redrive", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app
        .http
        .post(format!("{}/api/v1/dead-letters/{id}/redrive", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(app.items("/api/v1/dead-letters").await.is_empty());
    // The workers take the redriven event and are done with it.
    for _ in 0..100 {
        if queue_depth(&sdk, &report.email_queue_url).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(queue_depth(&sdk, &report.email_queue_url).await, 0);
    assert_eq!(queue_depth(&sdk, &report.email_dlq_url).await, 0);

    // Replay is not available on AWS (the stream keeps 24 hours).
    let r = app
        .http
        .post(format!("{}/api/v1/replay", app.base))
        .bearer_auth(TOKEN)
        .json(&json!({"from": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::NOT_IMPLEMENTED);
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/not-implemented", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("24 hours"),
        "{problem}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_failing_message_is_released_with_backoff_and_reaches_the_dead_letter_queue() {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    // A queue like the email queue, but moved to its DLQ after 2 receives.
    let moto = Moto::start().await;
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config());
    let dlq_url = sqs
        .create_queue()
        .queue_name("poison-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = "arn:aws:sqs:us-east-1:123456789012:poison-dlq";
    let queue_url = sqs
        .create_queue()
        .queue_name("poison")
        .attributes(
            A::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let (q, d) = (queue_url.clone(), dlq_url.clone());
    let mut app = spawn_aws_app_with(moto, move |c| {
        c.aws.email_queue_url = Some(q);
        c.aws.email_dlq_url = Some(d);
    })
    .await;
    let sent = std::time::Instant::now();
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("{not json")
        .send()
        .await
        .unwrap();

    // Each failed receive releases it with a backoff (1.75 to 2.25 s after the first,
    // twice that after the second); the receive after the second failure moves it to
    // the DLQ. So it cannot get there sooner than 5.25 s after it was sent: a lower
    // bound, which a loaded machine only makes longer. Released at once instead, it
    // would be there within a few hundred milliseconds.
    let sdk = app.moto.sdk_config();
    let mut arrived = None;
    for _ in 0..600 {
        if queue_depth(&sdk, &dlq_url).await == 1 {
            arrived = Some(sent.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrived = arrived.expect("in the DLQ within a minute");
    assert!(
        arrived >= Duration::from_millis(5250),
        "moved after {arrived:?}: the failures were not backed off"
    );
    assert_eq!(queue_depth(&sdk, &queue_url).await, 0);
    let letters = app.items("/api/v1/dead-letters").await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["source_queue"], "poison");
    app.stop().await;
}

#[tokio::test]
async fn the_consoles_reads_that_would_scan_dynamodb_answer_501_and_the_rest_work() {
    let mut app = spawn_aws_app().await;
    let r = app
        .http
        .post(format!("{}/api/v1/users", app.base))
        .bearer_auth(TOKEN)
        .json(&ada())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["suppressed"], false, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (_, emails) = app.wait_for_sent(&id).await;

    // Filters are read as the scan goes, as `q` and `tier` are.
    let subscribed = app.items("/api/v1/users?status=subscribed").await;
    assert_eq!(subscribed.len(), 1);
    assert!(
        app.items("/api/v1/users?email_opt_in=false")
            .await
            .is_empty()
    );
    assert_eq!(app.items("/api/v1/campaigns").await.len(), 5);

    let email = emails[0]["id"].as_str().unwrap();
    for path in [
        "/api/v1/users?sort=-score".to_string(),
        "/api/v1/stats".to_string(),
        format!("/api/v1/users/{id}/changes"),
        format!("/api/v1/emails/{email}/raw"),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::NOT_IMPLEMENTED, "{path}");
        let problem: Value = r.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/not-implemented", "{problem}");
        assert!(
            problem["detail"].as_str().unwrap().contains("DynamoDB")
                || problem["detail"].as_str().unwrap().contains("SES"),
            "{path}: {problem}"
        );
    }
    app.stop().await;
}
