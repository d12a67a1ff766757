//! One error type for every handler, extractor and middleware: [`ApiError`] renders
//! as `application/problem+json` (RFC 9457) with a stable `type` per kind of failure.
//! Domain and store errors map onto it here, so handlers just use `?`.
//!
//! The response also carries the [`Problem`] as an extension; the outer middleware in
//! `problems.rs` re-renders it with `instance` set to the request path.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engage_core::{DomainError, StoreError, ValidationError};
use serde::{Deserialize, Serialize};

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document, with engage's extension members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A stable, relative URI naming the kind of problem, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/validation-error")]
    pub problem_type: String,
    /// A short summary of the kind of problem; the same for every occurrence.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The path of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The input field the problem concerns (validation and bad-request problems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The resource's current version (version conflicts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
}

impl Problem {
    /// The problem as a response: body, status and content type.
    pub(crate) fn render(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// The `Retry-After` of a 503: a throttled or busy dependency usually answers again
/// within seconds.
const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: the input is well-formed but refused.
    #[error("{detail}")]
    Validation {
        field: Option<String>,
        detail: String,
    },
    /// 400: a query parameter, path segment or header is unusable.
    #[error("{detail}")]
    BadRequest {
        field: Option<String>,
        detail: String,
    },
    /// 400: the body is not JSON.
    #[error("{0}")]
    MalformedBody(String),
    /// 401, with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409: the write was made against an older version.
    #[error("the resource is at version {current}")]
    VersionConflict { current: u64 },
    /// 409: the resource exists already.
    #[error("{0}")]
    Duplicate(String),
    /// 409: the resource is not in a state that allows the action.
    #[error("{0}")]
    Conflict(String),
    /// 403: authenticated (or public), but refused.
    #[error("{0}")]
    Forbidden(String),
    /// 503: a dependency could not answer now; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 501: this deployment cannot do it (the detail says why and what instead).
    #[error("{0}")]
    NotImplemented(String),
    /// 413.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 428: a conditional write came without a version.
    #[error("{0}")]
    PreconditionRequired(String),
    /// 429, with `Retry-After` (whole seconds).
    #[error("too many failed attempts from this address; try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// 500. The cause is logged, never sent.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: None,
            detail: detail.into(),
        }
    }

    pub fn bad_param(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.into()),
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } | Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::VersionConflict { .. } | Self::Duplicate(_) | Self::Conflict(_) => {
                StatusCode::CONFLICT
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem's stable `type` URI.
    pub fn problem_type(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "/problems/validation-error",
            Self::BadRequest { .. } => "/problems/bad-request",
            Self::MalformedBody(_) => "/problems/malformed-body",
            Self::Unauthorized(_) => "/problems/unauthorized",
            Self::NotFound(_) => "/problems/not-found",
            Self::MethodNotAllowed => "/problems/method-not-allowed",
            Self::VersionConflict { .. } => "/problems/version-conflict",
            Self::Duplicate(_) => "/problems/duplicate",
            Self::Conflict(_) => "/problems/conflict",
            Self::Forbidden(_) => "/problems/forbidden",
            Self::Unavailable(_) => "/problems/unavailable",
            Self::NotImplemented(_) => "/problems/not-implemented",
            Self::PayloadTooLarge { .. } => "/problems/payload-too-large",
            Self::UnsupportedMediaType(_) => "/problems/unsupported-media-type",
            Self::PreconditionRequired(_) => "/problems/precondition-required",
            Self::TooManyRequests { .. } => "/problems/too-many-requests",
            Self::Internal(_) => "/problems/internal",
        }
    }

    pub fn title(&self) -> &'static str {
        match self {
            Self::Validation { .. } => "The input is not valid",
            Self::BadRequest { .. } => "Bad request",
            Self::MalformedBody(_) => "The request body is not valid JSON",
            Self::Unauthorized(_) => "Authentication required",
            Self::NotFound(_) => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::VersionConflict { .. } => "Version conflict",
            Self::Duplicate(_) => "Already exists",
            Self::Conflict(_) => "Not possible in the resource's state",
            Self::Forbidden(_) => "Refused",
            Self::Unavailable(_) => "Temporarily unavailable",
            Self::NotImplemented(_) => "Not available on this deployment",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType(_) => "Unsupported media type",
            Self::PreconditionRequired(_) => "Precondition required",
            Self::TooManyRequests { .. } => "Too many requests",
            Self::Internal(_) => "Internal server error",
        }
    }

    /// The problem document sent to the client (without `instance`).
    pub fn to_problem(&self) -> Problem {
        let (field, current_version) = match self {
            Self::Validation { field, .. } | Self::BadRequest { field, .. } => {
                (field.clone(), None)
            }
            Self::VersionConflict { current } => (None, Some(*current)),
            _ => (None, None),
        };
        let detail = match self {
            Self::VersionConflict { current } => format!(
                "the resource was changed: it is at version {current}; read it again and retry"
            ),
            Self::MethodNotAllowed => "this path does not support this method".to_string(),
            Self::Internal(_) => "an unexpected error occurred; it has been logged".to_string(),
            other => other.to_string(),
        };
        Problem {
            problem_type: self.problem_type().to_string(),
            title: self.title().to_string(),
            status: self.status().as_u16(),
            detail,
            instance: None,
            field,
            current_version,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            // Inside the request's span, so the log line carries the request id.
            tracing::error!(error = %format!("{cause:#}"), "request failed");
        }
        let mut res = self.to_problem().render();
        match &self {
            Self::Unauthorized(_) => {
                res.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::TooManyRequests { retry_after_secs } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Unavailable(_) => {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        res
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::Validation {
            detail: e.to_string(),
            field: Some(e.field),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(v) => v.into(),
            DomainError::NotFound => Self::NotFound("no client has this id".into()),
            DomainError::VersionConflict { current } => Self::VersionConflict { current },
            DomainError::DuplicateEmail => Self::Duplicate(DomainError::DuplicateEmail.to_string()),
            DomainError::InvalidCursor => invalid_cursor(),
            DomainError::VersionRequired => {
                Self::PreconditionRequired(DomainError::VersionRequired.to_string())
            }
            DomainError::Unsupported(why) => Self::NotImplemented(why),
            DomainError::Transient(why) => store_busy(&why),
            DomainError::Unexpected(e) => Self::Internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::VersionConflict { current } => Self::VersionConflict { current },
            // The store's message may name the conflicting key; keep it out of the body.
            StoreError::Duplicate(_) => Self::Duplicate("the resource already exists".into()),
            StoreError::InvalidCursor => invalid_cursor(),
            StoreError::Unsupported(why) => Self::NotImplemented(why),
            StoreError::Transient(why) => store_busy(&why),
            StoreError::Unexpected(e) => Self::Internal(e),
        }
    }
}

/// A store that is throttling or busy: 503 with `Retry-After`. What failed is logged,
/// not sent (it may name tables and keys).
fn store_busy(why: &str) -> ApiError {
    tracing::warn!(error = %why, "the store is temporarily unavailable");
    ApiError::Unavailable("the data store is busy; try again in a few seconds".into())
}

fn invalid_cursor() -> ApiError {
    ApiError::bad_param(
        "cursor",
        "not a cursor this list returned; start again without one",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn render(e: ApiError) -> (StatusCode, Response, Problem) {
        let res = e.into_response();
        let status = res.status();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let problem: Problem = serde_json::from_slice(&bytes).unwrap();
        (
            status,
            Response::from_parts(parts, axum::body::Body::empty()),
            problem,
        )
    }

    #[tokio::test]
    async fn every_variant_renders_as_problem_json_with_its_status_and_type() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                ApiError::validation("email", "bad"),
                422,
                "/problems/validation-error",
            ),
            (
                ApiError::bad_param("tier", "bad"),
                400,
                "/problems/bad-request",
            ),
            (
                ApiError::MalformedBody("x".into()),
                400,
                "/problems/malformed-body",
            ),
            (
                ApiError::Unauthorized("x".into()),
                401,
                "/problems/unauthorized",
            ),
            (ApiError::NotFound("x".into()), 404, "/problems/not-found"),
            (
                ApiError::MethodNotAllowed,
                405,
                "/problems/method-not-allowed",
            ),
            (
                ApiError::VersionConflict { current: 4 },
                409,
                "/problems/version-conflict",
            ),
            (ApiError::Duplicate("x".into()), 409, "/problems/duplicate"),
            (
                ApiError::PayloadTooLarge { limit: 10 },
                413,
                "/problems/payload-too-large",
            ),
            (
                ApiError::UnsupportedMediaType("x".into()),
                415,
                "/problems/unsupported-media-type",
            ),
            (
                ApiError::PreconditionRequired("x".into()),
                428,
                "/problems/precondition-required",
            ),
            (
                ApiError::Internal(anyhow::anyhow!("disk on fire")),
                500,
                "/problems/internal",
            ),
        ];
        for (err, status, ty) in cases {
            let (s, res, p) = render(err).await;
            assert_eq!(s.as_u16(), status, "{ty}");
            assert_eq!(p.status, status);
            assert_eq!(p.problem_type, ty);
            assert!(!p.title.is_empty() && !p.detail.is_empty());
            assert_eq!(
                res.headers()[header::CONTENT_TYPE],
                PROBLEM_JSON,
                "{ty} content type"
            );
            assert_eq!(
                res.headers().contains_key(header::WWW_AUTHENTICATE),
                status == 401
            );
        }
    }

    #[tokio::test]
    async fn extension_members_carry_the_field_and_the_current_version() {
        let (_, _, p) = render(ApiError::validation("time_zone", "nope")).await;
        assert_eq!(p.field.as_deref(), Some("time_zone"));
        let (_, _, p) = render(ApiError::VersionConflict { current: 7 }).await;
        assert_eq!(p.current_version, Some(7));
        assert_eq!(p.field, None);
    }

    #[tokio::test]
    async fn a_busy_store_is_503_with_retry_after_and_keeps_its_cause_to_the_log() {
        let e = ApiError::from(StoreError::Transient(
            "PutItem on engage-users: ThrottlingException".into(),
        ));
        let (status, res, p) = render(e).await;
        assert_eq!(status, 503);
        assert_eq!(p.problem_type, "/problems/unavailable");
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        assert!(!p.detail.contains("engage-users"), "{}", p.detail);
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_their_cause() {
        let (_, _, p) = render(ApiError::Internal(anyhow::anyhow!("SELECT * FROM users"))).await;
        assert!(!p.detail.contains("SELECT"), "{}", p.detail);
    }

    #[test]
    fn domain_errors_map_to_their_problems() {
        let s = |e: DomainError| ApiError::from(e).status().as_u16();
        assert_eq!(s(DomainError::NotFound), 404);
        assert_eq!(s(DomainError::VersionConflict { current: 2 }), 409);
        assert_eq!(s(DomainError::DuplicateEmail), 409);
        assert_eq!(s(DomainError::VersionRequired), 428);
        assert_eq!(s(ValidationError::new("email", "bad").into()), 422);
        assert_eq!(s(DomainError::Unexpected(anyhow::anyhow!("x"))), 500);
        let st = |e: StoreError| ApiError::from(e).status().as_u16();
        assert_eq!(st(StoreError::NotFound), 404);
        assert_eq!(st(StoreError::Duplicate("a@b.c".into())), 409);
        assert_eq!(st(StoreError::VersionConflict { current: 1 }), 409);
        assert_eq!(st(StoreError::Unexpected(anyhow::anyhow!("x"))), 500);
        assert_eq!(st(StoreError::InvalidCursor), 400);
        assert_eq!(st(StoreError::Unsupported("no replay here".into())), 501);
        assert_eq!(st(StoreError::Transient("throttled".into())), 503);
        assert_eq!(
            ApiError::from(DomainError::from(StoreError::Unsupported("no".into())))
                .status()
                .as_u16(),
            501,
            "a client operation the backend cannot do is 501, not 500"
        );
        assert_eq!(
            ApiError::from(DomainError::from(StoreError::Transient("busy".into())))
                .status()
                .as_u16(),
            503
        );
        assert_eq!(s(DomainError::InvalidCursor), 400);
        match ApiError::from(StoreError::Duplicate("ada@example.com".into())) {
            ApiError::Duplicate(d) => assert!(!d.contains("ada")),
            other => panic!("{other:?}"),
        }
    }
}
