//! The email processor works on batches: each event is still decided on its own terms.

use crate::helpers::*;
use engage_core::change::Event;
use engage_embedded::pipeline::Handled;
use engage_embedded::queue::EMAIL_QUEUE;
use std::time::Duration;

#[tokio::test]
async fn one_batch_decides_each_clients_events_in_order() {
    let app = spawn_app().await;
    let ids = app.clients_with_four_changes("batch", 5).await;
    let messages = app.take_messages(100).await;
    assert_eq!(messages.len(), 20);

    let handled = app.pipeline.handle_batch(messages).await.unwrap();
    assert_eq!(handled, vec![Handled::Done; 20]);

    for id in &ids {
        let decisions = app.decisions(id).await;
        assert_eq!(decisions.len(), 4, "one decision per event: {decisions:?}");
        // The client's events were decided in arrival order: the creation first (had
        // a later change gone first, the creation would have been superseded and no
        // welcome sent).
        let created = decisions
            .iter()
            .find(|d| d["event_type"] == "client_created")
            .unwrap();
        assert_eq!(created["outcome"], "send", "{decisions:?}");
        assert_eq!(created["campaign"], "welcome");
        let emails = app.emails(id).await;
        let welcomes: Vec<_> = emails
            .iter()
            .filter(|e| e["campaign"] == "welcome")
            .collect();
        assert_eq!(welcomes.len(), 1, "{emails:?}");
        assert!(emails.iter().all(|e| e["status"] == "sent"), "{emails:?}");
    }
    let sent: usize = {
        let mut n = 0;
        for id in &ids {
            n += app.emails(id).await.len();
        }
        n
    };
    assert_eq!(app.outbox_files().len(), sent);
    assert_eq!(depth(&app).await, (0, 0, 0), "every message acknowledged");
}

#[tokio::test]
async fn a_poison_message_in_a_batch_is_released_and_the_rest_are_done() {
    let app = spawn_app().await;
    let ids = app.clients_with_four_changes("batch", 2).await;
    app.pipeline.pump_once().await.unwrap();
    app.store
        .send_messages(EMAIL_QUEUE, vec!["{not an event".into()], Duration::ZERO)
        .await
        .unwrap();
    let messages = app.take_messages(100).await;
    assert_eq!(messages.len(), 9);
    let poison = messages
        .iter()
        .position(|m| m.body.starts_with("{not"))
        .unwrap();

    let handled = app.pipeline.handle_batch(messages).await.unwrap();
    for (i, h) in handled.iter().enumerate() {
        let expected = if i == poison {
            Handled::Retry
        } else {
            Handled::Done
        };
        assert_eq!(*h, expected, "message {i}");
    }
    for id in &ids {
        assert_eq!(app.decisions(id).await.len(), 4);
        let emails = app.emails(id).await;
        assert_eq!(
            emails.iter().filter(|e| e["campaign"] == "welcome").count(),
            1
        );
    }
    assert_eq!(
        depth(&app).await,
        (0, 0, 1),
        "only the poison message is left, backing off"
    );
}

#[tokio::test]
async fn a_batch_delivered_again_sends_nothing_twice() {
    let app = spawn_app().await;
    let ids = app.clients_with_four_changes("batch", 3).await;
    let messages = app.take_messages(100).await;
    let bodies: Vec<String> = messages.iter().map(|m| m.body.clone()).collect();
    app.pipeline.handle_batch(messages).await.unwrap();
    let outbox = app.outbox_files();
    let mut before = Vec::new();
    for id in &ids {
        before.push(app.emails(id).await);
    }
    assert!(outbox.len() >= 3, "{outbox:?}");

    // The same events again, as a redelivery after a lost acknowledgement would bring.
    app.store
        .send_messages(EMAIL_QUEUE, bodies, Duration::ZERO)
        .await
        .unwrap();
    let again = app.take_messages(100).await;
    assert_eq!(again.len(), 12);
    let events: Vec<Event> = again
        .iter()
        .map(|m| serde_json::from_str(&m.body).unwrap())
        .collect();
    let outcomes = app.pipeline.engine().process_batch(&events).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Ok(engage_core::processor::Outcome::Duplicate))),
        "{outcomes:?}"
    );
    for (id, before) in ids.iter().zip(before) {
        assert_eq!(app.decisions(id).await.len(), 4);
        assert_eq!(app.emails(id).await, before);
    }
    assert_eq!(app.outbox_files(), outbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_batches_racing_on_the_same_clients_send_one_email_per_trigger() {
    let app = spawn_app().await;
    let ids = app.clients_with_four_changes("batch", 8).await;
    let messages = app.take_messages(100).await;
    assert_eq!(messages.len(), 32);
    // Interleave the messages into two batches, so both hold events of every client.
    let (a, b): (Vec<_>, Vec<_>) = messages
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, _)>| v.into_iter().map(|(_, m)| m).collect::<Vec<_>>();
    let (p1, p2) = (app.pipeline.clone(), app.pipeline.clone());
    let (a, b) = (strip(a), strip(b));
    let t1 = tokio::spawn(async move { p1.handle_batch(a).await });
    let t2 = tokio::spawn(async move { p2.handle_batch(b).await });
    let mut handled = t1.await.unwrap().unwrap();
    handled.extend(t2.await.unwrap().unwrap());
    assert!(handled.iter().all(|h| *h == Handled::Done), "{handled:?}");
    for id in &ids {
        let emails = app.emails(id).await;
        let welcomes = emails.iter().filter(|e| e["campaign"] == "welcome").count();
        assert_eq!(welcomes, 1, "{id}: {emails:?}");
        assert_eq!(app.decisions(id).await.len(), 4, "one decision per event");
    }
}

