//! The `EventQueue` and `DeadLetters` contract (`crate::ports::queue`): delivery
//! with a receive count, visibility, the latest receipt, release with a delay, dead
//! letters after `max_receives`, and the dead letters' list, get and redrives.
//!
//! A queue backend ([`QueueBackend`]) is a topic with the queue subscribed and its
//! dead-letter queue, made fresh for each case with the case's [`QueueSettings`].
//! Time passes through [`QueueStores::pass`]: the backend's clock moves where the
//! queue reads an injected one (SQLite, memory); elsewhere (SQS on moto) it is real
//! time, so the cases keep visibility timeouts and delays to a second or two. What a
//! backend does differently, where the contract allows it, is named where its runner
//! calls [`crate::queue_contract!`] ([`QueueSupport`]), and checked so.

use crate::StoreError;
use crate::change::Event;
use crate::clock::ManualClock;
use crate::ids::UserId;
use crate::ports::{DeadLetter, DeadLetters, EventPublisher, EventQueue, QueueDelivery};
use crate::testing::t0;
use async_trait::async_trait;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// The queue of one case: how often a message may be received, how long a receive
/// hides it (whole seconds: SQS has no finer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    pub max_receives: u32,
    pub visibility: Duration,
}

/// One backend's topic, queue and dead letters, fresh and empty.
pub struct QueueStores {
    /// Publishes on the topic the queue is subscribed to.
    pub publisher: Arc<dyn EventPublisher>,
    pub queue: Arc<dyn EventQueue>,
    pub dead_letters: Arc<dyn DeadLetters>,
    /// The name dead letters give as their source queue.
    pub source_queue: String,
    /// The clock the queue reads; `None` when it reads real time.
    pub clock: Option<Arc<ManualClock>>,
    /// Whatever keeps the backend alive for the case.
    pub guard: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for QueueStores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueStores")
            .field("source_queue", &self.source_queue)
            .finish_non_exhaustive()
    }
}

/// How much later than asked a real-time backend is looked at again.
const MARGIN: Duration = Duration::from_millis(400);

impl QueueStores {
    /// Lets `d` pass for the queue: its clock moves, or (real time) the case
    /// sleeps `d` and a little more.
    pub async fn pass(&self, d: Duration) {
        match &self.clock {
            Some(c) => c.advance(chrono::Duration::from_std(d).expect("a short time")),
            None => tokio::time::sleep(d + MARGIN).await,
        }
    }
}

/// A factory of fresh [`QueueStores`] of one backend.
#[async_trait]
pub trait QueueBackend: Send + Sync {
    /// The backend's name in failure messages.
    fn name(&self) -> &'static str;
    async fn fresh(&self, settings: QueueSettings) -> QueueStores;
}

/// Where a backend takes the contract's allowed other way: each `false` is checked
/// to be that other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSupport {
    /// An earlier receipt of a message still in the queue acts on nothing (SQLite).
    /// When false (SQS) it may delete or release the message.
    pub refuses_stale_receipts: bool,
    /// The dead letters list in a stable order, by pages with a cursor (SQLite);
    /// when false (SQS), one page in no order and never a cursor.
    pub pages_dead_letters: bool,
    /// `delete` answers exactly how many messages it deleted (SQLite). When false
    /// (SQS, whose delete is idempotent) a receipt of a message already deleted
    /// counts again.
    pub counts_deletes: bool,
    /// A dead letter keeps the error of its last release (SQS keeps none).
    pub keeps_last_error: bool,
}

impl QueueSupport {
    pub const ALL: QueueSupport = QueueSupport {
        refuses_stale_receipts: true,
        pages_dead_letters: true,
        counts_deletes: true,
        keeps_last_error: true,
    };
}

