//! The AWS backend's messaging against the AWS emulator (moto's server on 127.0.0.1,
//! real HTTP): `init` is idempotent; client writes show in the Users table's stream,
//! read back as change records (guard items as none); the poller publishes their
//! events on the SNS topic, which delivers them to the SQS queue in SNS's envelope
//! with the `event_type` attribute; a message received too often ends in the DLQ.

use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use engage_aws::stream::change_record;
use engage_aws::tables::Resources;
use engage_aws::testing::Moto;
use engage_aws::{
    DynamoClients, InitReport, SnsPublisher, SqsQueue, StreamCheckpoints, StreamPoller,
};
use engage_core::StoreError;
use engage_core::change::{Event, EventType, event_for_change};
use engage_core::client::{Client, NewClientFields};
use engage_core::ids::{EventId, UserId};
use engage_core::ports::{ClientStore, EventPublisher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn client(email: &str, first: &str) -> Client {
    NewClientFields {
        email: email.into(),
        first_name: first.into(),
        last_name: None,
        time_zone: "Europe/Paris".into(),
        email_opt_in: true,
        profile: None,
    }
    .check()
    .unwrap()
    .into_client(UserId::generate(), Utc::now())
}

/// Keeps what it is given to publish.
#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

#[async_trait::async_trait]
impl EventPublisher for Recorder {
    async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError> {
        self.0.lock().unwrap().extend(events);
        Ok(())
    }
}

impl Recorder {
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

struct Env {
    moto: Moto,
    config: aws_config::SdkConfig,
    resources: Resources,
    report: InitReport,
}

async fn env() -> Env {
    let moto = Moto::start().await;
    let config = moto.sdk_config();
    let resources = Resources::with_prefix("test");
    let report = engage_aws::init(&config, &resources).await.expect("init");
    Env {
        moto,
        config,
        resources,
        report,
    }
}

impl Env {
    fn store(&self) -> DynamoClients {
        DynamoClients::for_resources(aws_sdk_dynamodb::Client::new(&self.config), &self.resources)
    }

    fn queue(&self) -> SqsQueue {
        SqsQueue::new(
            aws_sdk_sqs::Client::new(&self.config),
            &self.report.email_queue_url,
        )
    }

    fn publisher(&self) -> SnsPublisher {
        SnsPublisher::new(
            aws_sdk_sns::Client::new(&self.config),
            &self.report.topic_arn,
        )
    }

    /// Every record of the Users table's stream, read directly with the SDK.
    async fn stream_records(&self) -> Vec<Record> {
        let streams = aws_sdk_dynamodbstreams::Client::new(&self.config);
        let d = streams
            .describe_stream()
            .stream_arn(&self.report.users_stream_arn)
            .send()
            .await
            .unwrap()
            .stream_description
            .unwrap();
        let mut out = Vec::new();
        for shard in d.shards() {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&self.report.users_stream_arn)
                .shard_id(shard.shard_id().unwrap())
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .unwrap()
                .shard_iterator;
            while let Some(i) = iterator {
                let page = streams
                    .get_records()
                    .shard_iterator(i)
                    .send()
                    .await
                    .unwrap();
                let records = page.records.unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                out.extend(records);
                iterator = page.next_shard_iterator;
            }
        }
        out
    }

    /// Receives until `n` messages came or a few empty receives in a row.
    async fn receive(&self, queue: &SqsQueue, n: usize) -> Vec<engage_aws::QueueMessage> {
        let mut got = Vec::new();
        let mut empty = 0;
        while got.len() < n && empty < 3 {
            let batch = queue.receive(10, Duration::from_secs(1)).await.unwrap();
            if batch.is_empty() {
                empty += 1;
            }
            got.extend(batch);
        }
        got
    }
}

#[tokio::test]
async fn init_is_idempotent() {
    let env = env().await;
    let first = &env.report;
    assert_eq!(
        first.created.len(),
        7,
        "three tables, the topic, two queues and the subscription: {:?}",
        first.created
    );
    assert!(first.created.contains(&"table test-ledger".to_string()));
    let again = engage_aws::init(&env.config, &env.resources).await.unwrap();
    assert_eq!(again.created, Vec::<String>::new());
    assert_eq!(again.updated, Vec::<String>::new());
    assert_eq!(
        (
            &again.topic_arn,
            &again.email_queue_url,
            &again.subscription_arn,
            &again.users_stream_arn
        ),
        (
            &first.topic_arn,
            &first.email_queue_url,
            &first.subscription_arn,
            &first.users_stream_arn
        )
    );

    let sns = aws_sdk_sns::Client::new(&env.config);
    let subs = sns
        .list_subscriptions_by_topic()
        .topic_arn(&first.topic_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        subs.subscriptions().len(),
        1,
        "one subscription after two runs"
    );
    let attrs = sns
        .get_subscription_attributes()
        .subscription_arn(&first.subscription_arn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(&attrs["FilterPolicy"]).unwrap();
    assert_eq!(policy["event_type"].as_array().unwrap().len(), 11);
    assert!(
        policy["event_type"]
            .as_array()
            .unwrap()
            .contains(&"rescore_due".into())
    );

    let sqs = aws_sdk_sqs::Client::new(&env.config);
    let q = sqs
        .get_queue_attributes()
        .queue_url(&first.email_queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(q[&QueueAttributeName::VisibilityTimeout], "180");
    let redrive: serde_json::Value =
        serde_json::from_str(&q[&QueueAttributeName::RedrivePolicy]).unwrap();
    assert_eq!(redrive["deadLetterTargetArn"], first.email_dlq_arn.as_str());
    assert_eq!(
        redrive["maxReceiveCount"].to_string().trim_matches('"'),
        "5"
    );
    assert!(q[&QueueAttributeName::Policy].contains(&first.topic_arn));

    let table = aws_sdk_dynamodb::Client::new(&env.config)
        .describe_table()
        .table_name(&env.resources.users_table)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let spec = table.stream_specification().unwrap();
    assert!(spec.stream_enabled());
    assert_eq!(
        spec.stream_view_type(),
        Some(&aws_sdk_dynamodb::types::StreamViewType::NewAndOldImages)
    );
}

#[tokio::test]
async fn client_writes_become_change_records_and_guards_none() {
    let env = env().await;
    let store = env.store();
    let ada = client("ada@example.com", "Ada");
    store.insert(ada.clone()).await.unwrap();
    let mut v2 = ada.clone();
    v2.version = 2;
    v2.first_name = "Augusta".into();
    v2.email = engage_core::client::EmailAddress::parse("countess@example.com").unwrap();
    store.replace(v2.clone(), 1).await.unwrap();
    store.delete(&ada.id, Some(2)).await.unwrap();

    let records = env.stream_records().await;
    // Insert: user + guard; replace: user + new guard + old guard; delete: user + guard.
    assert_eq!(records.len(), 7, "{records:#?}");
    let changes: Vec<_> = records.iter().map(|r| change_record(r).unwrap()).collect();
    let guards = records
        .iter()
        .zip(&changes)
        .filter(|(r, _)| {
            r.dynamodb()
                .and_then(|d| d.keys())
                .and_then(|k| k.get("pk"))
                .and_then(|v| v.as_s().ok())
                .is_some_and(|pk| pk.starts_with("email#"))
        })
        .map(|(_, c)| c)
        .collect::<Vec<_>>();
    assert_eq!(guards.len(), 4);
    assert!(
        guards.iter().all(|c| c.is_none()),
        "guard items are no change"
    );

    let changes: Vec<_> = changes.into_iter().flatten().collect();
    assert_eq!(changes.len(), 3);
    let (created, updated, deleted) = (&changes[0], &changes[1], &changes[2]);
    assert_eq!(
        (created.old.as_ref(), created.new.as_ref()),
        (None, Some(&ada))
    );
    assert_eq!(
        (updated.old.as_ref(), updated.new.as_ref()),
        (Some(&ada), Some(&v2))
    );
    assert_eq!(
        (deleted.old.as_ref(), deleted.new.as_ref()),
        (Some(&v2), None)
    );
    for (c, r) in changes.iter().zip(
        records
            .iter()
            .filter(|r| change_record(r).unwrap().is_some()),
    ) {
        assert_eq!(c.user_id, ada.id);
        assert_eq!(
            Some(c.seq.as_str()),
            r.dynamodb().unwrap().sequence_number()
        );
        assert!((Utc::now() - c.committed_at).num_minutes().abs() < 5);
    }

    let events: Vec<_> = changes.iter().filter_map(event_for_change).collect();
    assert_eq!(
        events.iter().map(|e| e.event_type).collect::<Vec<_>>(),
        [
            EventType::ClientCreated,
            EventType::ContactUpdated,
            EventType::ClientDeleted
        ]
    );
    assert_eq!(events[1].changed_fields, ["email", "first_name"]);
    assert_eq!(events[1].id, EventId::for_change(&updated.seq));
}

#[tokio::test]
async fn the_poller_publishes_events_that_arrive_in_the_queue() {
    let env = env().await;
    let store = env.store();
    let ada = client("ada@example.com", "Ada");
    store.insert(ada.clone()).await.unwrap();
    let mut v2 = ada.clone();
    v2.version = 2;
    v2.consent.email_opt_in = false;
    store.replace(v2.clone(), 1).await.unwrap();
    // A bookkeeping-only write is a stream record but no event.
    let mut v3 = v2.clone();
    v3.version = 3;
    v3.updated_at = Utc::now();
    store.replace(v3, 2).await.unwrap();

    let mut poller = StreamPoller::new(
        &env.config,
        &env.resources.users_table,
        Arc::new(env.publisher()),
    );
    let report = poller.poll_once().await.unwrap();
    assert_eq!(report.records, 4, "user and guard, then two user writes");
    assert_eq!(report.events, 2);
    assert_eq!(
        poller.poll_once().await.unwrap().records,
        0,
        "the position holds"
    );

    let queue = env.queue();
    let mut got = env.receive(&queue, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    got.sort_by_key(|m| m.event().unwrap().user_version);
    let events: Vec<Event> = got.iter().map(|m| m.event().unwrap()).collect();
    assert_eq!(
        got.iter()
            .map(|m| m.event_type.as_deref())
            .collect::<Vec<_>>(),
        [Some("client_created"), Some("consent_changed")]
    );
    assert_eq!(events[0].event_type, EventType::ClientCreated);
    assert_eq!(events[1].event_type, EventType::ConsentChanged);
    assert_eq!(events[1].user_id, ada.id);
    assert_eq!(events[1].user_version, 2);
    // The body is exactly the event's message, as the SQLite queue stores it.
    assert_eq!(
        got[1].body,
        engage_core::records::encode_event(&events[1]).unwrap()
    );
    assert!(got.iter().all(|m| m.receive_count == 1));

    // The same records read again (a restarted poller) publish the same event ids.
    let expected: Vec<EventId> = env
        .stream_records()
        .await
        .iter()
        .filter_map(|r| change_record(r).unwrap())
        .filter_map(|c| event_for_change(&c))
        .map(|e| e.id)
        .collect();
    assert_eq!(
        events.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        expected
    );
    let recorder = Arc::new(Recorder::default());
    let mut again = StreamPoller::new(&env.config, &env.resources.users_table, recorder.clone())
        .with_page_size(1);
    again.poll_once().await.unwrap();
    assert_eq!(
        recorder
            .take()
            .into_iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        expected
    );

    // A delivered message is deleted by its receipt.
    let receipts = got.iter().map(|m| m.receipt.clone()).collect();
    assert_eq!(queue.delete_batch(receipts).await.unwrap(), 2);
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_poller_with_checkpoints_resumes_after_a_restart() {
    let env = env().await;
    let store = env.store();
    let ada = client("ada-restart@example.com", "Ada");
    store.insert(ada.clone()).await.unwrap();
    let checkpoints = || {
        StreamCheckpoints::new(
            aws_sdk_dynamodb::Client::new(&env.config),
            &env.resources.ledger_table,
        )
    };
    let recorder = Arc::new(Recorder::default());
    let mut first = StreamPoller::new(&env.config, &env.resources.users_table, recorder.clone())
        .with_checkpoints(checkpoints());
    assert_eq!(first.poll_once().await.unwrap().events, 1);
    let kept = first.positions();
    assert_eq!(kept.len(), 1, "{kept:?}");
    drop(first);

    // A new poller (a restarted host) starts where the first stopped: nothing again.
    let mut second = StreamPoller::new(&env.config, &env.resources.users_table, recorder.clone())
        .with_checkpoints(checkpoints());
    assert_eq!(second.poll_once().await.unwrap().records, 0);
    assert_eq!(second.positions(), kept);
    // A later change is published by it, once.
    let mut v2 = ada.clone();
    v2.version = 2;
    v2.consent.email_opt_in = false;
    store.replace(v2, 1).await.unwrap();
    assert_eq!(second.poll_once().await.unwrap().events, 1);
    let types: Vec<_> = recorder.take().iter().map(|e| e.event_type).collect();
    assert_eq!(types, [EventType::ClientCreated, EventType::ConsentChanged]);

    // Without checkpoints a poller starts at the stream's oldest record.
    let mut fresh = StreamPoller::new(&env.config, &env.resources.users_table, recorder.clone());
    assert_eq!(fresh.poll_once().await.unwrap().events, 2);
}

#[tokio::test]
async fn a_message_received_more_than_five_times_ends_in_the_dlq() {
    let env = env().await;
    let event = Event::rescore(&UserId::from_string("usr_1"), 3, Utc::now());
    env.publisher().publish(vec![event.clone()]).await.unwrap();

    let queue = env.queue();
    for n in 1..=5 {
        let got = env.receive(&queue, 1).await;
        assert_eq!(got.len(), 1, "receive {n}");
        assert_eq!(got[0].receive_count, n);
        assert_eq!(got[0].event().unwrap(), event);
        assert_eq!(got[0].event_type.as_deref(), Some("rescore_due"));
        queue
            .release(&got[0].receipt, Duration::ZERO)
            .await
            .unwrap();
    }
    assert!(
        queue
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "the sixth receive finds it gone"
    );
    let dlq = SqsQueue::new(
        aws_sdk_sqs::Client::new(&env.config),
        &env.report.email_dlq_url,
    );
    let dead = env.receive(&dlq, 1).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event().unwrap(), event);
    drop(env.moto);
}

#[tokio::test]
async fn publishing_many_events_batches_them_and_keeps_every_one() {
    let env = env().await;
    let events: Vec<Event> = (0..23)
        .map(|i| Event::rescore(&UserId::from_string(format!("usr_{i}")), 1, Utc::now()))
        .collect();
    env.publisher().publish(events.clone()).await.unwrap();
    let got = env.receive(&env.queue(), 23).await;
    let mut ids: Vec<_> = got.iter().map(|m| m.event().unwrap().id).collect();
    ids.sort();
    let mut expected: Vec<_> = events.into_iter().map(|e| e.id).collect();
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn a_refused_publish_is_an_error() {
    let env = env().await;
    let missing = SnsPublisher::new(
        aws_sdk_sns::Client::new(&env.config),
        env.report
            .topic_arn
            .replace(":test-events", ":no-such-topic"),
    );
    let e = missing
        .publish(vec![Event::rescore(
            &UserId::from_string("usr_1"),
            1,
            Utc::now(),
        )])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Unexpected(_)), "{e:?}");
}
