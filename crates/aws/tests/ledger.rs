//! The DynamoDB ledger and suppression list against the AWS emulator (moto's server on
//! 127.0.0.1, real HTTP): the SQLite ledger's answers — `AlreadyClaimed`, `Stale`,
//! conditional moves, leases, pages — from transactions and conditional updates.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use engage_aws::tables::Resources;
use engage_aws::testing::Moto;
use engage_aws::{DynamoLedger, DynamoSuppressions, create_ledger_tables};
use engage_core::StoreError;
use engage_core::change::EventType;
use engage_core::client::EmailAddress;
use engage_core::email::{Decision, DecisionOutcome, Email, EmailStatus, StatusChange};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{
    Claim, CommitResult, ContextRequest, DecisionCommit, EmailQuery, EmailTransition, Ledger,
    SuppressionStore,
};
use engage_core::score::{Component, Drivers, ScoreBreakdown, Tier};

struct Env {
    _moto: Moto,
    ddb: aws_sdk_dynamodb::Client,
    resources: Resources,
    ledger: DynamoLedger,
    suppressions: DynamoSuppressions,
}

/// A fresh emulator with the Emails and Ledger tables (made by the adapter's own
/// `create_ledger_tables`, twice: it is idempotent) and a Users table of the key
/// design's shape, for the client versions rescores answer with.
async fn env() -> Env {
    let moto = Moto::start().await;
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config());
    let resources = Resources::with_prefix("test");
    create_ledger_tables(&ddb, &resources)
        .await
        .expect("the tables are created");
    create_ledger_tables(&ddb, &resources)
        .await
        .expect("creating them again is a no-op");
    ddb.create_table()
        .table_name(&resources.users_table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("the users table is created");
    Env {
        ledger: DynamoLedger::new(ddb.clone(), &resources),
        suppressions: DynamoSuppressions::new(ddb.clone(), &resources),
        _moto: moto,
        ddb,
        resources,
    }
}

impl Env {
    /// A client item as the client store writes it (only what the ledger reads).
    async fn put_user(&self, user: &UserId, version: u64) {
        self.ddb
            .put_item()
            .table_name(&self.resources.users_table)
            .item("pk", AttributeValue::S(user.to_string()))
            .item("kind", AttributeValue::S("user".into()))
            .item("version", AttributeValue::N(version.to_string()))
            .send()
            .await
            .unwrap();
    }
}

/// Monday 2 March 2026, noon UTC (the SQLite tests' start).
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

fn user(n: u32) -> UserId {
    UserId::from_string(format!("usr_{n:04}"))
}

fn addr(a: &str) -> EmailAddress {
    EmailAddress::parse(a).unwrap()
}

fn breakdown(score: u8, at: DateTime<Utc>) -> ScoreBreakdown {
    ScoreBreakdown {
        score,
        tier: Tier::Engaged,
        components: vec![Component {
            name: "recency".into(),
            value: f64::from(score) / 100.0,
            weight: 1.0,
            contribution: f64::from(score),
            explanation: "as the test says".into(),
        }],
        drivers: Drivers {
            cadence_days: 30.0,
            weakest: "recency".into(),
            ..Drivers::default()
        },
        computed_at: at,
    }
}

/// An email of `campaign` triggered by `event`, created at `at` in `status`.
fn email(
    user: &UserId,
    event: &str,
    campaign: &str,
    status: EmailStatus,
    at: DateTime<Utc>,
) -> Email {
    let event = EventId::from_string(event);
    Email {
        id: EmailId::from_string(format!("eml_{}_{campaign}", event.as_str())),
        user_id: user.clone(),
        campaign: campaign.into(),
        status,
        subject: format!("About {campaign}"),
        preheader: "Picked for you".into(),
        body_text: "Hi,\n\nYour stylist is ready.".into(),
        body_html: "<p>Hi,</p>\n<p>Your stylist is ready.</p>".into(),
        generator: "template".into(),
        generation: None,
        fallback_reason: None,
        decision_id: DecisionId::for_event(&event),
        trigger_event_id: event,
        created_at: at,
        scheduled_for: None,
        sent_at: None,
        message_id: None,
        status_history: vec![StatusChange {
            status,
            at,
            note: None,
        }],
    }
}