/// One test per case of the queue contract, against a backend (an expression of a
/// type that implements [`QueueBackend`]) and optionally its [`QueueSupport`]
/// (default: all of it).
#[macro_export]
macro_rules! queue_contract {
    ($backend:expr, $support:expr $(,)?) => {
        $crate::__contract_cases!(
            queue,
            (&$backend, $support),
            [
                a_published_event_is_delivered_once_with_receive_count_1,
                a_delivered_message_is_hidden_until_its_visibility_timeout_then_counts_2,
                the_latest_receipt_deletes_and_an_earlier_one_is_refused_or_allowed,
                delete_answers_how_many_messages_it_deleted,
                a_released_message_comes_back_after_its_delay_with_its_count,
                after_max_receives_a_message_is_a_dead_letter_and_never_delivered,
                dead_letters_list_every_one_once,
                a_redriven_dead_letter_is_delivered_again_with_a_fresh_count,
                redrive_all_answers_how_many_and_empties_the_dead_letters,
                an_unknown_dead_letter_is_none_and_not_found_and_harms_none,
            ]
        );
    };
    ($backend:expr $(,)?) => {
        $crate::queue_contract!(
            $backend,
            $crate::testing::contract::queue::QueueSupport::ALL
        );
    };
}

/// The settings of most cases: a message dies after its third receive.
const SETTINGS: QueueSettings = QueueSettings {
    max_receives: 3,
    visibility: Duration::from_secs(2),
};

/// How long a receive that expects a message waits for it.
const WAIT: Duration = Duration::from_secs(1);

fn event(n: u64) -> Event {
    Event::rescore(&UserId::from_string(format!("usr_queue{n}")), n, t0())
}

async fn publish(s: &QueueStores, events: &[Event]) {
    s.publisher
        .publish(events.to_vec())
        .await
        .expect("the topic publishes");
}

/// Receives until `n` messages came (or three receives in a row came empty).
async fn receive_n(s: &QueueStores, n: usize) -> Vec<QueueDelivery> {
    let mut got = Vec::new();
    let mut empty = 0;
    while got.len() < n && empty < 3 {
        let batch = s.queue.receive(10, WAIT).await.expect("the queue receives");
        empty = if batch.is_empty() { empty + 1 } else { 0 };
        got.extend(batch);
    }
    got
}

/// Receives exactly one message.
async fn receive_one(s: &QueueStores, what: &str) -> QueueDelivery {
    let mut got = receive_n(s, 1).await;
    assert_eq!(got.len(), 1, "{what}: {got:?}");
    got.pop().expect("one")
}

/// A receive that must find nothing visible.
async fn assert_nothing_visible(s: &QueueStores, what: &str) {
    let got = s
        .queue
        .receive(10, Duration::ZERO)
        .await
        .expect("the queue receives");
    assert!(got.is_empty(), "{what}: {got:?}");
}

/// Publishes `events` and fails each of them `settings.max_receives` times, then
/// receives once more, which moves them to the dead letters.
async fn kill(s: &QueueStores, settings: QueueSettings, events: &[Event]) {
    publish(s, events).await;
    for attempt in 1..=settings.max_receives {
        let got = receive_n(s, events.len()).await;
        assert_eq!(got.len(), events.len(), "receive {attempt}: {got:?}");
        for d in got {
            assert_eq!(d.receive_count, attempt);
            let released = s
                .queue
                .release(&d.receipt, Duration::ZERO, &format!("boom {attempt}"))
                .await
                .expect("the release answers");
            assert!(released, "receive {attempt}: the latest receipt releases");
        }
    }
    assert_nothing_visible(s, "the receive after the last one moves them").await;
}

/// Every dead letter, as one list with a limit larger than their number shows.
async fn all_dead(s: &QueueStores) -> Vec<DeadLetter> {
    let page = s
        .dead_letters
        .list(None, 100)
        .await
        .expect("the list reads");
    assert_eq!(page.next_cursor, None, "one page holds them all");
    page.items
}

/// A dead letter's body: the event's message as published, as JSON.
fn body(e: &Event) -> serde_json::Value {
    let message = crate::records::encode_event(e).expect("an event encodes");
    serde_json::from_str(&message).expect("an event message is JSON")
}

