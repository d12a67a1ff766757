//! The handlers, one module per resource. Each module's `router()` carries its
//! routes and their OpenAPI operations together (utoipa-axum), so the document
//! cannot drift from what is served.

pub mod campaigns;
pub mod consent;
pub mod emails;
pub mod export;
pub mod health;
pub mod import;
pub mod operations;
pub mod preview;
pub mod stats;
pub mod suppressions;
pub mod unsubscribe;
pub mod users;
pub mod webhooks;

use crate::state::Shared;
use utoipa_axum::router::OpenApiRouter;

/// Everything under `/api/v1` (paths relative to it); authentication is added by
/// [`crate::router`].
pub(crate) fn v1() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .merge(import::router())
        .merge(export::router())
        .merge(users::router())
        .merge(preview::router())
        .merge(consent::router())
        .merge(emails::router())
        .merge(operations::router())
        .merge(suppressions::router())
        .merge(campaigns::router())
        .merge(stats::router())
}
