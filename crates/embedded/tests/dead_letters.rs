//! Dead letters and replay against real SQLite files: a poison message reaches the
//! dead-letter queue after the maximum receives, keeps its last error, and comes back
//! to its queue with a fresh count when redriven; replay rewinds the change stream.

use chrono::Duration;
use engage_core::StoreError;
use engage_core::clock::Clock;
use engage_core::ports::{ClientStore, DeadLetters, StreamReplay};
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE, QueueSettings};

mod common;
use common::{Fixture, client, fixture};

const SETTINGS: QueueSettings = QueueSettings {
    visibility: std::time::Duration::from_secs(10),
    max_receives: 3,
    dead_letter_queue: EMAIL_DLQ,
};

impl Fixture {
    /// The store as the dead-letter port (its `list` and `get` share names with
    /// the client store's).
    fn dlq(&self) -> &dyn DeadLetters {
        &self.store
    }

    async fn send(&self, bodies: &[&str]) {
        let bodies = bodies.iter().map(|b| b.to_string()).collect();
        self.store
            .send_messages(EMAIL_QUEUE, bodies, std::time::Duration::ZERO)
            .await
            .unwrap();
    }

    /// Receives every visible message and fails each; returns how many it received.
    async fn fail_all(&self, error: &str) -> usize {
        let got = self.store.receive(EMAIL_QUEUE, 10, SETTINGS).await.unwrap();
        for m in &got {
            self.store
                .release(&m.receipt, std::time::Duration::ZERO, error)
                .await
                .unwrap();
        }
        got.len()
    }

    /// Fails every message until all of them are dead.
    async fn kill_all(&self) {
        for attempt in 1..=SETTINGS.max_receives {
            self.fail_all(&format!("boom {attempt}")).await;
        }
        assert_eq!(self.fail_all("never").await, 0, "the next receive kills");
    }
}

#[tokio::test]
async fn a_poison_message_is_listed_with_its_last_error_after_the_maximum_receives() {
    let f = fixture();
    f.send(&[r#"{"id":"evt_1","type":"client_created"}"#, "not json"])
        .await;
    f.kill_all().await;

    assert_eq!(
        f.store.queue_depth(EMAIL_QUEUE).await.unwrap(),
        Default::default()
    );
    let page = f.dlq().list(None, 10).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_cursor, None);
    let first = &page.items[0];
    assert_eq!(first.source_queue, EMAIL_QUEUE);
    assert_eq!(first.receive_count, SETTINGS.max_receives);
    assert_eq!(first.last_error.as_deref(), Some("boom 3"));
    assert_eq!(first.sent_at, f.clock.now());
    assert_eq!(first.body["id"], "evt_1", "a JSON body is shown as JSON");
    assert_eq!(page.items[1].body, "not json", "any other body as text");

    let got = f.dlq().get(&first.id).await.unwrap();
    assert_eq!(got.as_ref(), Some(first));
}

#[tokio::test]
async fn dead_letters_page_oldest_first() {
    let f = fixture();
    f.send(&["a", "b", "c"]).await;
    f.kill_all().await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f.dlq().list(cursor, 2).await.unwrap();
        seen.extend(page.items.into_iter().map(|d| d.body));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["a", "b", "c"]);
    assert!(matches!(
        f.dlq().list(Some("!!".into()), 2).await,
        Err(StoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn a_redriven_message_is_back_in_its_queue_with_a_fresh_count() {
    let f = fixture();
    f.send(&["one", "two"]).await;
    f.kill_all().await;
    let dead = f.dlq().list(None, 10).await.unwrap().items;

    f.dlq().redrive(&dead[0].id).await.unwrap();
    assert_eq!(f.dlq().list(None, 10).await.unwrap().items, dead[1..]);
    assert_eq!(f.dlq().get(&dead[0].id).await.unwrap(), None);
    let back = f.store.receive(EMAIL_QUEUE, 10, SETTINGS).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body, "one");
    assert_eq!(back[0].receive_count, 1, "counted afresh");
    assert!(f.store.delete_message(&back[0].receipt).await.unwrap());

    assert!(matches!(
        f.dlq().redrive(&dead[0].id).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn redrive_all_moves_every_dead_letter_back() {
    let f = fixture();
    f.send(&["one", "two", "three"]).await;
    f.kill_all().await;
    f.clock.advance(Duration::seconds(5));

    assert_eq!(f.dlq().redrive_all().await.unwrap(), 3);
    assert!(f.dlq().list(None, 10).await.unwrap().items.is_empty());
    assert_eq!(
        f.store.queue_depth(EMAIL_DLQ).await.unwrap(),
        Default::default()
    );
    let back = f.store.receive(EMAIL_QUEUE, 10, SETTINGS).await.unwrap();
    assert_eq!(back.len(), 3);
    assert!(back.iter().all(|m| m.receive_count == 1));
    assert_eq!(f.dlq().redrive_all().await.unwrap(), 0);
}

#[tokio::test]
async fn unknown_dead_letters_are_not_found() {
    let f = fixture();
    f.send(&["alive"]).await;
    for id in ["msg_999", "nope", "", "msg_1"] {
        assert_eq!(f.dlq().get(id).await.unwrap(), None, "{id:?}");
        assert!(
            matches!(f.dlq().redrive(id).await, Err(StoreError::NotFound)),
            "{id:?}"
        );
    }
    assert_eq!(
        f.store.queue_depth(EMAIL_QUEUE).await.unwrap().visible,
        1,
        "a live message is no dead letter and stays where it is"
    );
}

#[tokio::test]
async fn replay_rewinds_the_stream_and_answers_how_many_changes_follow() {
    let f = fixture();
    for e in ["a@example.com", "b@example.com", "c@example.com"] {
        f.store
            .insert(client(e, "Ada", f.clock.now()))
            .await
            .unwrap();
    }
    assert_eq!(f.store.pump(100).await.unwrap(), 3);
    assert_eq!(f.store.stream_position().await.unwrap(), (3, 3));

    assert_eq!(f.store.replay_from(1).await.unwrap(), 2);
    assert_eq!(f.store.stream_position().await.unwrap(), (3, 1));
    assert_eq!(f.store.pump(100).await.unwrap(), 2, "republished");

    assert_eq!(
        f.store.replay_from(3).await.unwrap(),
        0,
        "nothing after the head"
    );
    assert_eq!(f.store.replay_from(50).await.unwrap(), 0, "past the head");
    assert_eq!(f.store.stream_position().await.unwrap(), (3, 3), "unmoved");

    assert_eq!(f.store.replay_from(0).await.unwrap(), 3);
    assert_eq!(f.store.stream_position().await.unwrap(), (3, 0));
}

#[tokio::test]
async fn replay_never_moves_the_checkpoint_forward() {
    let f = fixture();
    for e in ["a@example.com", "b@example.com", "c@example.com"] {
        f.store
            .insert(client(e, "Ada", f.clock.now()))
            .await
            .unwrap();
    }
    assert_eq!(f.store.pump(1).await.unwrap(), 1);
    // Changes 2 and 3 are not yet published: replaying "after 2" must not skip 2.
    assert_eq!(f.store.replay_from(2).await.unwrap(), 1);
    assert_eq!(f.store.stream_position().await.unwrap(), (3, 1));
    assert_eq!(f.store.pump(100).await.unwrap(), 2);
}
