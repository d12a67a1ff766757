//! The `api` function's router: the one `engage serve` serves, with what only the
//! Lambda host knows added — the client's address from API Gateway's request context
//! (the brake on failed tokens is per address), and, when the stack configures it, the
//! check that a request came through CloudFront (`X-Origin-Verify`).

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use engage_api::{AppState, ClientIp};
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;

/// The router `lambda_http::run` serves: `extra` (e.g. `/metrics`) as in
/// [`engage_api::router_with`]; `origin_secret` refuses what did not come through
/// CloudFront.
pub fn router(state: AppState, extra: Router, origin_secret: Option<String>) -> Router {
    let router = engage_api::router_with(state, extra).layer(axum::middleware::from_fn(client_ip));
    match origin_secret {
        Some(secret) => engage_api::require_origin(router, secret),
        None => router,
    }
}

/// Copies the caller's address from the request context into [`ClientIp`].
async fn client_ip(mut req: Request, next: Next) -> axum::response::Response {
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref().and_then(|s| s.parse().ok())
        }
        _ => None,
    };
    if let Some(ip) = ip {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}
