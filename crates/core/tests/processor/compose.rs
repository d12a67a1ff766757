//! Writing the email: the model's content when it passes the guards, the template
//! when the model fails (each way it can) or is refused, and a remote model's emails
//! written after their decision committed.

use crate::world::{Setup, World, decided, last_note, model, statuses, template, template_content};
use chrono::Duration;
use engage_core::compose::{Generation, Retention};
use engage_core::config::EngineConfig;
use engage_core::email::{DecisionOutcome, EmailStatus, SkipReason};
use engage_core::ports::{ComposeError, Ledger};
use engage_core::processor::{COMPOSE_LEASE, Delivery, ProcessError};
use engage_core::testing::memory::{ScriptedGenerator, composed};
use engage_core::testing::t0;

fn generation() -> Generation {
    Generation {
        model: "mock".into(),
        prompt_version: "v1".into(),
        tokens_in: 120,
        tokens_out: 80,
        latency_ms: 900,
        attempts: 1,
        cost_usd: Some(0.001),
        prompt: Some("the prompt".into()),
        raw_output: Some("the answer".into()),
    }
}

/// How a generator fails, given what it says.
type Failure = fn(String) -> ComposeError;

#[tokio::test]
async fn each_kind_of_generator_failure_falls_back_to_the_template_with_its_reason() {
    let kinds: [(Failure, &str); 4] = [
        (ComposeError::Unavailable, "generator unavailable: it broke"),
        (ComposeError::Refused, "generator output refused: it broke"),
        (ComposeError::CircuitOpen, "generator paused: it broke"),
        (ComposeError::OverBudget, "generator budget spent: it broke"),
    ];
    for (kind, reason) in kinds {
        let w = World::with_generator(ScriptedGenerator::failing(move || kind("it broke".into())));
        let ada = w.create("ada@example.com", "UTC").await;
        let d = w.decide_one().await;
        assert_eq!(d.outcome, DecisionOutcome::Send, "{reason}");

        let email = w.email_of(&ada.id).await;
        assert_eq!(email.status, EmailStatus::Sent, "{reason}");
        assert_eq!(email.generator, "template");
        assert_eq!(email.fallback_reason.as_deref(), Some(reason));
        assert_eq!(email.subject, "A note from your stylist");
        assert_eq!(email.generation, None);
        assert_eq!((w.generator.calls(), w.fallback.calls()), (1, 1));
    }
}

#[tokio::test]
async fn a_model_email_within_the_guards_is_sent_as_written_without_its_prompt() {
    let mut c = composed(
        "llm:mock",
        "Ada, new pieces",
        "Hi Ada,\n\nA **few** pieces came in for you.\n\nSee you soon",
    );
    c.generation = Some(generation());
    let w = World::with_generator(ScriptedGenerator::answering(c));
    let ada = w.create("ada@example.com", "UTC").await;
    w.decide_one().await;

    let email = w.email_of(&ada.id).await;
    assert_eq!(email.generator, "llm:mock");
    assert_eq!(email.subject, "Ada, new pieces");
    assert!(
        email.body_html.contains("<strong>few</strong>"),
        "{}",
        email.body_html
    );
    assert_eq!(email.fallback_reason, None);
    let g = email.generation.expect("the accounting is kept");
    assert_eq!((g.tokens_in, g.tokens_out), (120, 80));
    // By default only a refused model answer keeps its prompt and raw output.
    assert_eq!((g.prompt, g.raw_output), (None, None));
    assert_eq!(w.fallback.calls(), 0);
    // What the model was told: the client's first name, never the address.
    let asked = &w.generator.requests()[0];
    assert_eq!(asked.first_name, "Ada");
    assert_eq!(asked.campaign.name, "welcome");
}

#[tokio::test]
async fn content_failing_a_guard_falls_back_and_keeps_the_models_attempt_as_retention_says() {
    for (retention, kept) in [
        (Retention::Fallbacks, true),
        (Retention::All, true),
        (Retention::None, false),
    ] {
        let mut c = composed(
            "llm:mock",
            "Act now, Ada",
            "Hi Ada,\n\nThis offer will not last.\n\nSee you soon",
        );
        c.generation = Some(generation());
        let w = Setup {
            generator: Some(ScriptedGenerator::answering(c)),
            config: EngineConfig {
                retain_llm_io: retention,
                ..EngineConfig::default()
            },
            ..Setup::default()
        }
        .build();
        let ada = w.create("ada@example.com", "UTC").await;
        w.decide_one().await;

        let email = w.email_of(&ada.id).await;
        assert_eq!(email.generator, "template");
        let why = email.fallback_reason.as_deref().unwrap_or_default();
        assert!(why.contains("banned_phrase"), "{why}");
        let g = email
            .generation
            .expect("the model's accounting stays on record");
        assert_eq!(g.prompt.is_some(), kept, "{retention:?}");
        assert_eq!(g.raw_output.is_some(), kept, "{retention:?}");
    }
}

