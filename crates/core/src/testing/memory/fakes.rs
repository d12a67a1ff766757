//! Scripted fakes of the ports without state worth a contract: the events topic, the
//! mail sender and the content generator. Each records what it was given, so a test
//! can assert on it, and answers as the test told it to.

use crate::StoreError;
use crate::change::Event;
use crate::compose::{ComposeRequest, Composed, Content};
use crate::ports::{
    ComposeError, ContentGenerator, EventPublisher, MailSender, OutgoingEmail, SendError,
    SendReceipt,
};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The events topic: keeps every event published, in order.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    events: Mutex<Vec<Event>>,
}

impl RecordingPublisher {
    /// Everything published so far.
    pub fn published(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    /// Everything published since the last `take`, as a queue hands it to a worker.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *lock(&self.events))
    }
}

#[async_trait]
impl EventPublisher for RecordingPublisher {
    async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError> {
        lock(&self.events).extend(events);
        Ok(())
    }
}

/// How [`ScriptedSender`] answers one send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SendScript {
    /// Accepted, with the Message-ID `<email id>@engage.test`.
    #[default]
    Accept,
    Transient(String),
    Permanent(String),
}

#[derive(Debug, Default)]
struct SenderState {
    /// The answers to the next sends, in order; then `otherwise`.
    next: VecDeque<SendScript>,
    otherwise: SendScript,
    sent: Vec<OutgoingEmail>,
    attempts: usize,
}

/// A mail sender that keeps the emails it accepted and fails when told to.
#[derive(Debug, Default)]
pub struct ScriptedSender {
    state: Mutex<SenderState>,
}

impl ScriptedSender {
    /// The Message-ID the sender gives an email it accepts.
    pub fn message_id(email: &crate::ids::EmailId) -> String {
        format!("{email}@engage.test")
    }

    /// Answers the next send not yet scripted with `outcome`.
    pub fn then(&self, outcome: SendScript) {
        lock(&self.state).next.push_back(outcome);
    }

    pub fn fail_next_transiently(&self, why: &str) {
        self.then(SendScript::Transient(why.into()));
    }

    pub fn fail_next_permanently(&self, why: &str) {
        self.then(SendScript::Permanent(why.into()));
    }

    /// Answers every send after the scripted ones with `outcome` (at first: accept).
    pub fn otherwise(&self, outcome: SendScript) {
        lock(&self.state).otherwise = outcome;
    }

    /// The emails accepted, in order.
    pub fn sent(&self) -> Vec<OutgoingEmail> {
        lock(&self.state).sent.clone()
    }

    /// Every send asked for, accepted or not.
    pub fn attempts(&self) -> usize {
        lock(&self.state).attempts
    }
}

#[async_trait]
impl MailSender for ScriptedSender {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        let mut s = lock(&self.state);
        s.attempts += 1;
        let outcome = s.next.pop_front().unwrap_or_else(|| s.otherwise.clone());
        match outcome {
            SendScript::Accept => {
                s.sent.push(email.clone());
                Ok(SendReceipt {
                    message_id: Self::message_id(&email.email.id),
                })
            }
            SendScript::Transient(why) => Err(SendError::Transient(why)),
            SendScript::Permanent(why) => Err(SendError::Permanent(why)),
        }
    }
}

/// Content and its author, for a [`ScriptedGenerator`] to answer.
pub fn composed(generator: &str, subject: &str, body_text: &str) -> Composed {
    Composed {
        content: Content {
            subject: subject.into(),
            preheader: String::new(),
            body_text: body_text.into(),
        },
        generator: generator.into(),
        generation: None,
        fallback_reason: None,
    }
}

type Failure = Arc<dyn Fn() -> ComposeError + Send + Sync>;

#[derive(Clone)]
enum Script {
    Answer(Box<Composed>),
    Fail(Failure),
}

/// A generator that answers one fixed [`Composed`], or fails with the error a test
/// chose; it can say it is remote (the engine then writes its emails after the
/// decision commits).
pub struct ScriptedGenerator {
    name: String,
    remote: bool,
    script: Mutex<Script>,
    requests: Mutex<Vec<ComposeRequest>>,
}

impl std::fmt::Debug for ScriptedGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedGenerator")
            .field("name", &self.name)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl ScriptedGenerator {
    /// Answers `composed` every time; named after its generator.
    pub fn answering(composed: Composed) -> Self {
        Self {
            name: composed.generator.clone(),
            remote: false,
            script: Mutex::new(Script::Answer(Box::new(composed))),
            requests: Mutex::default(),
        }
    }

    /// Fails every time with what `error` makes; named `llm:scripted`.
    pub fn failing(error: impl Fn() -> ComposeError + Send + Sync + 'static) -> Self {
        Self {
            name: "llm:scripted".into(),
            remote: false,
            script: Mutex::new(Script::Fail(Arc::new(error))),
            requests: Mutex::default(),
        }
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// Whether it says it calls out over the network ([`ContentGenerator::remote`]).
    pub fn with_remote(mut self, remote: bool) -> Self {
        self.remote = remote;
        self
    }

    /// Answers `composed` from now on.
    pub fn answer(&self, composed: Composed) {
        *lock(&self.script) = Script::Answer(Box::new(composed));
    }

    /// Fails with what `error` makes from now on.
    pub fn fail(&self, error: impl Fn() -> ComposeError + Send + Sync + 'static) {
        *lock(&self.script) = Script::Fail(Arc::new(error));
    }

    /// The requests it was asked, in order.
    pub fn requests(&self) -> Vec<ComposeRequest> {
        lock(&self.requests).clone()
    }

    pub fn calls(&self) -> usize {
        lock(&self.requests).len()
    }
}

#[async_trait]
impl ContentGenerator for ScriptedGenerator {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn remote(&self) -> bool {
        self.remote
    }

    async fn generate(&self, request: &ComposeRequest) -> Result<Composed, ComposeError> {
        lock(&self.requests).push(request.clone());
        let script = lock(&self.script).clone();
        match script {
            Script::Answer(c) => Ok(*c),
            Script::Fail(error) => Err(error()),
        }
    }
}
