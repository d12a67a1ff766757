//! `/api/v1/emails`: the ledger's engagement emails, across clients.

use crate::error::{ApiError, Problem};
use crate::extract::{Path, Query};
use crate::pagination::{self, Page};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use engage_core::email::{Email, EmailStatus};
use engage_core::ids::{EmailId, UserId};
use engage_core::ports::EmailQuery;
use engage_core::processor::ProcessError;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(list_emails))
        .routes(routes!(get_email))
        .routes(routes!(get_raw_email))
        .routes(routes!(resend_email))
}

/// Query parameters of `GET /api/v1/emails`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListEmailsParams {
    /// Only emails in this status.
    #[param(value_type = Option<EmailStatus>)]
    pub status: Option<String>,
    /// Only emails of this campaign, e.g. `welcome`.
    pub campaign: Option<String>,
    /// Only emails to this client.
    pub user_id: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// List emails.
///
/// Newest first, optionally filtered.
#[utoipa::path(
    get,
    path = "/emails",
    tag = "emails",
    params(ListEmailsParams),
    responses(
        (status = 200, description = "One page of emails.", body = Page<Email>),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_emails(
    State(state): State<Shared>,
    Query(params): Query<ListEmailsParams>,
) -> Result<Json<Page<Email>>, ApiError> {
    let query = EmailQuery {
        user_id: pagination::text_filter("user_id", params.user_id, 200)?.map(UserId::from_string),
        status: pagination::email_status(params.status.as_deref())?,
        campaign: pagination::text_filter("campaign", params.campaign, 100)?,
        cursor: pagination::cursor(params.cursor)?,
        limit: pagination::limit(params.limit)?,
    };
    Ok(Json(state.history.list_emails(&query).await?.into()))
}

/// Get an email with its content and status history.
#[utoipa::path(
    get,
    path = "/emails/{id}",
    tag = "emails",
    params(("id" = String, Path, description = "The email's id")),
    responses(
        (status = 200, description = "The email.", body = Email),
        (status = 404, description = "No email has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_email(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Email>, ApiError> {
    state
        .engine
        .ledger
        .get_email(&EmailId::from_string(id))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no email has this id".into()))
}

/// Get the message as sent.
///
/// The complete message (headers and MIME body) exactly as it was handed to the mail
/// sender, as `message/rfc822`: kept by the embedded mode's outbox sender only. An
/// email not sent yet, or sent through SMTP, has no copy (404); on the AWS backend
/// this answers 501 (SES keeps no copy).
#[utoipa::path(
    get,
    path = "/emails/{id}/raw",
    tag = "emails",
    params(("id" = String, Path, description = "The email's id")),
    responses(
        (status = 200, description = "The message as sent.", body = String,
            content_type = "message/rfc822"),
        (status = 404, description = "No email has this id, or no copy of it was kept.",
            body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "This backend keeps no copy of sent messages.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_raw_email(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = EmailId::from_string(id);
    if state.engine.ledger.get_email(&id).await?.is_none() {
        return Err(ApiError::NotFound("no email has this id".into()));
    }
    let raw = state
        .sent_messages
        .sent_message(&id)
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(
                "no copy of this email was kept: it was not sent yet, or not by the outbox".into(),
            )
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822"),
            (header::CONTENT_DISPOSITION, "inline"),
        ],
        raw,
    )
        .into_response())
}

/// Send a failed email again.
///
/// `failed → pending`, then sent at once, with consent and suppression checked again
/// (a client who unsubscribed meanwhile gets nothing: the email ends `cancelled`). An
/// email that failed with an unknown outcome may already have arrived: check the
/// provider first. Answers with the email as it is after the attempt.
#[utoipa::path(
    post,
    path = "/emails/{id}/resend",
    tag = "emails",
    params(("id" = String, Path, description = "The email's id")),
    responses(
        (status = 200, description = "The email after the attempt.", body = Email),
        (status = 404, description = "No email has this id.",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email is not `failed`.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn resend_email(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Email>, ApiError> {
    let id = EmailId::from_string(id);
    let Some(email) = state.engine.ledger.get_email(&id).await? else {
        return Err(ApiError::NotFound("no email has this id".into()));
    };
    match state.engine.resend(&id).await {
        Ok(Some(_)) | Err(ProcessError::SendDeferred(_)) => {}
        Ok(None) => {
            return Err(ApiError::Conflict(format!(
                "the email is `{}`; only a failed email can be resent",
                email.status.as_str()
            )));
        }
        Err(ProcessError::Store(e)) => return Err(e.into()),
        Err(e) => return Err(ApiError::Internal(anyhow::anyhow!("{e}"))),
    }
    state
        .engine
        .ledger
        .get_email(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no email has this id".into()))
}