fn decision(user: &UserId, event: &str, at: DateTime<Utc>, email: Option<&Email>) -> Decision {
    let event = EventId::from_string(event);
    Decision {
        id: DecisionId::for_event(&event),
        user_id: user.clone(),
        event_id: event,
        event_type: EventType::ClientCreated,
        user_version: 1,
        at,
        outcome: if email.is_some() {
            DecisionOutcome::Send
        } else {
            DecisionOutcome::Skip
        },
        campaign: email.map(|e| e.campaign.clone()),
        reason: None,
        explanation: "as the test says".into(),
        score: Some(50),
        tier: Some(Tier::Engaged),
        email_id: email.map(|e| e.id.clone()),
        scheduled_for: None,
    }
}

/// A decision on `event` for `user` at `at` (with its email, if any), made on client
/// version `version` having read `seq`.
fn commit(
    user: &UserId,
    event: &str,
    at: DateTime<Utc>,
    email: Option<Email>,
    version: u64,
    seq: u64,
) -> DecisionCommit {
    DecisionCommit {
        event_id: EventId::from_string(event),
        decision: Some(decision(user, event, at, email.as_ref())),
        email,
        score: Some(breakdown(50, at)),
        user_id: user.clone(),
        processed_version: version,
        next_rescore_at: at + Duration::days(1),
        expected_ledger_seq: seq,
    }
}

fn change(status: EmailStatus, at: DateTime<Utc>) -> StatusChange {
    StatusChange {
        status,
        at,
        note: None,
    }
}