#[tokio::test]
async fn a_failing_template_leaves_the_event_undecided_for_the_queue_to_retry() {
    let w = Setup {
        generator: Some(ScriptedGenerator::failing(|| {
            ComposeError::Unavailable("down".into())
        })),
        fallback: ScriptedGenerator::failing(|| ComposeError::Refused("template broken".into())),
        ..Setup::default()
    }
    .build();
    let ada = w.create("ada@example.com", "UTC").await;
    let e = w.events().pop().unwrap();

    let out = w.engine.process(&e).await;
    assert!(matches!(out, Err(ProcessError::Compose(_))), "{out:?}");
    assert_eq!(w.store.claim_of(&e.id).await.unwrap(), None);
    assert!(w.decisions_of(&ada.id).await.is_empty());
    assert!(w.emails_of(&ada.id).await.is_empty());

    // Once the template is mended, the redelivered event is decided and sent.
    w.fallback.answer(template_content());
    let d = decided(w.engine.process(&e).await.unwrap());
    assert_eq!(d.outcome, DecisionOutcome::Send);
    assert_eq!(w.sender.sent().len(), 1);
}

#[tokio::test]
async fn a_remote_generator_commits_the_decision_first_and_writes_the_email_after() {
    let w = World::with_generator(model().with_remote(true));
    let ada = w.create("ada@example.com", "UTC").await;
    let d = w.decide_one().await;
    assert_eq!(d.outcome, DecisionOutcome::Send);

    let email = w.email_of(&ada.id).await;
    assert_eq!(Some(&email.id), d.email_id.as_ref());
    assert_eq!(email.status, EmailStatus::Composing);
    assert_eq!(email.subject, "", "not written yet");
    assert_eq!((w.generator.calls(), w.sender.attempts()), (0, 0));

    assert_eq!(w.engine.write_due(10).await.unwrap(), 1);
    let email = w.email(&email.id).await;
    assert_eq!(
        statuses(&email),
        [
            EmailStatus::Composing,
            EmailStatus::Pending,
            EmailStatus::Sending,
            EmailStatus::Sent
        ]
    );
    assert_eq!(
        email.status_history[1].note.as_deref(),
        Some("written by llm:mock")
    );
    assert_eq!(email.subject, "Ada, your stylist wrote to you");
    assert_eq!(email.generator, "llm:mock");
    assert_eq!((w.generator.calls(), w.sender.sent().len()), (1, 1));
    assert_eq!(w.engine.write_due(10).await.unwrap(), 0, "written once");
}

#[tokio::test]
async fn a_remote_email_due_in_quiet_hours_is_written_then_waits_until_morning() {
    let w = World::with_generator(model().with_remote(true));
    let yuki = w.create("yuki@example.com", "Asia/Tokyo").await;
    let d = w.decide_one().await;
    assert_eq!(d.outcome, DecisionOutcome::Schedule);

    assert_eq!(w.engine.write_due(10).await.unwrap(), 1);
    let email = w.email_of(&yuki.id).await;
    assert_eq!(email.status, EmailStatus::Scheduled);
    assert_eq!(email.generator, "llm:mock");
    assert!(w.sender.sent().is_empty());

    w.clock.set(d.scheduled_for.unwrap());
    assert_eq!(w.engine.tick(10).await.unwrap().sent, 1);
    assert_eq!(w.email(&email.id).await.status, EmailStatus::Sent);
}

#[tokio::test]
async fn a_remote_email_whose_client_unsubscribed_before_it_was_written_is_cancelled_unwritten() {
    let w = World::with_generator(model().with_remote(true));
    let ada = w.create("ada@example.com", "UTC").await;
    w.decide_one().await;
    w.service.unsubscribe(&ada.id, "link").await.unwrap();

    let email = w.email_of(&ada.id).await;
    assert_eq!(
        w.engine.write_email(&email.id).await.unwrap(),
        Delivery::Cancelled(SkipReason::Unsubscribed)
    );
    let email = w.email(&email.id).await;
    assert_eq!(email.status, EmailStatus::Cancelled);
    assert_eq!(
        last_note(&email),
        "not sent, because the client unsubscribed"
    );
    assert_eq!(w.generator.calls(), 0, "the model was not asked");
    assert!(w.sender.sent().is_empty());
}

#[tokio::test]
async fn a_remote_generator_that_fails_when_writing_falls_back_to_the_template() {
    let w = Setup {
        generator: Some(
            ScriptedGenerator::failing(|| ComposeError::CircuitOpen("cooling down".into()))
                .with_remote(true),
        ),
        fallback: template(),
        ..Setup::default()
    }
    .build();
    let ada = w.create("ada@example.com", "UTC").await;
    w.decide_one().await;
    assert_eq!(w.engine.write_due(10).await.unwrap(), 1);

    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Sent);
    assert_eq!(email.generator, "template");
    assert_eq!(
        email.fallback_reason.as_deref(),
        Some("generator paused: cooling down")
    );
    assert_eq!(
        email.status_history[1].note.as_deref(),
        Some("written by template")
    );
}

#[tokio::test]
async fn an_email_whose_writer_stopped_is_written_by_another_when_the_lease_runs_out() {
    let w = World::with_generator(model().with_remote(true));
    let ada = w.create("ada@example.com", "UTC").await;
    w.decide_one().await;
    // A writer claims it, then its process stops.
    let claimed = w
        .store
        .claim_composing(t0(), t0() + COMPOSE_LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);

    w.clock.set(t0() + COMPOSE_LEASE - Duration::seconds(1));
    assert_eq!(w.engine.write_due(10).await.unwrap(), 0, "still leased");
    w.clock.set(t0() + COMPOSE_LEASE);
    assert_eq!(w.engine.write_due(10).await.unwrap(), 1);
    assert_eq!(w.email_of(&ada.id).await.status, EmailStatus::Sent);
    assert_eq!(w.generator.calls(), 1);
}
