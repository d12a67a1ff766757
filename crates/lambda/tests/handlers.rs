//! The Lambda handlers driven with the payloads Lambda delivers (DynamoDB Streams and
//! SQS events as JSON, decoded into `aws_lambda_events` types), over the engine's
//! real embedded adapters (SQLite in a temporary directory, the outbox sender).

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use engage_core::StoreError;
use engage_core::change::{Event, event_for_change};
use engage_core::client::{Client, NewClientFields};
use engage_core::clock::ManualClock;
use engage_core::config::EngineConfig;
use engage_core::ports::{ContentGenerator, EventPublisher};
use engage_core::processor::Engine;
use engage_core::records;
use engage_core::service::ClientService;
use engage_core::unsubscribe::UnsubscribeLinks;
use engage_embedded::queue::{EMAIL_QUEUE, QueueSettings};
use engage_embedded::{Durability, Store};
use engage_lambda::{mailer, stream};
use engage_llm::TemplateGenerator;
use engage_mail::OutboxSender;
use serde_json::{Value, json};
use std::sync::Arc;

struct World {
    store: Store,
    engine: Engine,
    clients: ClientService,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap(),
    ));
    let store = Store::open(
        &dir.path().join("engage.db"),
        Durability::Normal,
        clock.clone(),
    )
    .unwrap();
    let s = Arc::new(store.clone());
    let template: Arc<dyn ContentGenerator> = Arc::new(TemplateGenerator);
    let config = EngineConfig::default();
    let engine = Engine {
        clients: s.clone(),
        ledger: s.clone(),
        generator: template.clone(),
        fallback: template,
        sender: Arc::new(OutboxSender::new(dir.path().join("outbox")).unwrap()),
        publisher: s.clone(),
        suppressions: s.clone(),
        links: UnsubscribeLinks::new("https://engage.test", b"key-for-the-lambda-tests"),
        clock: clock.clone(),
        config: Arc::new(config),
    };
    World {
        clients: ClientService::new(s.clone(), s, clock),
        store,
        engine,
        dir,
    }
}

async fn new_client(w: &World, email: &str) -> Client {
    w.clients
        .create(
            NewClientFields {
                email: email.into(),
                first_name: "Ada".into(),
                last_name: None,
                time_zone: "Europe/London".into(),
                email_opt_in: true,
                profile: None,
            }
            .check()
            .expect("a valid client"),
        )
        .await
        .unwrap()
}

