//! One scenario suite, two backends: each scenario drives the real HTTP API and
//! asserts what it expects, first on the embedded backend (SQLite, the pipeline
//! stepped), then on the AWS backend in moto with the Lambda handlers doing the work
//! (API → DynamoDB → the Streams API → `stream` → SNS → SQS → `mailer` → SES → the
//! Emails table); the two must then agree on every decision and email
//! ([`World::summary`]).
//!
//! The AWS-only tests at the end show what only the AWS path can get wrong:
//! redelivered stream batches and SQS messages, partial batch failures, and a poison
//! message's way to the dead-letter queue.

mod lambda;
mod world;

use chrono::Duration;
use serde_json::{Value, json};
use world::{World, t0};

/// Runs `scenario` on both backends; each run asserts the scenario's expectations,
/// and the two summaries must be equal.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let mut embedded = World::embedded().await;
            let expected = scenarios::$name(&embedded).await;
            embedded.stop().await;
            let mut aws = World::aws().await;
            let got = scenarios::$name(&aws).await;
            aws.stop().await;
            assert_eq!(got, expected, "the AWS backend differs from the embedded one");
        }
    )*};
}

on_both_backends!(
    a_new_client_gets_a_welcome_email,
    an_opted_out_client_gets_nothing_and_the_reason_is_recorded,
    a_suppressed_address_gets_nothing,
    an_unsubscribed_client_gets_no_further_email,
    quiet_hours_schedule_the_email_and_the_sweep_sends_it,
    activity_after_a_silence_finds_the_client_at_risk,
    changes_delivered_newest_first_decide_once_each,
);

fn outcome(d: &Value) -> (&str, Option<&str>, Option<&str>) {
    (
        d["outcome"].as_str().unwrap(),
        d["campaign"].as_str(),
        d["reason"].as_str(),
    )
}

mod scenarios {
    use super::*;

    pub async fn a_new_client_gets_a_welcome_email(w: &World) -> Value {
        let ada = w
            .simple_client("ada@example.com", "Europe/London", true)
            .await;
        w.settle().await;
        let d = w.decisions(&ada).await;
        assert_eq!(d.len(), 1, "{}: {d:?}", w.name);
        assert_eq!(
            outcome(&d[0]),
            ("send", Some("welcome"), None),
            "{}",
            w.name
        );
        let e = w.emails(&ada).await;
        assert_eq!(e.len(), 1, "{}: {e:?}", w.name);
        assert_eq!(e[0]["status"], "sent", "{}: {e:?}", w.name);
        assert!(e[0]["subject"].as_str().unwrap().contains("Ada"));
        assert_eq!(w.sent().await, 1, "{}", w.name);
        w.summary(&[("ada", &ada)]).await
    }

    pub async fn an_opted_out_client_gets_nothing_and_the_reason_is_recorded(w: &World) -> Value {
        let id = w
            .simple_client("opt-out@example.com", "Europe/London", false)
            .await;
        w.settle().await;
        let d = w.decisions(&id).await;
        assert_eq!(
            outcome(&d[0]),
            ("skip", Some("welcome"), Some("not_opted_in")),
            "{}",
            w.name
        );
        assert!(
            d[0]["explanation"]
                .as_str()
                .unwrap()
                .starts_with("not sent, because")
        );
        assert!(w.emails(&id).await.is_empty());
        assert_eq!(w.sent().await, 0);
        w.summary(&[("opt_out", &id)]).await
    }

    pub async fn a_suppressed_address_gets_nothing(w: &World) -> Value {
        w.ok(
            reqwest::Method::POST,
            "/api/v1/suppressions",
            Some(&json!({"email": "Bounced@Example.com", "reason": "hard bounce"})),
        )
        .await;
        let id = w
            .simple_client("bounced@example.com", "Europe/London", true)
            .await;
        w.settle().await;
        assert_eq!(
            outcome(&w.decisions(&id).await[0]),
            ("skip", Some("welcome"), Some("suppressed")),
            "{}",
            w.name
        );
        assert!(w.emails(&id).await.is_empty());
        assert_eq!(w.sent().await, 0);
        w.summary(&[("bounced", &id)]).await
    }

