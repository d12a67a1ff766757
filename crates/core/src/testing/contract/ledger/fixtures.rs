//! The ledger contract's fixtures: clients, emails, decisions, score breakdowns and
//! commits, every one at a time the case gives.

use crate::change::EventType;
use crate::client::{Client, EmailAddress, NewClientFields};
use crate::compose::Generation;
use crate::email::{Decision, DecisionOutcome, Email, EmailStatus, StatusChange};
use crate::ids::{DecisionId, EmailId, EventId, UserId};
use crate::ports::{Claim, CommitResult, DecisionCommit, Ledger, LedgerContext};
use crate::score::{Component, Drivers, ScoreBreakdown, Tier};
use crate::testing::{Backend, Stores};
use chrono::{DateTime, Duration, Utc};

/// One case's fresh stores and the backend's name for its messages.
pub(super) struct Fixture {
    pub stores: Stores,
    pub name: &'static str,
}

impl Fixture {
    pub async fn new(backend: &dyn Backend) -> Self {
        Self {
            stores: backend.fresh().await,
            name: backend.name(),
        }
    }

    pub fn ledger(&self) -> &dyn Ledger {
        &*self.stores.ledger
    }

    pub fn history(&self) -> &dyn crate::ports::EmailHistory {
        &*self.stores.history
    }

    /// The client's context at `now`, asked without an event.
    pub async fn context(&self, user: &UserId, now: DateTime<Utc>) -> LedgerContext {
        self.ledger()
            .context(
                user,
                &address(user),
                None,
                crate::policy::recent_emails_since(now),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: context of {user}: {e}", self.name))
    }

    /// Commits, asserting that it was committed.
    pub async fn commit(&self, commit: DecisionCommit) {
        let event = commit.event_id.clone();
        let result = self
            .ledger()
            .commit(commit)
            .await
            .unwrap_or_else(|e| panic!("{}: commit of {event}: {e}", self.name));
        assert_eq!(
            result,
            CommitResult::Committed,
            "{}: the commit of {event}",
            self.name
        );
    }

    /// A decision on `event` at `at` (with its email, if any) made on client version
    /// `version`, committed on the ledger state it reads first.
    pub async fn decide(
        &self,
        user: &UserId,
        event: &str,
        at: DateTime<Utc>,
        email: Option<Email>,
        version: u64,
    ) {
        let seq = self.context(user, at).await.ledger_seq;
        self.commit(commit(user, event, at, email, version, seq))
            .await;
    }

    /// Records `email` with the decision on its trigger event (client version 1).
    pub async fn record(&self, email: &Email) {
        self.decide(
            &email.user_id,
            email.trigger_event_id.as_str(),
            email.created_at,
            Some(email.clone()),
            1,
        )
        .await;
    }

    /// The stored email, which must exist.
    pub async fn email(&self, id: &EmailId) -> Email {
        self.ledger()
            .get_email(id)
            .await
            .unwrap_or_else(|e| panic!("{}: get_email {id}: {e}", self.name))
            .unwrap_or_else(|| panic!("{}: email {id} is stored", self.name))
    }

    /// Moves an email, answering whether it moved.
    pub async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        to: EmailStatus,
        at: DateTime<Utc>,
    ) -> bool {
        self.ledger()
            .transition(id, from, change(to, at), None)
            .await
            .unwrap_or_else(|e| panic!("{}: transition of {id}: {e}", self.name))
    }

