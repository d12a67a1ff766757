//! The embedded store against real SQLite files, beyond the port contracts
//! (`contract_clients.rs`): client writes and their change-log rows, group commit
//! isolation, queue semantics.

use chrono::Duration;
use engage_core::clock::Clock;
use engage_core::ports::{ClientImport, ClientQuery, ClientStore, ClientWrite};
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE, QueueSettings};

mod common;
use common::{client, fixture};

#[tokio::test]
async fn each_client_write_appends_one_change_record() {
    let f = fixture();
    let now = f.clock.now();
    let c = client("ada@example.com", "Ada", now);
    f.store.insert(c.clone()).await.unwrap();
    let mut next = c.clone();
    next.first_name = "Adeline".into();
    next.version = 2;
    f.store.replace(next, 1).await.unwrap();
    f.store.delete(&c.id, Some(2)).await.unwrap();

    let changes = f.store.changes_after(0, 10).await.unwrap();
    assert_eq!(changes.len(), 3);
    assert!(changes[0].old.is_none() && changes[0].new.is_some());
    assert_eq!(changes[1].old.as_ref().unwrap().first_name, "Ada");
    assert_eq!(changes[1].new.as_ref().unwrap().first_name, "Adeline");
    assert!(changes[2].new.is_none());
}

#[tokio::test]
async fn a_refused_write_appends_no_change_record() {
    let f = fixture();
    let now = f.clock.now();
    let taken = client("taken@example.com", "Tia", now);
    f.store.insert(taken.clone()).await.unwrap();
    let mut v2 = taken.clone();
    v2.first_name = "Tina".into();
    v2.version = 2;
    f.store.replace(v2.clone(), 1).await.unwrap();
    let head = f.store.changes_after(0, 100).await.unwrap().len();

    // Alone: a taken address, a stale version, a missing client, a delete at
    // another version.
    let dup = client("TAKEN@example.com", "Dup", now);
    let ghost = client("ghost@example.com", "Gus", now);
    assert!(f.store.insert(dup.clone()).await.is_err());
    assert!(f.store.replace(v2.clone(), 1).await.is_err());
    assert!(f.store.replace(ghost.clone(), 1).await.is_err());
    assert!(f.store.delete(&taken.id, Some(7)).await.is_err());
    assert_eq!(f.store.changes_after(0, 100).await.unwrap().len(), head);

    // In an import batch, beside rows that are stored: one record per stored row.
    let results = f
        .store
        .write_batch(vec![
            ClientWrite::Insert(client("a@example.com", "Ada", now)),
            ClientWrite::Insert(dup),
            ClientWrite::Replace {
                client: v2,
                expected_version: 1,
            },
            ClientWrite::Replace {
                client: ghost,
                expected_version: 1,
            },
            ClientWrite::Insert(client("b@example.com", "Bo", now)),
        ])
        .await
        .unwrap();
    let stored: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert_eq!(stored, [true, false, false, false, true]);
    assert_eq!(f.store.changes_after(0, 100).await.unwrap().len(), head + 2);
}

