//! `POST /api/v1/users/{id}/emails/preview`: what the client would get now, written
//! by the configured generator on the same path as a real email, and sent nowhere.

use crate::error::{ApiError, Problem};
use crate::extract::{Path, parse_json};
use crate::state::Shared;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use engage_core::ids::UserId;
use engage_core::processor::{Preview, ProcessError};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(preview_email))
}

/// The optional body of a preview.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// Write this campaign's email whatever the decision would be; unset: the email of
    /// the campaign the processor would send, if any.
    pub campaign: Option<String>,
}

/// Preview the client's next email.
///
/// Scores the client, decides as the email processor would on a change now, and
/// writes the email — with the configured generator (an LLM is asked, and billed),
/// its guards and its template fallback — without recording or sending anything.
/// The body is optional.
#[utoipa::path(
    post,
    path = "/users/{id}/emails/preview",
    tag = "users",
    params(("id" = String, Path, description = "The client's id")),
    request_body(content = Option<PreviewRequest>, content_type = "application/json"),
    responses(
        (status = 200, description = "The decision and the email it would send.", body = Preview),
        (status = 400, description = "The body is not JSON.",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The campaign does not exist.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn preview_email(
    State(state): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Preview>, ApiError> {
    let request: PreviewRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PreviewRequest::default()
    } else {
        parse_json(&body)?
    };
    if let Some(name) = &request.campaign
        && state.engine.config.campaign(name).is_none()
    {
        return Err(ApiError::Validation {
            field: Some("campaign".into()),
            detail: format!("no campaign is named `{name}`"),
        });
    }
    let client = state.clients.get(&UserId::from_string(id)).await?;
    match state
        .engine
        .preview(&client, request.campaign.as_deref())
        .await
    {
        Ok(p) => Ok(Json(p)),
        Err(ProcessError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::Internal(anyhow::anyhow!("{e}"))),
    }
}