pub async fn a_published_event_is_delivered_once_with_receive_count_1(
    b: &dyn QueueBackend,
    _: QueueSupport,
) {
    let s = b.fresh(SETTINGS).await;
    let e = event(1);
    publish(&s, std::slice::from_ref(&e)).await;
    let d = receive_one(&s, "the published event").await;
    assert_eq!(
        d.receive_count,
        1,
        "{}: the first delivery counts 1",
        b.name()
    );
    assert_eq!(d.event().expect("the body is the event"), e);
    assert!(!d.receipt.is_empty() && !d.id.is_empty(), "{d:?}");
    assert_nothing_visible(&s, "delivered once").await;
}

pub async fn a_delivered_message_is_hidden_until_its_visibility_timeout_then_counts_2(
    b: &dyn QueueBackend,
    _: QueueSupport,
) {
    let s = b.fresh(SETTINGS).await;
    let e = event(1);
    publish(&s, std::slice::from_ref(&e)).await;
    let first = receive_one(&s, "the first delivery").await;
    s.pass(SETTINGS.visibility / 4).await;
    assert_nothing_visible(&s, "in flight within its visibility timeout").await;

    s.pass(SETTINGS.visibility).await;
    let second = receive_one(&s, "after the visibility timeout").await;
    assert_eq!(second.receive_count, 2, "{}", b.name());
    assert_eq!(second.id, first.id, "the same message");
    assert_ne!(second.receipt, first.receipt, "a new receipt");
    assert_eq!(second.event().unwrap(), e);
    assert_nothing_visible(&s, "in flight again").await;
}

pub async fn the_latest_receipt_deletes_and_an_earlier_one_is_refused_or_allowed(
    b: &dyn QueueBackend,
    support: QueueSupport,
) {
    let s = b.fresh(SETTINGS).await;
    publish(&s, &[event(1)]).await;
    let stale = receive_one(&s, "the first delivery").await.receipt;
    s.pass(SETTINGS.visibility).await;
    let latest = receive_one(&s, "the second delivery").await.receipt;

    let stale_deleted = s.queue.delete(vec![stale.clone()]).await.unwrap();
    if support.refuses_stale_receipts {
        assert_eq!(
            stale_deleted,
            0,
            "{}: a stale receipt deletes nothing",
            b.name()
        );
        let released = s
            .queue
            .release(&stale, Duration::ZERO, "late worker")
            .await
            .unwrap();
        assert!(!released, "a stale receipt releases nothing");
        assert_nothing_visible(&s, "still held by the latest receipt").await;
    } else {
        assert!(stale_deleted <= 1, "{stale_deleted}");
    }
    let latest_deleted = s.queue.delete(vec![latest]).await.unwrap();
    if support.counts_deletes {
        assert_eq!(
            stale_deleted + latest_deleted,
            1,
            "{}: the latest receipt deletes what the stale one left",
            b.name()
        );
    } else {
        assert_eq!(
            latest_deleted,
            1,
            "{}: the latest receipt is accepted",
            b.name()
        );
    }
    s.pass(SETTINGS.visibility).await;
    assert_nothing_visible(&s, "deleted for good").await;
}

pub async fn delete_answers_how_many_messages_it_deleted(
    b: &dyn QueueBackend,
    support: QueueSupport,
) {
    let s = b.fresh(SETTINGS).await;
    let events = [event(1), event(2), event(3)];
    publish(&s, &events).await;
    let at_most_two = s.queue.receive(2, WAIT).await.unwrap();
    assert!(
        (1..=2).contains(&at_most_two.len()),
        "at most max: {at_most_two:?}"
    );
    let mut got = at_most_two;
    got.extend(receive_n(&s, 3 - got.len()).await);
    let ids: BTreeSet<_> = got.iter().map(|d| d.event().unwrap().id).collect();
    assert_eq!(ids, events.iter().map(|e| e.id.clone()).collect());

    let receipts: Vec<String> = got.into_iter().map(|d| d.receipt).collect();
    assert_eq!(s.queue.delete(receipts.clone()).await.unwrap(), 3);
    let again = s.queue.delete(receipts.clone()).await;
    let again = again.expect("receipts of deleted messages are no error");
    let expected = if support.counts_deletes { 0 } else { 3 };
    assert_eq!(again, expected, "{}: deleted again", b.name());
    let released = s.queue.release(&receipts[0], Duration::ZERO, "gone").await;
    assert!(!released.unwrap(), "nor release anything");
    assert_eq!(s.queue.delete(Vec::new()).await.unwrap(), 0);
    s.pass(SETTINGS.visibility).await;
    assert_nothing_visible(&s, "all three deleted").await;
}

