//! `/api/v1/dead-letters` and `/api/v1/replay`: what an operator needs when the
//! pipeline did not go as planned. Dead letters are messages that failed the maximum
//! number of receives; once the cause is fixed they are redriven to their queue.
//! Replay re-runs the stream processor over the change log. Both are safe to repeat:
//! event ids come from the changes and the email processor claims each event once,
//! so neither sends an email twice.

use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::pagination::{self, Page};
use crate::routes::users::PageParams;
use crate::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use engage_core::StoreError;
use engage_core::ports::DeadLetter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(list_dead_letters))
        .routes(routes!(get_dead_letter))
        .routes(routes!(redrive_dead_letter))
        .routes(routes!(redrive_all_dead_letters))
        .routes(routes!(replay))
}

const NO_SUCH_DEAD_LETTER: &str = "no dead letter has this id";

/// The answer of `POST /api/v1/dead-letters/redrive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Redriven {
    /// How many dead letters went back to their queue.
    pub redriven: u64,
}

/// The body of `POST /api/v1/replay`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Replay the changes after this sequence number; 0 replays the whole log.
    pub from: u64,
}

/// The answer of `POST /api/v1/replay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplayStarted {
    pub from: u64,
    /// How many changes will be published again (0 when none follow `from`).
    pub changes: u64,
}

/// List dead letters.
///
/// Oldest first. Each carries its source queue, receive count and last error as they
/// were when it was moved to the dead-letter queue.
#[utoipa::path(
    get,
    path = "/dead-letters",
    tag = "operations",
    params(PageParams),
    responses(
        (status = 200, description = "One page of dead letters.", body = Page<DeadLetter>),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_dead_letters(
    State(state): State<Shared>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<Page<DeadLetter>>, ApiError> {
    let cursor = pagination::cursor(params.cursor)?;
    let limit = pagination::limit(params.limit)?;
    Ok(axum::Json(
        state.dead_letters.list(cursor, limit).await?.into(),
    ))
}

/// Get a dead letter with its message body.
#[utoipa::path(
    get,
    path = "/dead-letters/{id}",
    tag = "operations",
    params(("id" = String, Path, description = "The dead letter's id")),
    responses(
        (status = 200, description = "The dead letter.", body = DeadLetter),
        (status = 404, description = "No dead letter has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_dead_letter(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<axum::Json<DeadLetter>, ApiError> {
    state
        .dead_letters
        .get(&id)
        .await?
        .map(axum::Json)
        .ok_or_else(|| ApiError::NotFound(NO_SUCH_DEAD_LETTER.into()))
}

/// Redrive a dead letter.
///
/// Moves it back to its source queue, visible now, with a fresh receive count.
#[utoipa::path(
    post,
    path = "/dead-letters/{id}/redrive",
    tag = "operations",
    params(("id" = String, Path, description = "The dead letter's id")),
    responses(
        (status = 204, description = "The message is back in its queue."),
        (status = 404, description = "No dead letter has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn redrive_dead_letter(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.dead_letters.redrive(&id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(NO_SUCH_DEAD_LETTER.into())),
        Err(e) => Err(e.into()),
    }
}

/// Redrive every dead letter.
#[utoipa::path(
    post,
    path = "/dead-letters/redrive",
    tag = "operations",
    responses(
        (status = 200, description = "How many messages went back to their queue.",
            body = Redriven),
    )
)]
async fn redrive_all_dead_letters(
    State(state): State<Shared>,
) -> Result<axum::Json<Redriven>, ApiError> {
    let redriven = state.dead_letters.redrive_all().await?;
    Ok(axum::Json(Redriven { redriven }))
}

/// Replay the change stream.
///
/// Publishes again the events of every change after `from`; the pipeline processes
/// them in the background. Events keep their ids, so already-decided ones change
/// nothing and no email is sent twice.
#[utoipa::path(
    post,
    path = "/replay",
    tag = "operations",
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "The changes will be published again.",
            body = ReplayStarted),
    )
)]
async fn replay(
    State(state): State<Shared>,
    Json(body): Json<ReplayRequest>,
) -> Result<(StatusCode, axum::Json<ReplayStarted>), ApiError> {
    let changes = state.replay.replay_from(body.from).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ReplayStarted {
            from: body.from,
            changes,
        }),
    ))
}
