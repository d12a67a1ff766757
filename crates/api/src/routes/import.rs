//! `POST /api/v1/users/import`: clients in bulk, as NDJSON or CSV, streamed. The body
//! is read as it arrives (never buffered whole) and stored in batches; the answer
//! reports every row that was not imported, with its line number and reason.

use crate::error::{ApiError, Problem};
use crate::extract::Query;
use crate::import::{ImportFailure, import_rows};
use crate::state::Shared;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use engage_core::import::{Format, ImportCounts, Importer, RowError, RowReader};
use futures_util::TryStreamExt as _;
use serde::{Deserialize, Serialize};
use std::io::BufReader;
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The path, for the body-size exemption in [`crate::limits`].
pub(crate) const PATH: &str = "/api/v1/users/import";
/// Rows listed in the report at most; `failed` counts them all.
const MAX_LISTED_ERRORS: usize = 1000;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(import_users))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `ndjson` or `csv`; taken from `Content-Type` when absent.
    #[param(value_type = Option<String>)]
    pub format: Option<String>,
}

/// What an import did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    #[serde(flatten)]
    pub counts: ImportCounts,
    /// The rows not imported, in line order (at most 1000; see `errors_truncated`).
    pub errors: Vec<RowError>,
    pub errors_truncated: bool,
    /// A CSV header's columns engage does not read, as written (their values were
    /// not imported). Always empty for NDJSON.
    pub ignored_columns: Vec<String>,
}

fn format_of(params: &ImportParams, headers: &HeaderMap) -> Result<Format, ApiError> {
    if let Some(f) = params.format.as_deref() {
        return match f {
            "ndjson" | "jsonl" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            other => Err(ApiError::bad_param(
                "format",
                format!("`{other}` is not `ndjson` or `csv`"),
            )),
        };
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/json-seq" => Ok(Format::Ndjson),
        "text/csv" => Ok(Format::Csv),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "send `application/x-ndjson` or `text/csv` (or `?format=`), not `{ct}`"
        ))),
    }
}

/// Import clients, upserting by email address.
///
/// NDJSON: one `NewClient` object per line. CSV: a header line naming the columns
/// `email, first_name, last_name, time_zone, email_opt_in, preferences` (`;`-separated),
/// `top_size, bottom_size, shoe_size, budget, fit_notes, unsubscribed` (case, spaces and
/// `-` do not matter); the columns an export adds (`id, version, score, tier,
/// created_at, updated_at`) and any other columns are ignored, the others named in
/// `ignored_columns`. A cell starting with `'` before `= + - @`, tab or CR loses that
/// `'` (what an export adds to keep spreadsheets from running it). A known
/// address takes the row's values; a row that changes nothing writes nothing, so
/// importing a file twice changes nothing. A repeated address within one import is
/// reported. `unsubscribed` = true unsubscribes; import never re-subscribes a client.
#[utoipa::path(
    post,
    path = "/users/import",
    tag = "users",
    params(ImportParams),
    request_body(content = String, description = "NDJSON or CSV rows",
        content_type = "application/x-ndjson"),
    responses(
        (status = 200, description = "What the import did (rows that failed are listed).", body = ImportReport),
        (status = 400, description = "The body broke off, or a CSV header is unusable.",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither NDJSON nor CSV.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn import_users(
    State(state): State<Shared>,
    Query(params): Query<ImportParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<ImportReport>, ApiError> {
    let format = format_of(&params, &headers)?;
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let bridge = SyncIoBridge::new(StreamReader::new(stream));
    let rows = tokio::task::spawn_blocking(move || {
        let reader = BufReader::with_capacity(256 * 1024, bridge);
        match format {
            Format::Ndjson => Ok(RowReader::ndjson(reader, 0, 0)),
            Format::Csv => RowReader::csv(reader),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?
    .map_err(|e| ApiError::bad_param("body", e))?;
    let ignored_columns = rows
        .csv_header()
        .map(|h| h.ignored_columns().to_vec())
        .unwrap_or_default();

    let mut importer = Importer::new(state.import.clone(), state.engine.clock.clone());
    let mut errors = Vec::new();
    let mut truncated = false;
    let result = import_rows(rows, &mut importer, |_, batch_errors| {
        for e in batch_errors {
            if errors.len() < MAX_LISTED_ERRORS {
                errors.push(e);
            } else {
                truncated = true;
            }
        }
    })
    .await;
    match result {
        Ok(_) => Ok(axum::Json(ImportReport {
            counts: importer.counts,
            errors,
            errors_truncated: truncated,
            ignored_columns,
        })),
        Err(ImportFailure::Read { cause, progress }) => {
            if is_too_large(&cause) {
                return Err(ApiError::PayloadTooLarge {
                    limit: crate::limits::IMPORT_MAX_BYTES,
                });
            }
            let c = progress.counts;
            Err(ApiError::bad_param(
                "body",
                format!(
                    "the upload broke off after line {} ({cause}); stored so far: {} created, {} updated, {} unchanged — send the rest again, already-imported rows change nothing",
                    progress.line, c.created, c.updated, c.unchanged
                ),
            ))
        }
        Err(ImportFailure::Store(e)) => Err(e.into()),
    }
}

fn is_too_large(e: &std::io::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = e.get_ref().map(|x| x as _);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}