pub async fn a_released_message_comes_back_after_its_delay_with_its_count(
    b: &dyn QueueBackend,
    _: QueueSupport,
) {
    let s = b.fresh(SETTINGS).await;
    let e = event(1);
    publish(&s, std::slice::from_ref(&e)).await;
    let d = receive_one(&s, "the first delivery").await;
    let delay = Duration::from_secs(1);
    assert!(s.queue.release(&d.receipt, delay, "boom").await.unwrap());
    assert_nothing_visible(&s, "backing off").await;
    s.pass(delay).await;
    let again = receive_one(&s, "after the delay").await;
    assert_eq!(
        again.receive_count,
        2,
        "{}: the receive stays counted",
        b.name()
    );
    assert_eq!(again.event().unwrap(), e);

    // Released with no delay: visible at once.
    assert!(
        s.queue
            .release(&again.receipt, Duration::ZERO, "boom")
            .await
            .unwrap()
    );
    assert_eq!(receive_one(&s, "at once").await.receive_count, 3);
}

pub async fn after_max_receives_a_message_is_a_dead_letter_and_never_delivered(
    b: &dyn QueueBackend,
    support: QueueSupport,
) {
    let settings = QueueSettings {
        max_receives: 2,
        ..SETTINGS
    };
    let s = b.fresh(settings).await;
    let e = event(1);
    kill(&s, settings, std::slice::from_ref(&e)).await;

    let dead = all_dead(&s).await;
    assert_eq!(dead.len(), 1, "{}: {dead:?}", b.name());
    let d = &dead[0];
    assert_eq!(d.source_queue, s.source_queue);
    assert_eq!(d.body, body(&e));
    assert_eq!(d.receive_count, 2, "the receives it had");
    let expected_error = support.keeps_last_error.then(|| "boom 2".to_string());
    assert_eq!(d.last_error, expected_error);
    assert!(!d.id.is_empty());

    let got = s
        .dead_letters
        .get(&d.id)
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!((&got.id, &got.body), (&d.id, &d.body));
    assert_eq!(got.source_queue, s.source_queue);
    assert!(got.receive_count >= 2, "{got:?}");

    s.pass(settings.visibility).await;
    assert_nothing_visible(&s, "a dead letter is never delivered").await;
    assert_eq!(all_dead(&s).await.len(), 1, "and stays a dead letter");
}

pub async fn dead_letters_list_every_one_once(b: &dyn QueueBackend, support: QueueSupport) {
    let settings = QueueSettings {
        max_receives: 1,
        ..SETTINGS
    };
    let s = b.fresh(settings).await;
    let events = [event(1), event(2), event(3)];
    kill(&s, settings, &events).await;
    let expected: BTreeSet<String> = events.iter().map(|e| body(e).to_string()).collect();
    let bodies =
        |page: &[DeadLetter]| -> Vec<String> { page.iter().map(|d| d.body.to_string()).collect() };

    let all = all_dead(&s).await;
    assert_eq!(
        bodies(&all).into_iter().collect::<BTreeSet<_>>(),
        expected,
        "{}",
        b.name()
    );
    let ids: BTreeSet<_> = all.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 3, "each its own id");

    let first = s.dead_letters.list(None, 2).await.unwrap();
    assert!(first.items.len() <= 2, "at most the limit: {first:?}");
    if support.pages_dead_letters {
        assert_eq!(first.items.len(), 2);
        let cursor = first.next_cursor.clone().expect("more remain");
        let second = s.dead_letters.list(Some(cursor), 2).await.unwrap();
        assert_eq!(second.next_cursor, None, "the last page");
        let mut seen = bodies(&first.items);
        seen.extend(bodies(&second.items));
        assert_eq!(seen.len(), 3, "no repetition: {seen:?}");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
        assert_eq!(
            bodies(&s.dead_letters.list(None, 100).await.unwrap().items),
            bodies(&all),
            "a stable order"
        );
        let refused = s.dead_letters.list(Some("not-a-cursor".into()), 2).await;
        assert!(
            matches!(refused, Err(StoreError::InvalidCursor)),
            "{refused:?}"
        );
    } else {
        assert_eq!(first.next_cursor, None, "never a cursor");
        assert!(!first.items.is_empty());
    }
}