#[tokio::test]
async fn a_redelivered_event_finds_its_claim_and_writes_nothing_again() {
    let env = env().await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    let first = commit(&u, "evt_1", t0(), Some(e.clone()), 1, 0);
    assert_eq!(
        env.ledger.commit(first.clone()).await.unwrap(),
        CommitResult::Committed
    );
    let stored = env.ledger.get_email(&e.id).await.unwrap().expect("stored");
    assert_eq!(stored, e);
    assert_eq!(
        env.ledger.stored_score(&u).await.unwrap(),
        Some(breakdown(50, t0()))
    );

    // The same event again, even on fresh ledger state: the claim answers.
    let mut again = first.clone();
    again.expected_ledger_seq = 1;
    let claim = Claim {
        decision_id: DecisionId::for_event(&EventId::from_string("evt_1")),
        email_id: Some(e.id.clone()),
    };
    assert_eq!(
        env.ledger.commit(again).await.unwrap(),
        CommitResult::AlreadyClaimed(claim.clone())
    );
    // And on the state it first read: the claim still wins over staleness.
    assert_eq!(
        env.ledger.commit(first).await.unwrap(),
        CommitResult::AlreadyClaimed(claim.clone())
    );
    assert_eq!(
        env.ledger
            .claim_of(&EventId::from_string("evt_1"))
            .await
            .unwrap(),
        Some(claim)
    );
    assert_eq!(
        env.ledger
            .list_decisions(&u, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let ctx = env
        .ledger
        .context(&u, &addr("a@example.com"), None, t0())
        .await
        .unwrap();
    assert_eq!(ctx.ledger_seq, 1, "the refused commits bumped nothing");
}

#[tokio::test]
async fn a_commit_on_a_stale_read_is_refused_and_writes_nothing() {
    let env = env().await;
    let u = user(1);
    let a = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    let b = email(&u, "evt_2", "nudge", EmailStatus::Pending, t0());
    // Two workers read ledger_seq 0 for the same client.
    assert_eq!(
        env.ledger
            .commit(commit(&u, "evt_1", t0(), Some(a), 1, 0))
            .await
            .unwrap(),
        CommitResult::Committed
    );
    assert_eq!(
        env.ledger
            .commit(commit(&u, "evt_2", t0(), Some(b.clone()), 2, 0))
            .await
            .unwrap(),
        CommitResult::Stale
    );
    assert!(env.ledger.get_email(&b.id).await.unwrap().is_none());
    assert!(
        env.ledger
            .claim_of(&EventId::from_string("evt_2"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        env.ledger
            .list_decisions(&u, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // Decided again on fresh state, it commits and bumps the sequence.
    assert_eq!(
        env.ledger
            .commit(commit(&u, "evt_2", t0(), Some(b.clone()), 2, 1))
            .await
            .unwrap(),
        CommitResult::Committed
    );
    let ctx = env
        .ledger
        .context(&u, &addr("a@example.com"), None, t0())
        .await
        .unwrap();
    assert_eq!(ctx.ledger_seq, 2);
    assert_eq!(ctx.last_processed_version, Some(2));

    // A first commit for another client must expect 0.
    let v = user(2);
    assert_eq!(
        env.ledger
            .commit(commit(&v, "evt_3", t0(), None, 1, 4))
            .await
            .unwrap(),
        CommitResult::Stale
    );
}

#[tokio::test]
async fn commit_many_answers_each_commit_in_order() {
    let env = env().await;
    let (u, v) = (user(1), user(2));
    let results = env
        .ledger
        .commit_many(vec![
            commit(&u, "evt_1", t0(), None, 1, 0),
            commit(&v, "evt_2", t0(), None, 1, 0),
            // The same client again, on the state the first read: stale.
            commit(&u, "evt_3", t0(), None, 2, 0),
            // The first event again: claimed.
            commit(&u, "evt_1", t0(), None, 1, 1),
        ])
        .await
        .unwrap();
    let claim = Claim {
        decision_id: DecisionId::for_event(&EventId::from_string("evt_1")),
        email_id: None,
    };
    assert_eq!(
        results,
        vec![
            CommitResult::Committed,
            CommitResult::Committed,
            CommitResult::Stale,
            CommitResult::AlreadyClaimed(claim),
        ]
    );
}

#[tokio::test]
async fn the_context_reports_claims_recent_emails_suppression_and_versions() {
    let env = env().await;
    let u = user(1);
    let a = addr("Ana@Example.com");
    let empty = env.ledger.context(&u, &a, None, t0()).await.unwrap();
    assert!(empty.claim.is_none());
    assert_eq!(empty.last_processed_version, None);
    assert_eq!(empty.ledger_seq, 0);
    assert!(empty.recent_emails.is_empty());
    assert!(!empty.suppressed);

    // An email 100 days ago (outside the window), then two recent ones.
    let old_at = t0() - Duration::days(100);
    let old = email(&u, "evt_1", "welcome", EmailStatus::Pending, old_at);
    env.ledger
        .commit(commit(&u, "evt_1", old_at, Some(old.clone()), 3, 0))
        .await
        .unwrap();
    let sent = email(
        &u,
        "evt_2",
        "nudge",
        EmailStatus::Pending,
        t0() - Duration::days(10),
    );
    env.ledger
        .commit(commit(
            &u,
            "evt_2",
            t0() - Duration::days(10),
            Some(sent.clone()),
            5,
            1,
        ))
        .await
        .unwrap();
    let failed = email(
        &u,
        "evt_3",
        "winback",
        EmailStatus::Pending,
        t0() - Duration::days(1),
    );
    // Decided on an older version than the last: the stored version stays the highest.
    env.ledger
        .commit(commit(
            &u,
            "evt_3",
            t0() - Duration::days(1),
            Some(failed.clone()),
            4,
            2,
        ))
        .await
        .unwrap();
    for (id, to) in [
        (&sent.id, EmailStatus::Sending),
        (&sent.id, EmailStatus::Sent),
        (&failed.id, EmailStatus::Failed),
    ] {
        let from = env.ledger.get_email(id).await.unwrap().unwrap().status;
        assert!(
            env.ledger
                .transition(id, from, change(to, t0() - Duration::hours(1)), None)
                .await
                .unwrap()
        );
    }
    env.suppressions
        .add(&addr("ana@example.com"), "bounce", t0())
        .await
        .unwrap();

    let event = EventId::from_string("evt_2");
    let ctx = env
        .ledger
        .context(&u, &a, Some(&event), t0())
        .await
        .unwrap();
    assert_eq!(
        ctx.claim,
        Some(Claim {
            decision_id: DecisionId::for_event(&event),
            email_id: Some(sent.id.clone()),
        })
    );
    assert_eq!(ctx.last_processed_version, Some(5));
    assert_eq!(ctx.ledger_seq, 3);
    assert!(ctx.suppressed, "compared case-insensitively");
    let recent: Vec<(&str, EmailStatus)> = ctx
        .recent_emails
        .iter()
        .map(|e| (e.campaign.as_str(), e.status))
        .collect();
    assert_eq!(
        recent,
        [
            ("winback", EmailStatus::Failed),
            ("nudge", EmailStatus::Sent)
        ],
        "the last 90 days, newest first, with their current status"
    );
    assert_eq!(ctx.recent_emails[1].created_at, t0() - Duration::days(10));
    assert_eq!(ctx.stats.sent_last_90_days, 1);

    // The batch form: a request without an address is never suppressed but still
    // reads the claim and the ledger state, as SQLite answers it.
    let many = env
        .ledger
        .contexts(
            &[
                ContextRequest {
                    user: u.clone(),
                    address: None,
                    event: Some(event.clone()),
                },
                ContextRequest {
                    user: user(2),
                    address: Some(addr("bo@example.com")),
                    event: None,
                },
            ],
            t0(),
        )
        .await
        .unwrap();
    assert!(!many[0].suppressed);
    assert!(many[0].claim.is_some());
    assert_eq!(many[0].ledger_seq, 3);
    assert_eq!(many[0].recent_emails.len(), 2);
    assert_eq!(many[1].ledger_seq, 0);
    assert!(many[1].recent_emails.is_empty());
}

#[tokio::test]
async fn status_moves_are_conditional_and_keep_the_history() {
    let env = env().await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    env.ledger
        .commit(commit(&u, "evt_1", t0(), Some(e.clone()), 1, 0))
        .await
        .unwrap();
    let t1 = t0() + Duration::seconds(1);
    assert!(
        env.ledger
            .transition(
                &e.id,
                EmailStatus::Pending,
                change(EmailStatus::Sending, t1),
                None
            )
            .await
            .unwrap()
    );
    assert!(
        !env.ledger
            .transition(
                &e.id,
                EmailStatus::Pending,
                change(EmailStatus::Sending, t1),
                None
            )
            .await
            .unwrap(),
        "a second pending → sending finds it sending"
    );
    assert!(
        !env.ledger
            .transition(
                &EmailId::from_string("eml_nope"),
                EmailStatus::Pending,
                change(EmailStatus::Sending, t1),
                None
            )
            .await
            .unwrap()
    );
    let t2 = t0() + Duration::seconds(2);
    let moved = env
        .ledger
        .transition_many(vec![
            EmailTransition {
                id: e.id.clone(),
                from: EmailStatus::Sending,
                change: change(EmailStatus::Sent, t2),
                message_id: Some("<m1@example.com>".into()),
            },
            EmailTransition {
                id: e.id.clone(),
                from: EmailStatus::Sending,
                change: change(EmailStatus::Failed, t2),
                message_id: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(moved, [true, false]);
    let sent = env.ledger.get_email(&e.id).await.unwrap().unwrap();
    assert_eq!(sent.status, EmailStatus::Sent);
    assert_eq!(sent.sent_at, Some(t2));
    assert_eq!(sent.message_id.as_deref(), Some("<m1@example.com>"));
    let history: Vec<EmailStatus> = sent.status_history.iter().map(|h| h.status).collect();
    assert_eq!(
        history,
        [
            EmailStatus::Pending,
            EmailStatus::Sending,
            EmailStatus::Sent
        ]
    );
    assert_eq!(sent.subject, e.subject, "the content is untouched");

    // A later move keeps sent_at and the message id.
    let t3 = t0() + Duration::hours(1);
    assert!(
        env.ledger
            .transition(
                &e.id,
                EmailStatus::Sent,
                change(EmailStatus::Delivered, t3),
                None
            )
            .await
            .unwrap()
    );
    let delivered = env.ledger.get_email(&e.id).await.unwrap().unwrap();
    assert_eq!(delivered.sent_at, Some(t2));
    assert_eq!(delivered.message_id.as_deref(), Some("<m1@example.com>"));
    assert_eq!(delivered.status_history.len(), 4);
}

#[tokio::test]
async fn due_scheduled_and_stranded_pending_emails_are_found_and_fresh_ones_are_not() {
    let env = env().await;
    let u = user(1);
    let mut due = email(&u, "evt_1", "welcome", EmailStatus::Scheduled, t0());
    due.scheduled_for = Some(t0() + Duration::hours(1));
    let mut later = email(&u, "evt_2", "nudge", EmailStatus::Scheduled, t0());
    later.scheduled_for = Some(t0() + Duration::hours(9));
    let stranded = email(&u, "evt_3", "winback", EmailStatus::Pending, t0());
    let fresh_at = t0() + Duration::minutes(115);
    let fresh = email(&u, "evt_4", "tips", EmailStatus::Pending, fresh_at);
    for (i, e) in [&due, &later, &stranded, &fresh].into_iter().enumerate() {
        env.ledger
            .commit(commit(
                &u,
                e.trigger_event_id.as_str(),
                e.created_at,
                Some(e.clone()),
                1,
                i as u64,
            ))
            .await
            .unwrap();
    }
    let now = t0() + Duration::hours(2);
    let found = env
        .ledger
        .emails_to_deliver(now, now - Duration::minutes(10), 10)
        .await
        .unwrap();
    assert_eq!(found, [due.id.clone(), stranded.id.clone()]);

    // A scheduled email moved to pending keeps its due time only while scheduled.
    assert!(
        env.ledger
            .transition(
                &due.id,
                EmailStatus::Scheduled,
                change(EmailStatus::Pending, now),
                None
            )
            .await
            .unwrap()
    );
    let found = env
        .ledger
        .emails_to_deliver(now, now - Duration::minutes(10), 10)
        .await
        .unwrap();
    assert_eq!(
        found,
        vec![stranded.id.clone()],
        "pending from now: not stranded yet"
    );

    // Sending since t0 + 1 s: stuck after a while.
    assert!(
        env.ledger
            .transition(
                &stranded.id,
                EmailStatus::Pending,
                change(EmailStatus::Sending, t0() + Duration::seconds(1)),
                None
            )
            .await
            .unwrap()
    );
    assert_eq!(
        env.ledger
            .stuck_sending(t0() + Duration::minutes(5), 10)
            .await
            .unwrap(),
        vec![stranded.id.clone()]
    );
    assert!(env.ledger.stuck_sending(t0(), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn composing_emails_are_leased_and_finished_once() {
    let env = env().await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Composing, t0());
    env.ledger
        .commit(commit(&u, "evt_1", t0(), Some(e.clone()), 1, 0))
        .await
        .unwrap();
    let now = t0() + Duration::seconds(1);
    let lease = now + Duration::minutes(5);
    assert_eq!(
        env.ledger.claim_composing(now, lease, 10).await.unwrap(),
        vec![e.id.clone()]
    );
    assert!(
        env.ledger
            .claim_composing(now + Duration::minutes(1), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased to the first writer"
    );
    // The writer died: after the lease another takes it.
    let later = lease + Duration::seconds(1);
    assert_eq!(
        env.ledger
            .claim_composing(later, later + Duration::minutes(5), 10)
            .await
            .unwrap(),
        vec![e.id.clone()]
    );

    let mut written = e.clone();
    written.subject = "Written by the model".into();
    written.generator = "llm:test".into();
    written.status = EmailStatus::Pending;
    written
        .status_history
        .push(change(EmailStatus::Pending, later));
    assert!(env.ledger.finish_composing(written.clone()).await.unwrap());
    let mut other = e.clone();
    other.subject = "Written by a slower writer".into();
    other.status = EmailStatus::Pending;
    other
        .status_history
        .push(change(EmailStatus::Pending, later));
    assert!(
        !env.ledger.finish_composing(other).await.unwrap(),
        "no longer composing"
    );
    assert_eq!(env.ledger.get_email(&e.id).await.unwrap(), Some(written));
    assert!(
        env.ledger
            .claim_composing(later + Duration::hours(1), later + Duration::hours(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Pending since it was written: stranded only from then on.
    assert_eq!(
        env.ledger
            .emails_to_deliver(later, later, 10)
            .await
            .unwrap(),
        vec![e.id.clone()]
    );
    assert!(
        env.ledger
            .emails_to_deliver(later, later - Duration::seconds(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn due_rescores_are_leased_with_the_clients_version() {
    let env = env().await;
    let (due, not_due, gone) = (user(1), user(2), user(3));
    env.put_user(&due, 7).await;
    env.put_user(&not_due, 2).await;
    // next_rescore_at = decision time + 1 day.
    env.ledger
        .commit(commit(&due, "evt_1", t0(), None, 7, 0))
        .await
        .unwrap();
    env.ledger
        .commit(commit(
            &not_due,
            "evt_2",
            t0() + Duration::days(3),
            None,
            2,
            0,
        ))
        .await
        .unwrap();
    // A score item whose client is gone is never answered.
    env.ledger
        .commit(commit(&gone, "evt_3", t0(), None, 1, 0))
        .await
        .unwrap();

    let now = t0() + Duration::days(2);
    let lease = now + Duration::hours(1);
    assert_eq!(
        env.ledger.take_due_rescores(now, lease, 10).await.unwrap(),
        [(due.clone(), 7)]
    );
    assert!(
        env.ledger
            .take_due_rescores(now + Duration::minutes(30), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased until {lease}"
    );
    env.put_user(&due, 8).await;
    assert_eq!(
        env.ledger
            .take_due_rescores(lease + Duration::seconds(1), lease + Duration::hours(1), 10)
            .await
            .unwrap(),
        [(due.clone(), 8)]
    );
    // A decision moves the next rescore on (a day after it).
    env.ledger
        .commit(commit(&due, "evt_4", now + Duration::hours(3), None, 8, 1))
        .await
        .unwrap();
    assert!(
        env.ledger
            .take_due_rescores(now + Duration::hours(4), now + Duration::hours(5), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn email_lists_page_newest_first_by_client_status_and_campaign() {
    let env = env().await;
    let (u, v) = (user(1), user(2));
    // Five emails for u (two at the same instant: ordered by id), two for v.
    let mut all = Vec::new();
    for (i, (who, minutes, campaign, status)) in [
        (&u, 0, "welcome", EmailStatus::Pending),
        (&u, 1, "nudge", EmailStatus::Pending),
        (&u, 2, "nudge", EmailStatus::Failed),
        (&u, 2, "tips", EmailStatus::Pending),
        (&u, 3, "winback", EmailStatus::Failed),
        (&v, 1, "welcome", EmailStatus::Failed),
        (&v, 4, "nudge", EmailStatus::Pending),
    ]
    .into_iter()
    .enumerate()
    {
        let at = t0() + Duration::minutes(minutes);
        let e = email(who, &format!("evt_{i}"), campaign, status, at);
        let seq = all.iter().filter(|x: &&Email| x.user_id == *who).count() as u64;
        env.ledger
            .commit(commit(
                who,
                &format!("evt_{i}"),
                at,
                Some(e.clone()),
                1,
                seq,
            ))
            .await
            .unwrap();
        all.push(e);
    }
    // What SQLite answers: created_at desc, then id desc.
    let expect = |keep: &dyn Fn(&Email) -> bool| {
        let mut v: Vec<EmailId> = all
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.id.clone())
            .collect();
        let at = |id: &EmailId| all.iter().find(|e| e.id == *id).unwrap().created_at;
        v.sort_by(|a, b| (at(b), b).cmp(&(at(a), a)));
        v
    };
    let list_all = |query: EmailQuery| {
        let ledger = &env.ledger;
        async move {
            let mut pages = Vec::new();
            let mut q = query;
            loop {
                let page = ledger.list_emails(&q).await.unwrap();
                assert!(page.items.len() <= q.limit as usize);
                pages.push(page.items.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
                match page.next_cursor {
                    Some(c) => q.cursor = Some(c),
                    None => break,
                }
            }
            pages
        }
    };

    let pages = list_all(EmailQuery {
        user_id: Some(u.clone()),
        limit: 2,
        ..EmailQuery::default()
    })
    .await;
    assert_eq!(pages.len(), 3, "2 + 2 + 1, no empty last page");
    assert_eq!(pages.concat(), expect(&|e| e.user_id == u));
    let first = env
        .ledger
        .list_emails(&EmailQuery {
            user_id: Some(u.clone()),
            limit: 2,
            ..EmailQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.items[0], all[4], "whole emails, newest first");

    let failed = list_all(EmailQuery {
        status: Some(EmailStatus::Failed),
        limit: 2,
        ..EmailQuery::default()
    })
    .await;
    assert_eq!(failed.len(), 2);
    assert_eq!(
        failed.concat(),
        expect(&|e| e.status == EmailStatus::Failed)
    );

    let everything = list_all(EmailQuery {
        limit: 3,
        ..EmailQuery::default()
    })
    .await;
    assert_eq!(everything.concat(), expect(&|_| true));

    let nudges = list_all(EmailQuery {
        campaign: Some("nudge".into()),
        limit: 1,
        ..EmailQuery::default()
    })
    .await;
    assert_eq!(nudges.concat(), expect(&|e| e.campaign == "nudge"));

    let mine_pending = list_all(EmailQuery {
        user_id: Some(u.clone()),
        status: Some(EmailStatus::Pending),
        limit: 1,
        ..EmailQuery::default()
    })
    .await;
    assert_eq!(
        mine_pending.concat(),
        expect(&|e| e.user_id == u && e.status == EmailStatus::Pending)
    );

    // A status change moves an email between the status lists.
    let moved = &all[0];
    assert!(
        env.ledger
            .transition(
                &moved.id,
                EmailStatus::Pending,
                change(EmailStatus::Failed, t0() + Duration::hours(1)),
                None
            )
            .await
            .unwrap()
    );
    let failed = list_all(EmailQuery {
        status: Some(EmailStatus::Failed),
        limit: 10,
        ..EmailQuery::default()
    })
    .await;
    assert!(failed.concat().contains(&moved.id));

    for bad in ["not base64 ✗", "Zm9v", ""] {
        let r = env
            .ledger
            .list_emails(&EmailQuery {
                cursor: Some(bad.into()),
                limit: 2,
                ..EmailQuery::default()
            })
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidCursor)),
            "{bad:?}: {r:?}"
        );
    }
}

#[tokio::test]
async fn decisions_list_newest_first_with_a_cursor() {
    let env = env().await;
    let u = user(1);
    for i in 0..5u64 {
        env.ledger
            .commit(commit(
                &u,
                &format!("evt_{i}"),
                t0() + Duration::minutes(i as i64),
                None,
                1,
                i,
            ))
            .await
            .unwrap();
    }
    // Another client's decision is not in the list.
    env.ledger
        .commit(commit(
            &user(2),
            "evt_9",
            t0() + Duration::hours(1),
            None,
            1,
            0,
        ))
        .await
        .unwrap();
    let first = env.ledger.list_decisions(&u, None, 2).await.unwrap();
    let ids = |p: &[Decision]| p.iter().map(|d| d.event_id.to_string()).collect::<Vec<_>>();
    assert_eq!(ids(&first.items), ["evt_4", "evt_3"]);
    let second = env
        .ledger
        .list_decisions(&u, first.next_cursor.clone(), 2)
        .await
        .unwrap();
    assert_eq!(ids(&second.items), ["evt_2", "evt_1"]);
    let third = env
        .ledger
        .list_decisions(&u, second.next_cursor.clone(), 2)
        .await
        .unwrap();
    assert_eq!(ids(&third.items), ["evt_0"]);
    assert!(third.next_cursor.is_none());
    assert_eq!(
        third.items[0],
        decision(&u, "evt_0", t0(), None),
        "the decision as committed"
    );
    assert!(matches!(
        env.ledger.list_decisions(&u, Some("%%%".into()), 2).await,
        Err(StoreError::InvalidCursor)
    ));
}

#[tokio::test]
async fn suppressions_are_added_listed_and_removed() {
    let env = env().await;
    let s = &env.suppressions;
    let added = s
        .add(&addr("Zed@Example.com"), "bounce", t0())
        .await
        .unwrap();
    assert_eq!(added.email, "zed@example.com");
    for a in ["bo@example.com", "al@example.com"] {
        s.add(&addr(a), "complaint", t0()).await.unwrap();
    }
    // Adding again updates the reason and keeps when it was first suppressed.
    s.add(&addr("bo@example.com"), "manual", t0() + Duration::days(1))
        .await
        .unwrap();

    let first = s.list(None, 2).await.unwrap();
    let emails = |p: &[engage_core::ports::Suppression]| {
        p.iter().map(|x| x.email.clone()).collect::<Vec<_>>()
    };
    assert_eq!(emails(&first.items), ["al@example.com", "bo@example.com"]);
    assert_eq!(first.items[1].reason, "manual");
    assert_eq!(first.items[1].created_at, t0());
    let second = s.list(first.next_cursor.clone(), 2).await.unwrap();
    assert_eq!(emails(&second.items), ["zed@example.com"]);
    assert!(second.next_cursor.is_none());
    assert!(matches!(
        s.list(Some("not a cursor!".into()), 2).await,
        Err(StoreError::InvalidCursor)
    ));

    let got = s.get(&addr("BO@Example.com")).await.unwrap().unwrap();
    assert_eq!(
        (got.email.as_str(), got.reason.as_str(), got.created_at),
        ("bo@example.com", "manual", t0())
    );
    s.remove(&addr("BO@example.com")).await.unwrap();
    assert!(matches!(
        s.remove(&addr("bo@example.com")).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.get(&addr("bo@example.com")).await.unwrap(), None);
    assert_eq!(
        emails(&s.list(None, 10).await.unwrap().items),
        ["al@example.com", "zed@example.com"]
    );
    let ctx = env
        .ledger
        .context(&user(1), &addr("zed@example.com"), None, t0())
        .await
        .unwrap();
    assert!(ctx.suppressed);
    let ctx = env
        .ledger
        .context(&user(1), &addr("bo@example.com"), None, t0())
        .await
        .unwrap();
    assert!(!ctx.suppressed);
}

#[tokio::test]
async fn the_llm_spending_is_one_tally_for_every_writer() {
    use engage_aws::DynamoSpendTally;
    use engage_core::ports::SpendTally;
    let env = env().await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
    // Two writers (two Lambda environments) on the same table.
    let a = DynamoSpendTally::new(env.ddb.clone(), &env.resources.ledger_table);
    let b = DynamoSpendTally::new(env.ddb.clone(), &env.resources.ledger_table);
    assert_eq!(
        a.add(day, 0, 0.0).await.unwrap(),
        (0, 0.0),
        "nothing spent yet"
    );
    assert_eq!(
        a.add(day, 1_200, 0.000_75).await.unwrap(),
        (1_200, 0.000_75)
    );
    assert_eq!(b.add(day, 800, 0.000_5).await.unwrap(), (2_000, 0.001_25));
    assert_eq!(
        a.add(day, 0, 0.0).await.unwrap(),
        (2_000, 0.001_25),
        "a sees b's"
    );
    // Concurrent adds are all counted.
    let adds = (0..10).map(|_| a.add(day, 10, 0.0));
    futures_util::future::join_all(adds).await;
    assert_eq!(b.add(day, 0, 0.0).await.unwrap().0, 2_100);
    // Another day starts at nothing.
    let next = day.succ_opt().unwrap();
    assert_eq!(b.add(next, 0, 0.0).await.unwrap(), (0, 0.0));
}
