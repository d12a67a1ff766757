//! The change stream on AWS: the Users table's DynamoDB stream (`NEW_AND_OLD_IMAGES`).
//!
//! [`change_record`] reads one stream record as the domain's [`ChangeRecord`] (`None`
//! for an address guard item), with `seq` = the record's `SequenceNumber` and
//! `committed_at` = its `ApproximateCreationDateTime`; the event id derived from it
//! ([`engage_core::ids::EventId::for_change`]) is therefore the same however often
//! the record is read. The Lambda `stream` function (`engage-lambda`) reads the same
//! images from its event and must agree with this file on them.
//!
//! [`StreamPoller`] is the tailer for hosts other than Lambda (`engage serve
//! --backend aws`): it reads every shard of the table's latest stream, parents before
//! children, turns records into events exactly as the SQLite tailer does
//! ([`event_for_change`]) and publishes them with an [`EventPublisher`].

use crate::checkpoints::StreamCheckpoints;
use crate::errors::aws_error;
use aws_sdk_dynamodbstreams::error::SdkError;
use aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError;
use aws_sdk_dynamodbstreams::operation::get_shard_iterator::GetShardIteratorError;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, Shard, ShardIteratorType};
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::change::{ChangeRecord, Event, event_for_change};
use engage_core::client::Client;
use engage_core::ids::UserId;
use engage_core::ports::EventPublisher;
use engage_core::records::decode_client;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

type Image = HashMap<String, AttributeValue>;

/// The client a stream image of the Users table holds, read from its `kind` and
/// `body` attributes: `None` for an address guard item (or no image), `Err` for a
/// user item whose body is missing or does not decode. The Streams API's images (here)
/// and Lambda's (`engage-lambda`, serde_dynamo's types) both read through it.
pub fn client_in_image(kind: Option<&str>, body: Option<&str>) -> Result<Option<Client>, String> {
    if kind != Some(crate::users::KIND_USER) {
        return Ok(None);
    }
    let body = body.ok_or("a user item without its `body`")?;
    decode_client(body)
        .map(Some)
        .map_err(|e| format!("the client in `body` does not decode: {e}"))
}

/// The change record of a stream record's images; `None` when neither holds a client.
pub fn change_of(
    seq: &str,
    old: Option<Client>,
    new: Option<Client>,
    committed_at: DateTime<Utc>,
) -> Option<ChangeRecord> {
    let user_id = new.as_ref().or(old.as_ref())?.id.as_str().to_string();
    Some(ChangeRecord {
        seq: seq.to_string(),
        user_id: UserId::from_string(user_id),
        old,
        new,
        committed_at,
    })
}

fn client_of(image: Option<&Image>) -> Result<Option<Client>, String> {
    let s = |k: &str| {
        image
            .and_then(|i| i.get(k))
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
    };
    client_in_image(s("kind"), s("body"))
}

/// The change record a DynamoDB Streams record means; `None` for a guard item (or a
/// record without images). `Err` names what is wrong with a record that cannot be read.
pub fn change_record(record: &Record) -> Result<Option<ChangeRecord>, String> {
    let Some(r) = record.dynamodb() else {
        return Err("a stream record without its `dynamodb` part".into());
    };
    let old = client_of(r.old_image())?;
    let new = client_of(r.new_image())?;
    if old.is_none() && new.is_none() {
        return Ok(None);
    }
    let seq = r
        .sequence_number()
        .ok_or("a stream record without its `SequenceNumber`")?;
    let at = r
        .approximate_creation_date_time()
        .ok_or("a stream record without its `ApproximateCreationDateTime`")?;
    let committed_at = DateTime::<Utc>::from_timestamp(at.secs(), at.subsec_nanos())
        .ok_or("an `ApproximateCreationDateTime` out of range")?;
    Ok(change_of(seq, old, new, committed_at))
}

/// The events a page of stream records means, in order. A record that cannot be
/// read is skipped, loudly: retrying cannot help it, and it must not block its shard
/// (the Lambda function does the same).
pub fn events_for(records: &[Record]) -> Vec<Event> {
    let mut events = Vec::new();
    for record in records {
        match change_record(record) {
            Ok(Some(change)) => events.extend(event_for_change(&change)),
            Ok(None) => {}
            Err(why) => {
                let seq = record.dynamodb().and_then(|r| r.sequence_number());
                tracing::error!(?seq, %why, "skipping an unreadable stream record");
            }
        }
    }
    events
}

/// Where the poller is in one shard.
#[derive(Debug, Clone, Default)]
struct ShardPosition {
    /// The last record handled (published or skipped).
    after: Option<String>,
    /// The iterator to read on with, while it is fresh (they expire after 15 minutes).
    iterator: Option<String>,
    /// The shard is closed and read to its end.
    finished: bool,
}

/// What one [`StreamPoller::poll_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Stream records read (guard items and bookkeeping-only writes included).
    pub records: usize,
    /// Events published.
    pub events: usize,
}