pub async fn a_redriven_dead_letter_is_delivered_again_with_a_fresh_count(
    b: &dyn QueueBackend,
    _: QueueSupport,
) {
    let settings = QueueSettings {
        max_receives: 2,
        ..SETTINGS
    };
    let s = b.fresh(settings).await;
    let e = event(1);
    kill(&s, settings, std::slice::from_ref(&e)).await;
    let id = all_dead(&s).await.pop().expect("one dead letter").id;

    s.dead_letters.redrive(&id).await.expect("redriven");
    assert!(all_dead(&s).await.is_empty(), "no longer a dead letter");
    assert_eq!(s.dead_letters.get(&id).await.unwrap(), None);
    let again = receive_one(&s, "back in its queue").await;
    assert_eq!(again.receive_count, 1, "{}: a fresh count", b.name());
    assert_eq!(again.event().unwrap(), e);
    assert!(
        matches!(s.dead_letters.redrive(&id).await, Err(StoreError::NotFound)),
        "a second redrive finds nothing"
    );
}

pub async fn redrive_all_answers_how_many_and_empties_the_dead_letters(
    b: &dyn QueueBackend,
    _: QueueSupport,
) {
    let settings = QueueSettings {
        max_receives: 1,
        ..SETTINGS
    };
    let s = b.fresh(settings).await;
    let events = [event(1), event(2)];
    kill(&s, settings, &events).await;

    assert_eq!(
        s.dead_letters.redrive_all().await.unwrap(),
        2,
        "{}",
        b.name()
    );
    assert!(all_dead(&s).await.is_empty());
    let got = receive_n(&s, 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|d| d.receive_count == 1), "{got:?}");
    let ids: BTreeSet<_> = got.iter().map(|d| d.event().unwrap().id).collect();
    assert_eq!(ids, events.iter().map(|e| e.id.clone()).collect());
    assert_eq!(s.dead_letters.redrive_all().await.unwrap(), 0, "none left");
}

pub async fn an_unknown_dead_letter_is_none_and_not_found_and_harms_none(
    b: &dyn QueueBackend,
    _: QueueSupport,
) {
    let settings = QueueSettings {
        max_receives: 1,
        ..SETTINGS
    };
    let s = b.fresh(settings).await;
    for id in ["msg_999999", "no-such-dead-letter", ""] {
        assert_eq!(s.dead_letters.get(id).await.unwrap(), None, "{id:?}");
        assert!(
            matches!(s.dead_letters.redrive(id).await, Err(StoreError::NotFound)),
            "{}: {id:?}",
            b.name()
        );
    }
    kill(&s, settings, &[event(1)]).await;
    let dead = all_dead(&s).await;
    assert_eq!(dead.len(), 1);
    let unknown = format!("{}0", dead[0].id);
    assert_eq!(s.dead_letters.get(&unknown).await.unwrap(), None);
    assert!(matches!(
        s.dead_letters.redrive(&unknown).await,
        Err(StoreError::NotFound)
    ));
    let still = all_dead(&s).await;
    assert_eq!(still.len(), 1, "the dead letter stays: {still:?}");
    assert_eq!(still[0].id, dead[0].id);
    assert_nothing_visible(&s, "and is not delivered").await;
}
