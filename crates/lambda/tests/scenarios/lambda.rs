//! Lambda's part, played against moto: what the two event source mappings and the
//! schedule do for the `stream` and `mailer` functions.
//!
//! - **Users stream → `stream`**: reads each shard through the DynamoDB Streams API
//!   after the last record handled, turns the records into the JSON Lambda delivers
//!   (`{"Records": [{"eventID", "eventName", "dynamodb": {"NewImage", …}}]}`),
//!   decodes that into `aws_lambda_events`' type and invokes [`stream::handle`]. A
//!   reported failure leaves the position at the failed record, as the mapping does.
//! - **email queue → `mailer`**: receives up to ten messages, turns them into the SQS
//!   event Lambda delivers, invokes [`mailer::handle`] and deletes the messages the
//!   response does not name. Named ones stay in flight until their visibility timeout
//!   ([`Lambda::expire_in_flight`] lets that time pass), and SQS moves a message to
//!   the dead-letter queue after the redrive policy's receives.
//! - **the schedule → `mailer`**: `{"sweep": true}`.

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine as _;
use engage::aws_host::AwsHost;
use engage_aws::SnsPublisher;
use engage_aws::testing::Moto;
use engage_lambda::{mailer, stream};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct Lambda {
    pub moto: Moto,
    pub host: Arc<AwsHost>,
    publisher: SnsPublisher,
    streams: aws_sdk_dynamodbstreams::Client,
    sqs: aws_sdk_sqs::Client,
    stream_arn: String,
    pub queue_url: String,
    queue_arn: String,
    pub dlq_url: String,
    /// Per shard, the sequence number of the last record handled.
    positions: Mutex<HashMap<String, String>>,
    /// The last payloads the functions were invoked with, to deliver them again.
    pub last_stream_batch: Mutex<Option<Value>>,
    pub last_sqs_batch: Mutex<Option<Value>>,
}

/// A DynamoDB Streams attribute value as Lambda's JSON writes it (`{"S": "…"}`).
fn attribute(v: &AttributeValue) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(n) => json!({"NULL": n}),
        AttributeValue::B(b) => json!({"B": b64(b.as_ref())}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        AttributeValue::Bs(v) => {
            json!({"BS": v.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()})
        }
        AttributeValue::L(v) => json!({"L": v.iter().map(attribute).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": image(m)}),
        other => panic!("an attribute value this test does not know: {other:?}"),
    }
}

fn image(m: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<_, _>>(),
    )
}

/// One stream record as Lambda's DynamoDB event carries it.
fn stream_record(r: &Record, stream_arn: &str) -> Value {
    let d = r.dynamodb().expect("a stream record has its change");
    let mut change = json!({
        "ApproximateCreationDateTime": d.approximate_creation_date_time().map_or(0.0, |t| t.as_secs_f64()),
        "Keys": image(d.keys().unwrap_or(&HashMap::new())),
        "SequenceNumber": d.sequence_number(),
        "SizeBytes": d.size_bytes(),
        "StreamViewType": d.stream_view_type().map(|v| v.as_str()),
    });
    if let Some(i) = d.new_image() {
        change["NewImage"] = image(i);
    }
    if let Some(i) = d.old_image() {
        change["OldImage"] = image(i);
    }
    json!({
        "eventID": r.event_id(), "eventName": r.event_name().map(|n| n.as_str()),
        "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "eventSourceARN": stream_arn, "dynamodb": change,
    })
}