    pub async fn an_unsubscribed_client_gets_no_further_email(w: &World) -> Value {
        let id = w
            .simple_client("leaving@example.com", "Europe/London", true)
            .await;
        w.settle().await;
        w.patch(&id, json!({"version": 1, "unsubscribed": true}))
            .await;
        w.settle().await;
        w.clock.advance(Duration::days(2));
        w.record(&id, json!({"type": "login"})).await;
        w.settle().await;
        let d = w.decisions(&id).await;
        assert_eq!(
            outcome(&d[0]),
            ("skip", Some("complete_style_profile"), Some("unsubscribed")),
            "{}",
            w.name
        );
        assert_eq!(w.emails(&id).await.len(), 1, "only the welcome");
        assert_eq!(w.sent().await, 1);
        w.summary(&[("leaving", &id)]).await
    }

    pub async fn quiet_hours_schedule_the_email_and_the_sweep_sends_it(w: &World) -> Value {
        // Noon UTC is 23:00 in Sydney.
        let id = w
            .simple_client("sydney@example.com", "Australia/Sydney", true)
            .await;
        w.settle().await;
        let d = w.decisions(&id).await;
        assert_eq!(
            outcome(&d[0]),
            ("schedule", Some("welcome"), None),
            "{}",
            w.name
        );
        assert_eq!(d[0]["scheduled_for"], "2026-03-02T21:00:00Z");
        w.tick().await;
        assert_eq!(w.emails(&id).await[0]["status"], "scheduled", "not due yet");
        assert_eq!(w.sent().await, 0);
        w.clock.advance(Duration::hours(9));
        w.tick().await;
        assert_eq!(w.emails(&id).await[0]["status"], "sent", "{}", w.name);
        assert_eq!(w.sent().await, 1);
        w.summary(&[("sydney", &id)]).await
    }

    pub async fn activity_after_a_silence_finds_the_client_at_risk(w: &World) -> Value {
        let id = w
            .create_client(json!({
                "email": "bea@example.com", "first_name": "Bea", "time_zone": "Europe/Paris", "email_opt_in": true,
                "profile": {"preferences": ["minimal", "workwear"], "top_size": "M", "bottom_size": "38",
                            "shoe_size": "39", "budget": "mid", "fit_notes": "relaxed"}
            }))
            .await;
        for (fix, days_ago) in [("f1", 60), ("f2", 30)] {
            let at = t0() - Duration::days(days_ago);
            w.record(
                &id,
                json!({"type": "fix_delivered", "fix_id": fix, "items_sent": 5, "at": at}),
            )
            .await;
            w.record(&id, json!({"type": "fix_feedback", "fix_id": fix, "items_kept": 4, "rating": 5, "at": at + Duration::days(3)}))
                .await;
        }
        w.settle().await;
        w.clock.advance(Duration::days(35));
        w.record(&id, json!({"type": "email_opened"})).await;
        w.settle().await;
        let last = w.decisions(&id).await[0].clone();
        assert_eq!(last["event_type"], "email_engaged", "{}", w.name);
        assert_eq!(
            outcome(&last),
            ("send", Some("schedule_next_fix"), None),
            "{}",
            w.name
        );
        let e = w.emails(&id).await;
        assert_eq!(e[0]["campaign"], "schedule_next_fix");
        assert_eq!(e[0]["status"], "sent");
        w.summary(&[("bea", &id)]).await
    }

    /// Two changes of one client whose events arrive newest first: each is decided
    /// once, the older one as superseded, and nothing is sent for a state the client
    /// has already left.
    pub async fn changes_delivered_newest_first_decide_once_each(w: &World) -> Value {
        let id = w
            .simple_client("late@example.com", "Europe/London", true)
            .await;
        w.patch(&id, json!({"version": 1, "unsubscribed": true}))
            .await;
        assert_eq!(w.deliver_newest_first().await, 2, "{}", w.name);
        let d = w.decisions(&id).await;
        assert_eq!(d.len(), 2, "{}: {d:?}", w.name);
        let of = |t: &str| d.iter().find(|x| x["event_type"] == t).unwrap();
        // The newer change, decided first, finds the client unsubscribed; the older
        // one, decided after it, is superseded.
        assert_eq!(
            of("consent_changed")["reason"],
            "unsubscribed",
            "{}: {d:?}",
            w.name
        );
        assert_eq!(
            of("client_created")["reason"],
            "superseded",
            "{}: {d:?}",
            w.name
        );
        assert!(w.emails(&id).await.is_empty());
        assert_eq!(w.sent().await, 0);
        // Delivered again (in order this time), they change nothing.
        w.settle().await;
        assert_eq!(w.decisions(&id).await.len(), 2);
        w.summary(&[("late", &id)]).await
    }
}

