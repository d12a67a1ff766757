//! What the handlers share: the domain's services and ports, built once by the host
//! (`engage serve` or a Lambda main) and handed to [`crate::router`].

use crate::auth::TokenAuth;
use engage_core::ports::{
    ClientImport, DeadLetters, EmailHistory, FeedbackIntake, HealthCheck, SentMessages,
    StreamReplay, SuppressionStore,
};
use engage_core::processor::Engine;
use engage_core::service::ClientService;
use std::sync::Arc;

/// The API's dependencies. Everything here is a port or built on ports, so the same
/// router runs over SQLite or DynamoDB.
#[derive(Clone)]
pub struct AppState {
    pub clients: ClientService,
    pub engine: Engine,
    pub suppressions: Arc<dyn SuppressionStore>,
    /// The ledger's read queries: emails, decisions, scores, the dashboard's counts.
    pub history: Arc<dyn EmailHistory>,
    /// The copies of sent messages, kept by the sender that keeps them (the outbox).
    pub sent_messages: Arc<dyn SentMessages>,
    /// Bulk reads and writes of clients, for import.
    pub import: Arc<dyn ClientImport>,
    /// The email queue's dead letters, for operators to inspect and redrive.
    pub dead_letters: Arc<dyn DeadLetters>,
    /// Re-running the stream processor over the change log.
    pub replay: Arc<dyn StreamReplay>,
    pub health: Arc<dyn HealthCheck>,
    pub auth: TokenAuth,
    /// The mail provider's reports (`POST /webhooks/ses`); `None`: not configured.
    pub feedback: Option<Arc<dyn FeedbackIntake>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("clients", &self.clients)
            .field("engine", &self.engine)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// The state the router carries: one allocation, cloned per request as a pointer.
pub(crate) type Shared = Arc<AppState>;
