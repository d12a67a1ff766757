//! The embedded store against real SQLite files: client writes and their change
//! records, optimistic concurrency, group commit isolation, queue semantics.

use chrono::Duration;
use engage_core::StoreError;
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
async fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let f = fixture();
    let c = client("ada@example.com", "Ada", f.clock.now());
    f.store.insert(c.clone()).await.unwrap();
    let mut stale = c.clone();
    stale.first_name = "Mallory".into();
    stale.version = 2;
    f.store.replace(stale.clone(), 1).await.unwrap();
    let err = f.store.replace(stale, 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::VersionConflict { current: 2 }),
        "{err:?}"
    );
    assert_eq!(f.store.changes_after(0, 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn duplicate_addresses_are_refused_case_insensitively() {
    let f = fixture();
    let now = f.clock.now();
    f.store
        .insert(client("ada@example.com", "Ada", now))
        .await
        .unwrap();
    let err = f
        .store
        .insert(client("ADA@Example.com", "Other", now))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    assert_eq!(
        f.store.changes_after(0, 10).await.unwrap().len(),
        1,
        "the failed insert left no change record"
    );
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
async fn a_refused_row_of_an_import_batch_writes_nothing_and_the_others_are_stored() {
    let f = fixture();
    let now = f.clock.now();
    let taken = client("taken@example.com", "Tia", now);
    f.store.insert(taken.clone()).await.unwrap();
    let head = f.store.changes_after(0, 100).await.unwrap().len();

    let mut moved_on = taken.clone();
    moved_on.first_name = "Tea".into();
    moved_on.version = 2;
    let mut renamed = taken.clone();
    renamed.first_name = "Tina".into();
    renamed.version = 2;
    let results = f
        .store
        .write_batch(vec![
            ClientWrite::Insert(client("a@example.com", "Ada", now)),
            // Each of these is refused by its first statement.
            ClientWrite::Insert(client("TAKEN@example.com", "Dup", now)),
            ClientWrite::Replace {
                client: moved_on,
                expected_version: 7,
            },
            ClientWrite::Replace {
                client: client("ghost@example.com", "Gus", now),
                expected_version: 1,
            },
            ClientWrite::Replace {
                client: renamed,
                expected_version: 1,
            },
            ClientWrite::Insert(client("b@example.com", "Bo", now)),
        ])
        .await
        .unwrap();

    assert!(results[0].is_ok());
    assert!(
        matches!(results[1], Err(StoreError::Duplicate(_))),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(results[2], Err(StoreError::VersionConflict { current: 1 })),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(StoreError::NotFound)),
        "{:?}",
        results[3]
    );
    assert!(results[4].is_ok() && results[5].is_ok(), "{results:?}");
    // One change record per stored row, none for a refused one.
    let changes = f.store.changes_after(0, 100).await.unwrap();
    assert_eq!(changes.len() - head, 3);
    let stored = f.store.get(&taken.id).await.unwrap().unwrap();
    assert_eq!((stored.first_name.as_str(), stored.version), ("Tina", 2));
    let page = f
        .store
        .list(&ClientQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
}

#[tokio::test]
async fn lists_page_with_cursors_and_search_by_prefix() {
    let f = fixture();
    let now = f.clock.now();
    for (e, n) in [
        ("ada@example.com", "Ada"),
        ("bob@example.com", "Bob"),
        ("adam@example.com", "Adam"),
        ("eve@example.com", "Eve"),
    ] {
        f.store.insert(client(e, n, now)).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f
            .store
            .list(&ClientQuery {
                limit: 3,
                cursor,
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|c| c.client.first_name.clone()));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["Ada", "Bob", "Adam", "Eve"]);
    let found = f
        .store
        .list(&ClientQuery {
            search: Some("AD".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<_> = found
        .items
        .iter()
        .map(|c| c.client.first_name.as_str())
        .collect();
    assert_eq!(names, ["Ada", "Adam"]);
    let bad = f
        .store
        .list(&ClientQuery {
            cursor: Some("!!not-a-cursor".into()),
            limit: 3,
            ..Default::default()
        })
        .await;
    assert!(matches!(bad, Err(StoreError::InvalidCursor)));
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