/// Reads the Users table's stream and publishes its events.
///
/// Positions are kept per shard, in memory, and with [`StreamPoller::with_checkpoints`]
/// also in the Ledger table ([`StreamCheckpoints`]), so a restarted poller resumes
/// where it stopped. Without checkpoints a restarted poller reads every shard again
/// from `TRIM_HORIZON` (the last 24 hours) and publishes those events again. Either
/// way a republished event is safe: its id is derived from its record's sequence
/// number and the email processor claims each event id once. A position only moves
/// once its records' events were published (at least once).
///
/// One poller per stream: two would each publish everything (harmless, wasteful).
pub struct StreamPoller {
    dynamodb: aws_sdk_dynamodb::Client,
    streams: aws_sdk_dynamodbstreams::Client,
    table: String,
    publisher: Arc<dyn EventPublisher>,
    checkpoints: Option<StreamCheckpoints>,
    stream_arn: Option<String>,
    shards: HashMap<String, ShardPosition>,
    /// Records per `GetRecords` (at most 1000).
    page: i32,
    /// `GetRecords` calls per shard and poll, so one busy shard cannot starve others.
    pages_per_poll: usize,
}

impl std::fmt::Debug for StreamPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamPoller")
            .field("table", &self.table)
            .field("stream_arn", &self.stream_arn)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl StreamPoller {
    pub fn new(
        config: &aws_config::SdkConfig,
        users_table: impl Into<String>,
        publisher: Arc<dyn EventPublisher>,
    ) -> Self {
        Self::with_clients(
            aws_sdk_dynamodb::Client::new(config),
            aws_sdk_dynamodbstreams::Client::new(config),
            users_table,
            publisher,
        )
    }

    pub fn with_clients(
        dynamodb: aws_sdk_dynamodb::Client,
        streams: aws_sdk_dynamodbstreams::Client,
        users_table: impl Into<String>,
        publisher: Arc<dyn EventPublisher>,
    ) -> Self {
        Self {
            dynamodb,
            streams,
            table: users_table.into(),
            publisher,
            checkpoints: None,
            stream_arn: None,
            shards: HashMap::new(),
            page: 1000,
            pages_per_poll: 10,
        }
    }

    /// Keeps the positions in `checkpoints` too, and starts from those kept there.
    pub fn with_checkpoints(mut self, checkpoints: StreamCheckpoints) -> Self {
        self.checkpoints = Some(checkpoints);
        self
    }

    /// Records per `GetRecords` call (1 to 1000).
    pub fn with_page_size(mut self, records: u32) -> Self {
        self.page = records.clamp(1, 1000) as i32;
        self
    }

    /// The last sequence number handled in each shard.
    pub fn positions(&self) -> HashMap<String, String> {
        self.shards
            .iter()
            .filter_map(|(id, p)| Some((id.clone(), p.after.clone()?)))
            .collect()
    }

    /// The table's latest stream; a new one (the stream was disabled and enabled
    /// again) starts over with no positions.
    async fn stream_arn(&mut self) -> Result<String, StoreError> {
        let out = self
            .dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| aws_error("describing the Users table", e))?;
        let arn = out
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| {
                StoreError::Unexpected(anyhow::anyhow!(
                    "table {} has no stream: run `engage aws init`",
                    self.table
                ))
            })?
            .to_string();
        if self.stream_arn.as_deref() != Some(arn.as_str()) {
            if self.stream_arn.is_some() {
                tracing::warn!(stream = %arn, "the Users table has a new stream; reading it from its start");
            }
            self.shards.clear();
            if let Some(c) = &self.checkpoints {
                for (shard, after) in c.load(&arn).await? {
                    self.shards.entry(shard).or_default().after = Some(after);
                }
            }
            self.stream_arn = Some(arn.clone());
        }
        Ok(arn)
    }

    async fn shards(&self, arn: &str) -> Result<Vec<Shard>, StoreError> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .streams
                .describe_stream()
                .stream_arn(arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| aws_error("describing the change stream", e))?;
            let Some(d) = out.stream_description else {
                break;
            };
            shards.extend(d.shards.unwrap_or_default());
            match d.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        Ok(shards)
    }

    /// An iterator at the shard's position: after the last record handled, else at
    /// the oldest record kept. A position already trimmed away (the poller fell more
    /// than 24 hours behind) starts again at the oldest record, with a warning.
    async fn iterator(&self, arn: &str, shard: &str) -> Result<Option<String>, StoreError> {
        let after = self.shards.get(shard).and_then(|p| p.after.clone());
        let request = |kind: ShardIteratorType, seq: Option<String>| {
            self.streams
                .get_shard_iterator()
                .stream_arn(arn)
                .shard_id(shard)
                .shard_iterator_type(kind)
                .set_sequence_number(seq)
                .send()
        };
        let out = match after {
            Some(seq) => match request(ShardIteratorType::AfterSequenceNumber, Some(seq)).await {
                Err(SdkError::ServiceError(e))
                    if matches!(
                        e.err(),
                        GetShardIteratorError::TrimmedDataAccessException(_)
                    ) =>
                {
                    tracing::warn!(
                        shard,
                        "stream position trimmed; reading the shard from its oldest record"
                    );
                    request(ShardIteratorType::TrimHorizon, None).await
                }
                r => r,
            },
            None => request(ShardIteratorType::TrimHorizon, None).await,
        };
        match out {
            Ok(o) => Ok(o.shard_iterator),
            // A shard that aged out of the stream between describing and reading it.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetShardIteratorError::ResourceNotFoundException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("opening a stream shard", e)),
        }
    }

    /// Reads the stream once: every readable shard up to its end (or
    /// `pages_per_poll` pages of it), publishing each page's events before moving on.
    pub async fn poll_once(&mut self) -> Result<PollReport, StoreError> {
        let arn = self.stream_arn().await?;
        let shards = self.shards(&arn).await?;
        let listed: HashSet<&str> = shards.iter().filter_map(|s| s.shard_id()).collect();
        // Positions of shards that aged out of the stream are no longer needed.
        self.shards.retain(|id, _| listed.contains(id.as_str()));
        let mut report = PollReport::default();
        for shard in &shards {
            let Some(id) = shard.shard_id() else { continue };
            // A client's writes after a shard split are in the child: read the parent
            // to its end first, so each client's events keep their order.
            let parent_open = shard.parent_shard_id().is_some_and(|p| {
                listed.contains(p) && !self.shards.get(p).is_some_and(|s| s.finished)
            });
            if parent_open || self.shards.get(id).is_some_and(|s| s.finished) {
                continue;
            }
            let r = self.read_shard(&arn, id).await?;
            report.records += r.records;
            report.events += r.events;
        }
        Ok(report)
    }

    async fn read_shard(&mut self, arn: &str, shard: &str) -> Result<PollReport, StoreError> {
        let mut report = PollReport::default();
        let mut refreshed = false;
        for _ in 0..self.pages_per_poll {
            let cached = self.shards.get(shard).and_then(|p| p.iterator.clone());
            let iterator = match cached {
                Some(i) => i,
                None => match self.iterator(arn, shard).await? {
                    Some(i) => i,
                    None => {
                        self.shards.entry(shard.to_string()).or_default().finished = true;
                        break;
                    }
                },
            };
            let out = match self
                .streams
                .get_records()
                .shard_iterator(&iterator)
                .limit(self.page)
                .send()
                .await
            {
                Ok(o) => o,
                Err(SdkError::ServiceError(e))
                    if !refreshed
                        && matches!(
                            e.err(),
                            GetRecordsError::ExpiredIteratorException(_)
                                | GetRecordsError::TrimmedDataAccessException(_)
                        ) =>
                {
                    // Open a fresh iterator at the position, once.
                    refreshed = true;
                    self.shards.entry(shard.to_string()).or_default().iterator = None;
                    continue;
                }
                Err(e) => return Err(aws_error("reading the change stream", e)),
            };
            let records = out.records.unwrap_or_default();
            let events = events_for(&records);
            let published = events.len();
            let types: Vec<&'static str> = events.iter().map(|e| e.event_type.as_str()).collect();
            if !events.is_empty() {
                // Until the events are out, the position stays where it was; the next
                // poll opens a fresh iterator there (an iterator once read may not be
                // reusable: the emulator's, for one, moves on).
                self.shards.entry(shard.to_string()).or_default().iterator = None;
                self.publisher.publish(events).await?;
                for t in types {
                    metrics::counter!("engage_events_total", "type" => t).increment(1);
                }
            }
            let last = records
                .iter()
                .rev()
                .find_map(|r| r.dynamodb().and_then(|d| d.sequence_number()));
            if let (Some(last), Some(c)) = (last, &self.checkpoints) {
                c.save(arn, shard, last).await?;
            }
            let position = self.shards.entry(shard.to_string()).or_default();
            if let Some(last) = last {
                position.after = Some(last.to_string());
            }
            report.records += records.len();
            report.events += published;
            match out.next_shard_iterator {
                Some(next) => position.iterator = Some(next),
                None => {
                    position.iterator = None;
                    position.finished = true;
                    break;
                }
            }
            if records.is_empty() {
                break;
            }
        }
        Ok(report)
    }

    /// Polls until `shutdown` completes, waiting `idle` after a poll that found
    /// nothing and after a failure (which is logged; the positions do not move, so
    /// the failed records are read again).
    pub async fn run(mut self, idle: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let wait = match self.poll_once().await {
                Ok(r) if r.records > 0 => Duration::ZERO,
                Ok(_) => idle,
                Err(e) => {
                    tracing::error!(error = %e, "reading the change stream failed");
                    idle
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