/// Decisions recorded for each client.
async fn decisions_per_client(app: &TestApp, ids: &[String]) -> Vec<usize> {
    let mut n = Vec::new();
    for id in ids {
        n.push(app.decisions(id).await.len());
    }
    n
}

async fn depth(app: &TestApp) -> (u64, u64, u64) {
    let d = app.store.queue_depth(EMAIL_QUEUE).await.unwrap();
    (d.visible, d.in_flight, d.delayed)
}

#[tokio::test]
async fn the_tailer_hands_idle_workers_their_messages_already_received() {
    let app = spawn_app_with(|c| {
        c.pipeline.workers = 1;
        c.pipeline.batch_size = 3;
    })
    .await;
    let ids = app.clients_with_four_changes("handoff", 2).await;

    assert_eq!(app.pipeline.pump_and_hand_off().await.unwrap(), 8);
    assert_eq!(
        depth(&app).await,
        (5, 3, 0),
        "one batch for the one idle worker, in flight; the rest wait in the queue"
    );
    // The worker starts on the handed-off batch without a receive: nothing else moves.
    assert_eq!(app.pipeline.work_once().await.unwrap(), 3);
    assert_eq!(
        depth(&app).await,
        (5, 3, 0),
        "acknowledged by the next write"
    );
    assert_eq!(
        decisions_per_client(&app, &ids).await.iter().sum::<usize>(),
        3
    );

    app.settle().await;
    assert_eq!(decisions_per_client(&app, &ids).await, vec![4, 4]);
    assert_eq!(depth(&app).await, (0, 0, 0), "every message acknowledged");
}

#[tokio::test]
async fn batches_handed_off_and_not_worked_on_go_back_to_the_queue_at_a_stop() {
    let app = spawn_app_with(|c| {
        c.pipeline.workers = 2;
        c.pipeline.batch_size = 3;
    })
    .await;
    let ids = app.clients_with_four_changes("returned", 2).await;
    app.pipeline.pump_and_hand_off().await.unwrap();
    assert_eq!(depth(&app).await, (2, 6, 0), "two batches handed off");

    app.pipeline.return_handed_off().await.unwrap();
    assert_eq!(depth(&app).await, (8, 0, 0), "visible again at once");
    let again = app.take_messages(100).await;
    assert_eq!(again.len(), 8);
    assert!(
        again.iter().all(|m| m.receive_count == 1),
        "a handed-off message never worked on does not count as received: {again:?}"
    );
    app.pipeline.handle_batch(again).await.unwrap();
    assert_eq!(decisions_per_client(&app, &ids).await, vec![4, 4]);
}

#[tokio::test]
async fn a_handed_off_batch_lost_in_a_crash_is_delivered_after_the_visibility_timeout() {
    let app = spawn_app().await;
    let ids = app.clients_with_four_changes("crash", 2).await;
    app.pipeline.pump_and_hand_off().await.unwrap();
    assert_eq!(depth(&app).await, (0, 8, 0));
    // The process dies with the batch in memory: nothing returns it to the queue.
    let app = app.restart().await;
    app.settle().await;
    assert_eq!(
        decisions_per_client(&app, &ids).await,
        vec![0, 0],
        "still in flight"
    );

    app.clock.advance(chrono::Duration::seconds(61));
    app.settle().await;
    assert_eq!(decisions_per_client(&app, &ids).await, vec![4, 4]);
    assert_eq!(depth(&app).await, (0, 0, 0));
}
