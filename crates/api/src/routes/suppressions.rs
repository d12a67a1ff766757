//! `/api/v1/suppressions`: addresses never to email (bounces, complaints, or added
//! by an operator).

use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query};
use crate::pagination::{self, Page};
use crate::routes::users::PageParams;
use crate::state::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use engage_core::ValidationError;
use engage_core::client::EmailAddress;
use engage_core::ports::Suppression;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(list_suppressions, add_suppression))
        .routes(routes!(remove_suppression))
}

/// The body of `POST /api/v1/suppressions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSuppression {
    #[schema(format = "email")]
    pub email: String,
    /// Why; `manual` when absent.
    #[serde(default)]
    pub reason: Option<String>,
}

const MAX_REASON_CHARS: usize = 200;

fn reason(raw: Option<String>) -> Result<String, ValidationError> {
    let r = raw.as_deref().map(str::trim).unwrap_or_default();
    if r.is_empty() {
        return Ok("manual".into());
    }
    if r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) {
        return Err(ValidationError::new(
            "reason",
            format!("at most {MAX_REASON_CHARS} characters, no control characters"),
        ));
    }
    Ok(r.to_string())
}

/// List suppressed addresses.
#[utoipa::path(
    get,
    path = "/suppressions",
    tag = "suppressions",
    params(PageParams),
    responses(
        (status = 200, description = "One page of suppressions.", body = Page<Suppression>),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_suppressions(
    State(state): State<Shared>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<Page<Suppression>>, ApiError> {
    let cursor = pagination::cursor(params.cursor)?;
    let limit = pagination::limit(params.limit)?;
    Ok(axum::Json(
        state.suppressions.list(cursor, limit).await?.into(),
    ))
}

/// Suppress an address (or update the reason of a suppressed one).
#[utoipa::path(
    post,
    path = "/suppressions",
    tag = "suppressions",
    request_body = NewSuppression,
    responses(
        (status = 201, description = "The address is suppressed.", body = Suppression),
        (status = 422, description = "The address or reason is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_suppression(
    State(state): State<Shared>,
    Json(body): Json<NewSuppression>,
) -> Result<(StatusCode, axum::Json<Suppression>), ApiError> {
    let address = EmailAddress::parse(&body.email)?;
    let reason = reason(body.reason)?;
    let now = state.engine.clock.now();
    let s = state.suppressions.add(&address, &reason, now).await?;
    Ok((StatusCode::CREATED, axum::Json(s)))
}

/// Lift a suppression.
#[utoipa::path(
    delete,
    path = "/suppressions/{email}",
    tag = "suppressions",
    params(("email" = String, Path, description = "The suppressed address")),
    responses(
        (status = 204, description = "The address is no longer suppressed."),
        (status = 404, description = "The address is not suppressed.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an email address.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn remove_suppression(
    State(state): State<Shared>,
    Path(email): Path<String>,
) -> Result<StatusCode, ApiError> {
    let address = EmailAddress::parse(&email)?;
    match state.suppressions.remove(&address).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(engage_core::StoreError::NotFound) => {
            Err(ApiError::NotFound("this address is not suppressed".into()))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_defaults_to_manual_and_is_bounded() {
        assert_eq!(reason(None).unwrap(), "manual");
        assert_eq!(reason(Some("  ".into())).unwrap(), "manual");
        assert_eq!(reason(Some(" bounce ".into())).unwrap(), "bounce");
        assert_eq!(reason(Some("x".repeat(201))).unwrap_err().field, "reason");
        assert_eq!(reason(Some("a\u{0}b".into())).unwrap_err().field, "reason");
    }
}