#[tokio::test]
async fn a_failing_write_in_a_batch_does_not_undo_the_others() {
    let f = fixture();
    let now = f.clock.now();
    // Fire many inserts at once so the writer folds them into shared transactions;
    // every fifth one reuses an address and must fail alone.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = f.store.clone();
        let email = if i % 5 == 4 {
            format!("u{}@example.com", i - 1)
        } else {
            format!("u{i}@example.com")
        };
        tasks.push(tokio::spawn(async move {
            store.insert(client(&email, "U", now)).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap().is_ok() {
            ok += 1;
        }
    }
    assert_eq!(ok, 160);
    let page = f
        .store
        .list(&ClientQuery {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 160);
    assert_eq!(f.store.changes_after(0, 1000).await.unwrap().len(), 160);
}

#[tokio::test]
async fn the_queue_hides_received_messages_and_honours_receipts() {
    let f = fixture();
    let s = QueueSettings {
        visibility: std::time::Duration::from_secs(30),
        max_receives: 3,
        dead_letter_queue: EMAIL_DLQ,
    };
    f.store
        .send_messages(EMAIL_QUEUE, vec!["m1".into()], std::time::Duration::ZERO)
        .await
        .unwrap();
    let first = f.store.receive(EMAIL_QUEUE, 10, s).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].receive_count, 1);
    assert!(
        f.store
            .receive(EMAIL_QUEUE, 10, s)
            .await
            .unwrap()
            .is_empty(),
        "hidden while in flight"
    );

    f.clock.advance(Duration::seconds(31));
    let second = f.store.receive(EMAIL_QUEUE, 10, s).await.unwrap();
    assert_eq!(second[0].receive_count, 2);
    assert!(
        !f.store.delete_message(&first[0].receipt).await.unwrap(),
        "an old receipt cannot delete"
    );
    assert!(f.store.delete_message(&second[0].receipt).await.unwrap());
    assert_eq!(
        f.store.queue_depth(EMAIL_QUEUE).await.unwrap(),
        Default::default()
    );
}

#[tokio::test]
async fn a_receive_acknowledges_the_previous_batch_in_the_same_write() {
    let f = fixture();
    let s = QueueSettings {
        visibility: std::time::Duration::from_secs(30),
        max_receives: 3,
        dead_letter_queue: EMAIL_DLQ,
    };
    let bodies = (1..=4).map(|i| format!("m{i}")).collect();
    f.store
        .send_messages(EMAIL_QUEUE, bodies, std::time::Duration::ZERO)
        .await
        .unwrap();
    let first = f.store.receive(EMAIL_QUEUE, 2, s).await.unwrap();
    assert_eq!(first.len(), 2);

    // A receipt from an earlier delivery is no longer current and deletes nothing.
    let stale = format!("{}.0000", first[0].id);
    let acks = vec![first[0].receipt.clone(), first[1].receipt.clone(), stale];
    let second = f
        .store
        .receive_acking(EMAIL_QUEUE, 10, s, acks)
        .await
        .unwrap();
    let bodies: Vec<&str> = second.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["m3", "m4"]);
    let depth = f.store.queue_depth(EMAIL_QUEUE).await.unwrap();
    assert_eq!(
        (depth.visible, depth.in_flight, depth.delayed),
        (0, 2, 0),
        "the acknowledged two are gone, the received two in flight"
    );
    let acks = second.iter().map(|m| m.receipt.clone()).collect();
    assert!(
        f.store
            .receive_acking(EMAIL_QUEUE, 10, s, acks)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        f.store.queue_depth(EMAIL_QUEUE).await.unwrap(),
        Default::default()
    );
}

#[tokio::test]
async fn delayed_messages_wait_and_poison_messages_reach_the_dead_letter_queue() {
    let f = fixture();
    let s = QueueSettings {
        visibility: std::time::Duration::from_secs(10),
        max_receives: 2,
        dead_letter_queue: EMAIL_DLQ,
    };
    f.store
        .send_messages(
            EMAIL_QUEUE,
            vec!["later".into()],
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(
        f.store
            .receive(EMAIL_QUEUE, 10, s)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.store.queue_depth(EMAIL_QUEUE).await.unwrap().delayed, 1);
    f.clock.advance(Duration::seconds(61));
    for _ in 0..2 {
        let got = f.store.receive(EMAIL_QUEUE, 10, s).await.unwrap();
        assert_eq!(got.len(), 1);
        f.store
            .release(&got[0].receipt, std::time::Duration::ZERO, "boom")
            .await
            .unwrap();
    }
    assert!(
        f.store
            .receive(EMAIL_QUEUE, 10, s)
            .await
            .unwrap()
            .is_empty(),
        "third receive moves it away"
    );
    assert_eq!(f.store.queue_depth(EMAIL_DLQ).await.unwrap().visible, 1);
}
