//! Workers racing on one client. [`Interleaved`] is the ledger as one worker sees it
//! while others work: just before each of its commits, another worker decides an
//! event of its own to the end, so the race happens at the worst moment, every time.

use crate::world::{World, decided};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::change::Event;
use engage_core::email::{DecisionOutcome, Email, EmailStatus, SkipReason, StatusChange};
use engage_core::ids::{EmailId, EventId, UserId};
use engage_core::ports::{
    Claim, CommitResult, ContextRequest, DecisionCommit, EmailTransition, Ledger, LedgerContext,
};
use engage_core::processor::{Engine, Outcome, ProcessError};
use engage_core::testing::memory::MemoryStore;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

struct Interleaved {
    store: Arc<MemoryStore>,
    /// The other workers' turns: before each commit, the next one decides its event.
    others: Mutex<VecDeque<(Engine, Event)>>,
    commits: Mutex<usize>,
}

impl Interleaved {
    /// A worker of `w` whose commits each follow one of `others`' events, decided by
    /// `w`'s own engine (a second worker over the same store).
    fn worker(w: &World, others: Vec<Event>) -> (Engine, Arc<Interleaved>) {
        let ledger = Arc::new(Interleaved {
            store: w.store.clone(),
            others: Mutex::new(others.into_iter().map(|e| (w.engine.clone(), e)).collect()),
            commits: Mutex::new(0),
        });
        let engine = Engine {
            ledger: ledger.clone(),
            ..w.engine.clone()
        };
        (engine, ledger)
    }

    /// How many times this worker committed (or tried to).
    fn commits(&self) -> usize {
        *self.commits.lock().unwrap()
    }
}

#[async_trait]
impl Ledger for Interleaved {
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerContext>, StoreError> {
        self.store.contexts(requests, since).await
    }
    async fn claim_of(&self, event: &EventId) -> Result<Option<Claim>, StoreError> {
        self.store.claim_of(event).await
    }
    async fn commit(&self, commit: DecisionCommit) -> Result<CommitResult, StoreError> {
        Ok(self.commit_many(vec![commit]).await?.pop().expect("one"))
    }
    async fn commit_many(
        &self,
        commits: Vec<DecisionCommit>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        *self.commits.lock().unwrap() += 1;
        let other = self.others.lock().unwrap().pop_front();
        if let Some((engine, event)) = other {
            engine
                .process(&event)
                .await
                .expect("the other worker decides");
        }
        self.store.commit_many(commits).await
    }
    async fn get_email(&self, id: &EmailId) -> Result<Option<Email>, StoreError> {
        self.store.get_email(id).await
    }
    async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        change: StatusChange,
        message_id: Option<String>,
    ) -> Result<bool, StoreError> {
        self.store.transition(id, from, change, message_id).await
    }
    async fn transition_many(&self, moves: Vec<EmailTransition>) -> Result<Vec<bool>, StoreError> {
        self.store.transition_many(moves).await
    }
    async fn emails_to_deliver(
        &self,
        now: DateTime<Utc>,
        stranded_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        self.store
            .emails_to_deliver(now, stranded_before, limit)
            .await
    }
    async fn claim_composing(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        self.store.claim_composing(now, lease_until, limit).await
    }
    async fn finish_composing(&self, email: Email) -> Result<bool, StoreError> {
        self.store.finish_composing(email).await
    }
    async fn stuck_sending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        self.store.stuck_sending(before, limit).await
    }
    async fn take_due_rescores(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(UserId, u64)>, StoreError> {
        self.store.take_due_rescores(now, lease_until, limit).await
    }
}

#[tokio::test]
async fn a_worker_whose_client_was_decided_meanwhile_decides_again_on_fresh_state() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.login(&ada.id).await;
    let [signup, login] = <[Event; 2]>::try_from(w.events()).unwrap();

    // This worker plans the welcome on the sign-up; another decides the login (and
    // sends the welcome) just before this one commits.
    let (worker, ledger) = Interleaved::worker(&w, vec![login.clone()]);
    let d = decided(worker.process(&signup).await.unwrap());

    // Its commit was stale: it decided again, and found a newer change decided on.
    assert_eq!(ledger.commits(), 2);
    assert_eq!(d.reason, Some(SkipReason::Superseded));
    let emails = w.emails_of(&ada.id).await;
    assert_eq!(emails.len(), 1, "one welcome: {emails:?}");
    assert_eq!(emails[0].campaign, "welcome");
    assert_eq!(emails[0].trigger_event_id, login.id);
    assert_eq!(w.sender.sent().len(), 1);
    assert_eq!(w.decisions_of(&ada.id).await.len(), 2);
}

#[tokio::test]
async fn two_workers_deciding_the_same_event_at_once_send_one_email() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let signup = w.events().pop().unwrap();

    let (worker, ledger) = Interleaved::worker(&w, vec![signup.clone()]);
    assert_eq!(worker.process(&signup).await.unwrap(), Outcome::Duplicate);
    assert_eq!(ledger.commits(), 1, "the claim answered at once, no retry");

    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Sent);
    assert_eq!(w.sender.attempts(), 1, "the loser pushed nothing twice");
    assert_eq!(w.decisions_of(&ada.id).await.len(), 1);
}

#[tokio::test]
async fn an_event_whose_client_other_workers_keep_deciding_on_is_left_for_a_retry() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    for _ in 0..5 {
        w.login(&ada.id).await;
    }
    let mut events = w.events();
    let signup = events.remove(0);

    let (worker, ledger) = Interleaved::worker(&w, events);
    let out = worker.process(&signup).await;
    assert!(matches!(out, Err(ProcessError::Contended)), "{out:?}");
    assert_eq!(ledger.commits(), 5, "five stale attempts, then it gave up");
    assert_eq!(
        w.store.claim_of(&signup.id).await.unwrap(),
        None,
        "nothing was written for it"
    );
    let decisions = w.decisions_of(&ada.id).await;
    assert_eq!(decisions.len(), 5, "the other workers' five");

    // The queue delivers it again once the others are done.
    let d = decided(w.engine.process(&signup).await.unwrap());
    assert_eq!(d.outcome, DecisionOutcome::Skip);
    assert_eq!(d.reason, Some(SkipReason::Superseded));
}
