//! One test's world: the engine over the in-memory store and scripted fakes, a
//! manual clock at `t0()` (Monday 2 March 2026, noon UTC), the client service that
//! writes clients as the API does, and the stream processor played by hand.

use engage_core::change::{Event, event_for_change};
use engage_core::client::{Activity, Client, ClientPatchFields, NewClientFields, StyleProfile};
use engage_core::clock::{Clock as _, ManualClock};
use engage_core::compose::Composed;
use engage_core::config::EngineConfig;
use engage_core::email::{Decision, Email, EmailStatus};
use engage_core::ids::{EmailId, UserId};
use engage_core::ports::{EmailHistory as _, EmailQuery, Ledger};
use engage_core::processor::{Engine, Outcome, ProcessError};
use engage_core::service::ClientService;
use engage_core::testing::memory::{
    MemoryStore, RecordingPublisher, ScriptedGenerator, ScriptedSender, composed,
};
use engage_core::testing::t0;
use engage_core::unsubscribe::UnsubscribeLinks;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub const PUBLIC_URL: &str = "https://engage.test";
pub const SECRET: &[u8] = b"the-processor-tests-key";

/// What the template fake writes: plain, and within every guard.
pub fn template_content() -> Composed {
    composed(
        "template",
        "A note from your stylist",
        "Hi,\n\nYour stylist has a few ideas for you.\n\nYour styling team",
    )
}

pub fn template() -> ScriptedGenerator {
    ScriptedGenerator::answering(template_content())
}

/// What the model fake writes: within every guard.
pub fn model() -> ScriptedGenerator {
    ScriptedGenerator::answering(composed(
        "llm:mock",
        "Ada, your stylist wrote to you",
        "Hi Ada,\n\nA few pieces came in that made me think of you.\n\nSee you soon",
    ))
}

/// How a world is made: the generator (none: the template writes every email, as
/// when no model is configured), the fallback and the engine's configuration.
pub struct Setup {
    pub generator: Option<ScriptedGenerator>,
    pub fallback: ScriptedGenerator,
    pub config: EngineConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            generator: None,
            fallback: template(),
            config: EngineConfig::default(),
        }
    }
}

impl Setup {
    pub fn build(self) -> World {
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        let fallback = Arc::new(self.fallback);
        let generator = match self.generator {
            Some(g) => Arc::new(g),
            None => fallback.clone(),
        };
        let sender = Arc::new(ScriptedSender::default());
        let publisher = Arc::new(RecordingPublisher::default());
        let engine = Engine {
            clients: store.clone(),
            ledger: store.clone(),
            generator: generator.clone(),
            fallback: fallback.clone(),
            sender: sender.clone(),
            publisher: publisher.clone(),
            suppressions: store.clone(),
            links: UnsubscribeLinks::new(PUBLIC_URL, SECRET),
            clock: clock.clone(),
            config: Arc::new(self.config),
        };
        World {
            service: ClientService::new(store.clone(), store.clone(), clock.clone()),
            store,
            clock,
            sender,
            generator,
            fallback,
            publisher,
            engine,
            streamed: AtomicU64::new(0),
        }
    }
}

#[derive(Debug)]
pub struct World {
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    pub sender: Arc<ScriptedSender>,
    /// The configured generator (the fallback itself when none is).
    pub generator: Arc<ScriptedGenerator>,
    pub fallback: Arc<ScriptedGenerator>,
    pub publisher: Arc<RecordingPublisher>,
    pub engine: Engine,
    pub service: ClientService,
    /// The last change record the stream has turned into an event.
    streamed: AtomicU64,
}

impl World {
    /// The template writes every email.
    pub fn new() -> Self {
        Setup::default().build()
    }

    pub fn with_generator(generator: ScriptedGenerator) -> Self {
        Setup {
            generator: Some(generator),
            ..Setup::default()
        }
        .build()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Creates an opted-in client `Ada Lovelace` at `address`, living in `zone`.
    pub async fn create(&self, address: &str, zone: &str) -> Client {
        self.create_with(address, zone, None).await
    }

    pub async fn create_with(
        &self,
        address: &str,
        zone: &str,
        profile: Option<StyleProfile>,
    ) -> Client {
        self.service
            .create(
                NewClientFields {
                    email: address.into(),
                    first_name: "Ada".into(),
                    last_name: Some("Lovelace".into()),
                    time_zone: zone.into(),
                    email_opt_in: true,
                    profile,
                }
                .check()
                .expect("a valid client"),
            )
            .await
            .expect("the client is created")
    }

    pub async fn login(&self, id: &UserId) -> Client {
        self.service
            .record_activity(id, Activity::Login { at: None })
            .await
            .expect("the login is recorded")
    }

    pub async fn opt(&self, client: &Client, email_opt_in: bool) -> Client {
        self.service
            .patch(
                &client.id,
                ClientPatchFields {
                    version: Some(client.version),
                    email_opt_in: Some(email_opt_in),
                    ..ClientPatchFields::default()
                }
                .check()
                .expect("a valid patch"),
                None,
            )
            .await
            .expect("the patch applies")
    }

    /// The stream processor's step: the events of the changes written since the last
    /// call, in commit order.
    pub fn events(&self) -> Vec<Event> {
        let after = self.streamed.load(Ordering::SeqCst);
        let records = self.store.changes_after(after);
        if let Some(last) = records.last() {
            let seq = last.seq.parse().expect("numeric sequence numbers");
            self.streamed.store(seq, Ordering::SeqCst);
        }
        records.iter().filter_map(event_for_change).collect()
    }

    /// Decides on the events of the changes written since the last call, as one batch.
    pub async fn decide(&self) -> Vec<Result<Outcome, ProcessError>> {
        let events = self.events();
        self.engine
            .process_batch(&events)
            .await
            .expect("the store answers")
    }

    /// [`World::decide`] for changes that make exactly one event, decided without error.
    pub async fn decide_one(&self) -> Decision {
        let mut outcomes = self.decide().await;
        assert_eq!(outcomes.len(), 1, "one event: {outcomes:?}");
        decided(outcomes.pop().expect("one").expect("decided"))
    }

    pub async fn emails_of(&self, user: &UserId) -> Vec<Email> {
        self.store
            .list_emails(&EmailQuery {
                user_id: Some(user.clone()),
                limit: 100,
                ..EmailQuery::default()
            })
            .await
            .expect("the emails list")
            .items
    }

    /// The client's one email.
    pub async fn email_of(&self, user: &UserId) -> Email {
        let mut emails = self.emails_of(user).await;
        assert_eq!(emails.len(), 1, "one email: {emails:?}");
        emails.pop().expect("one")
    }

    pub async fn email(&self, id: &EmailId) -> Email {
        self.store
            .get_email(id)
            .await
            .expect("the store answers")
            .expect("the email exists")
    }

    /// The client's decisions, newest first.
    pub async fn decisions_of(&self, user: &UserId) -> Vec<Decision> {
        self.store
            .list_decisions(user, None, 100)
            .await
            .expect("the decisions list")
            .items
    }
}

/// The decision of an outcome that must be one.
pub fn decided(outcome: Outcome) -> Decision {
    match outcome {
        Outcome::Decided(d) => *d,
        other => panic!("expected a decision, got {other:?}"),
    }
}

/// The statuses an email went through, in order.
pub fn statuses(email: &Email) -> Vec<EmailStatus> {
    email.status_history.iter().map(|h| h.status).collect()
}

/// The note of the email's last status change.
pub fn last_note(email: &Email) -> String {
    email
        .status_history
        .last()
        .and_then(|h| h.note.clone())
        .unwrap_or_default()
}
