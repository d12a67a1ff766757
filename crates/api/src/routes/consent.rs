//! `/api/v1/users/{id}/unsubscribe` and `/resubscribe`: the operator's side of a
//! client's consent. Unsubscribing is what the link in every email does (see
//! `unsubscribe.rs`); re-subscribing is only ever this explicit action. Both are
//! normal client writes, so the change stream records them.

use crate::error::{ApiError, Problem};
use crate::extract::Path;
use crate::routes::users::{ClientView, client_response, view};
use crate::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use engage_core::ids::UserId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(unsubscribe_user))
        .routes(routes!(resubscribe_user))
}

/// Unsubscribe a client.
///
/// What the link in an email does, as an operator action. Unsubscribing an
/// unsubscribed client changes nothing (same version).
#[utoipa::path(
    post,
    path = "/users/{id}/unsubscribe",
    tag = "users",
    params(("id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client, unsubscribed.", body = ClientView,
            headers(("ETag" = String, description = "The client's version, quoted"))),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn unsubscribe_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_unsubscribed(&state, id, true).await
}

/// Re-subscribe a client.
///
/// Clears an unsubscribe. Only ever an explicit action (the client asked again);
/// nothing re-subscribes anyone by itself.
#[utoipa::path(
    post,
    path = "/users/{id}/resubscribe",
    tag = "users",
    params(("id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client, subscribed.", body = ClientView,
            headers(("ETag" = String, description = "The client's version, quoted"))),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn resubscribe_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_unsubscribed(&state, id, false).await
}

async fn set_unsubscribed(
    state: &Shared,
    id: String,
    unsubscribed: bool,
) -> Result<Response, ApiError> {
    let id = UserId::from_string(id);
    let client = if unsubscribed {
        state.clients.unsubscribe(&id, "api").await?
    } else {
        state.clients.resubscribe(&id).await?
    };
    client_response(StatusCode::OK, view(state, client).await?)
}
