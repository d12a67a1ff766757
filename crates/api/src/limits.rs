//! Request body limits: 1 MiB everywhere, except the streamed bulk import, which
//! reads its body row by row and may be as large as an export of a whole CRM.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::Limited;

/// The largest body accepted by `POST /api/v1/users/import` (16 GiB).
pub const IMPORT_MAX_BYTES: usize = 16 << 30;

/// Limits the body to the route's maximum: a declared `Content-Length` over it is
/// refused at once, and a streamed body is cut off where it passes it (extractors
/// then answer 413).
pub(crate) async fn limit_body(req: Request, next: Next) -> Response {
    let limit = if req.uri().path() == crate::routes::import::PATH {
        IMPORT_MAX_BYTES
    } else {
        crate::MAX_BODY_BYTES
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::PayloadTooLarge { limit }.into_response();
    }
    let (parts, body) = req.into_parts();
    next.run(Request::from_parts(
        parts,
        Body::new(Limited::new(body, limit)),
    ))
    .await
}
