//! `GET /api/v1/users/export` and `GET /api/v1/emails/export`: everything, streamed as
//! NDJSON or CSV one page at a time (see [`crate::export`]). The first page is read
//! before the status is sent, so a store that fails at once gets a problem response.

use crate::error::{ApiError, Problem};
use crate::export::Export;
use crate::extract::Query;
use crate::pagination;
use crate::state::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use engage_core::import::Format;
use futures_util::StreamExt as _;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(export_users))
        .routes(routes!(export_emails))
}

/// Query parameters of `GET /api/v1/users/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportUsersParams {
    /// `ndjson` (default) or `csv`.
    pub format: Option<String>,
}

/// Query parameters of `GET /api/v1/emails/export`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportEmailsParams {
    /// `ndjson` (default) or `csv`.
    pub format: Option<String>,
    /// Only emails in this status.
    #[param(value_type = Option<engage_core::email::EmailStatus>)]
    pub status: Option<String>,
    /// Only emails of this campaign, e.g. `welcome`.
    pub campaign: Option<String>,
}

fn format(raw: Option<&str>) -> Result<Format, ApiError> {
    match raw.map(str::trim) {
        None | Some("") | Some("ndjson") | Some("jsonl") => Ok(Format::Ndjson),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::bad_param(
            "format",
            format!("`{other}` is not `ndjson` or `csv`"),
        )),
    }
}

/// The response: headers now, the rest of the pages as the client reads them.
async fn stream(mut export: Export) -> Result<Response, ApiError> {
    let first = export.next_chunk().await?.unwrap_or_default();
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", export.file_name()))
            .map_err(|e| ApiError::Internal(e.into()))?;
    let content_type = HeaderValue::from_static(export.content_type());
    let body = futures_util::stream::once(async { Ok(first) }).chain(export.into_stream());
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            // Personal data: no shared cache keeps a copy.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

/// Export every client.
///
/// Streamed in id (creation) order. NDJSON: one `ClientView` per line, as
/// `GET /users/{id}` shows it. CSV: the import columns (`email, first_name, last_name,
/// time_zone, email_opt_in, preferences` (`;`-separated), `top_size, bottom_size,
/// shoe_size, budget, fit_notes, unsubscribed`) then `id, version, score, tier,
/// created_at, updated_at`, which an import ignores: the file can be imported again
/// as it is. A failure part-way aborts the body (the transfer is then incomplete).
#[utoipa::path(
    get,
    path = "/users/export",
    tag = "users",
    params(ExportUsersParams),
    responses(
        (status = 200, description = "Every client, one per line or record.",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"clients.ndjson\"` (or `.csv`)")),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        (status = 400, description = "`format` is not `ndjson` or `csv`.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn export_users(
    State(state): State<Shared>,
    Query(params): Query<ExportUsersParams>,
) -> Result<Response, ApiError> {
    let format = format(params.format.as_deref())?;
    stream(Export::clients(state.clients.store.clone(), format)).await
}

/// Export every email, optionally filtered.
///
/// Streamed newest first, as `GET /emails` lists them. NDJSON: one `Email` per line.
/// CSV: `id, user_id, campaign, status, subject, generator, created_at, sent_at`. A
/// failure part-way aborts the body (the transfer is then incomplete).
#[utoipa::path(
    get,
    path = "/emails/export",
    tag = "emails",
    params(ExportEmailsParams),
    responses(
        (status = 200, description = "Every email, one per line or record.",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"emails.ndjson\"` (or `.csv`)")),
            content(
                (String = "application/x-ndjson"),
                (String = "text/csv"),
            )),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn export_emails(
    State(state): State<Shared>,
    Query(params): Query<ExportEmailsParams>,
) -> Result<Response, ApiError> {
    let format = format(params.format.as_deref())?;
    let status = pagination::email_status(params.status.as_deref())?;
    let campaign = pagination::text_filter("campaign", params.campaign, 100)?;
    stream(Export::emails(
        state.history.clone(),
        format,
        status,
        campaign,
    ))
    .await
}