// --- AWS only ----------------------------------------------------------------------------

#[tokio::test]
async fn a_redelivered_stream_batch_and_sqs_batch_send_nothing_twice() {
    let mut w = World::aws().await;
    let id = w
        .simple_client("again@example.com", "Europe/London", true)
        .await;
    w.settle().await;
    let before = w.summary(&[("again", &id)]).await;
    assert_eq!(before["sent"], 1);
    let l = w.lambda();

    // The same stream batch again (a retried invocation): its events are published
    // again, with the same ids, and the mailer finds their claims.
    let batch = l.last_stream_batch.lock().unwrap().clone().unwrap();
    assert_eq!(l.invoke_stream(batch).await, None);
    assert!(l.pump_queue().await >= 1, "the events went out again");
    // The same SQS batch again (SQS delivers at least once).
    let sqs = l.last_sqs_batch.lock().unwrap().clone().unwrap();
    assert_eq!(l.invoke_mailer(sqs).await, Vec::<String>::new());
    w.settle().await;

    assert_eq!(w.summary(&[("again", &id)]).await, before);
    assert_eq!(w.sent().await, 1, "nothing was sent twice");
    w.stop().await;
}

#[tokio::test]
async fn a_poison_message_is_reported_alone_and_ends_in_the_dead_letter_queue() {
    let mut w = World::aws().await;
    let id = w
        .simple_client("poison@example.com", "Europe/London", true)
        .await;
    let l = w.lambda();
    assert_eq!(
        l.pump_stream().await,
        2,
        "the user item and its address guard"
    );
    let sqs = aws_sdk_sqs::Client::new(&l.moto.sdk_config());
    sqs.send_message()
        .queue_url(&l.queue_url)
        .message_body("{not json")
        .send()
        .await
        .unwrap();

    // One batch with the client's event and the poison message: exactly the poison
    // message is reported, the event is processed and deleted.
    let mut messages = l.receive().await;
    while messages.len() < 2 {
        let more = l.receive().await;
        assert!(!more.is_empty(), "both messages are visible");
        messages.extend(more);
    }
    let poison = messages
        .iter()
        .find(|m| m.body() == Some("{not json"))
        .unwrap()
        .message_id()
        .unwrap()
        .to_string();
    let failed = l.invoke_mailer(l.sqs_event(&messages)).await;
    assert_eq!(failed, std::slice::from_ref(&poison));
    for m in messages
        .iter()
        .filter(|m| m.message_id() != Some(poison.as_str()))
    {
        sqs.delete_message()
            .queue_url(&l.queue_url)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(w.emails(&id).await.len(), 1, "the good event was processed");

    // Each time its visibility timeout passes, Lambda receives it again and it fails
    // again; after the redrive policy's 5 receives SQS moves it to the DLQ.
    let in_flight: Vec<_> = messages
        .into_iter()
        .filter(|m| m.message_id() == Some(poison.as_str()))
        .collect();
    l.expire_in_flight(&in_flight).await;
    let mut receives = 1;
    loop {
        let again = l.receive().await;
        if again.is_empty() {
            break;
        }
        receives += 1;
        assert!(
            receives <= 5,
            "received more often than the redrive policy allows"
        );
        assert_eq!(
            l.invoke_mailer(l.sqs_event(&again)).await,
            std::slice::from_ref(&poison)
        );
        l.expire_in_flight(&again).await;
    }
    assert_eq!(receives, 5);
    assert_eq!(l.depth(&l.queue_url).await, 0);
    assert_eq!(l.depth(&l.dlq_url).await, 1);
    // Operators see it through the API.
    let letters = w.items("/api/v1/dead-letters").await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["body"], "{not json", "{letters:?}");
    assert_eq!(w.sent().await, 1);
    w.stop().await;
}
