//! engage's HTTP API: one axum [`Router`] that `engage serve` serves with
//! `axum::serve` and the Lambda main with `lambda_http`.
//!
//! - `GET /health` (up/down only; its checks with a bearer token), `GET /openapi.json`
//!   and `GET /docs` (Swagger UI, vendored; the `docs-ui` feature, which the Lambda
//!   `api` function leaves out) are public;
//! - `GET`/`POST /u/{token}`, the unsubscribe page and RFC 8058 one-click endpoint, are
//!   public and answer in HTML (they are for people and mail providers);
//! - `POST /webhooks/ses`, the mail provider's reports, is public and verifies each
//!   message itself (SNS signatures);
//! - everything under `/api/v1`, and the host's extra routes (`/metrics`), need
//!   `Authorization: Bearer <token>` ([`TokenAuth`], with a brake on failures);
//! - every other error is `application/problem+json` ([`ApiError`], [`Problem`]).
//!
//! The handlers only translate HTTP to calls on the domain's services and ports
//! ([`AppState`]); the rules live in `engage-core`. The bodies of the client writes
//! are this crate's own types (`bodies`), which become the domain's checked values.

mod auth;
mod bodies;
mod error;
pub mod export;
pub mod extract;
pub mod import;
mod limits;
mod metrics;
mod openapi;
mod pagination;
mod problems;
mod routes;
mod state;

pub use auth::{ClientIp, ORIGIN_HEADER, TokenAuth, require_origin};
pub use error::{ApiError, PROBLEM_JSON, Problem};
pub use pagination::{DEFAULT_LIMIT, MAX_LIMIT, Page};
pub use routes::health::HealthReport;
pub use routes::suppressions::NewSuppression;
pub use routes::unsubscribe::CONTENT_SECURITY_POLICY as UNSUBSCRIBE_PAGE_CSP;
pub use routes::users::ClientView;
pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderName;
use state::Shared;
use std::sync::Arc;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::{Level, Span};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The largest request body accepted (1 MiB); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The documented routes; `v1` is nested under `/api/v1`.
fn documented(v1: OpenApiRouter<Shared>) -> OpenApiRouter<Shared> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::health::health))
        .merge(routes::unsubscribe::router())
        .merge(routes::webhooks::router())
        .nest("/api/v1", v1)
}

/// The OpenAPI document of the API, as `GET /openapi.json` serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented(routes::v1()).into_openapi();
    openapi::finish(&mut doc);
    doc
}

/// The complete application: `/health`, `/openapi.json`, `/docs`, `/u/{token}` and
/// `/api/v1/...`, with authentication, problem responses, body limits, tracing and
/// request ids.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// [`router`] with `extra` routes (e.g. `/metrics`) merged in before the layers, so
/// they get request ids, tracing, body limits and problem responses too. `extra`
/// needs the bearer token like `/api/v1`, must not set a fallback, and must not
/// repeat a route of the API.
pub fn router_with(state: AppState, extra: Router) -> Router {
    router_with_site(state, extra, None)
}

/// [`router_with`], and `site` (the web console's files) answering the `GET` and
/// `HEAD` requests no route matched, outside the API's own prefixes (`/api/`, `/u/`,
/// `/webhooks/`, `/docs`): a single-page app's client-side routes (`/clients/…`) get
/// its `index.html` that way. Everything else unmatched is still a problem 404.
pub fn router_with_site(state: AppState, extra: Router, site: Option<Router>) -> Router {
    let state: Shared = Arc::new(state);
    let bearer = || axum::middleware::from_fn_with_state(state.auth.clone(), auth::require_bearer);
    let v1 = routes::v1().route_layer(bearer());
    let extra = if extra.has_routes() {
        extra.route_layer(bearer())
    } else {
        extra
    };
    let (api, mut doc) = documented(v1).split_for_parts();
    openapi::finish(&mut doc);

    api.with_state(state)
        .merge(docs(doc))
        .merge(extra)
        .fallback_service(problems::Fallback::new(site))
        // Last, so it reaches every route registered above.
        .method_not_allowed_fallback(problems::method_not_allowed)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                // Outside the problem and panic layers: it sees the status the client gets.
                .layer(axum::middleware::from_fn(metrics::track))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_response(
                            DefaultOnResponse::new()
                                .level(Level::INFO)
                                .latency_unit(tower_http::LatencyUnit::Millis),
                        ),
                )
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(axum::middleware::from_fn(problems::finish))
                .layer(CatchPanicLayer::custom(problems::panicked))
                .layer(axum::middleware::from_fn(limits::limit_body))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
}

/// `/openapi.json`, and Swagger UI at `/docs`. The validator badge would make the
/// browser call swagger.io; everything the page loads comes from this server.
#[cfg(feature = "docs-ui")]
fn docs(doc: utoipa::openapi::OpenApi) -> Router {
    use utoipa_swagger_ui::{Config, SwaggerUi};
    SwaggerUi::new("/docs")
        .url("/openapi.json", doc)
        .config(Config::default().validator_url("none"))
        .into()
}

/// `/openapi.json` only (a build without the `docs-ui` feature).
#[cfg(not(feature = "docs-ui"))]
fn docs(doc: utoipa::openapi::OpenApi) -> Router {
    let json = axum::body::Bytes::from(doc.to_json().expect("the OpenAPI document serialises"));
    Router::new().route(
        "/openapi.json",
        axum::routing::get(move || {
            let json = json.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    json,
                )
            }
        }),
    )
}

/// The span of one request: method, route template and request id. Not the raw path:
/// `/api/v1/suppressions/{email}` would put an address in the logs.
fn request_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("<unmatched>", MatchedPath::as_str);
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "http_request",
        method = %req.method(),
        route,
        request_id,
    )
}