    /// Inserts client `n` at version 1 into the client store.
    pub async fn insert_client(&self, n: u32, at: DateTime<Utc>) -> Client {
        let c = client(n, at);
        self.stores
            .clients
            .insert(c.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: insert client {n}: {e}", self.name));
        c
    }

    /// Writes the client's next version; answers it.
    pub async fn bump_client(&self, mut c: Client, at: DateTime<Utc>) -> Client {
        let expected = c.version;
        c.version += 1;
        c.updated_at = at;
        self.stores
            .clients
            .replace(c.clone(), expected)
            .await
            .unwrap_or_else(|e| panic!("{}: replace client {}: {e}", self.name, c.id));
        c
    }
}

pub(super) fn user(n: u32) -> UserId {
    UserId::from_string(format!("usr_{n:04}"))
}

/// The address of the fixtures' clients.
pub(super) fn address(user: &UserId) -> EmailAddress {
    EmailAddress::parse(&format!("{user}@example.com")).expect("a valid address")
}

pub(super) fn addr(a: &str) -> EmailAddress {
    EmailAddress::parse(a).expect("a valid address")
}

/// Client `n` (id [`user`]`(n)`, address [`address`]), version 1, created at `at`.
pub(super) fn client(n: u32, at: DateTime<Utc>) -> Client {
    NewClientFields {
        email: address(&user(n)).as_str().to_string(),
        first_name: format!("Client{n}"),
        last_name: None,
        time_zone: "Europe/Paris".into(),
        email_opt_in: true,
        profile: None,
    }
    .check()
    .expect("a valid client")
    .into_client(user(n), at)
}

pub(super) fn breakdown(score: u8, at: DateTime<Utc>) -> ScoreBreakdown {
    ScoreBreakdown {
        score,
        tier: Tier::Engaged,
        components: vec![Component {
            name: "recency".into(),
            value: f64::from(score) / 100.0,
            weight: 1.0,
            contribution: f64::from(score),
            explanation: "as the case says".into(),
        }],
        drivers: Drivers {
            days_since_last_activity: Some(3),
            cadence_days: 30.0,
            profile_completeness: 80,
            weakest: "recency".into(),
            ..Drivers::default()
        },
        computed_at: at,
    }
}

pub(super) fn change(status: EmailStatus, at: DateTime<Utc>) -> StatusChange {
    StatusChange {
        status,
        at,
        note: None,
    }
}

/// The email (id `eml_<event>`) of `campaign` that `event` triggered, created at `at`
/// in `status`, written by the template.
pub(super) fn email(
    user: &UserId,
    event: &str,
    campaign: &str,
    status: EmailStatus,
    at: DateTime<Utc>,
) -> Email {
    let event = EventId::from_string(event);
    Email {
        id: EmailId::from_string(format!("eml_{event}")),
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
        status_history: vec![change(status, at)],
    }
}

/// `e`, scheduled for `at` (quiet hours).
pub(super) fn scheduled(mut e: Email, at: DateTime<Utc>) -> Email {
    e.status = EmailStatus::Scheduled;
    e.scheduled_for = Some(at);
    e.status_history = vec![change(EmailStatus::Scheduled, e.created_at)];
    e
}

/// `e`, written by a model whose tokens cost `cost_usd` (when known).
pub(super) fn by_model(mut e: Email, cost_usd: Option<f64>) -> Email {
    e.generator = "llm:gpt-test".into();
    e.generation = Some(Generation {
        model: "gpt-test".into(),
        prompt_version: "v3".into(),
        tokens_in: 900,
        tokens_out: 150,
        latency_ms: 1_200,
        attempts: 1,
        cost_usd,
        prompt: None,
        raw_output: None,
    });
    e
}

pub(super) fn decision(
    user: &UserId,
    event: &str,
    at: DateTime<Utc>,
    email: Option<&Email>,
    version: u64,
) -> Decision {
    let event = EventId::from_string(event);
    Decision {
        id: DecisionId::for_event(&event),
        user_id: user.clone(),
        event_id: event,
        event_type: EventType::ClientCreated,
        user_version: version,
        at,
        outcome: if email.is_some() {
            DecisionOutcome::Send
        } else {
            DecisionOutcome::Skip
        },
        campaign: email.map(|e| e.campaign.clone()),
        reason: None,
        explanation: "as the case says".into(),
        score: Some(50),
        tier: Some(Tier::Engaged),
        email_id: email.map(|e| e.id.clone()),
        scheduled_for: None,
    }
}

/// A decision on `event` for `user` at `at` (with its email, if any) and the score
/// 50, made on client version `version` having read `ledger_seq` `seq`; the next
/// rescore a day later.
pub(super) fn commit(
    user: &UserId,
    event: &str,
    at: DateTime<Utc>,
    email: Option<Email>,
    version: u64,
    seq: u64,
) -> DecisionCommit {
    DecisionCommit {
        event_id: EventId::from_string(event),
        decision: Some(decision(user, event, at, email.as_ref(), version)),
        email,
        score: Some(breakdown(50, at)),
        user_id: user.clone(),
        processed_version: version,
        next_rescore_at: at + Duration::days(1),
        expected_ledger_seq: seq,
    }
}

/// The claim a commit from [`commit`] leaves on `event`.
pub(super) fn claim(event: &str, email: Option<&Email>) -> Claim {
    Claim {
        decision_id: DecisionId::for_event(&EventId::from_string(event)),
        email_id: email.map(|e| e.id.clone()),
    }
}

pub(super) fn event(id: &str) -> EventId {
    EventId::from_string(id)
}
