//! The outermost error handling: every error response leaves as a problem document
//! with `instance` set to the request path, including the bare ones that framework
//! layers produce themselves (unknown route, wrong method, body over the limit).

use crate::error::{ApiError, PROBLEM_JSON, Problem};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub(crate) async fn finish(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    with_instance(res, path)
}

fn with_instance(mut res: Response, path: String) -> Response {
    let problem = match res.extensions_mut().remove::<Problem>() {
        Some(p) => p,
        None => match bare_error(&res) {
            Some(e) => e.to_problem(),
            None => return res,
        },
    };
    let problem = Problem {
        instance: Some(path),
        ..problem
    };
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.status = StatusCode::from_u16(problem.status).unwrap_or(parts.status);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    Response::from_parts(parts, Body::from(body))
}

/// The problem for an error response that is not one yet: one with no body type or
/// plain text, as framework layers send.
fn bare_error(res: &Response) -> Option<ApiError> {
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type.is_some_and(|ct| !ct.starts_with("text/plain")) {
        return None;
    }
    Some(match res.status() {
        StatusCode::NOT_FOUND => ApiError::NotFound("nothing is at this path".into()),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge {
            limit: crate::MAX_BODY_BYTES,
        },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::UnsupportedMediaType("this media type is not supported".into())
        }
        StatusCode::BAD_REQUEST => ApiError::bad_request("the request is not valid"),
        _ => return None,
    })
}

/// Unknown paths. Under `/u/` (a mangled unsubscribe link, say) the reader is a
/// person, who gets the unsubscribe page's 404 rather than a problem document.
pub(crate) async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/u/") {
        return crate::routes::unsubscribe::not_recognised().await;
    }
    ApiError::NotFound("nothing is at this path".into()).into_response()
}

/// What answers the requests no route matched: the site (the web console) for the
/// pages it may have, [`not_found`] for the rest.
#[derive(Clone)]
pub(crate) struct Fallback {
    site: Option<axum::Router>,
}

impl Fallback {
    pub(crate) fn new(site: Option<axum::Router>) -> Self {
        Self { site }
    }

    /// A page the site may serve: `GET`/`HEAD` outside the API's own prefixes.
    fn for_site(req: &axum::extract::Request) -> bool {
        let path = req.uri().path();
        matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        ) && path != "/api"
            && !["/api/", "/u/", "/webhooks/", "/docs"]
                .iter()
                .any(|p| path.starts_with(p))
    }
}

impl tower::Service<axum::extract::Request> for Fallback {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::extract::Request) -> Self::Future {
        let site = self.site.clone().filter(|_| Self::for_site(&req));
        Box::pin(async move {
            match site {
                Some(site) => tower::ServiceExt::oneshot(site, req).await,
                None => Ok(not_found(req.uri().clone()).await),
            }
        })
    }
}

/// Known paths, wrong method (axum keeps the `Allow` header).
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A handler panicked: a 500 like any unexpected failure, and the process goes on.
pub(crate) fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn problem_of(res: Response) -> (StatusCode, String, Problem) {
        let status = res.status();
        let ct = res.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, ct, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn problems_get_the_request_path_as_instance() {
        let res = ApiError::NotFound("x".into()).into_response();
        let (status, ct, p) = problem_of(with_instance(res, "/api/v1/users/u1".into())).await;
        assert_eq!(status, 404);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(p.instance.as_deref(), Some("/api/v1/users/u1"));
        assert_eq!(p.detail, "x");
    }

    #[tokio::test]
    async fn bare_framework_errors_become_problems_keeping_their_headers() {
        let res = (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET,HEAD")],
        )
            .into_response();
        let out = with_instance(res, "/health".into());
        assert_eq!(out.headers()[header::ALLOW], "GET,HEAD");
        let (status, ct, p) = problem_of(out).await;
        assert_eq!(status, 405);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(p.problem_type, "/problems/method-not-allowed");

        let res = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let (status, _, p) = problem_of(with_instance(res, "/x".into())).await;
        assert_eq!(status, 413);
        assert_eq!(p.problem_type, "/problems/payload-too-large");
    }

    #[tokio::test]
    async fn a_panic_is_a_500_problem() {
        let (status, ct, p) = problem_of(panicked(Box::new("boom"))).await;
        assert_eq!(status, 500);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(p.problem_type, "/problems/internal");
        assert!(!p.detail.contains("boom"));
    }

    #[tokio::test]
    async fn other_responses_pass_untouched() {
        let res = (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "down"})),
        )
            .into_response();
        let out = with_instance(res, "/health".into());
        assert_eq!(out.status(), 503);
        assert_eq!(out.headers()[header::CONTENT_TYPE], "application/json");
        let ok = with_instance(StatusCode::NO_CONTENT.into_response(), "/x".into());
        assert_eq!(ok.status(), 204);
    }
}