impl Lambda {
    pub async fn new(moto: Moto, host: Arc<AwsHost>, init: &engage_aws::InitReport) -> Self {
        let sdk = moto.sdk_config();
        Self {
            publisher: SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), init.topic_arn.clone()),
            streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            stream_arn: init.users_stream_arn.clone(),
            queue_url: init.email_queue_url.clone(),
            queue_arn: init.email_queue_arn.clone(),
            dlq_url: init.email_dlq_url.clone(),
            positions: Mutex::default(),
            last_stream_batch: Mutex::default(),
            last_sqs_batch: Mutex::default(),
            moto,
            host,
        }
    }

    /// Invokes the functions until the stream has no new record and the queue no
    /// visible message.
    pub async fn settle(&self) {
        for _ in 0..50 {
            let records = self.pump_stream().await;
            let messages = self.pump_queue().await;
            if records == 0 && messages == 0 {
                return;
            }
        }
        panic!("the pipeline did not settle after 50 rounds");
    }

    /// The sweep, as the schedule invokes it.
    pub async fn sweep(&self) {
        let out = mailer::handle(&self.host.engine, None, json!({"sweep": true}))
            .await
            .expect("the sweep runs");
        assert!(out["sweep"].is_object(), "{out}");
    }

    /// The stream's new records, in one `stream` invocation per shard; answers how many.
    pub async fn pump_stream(&self) -> usize {
        let shards = self
            .streams
            .describe_stream()
            .stream_arn(&self.stream_arn)
            .send()
            .await
            .unwrap()
            .stream_description
            .and_then(|d| d.shards)
            .unwrap_or_default();
        let mut total = 0;
        for shard in shards {
            let id = shard.shard_id().unwrap().to_string();
            let after = self.positions.lock().unwrap().get(&id).cloned();
            let req = self
                .streams
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(&id);
            let req = match &after {
                Some(seq) => req
                    .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                    .sequence_number(seq),
                None => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
            };
            let Some(iterator) = req.send().await.unwrap().shard_iterator else {
                continue;
            };
            let out = self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(100)
                .send()
                .await
                .unwrap();
            let records = out.records.unwrap_or_default();
            if records.is_empty() {
                continue;
            }
            let payload = json!({
                "Records": records.iter().map(|r| stream_record(r, &self.stream_arn)).collect::<Vec<_>>()
            });
            let failed = self.invoke_stream(payload).await;
            let handled_to = match failed {
                // The mapping retries from the failed record: the position stays before it.
                Some(seq) => records
                    .iter()
                    .filter_map(|r| r.dynamodb().and_then(|d| d.sequence_number()))
                    .take_while(|s| *s != seq)
                    .last()
                    .map(str::to_string)
                    .or(after),
                None => records
                    .last()
                    .and_then(|r| r.dynamodb())
                    .and_then(|d| d.sequence_number())
                    .map(str::to_string),
            };
            if let Some(seq) = handled_to {
                self.positions.lock().unwrap().insert(id, seq);
            }
            total += records.len();
        }
        total
    }

    /// Invokes `stream` with `payload` (decoded as Lambda's runtime decodes it);
    /// answers the sequence number it asks to retry from, if any.
    pub async fn invoke_stream(&self, payload: Value) -> Option<String> {
        *self.last_stream_batch.lock().unwrap() = Some(payload.clone());
        let event = serde_json::from_value(payload).expect("a DynamoDB stream event");
        let response = stream::handle(&self.publisher, event).await;
        let response = serde_json::to_value(response).unwrap();
        let failures = response["batchItemFailures"].as_array().unwrap();
        assert!(
            failures.len() <= 1,
            "a stream names at most one record: {response}"
        );
        failures
            .first()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
    }

    /// Receives up to ten visible messages of the email queue.
    pub async fn receive(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }

    /// The SQS event Lambda delivers for `messages`.
    pub fn sqs_event(&self, messages: &[aws_sdk_sqs::types::Message]) -> Value {
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let attributes: Map<String, Value> = m
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": m.message_id(), "receiptHandle": m.receipt_handle(),
                    "body": m.body(), "md5OfBody": m.md5_of_body(),
                    "attributes": attributes, "messageAttributes": {},
                    "eventSource": "aws:sqs", "eventSourceARN": self.queue_arn, "awsRegion": "us-east-1",
                })
            })
            .collect();
        json!({"Records": records})
    }

    /// Invokes `mailer` with an SQS event; answers the message ids it reported failed.
    pub async fn invoke_mailer(&self, payload: Value) -> Vec<String> {
        *self.last_sqs_batch.lock().unwrap() = Some(payload.clone());
        let out = mailer::handle(&self.host.engine, None, payload)
            .await
            .expect("an SQS event");
        out["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect()
    }

    /// One `mailer` invocation for the visible messages of the email queue, then the
    /// deletes of those it did not report; answers how many it was given.
    pub async fn pump_queue(&self) -> usize {
        let messages = self.receive().await;
        if messages.is_empty() {
            return 0;
        }
        let failed = self.invoke_mailer(self.sqs_event(&messages)).await;
        self.delete_except(&messages, &failed).await;
        messages.len()
    }

    async fn delete_except(&self, messages: &[aws_sdk_sqs::types::Message], failed: &[String]) {
        for m in messages {
            if !failed.iter().any(|f| Some(f.as_str()) == m.message_id()) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// The new stream records to SNS (and so to the queue), then the queue's messages
    /// to `mailer` one invocation each, newest first.
    pub async fn deliver_newest_first(&self) -> usize {
        self.pump_stream().await;
        let mut messages = Vec::new();
        loop {
            let got = self.receive().await;
            if got.is_empty() {
                break;
            }
            messages.extend(got);
        }
        let mut newest_first = messages.clone();
        newest_first.sort_by_key(|m| {
            let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
            let event: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
            std::cmp::Reverse(event["user_version"].as_u64().unwrap())
        });
        for m in &newest_first {
            let one = std::slice::from_ref(m);
            let failed = self.invoke_mailer(self.sqs_event(one)).await;
            self.delete_except(one, &failed).await;
        }
        messages.len()
    }

    /// Lets the visibility timeout of every message in flight pass (they are visible
    /// again at once).
    pub async fn expire_in_flight(&self, messages: &[aws_sdk_sqs::types::Message]) {
        for m in messages {
            self.sqs
                .change_message_visibility()
                .queue_url(&self.queue_url)
                .receipt_handle(m.receipt_handle().unwrap())
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        }
    }

    /// Visible plus in-flight messages of `url`.
    pub async fn depth(&self, url: &str) -> u64 {
        let a = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|k| a.get(k).and_then(|v| v.parse::<u64>().ok()))
        .sum()
    }
}