/// A stream record as Lambda delivers it for the Users table (the item layout of
/// `engage_aws::tables`).
fn stream_record(seq: &str, old: Option<&Client>, new: Option<&Client>) -> Value {
    let image = |c: Option<&Client>| match c {
        None => json!({}),
        Some(c) => json!({
            "pk": {"S": c.id.as_str()}, "kind": {"S": "user"},
            "version": {"N": c.version.to_string()},
            "email": {"S": c.email.normalized()},
            "body": {"S": records::encode_client(c).unwrap()}
        }),
    };
    let id = new.or(old).unwrap().id.as_str().to_string();
    json!({
        "eventID": format!("e-{seq}"), "eventName": if old.is_none() { "INSERT" } else if new.is_none() { "REMOVE" } else { "MODIFY" },
        "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/engage-users/stream/2026-03-02T00:00:00.000",
        "dynamodb": {
            "ApproximateCreationDateTime": 1772452800.0,
            "Keys": {"pk": {"S": id}},
            "NewImage": image(new), "OldImage": image(old),
            "SequenceNumber": seq, "SizeBytes": 512, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

fn guard_record(seq: &str) -> Value {
    json!({
        "eventID": "g", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1772452800.0,
            "Keys": {"pk": {"S": "email#ada@example.com"}},
            "NewImage": {"pk": {"S": "email#ada@example.com"}, "kind": {"S": "email"}, "user_id": {"S": "usr_1"}},
            "SequenceNumber": seq, "SizeBytes": 64, "StreamViewType": "NEW_AND_OLD_IMAGES"
        }
    })
}

/// An SQS record whose body is the SNS envelope SNS delivers to a subscribed queue.
fn sqs_record(message_id: &str, event: &Event) -> Value {
    let envelope = json!({
        "Type": "Notification", "MessageId": format!("sns-{message_id}"),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:engage-events",
        "Message": records::encode_event(event).unwrap(),
        "Timestamp": "2026-03-02T12:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem",
        "MessageAttributes": {"event_type": {"Type": "String", "Value": event.event_type.as_str()}}
    });
    json!({
        "messageId": message_id, "receiptHandle": format!("rh-{message_id}"),
        "body": envelope.to_string(), "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "md5OfBody": "0", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:engage-email", "awsRegion": "us-east-1"
    })
}

#[tokio::test]
async fn stream_records_become_events_on_the_topic_and_guard_items_nothing() {
    let w = world();
    let ada = new_client(&w, "ada@example.com").await;
    let mut renamed = ada.clone();
    renamed.first_name = "Adeline".into();
    renamed.version += 1;
    let payload = json!({"Records": [
        stream_record("100", None, Some(&ada)),
        guard_record("101"),
        stream_record("102", Some(&ada), Some(&renamed)),
    ]});
    let batch = serde_json::from_value(payload).expect("a DynamoDB stream event");
    let response = stream::handle(&w.store, batch).await;
    assert!(response.batch_item_failures.is_empty());

    let got = w
        .store
        .receive(EMAIL_QUEUE, 10, QueueSettings::default())
        .await
        .unwrap();
    let events: Vec<Event> = got
        .iter()
        .map(|m| records::decode_event(&m.body).unwrap())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].event_type.as_str(), "client_created");
    assert_eq!(events[0].id.as_str(), "evt_100");
    assert_eq!(events[1].changed_fields, ["first_name"]);
    assert_eq!(events[1].user_version, renamed.version);
}

struct Unreachable;

#[async_trait]
impl EventPublisher for Unreachable {
    async fn publish(&self, _: Vec<Event>) -> Result<(), StoreError> {
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "SNS: connection refused"
        )))
    }
}

#[tokio::test]
async fn a_failed_publish_reports_the_first_record_for_retry() {
    let w = world();
    let ada = new_client(&w, "ada-retry@example.com").await;
    let payload = json!({"Records": [guard_record("7"), stream_record("8", None, Some(&ada))]});
    let response = stream::handle(&Unreachable, serde_json::from_value(payload).unwrap()).await;
    let ids: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        ids,
        [Some("7".to_string())],
        "the shard resumes at the batch's first record"
    );
}

#[tokio::test]
async fn the_mailer_decides_sends_once_and_reports_exactly_the_failed_messages() {
    let w = world();
    let ada = new_client(&w, "ada-mailer@example.com").await;
    let change = w.store.changes_after(0, 10).await.unwrap().remove(0);
    let event = event_for_change(&change).unwrap();
    let payload = json!({"Records": [
        sqs_record("m-1", &event),
        {"messageId": "m-2", "receiptHandle": "rh", "body": "{not json", "attributes": {}, "messageAttributes": {},
         "eventSource": "aws:sqs", "awsRegion": "us-east-1"},
    ]});
    let out = mailer::handle(&w.engine, None, payload.clone())
        .await
        .unwrap();
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": "m-2"}]),
        "{out}"
    );

    let emails = engage_core::ports::EmailHistory::list_emails(
        &w.store,
        &engage_core::ports::EmailQuery {
            user_id: Some(ada.id.clone()),
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .items;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0].status.as_str(), "sent");

    // SQS redelivers the same message: the claim makes it a duplicate, nothing is resent.
    let again = mailer::handle(&w.engine, None, payload).await.unwrap();
    assert_eq!(
        again["batchItemFailures"],
        json!([{"itemIdentifier": "m-2"}])
    );
    let files = std::fs::read_dir(w.dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(files, 1, "sent once");
}

#[tokio::test]
async fn the_sweep_runs_the_scheduler() {
    let w = world();
    let out = mailer::handle(&w.engine, None, json!({"sweep": true}))
        .await
        .unwrap();
    assert_eq!(out["sweep"]["sent"], 0, "{out}");
    let e = mailer::handle(&w.engine, None, json!({"nonsense": 1}))
        .await
        .unwrap_err();
    assert!(e.contains("not an SQS event"), "{e}");
}
