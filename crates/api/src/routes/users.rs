//! `/api/v1/users`: the client records (create, list, get, patch with optimistic
//! concurrency, delete), activity recording, and what the engine knows of a client
//! (its engagement score, its emails, its decisions).

use crate::bodies::{ActivityBody, ClientPatchBody, NewClientBody, TryIntoDomain};
use crate::error::{ApiError, Problem};
use crate::extract::{Json, Path, Query, etag, if_match};
use crate::pagination::{self, Page};
use crate::state::Shared;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use engage_core::DomainError;
use engage_core::change::ClientChange;
use engage_core::client::Client;
use engage_core::email::{Decision, Email};
use engage_core::ids::UserId;
use engage_core::ports::{ClientQuery, ClientSort, ClientWithScore, EmailQuery};
use engage_core::score::{ScoreBreakdown, Tier};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(record_activity))
        .routes(routes!(get_engagement))
        .routes(routes!(list_user_emails))
        .routes(routes!(list_user_decisions))
        .routes(routes!(list_user_changes))
}

/// A client as the API shows it: the record plus its last stored score.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClientView {
    #[serde(flatten)]
    pub client: Client,
    /// The last computed engagement score (0–100); null until the client is first scored.
    #[schema(required = true, maximum = 100)]
    pub score: Option<u8>,
    /// The tier that score put the client in; null until first scored.
    #[schema(required = true)]
    pub tier: Option<Tier>,
    /// The client's latest activity of any kind (login, order, email opened or
    /// clicked, Fix delivered or its feedback); null until the first.
    #[schema(required = true)]
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Whether the client's address is on the suppression list (no email goes to it).
    pub suppressed: bool,
}

impl From<ClientWithScore> for ClientView {
    fn from(c: ClientWithScore) -> Self {
        Self {
            last_activity_at: c.client.activity.last_activity_at(),
            client: c.client,
            score: c.score,
            tier: c.tier,
            suppressed: c.suppressed,
        }
    }
}

/// Query parameters of `GET /api/v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListUsersParams {
    /// Prefix of the email address, first name or last name (case-insensitive).
    pub q: Option<String>,
    /// Only clients in this tier.
    #[param(value_type = Option<Tier>)]
    pub tier: Option<String>,
    /// `subscribed`: only clients who have not unsubscribed; `unsubscribed`: only
    /// those who have.
    #[param(value_type = Option<SubscriptionStatus>, inline)]
    pub status: Option<String>,
    /// Only clients whose `consent.email_opt_in` is this (`true` or `false`).
    #[param(value_type = Option<bool>)]
    pub email_opt_in: Option<String>,
    /// The order: `score` or `last_activity` ascending, `-score` or `-last_activity`
    /// descending (ties by id). Clients not scored yet, or never active, sort below
    /// every value: first ascending, last descending. Default: by id (creation order).
    #[param(value_type = Option<ClientSortParam>, inline)]
    pub sort: Option<String>,
    /// The `next_cursor` of the previous page, listed with the same `sort`.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A client's subscription status, as the `status` filter names it.
#[allow(dead_code)] // as `ClientSortParam`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Subscribed,
    Unsubscribed,
}

/// The values of `sort` on `GET /api/v1/users`.
// Only describes the parameter in the OpenAPI document; `client_sort` parses it, so
// a wrong value gets a problem naming the valid ones.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = ClientSort)]
pub enum ClientSortParam {
    #[serde(rename = "score")]
    Score,
    #[serde(rename = "-score")]
    ScoreDesc,
    #[serde(rename = "last_activity")]
    LastActivity,
    #[serde(rename = "-last_activity")]
    LastActivityDesc,
}

/// `status`: `subscribed` (true), `unsubscribed` (false), or absent/empty for all.
fn subscription_status(raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some("subscribed") => Ok(Some(true)),
        Some("unsubscribed") => Ok(Some(false)),
        Some(s) => Err(ApiError::bad_param(
            "status",
            format!("`{s}` is not a subscription status; valid statuses: subscribed, unsubscribed"),
        )),
    }
}

/// A boolean filter: `true`, `false`, or absent/empty for all.
fn bool_filter(field: &str, raw: Option<&str>) -> Result<Option<bool>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(s) => Err(ApiError::bad_param(
            field,
            format!("`{s}` is not a boolean; use true or false"),
        )),
    }
}

/// `sort`: one of [`ClientSort::NAMED`], or absent/empty for id order.
fn client_sort(raw: Option<&str>) -> Result<ClientSort, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(ClientSort::Id),
        Some(s) => ClientSort::parse(s).ok_or_else(|| {
            let valid: Vec<&str> = ClientSort::NAMED.iter().map(ClientSort::as_str).collect();
            ApiError::bad_param(
                "sort",
                format!(
                    "`{s}` is not a sort order; valid orders: {}",
                    valid.join(", ")
                ),
            )
        }),
    }
}

/// Cursor and page size of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

const MAX_SEARCH_CHARS: usize = 100;

/// The view of a client just written: its score and suppression as stored now, with
/// the record as written (the version its `ETag` names).
pub(crate) async fn view(state: &Shared, client: Client) -> Result<ClientView, ApiError> {
    let stored = state.clients.store.get_with_score(&client.id).await?;
    let (score, tier, suppressed) =
        stored.map_or((None, None, false), |s| (s.score, s.tier, s.suppressed));
    Ok(ClientWithScore {
        client,
        score,
        tier,
        suppressed,
    }
    .into())
}

/// The client with its `ETag`.
pub(crate) fn client_response(status: StatusCode, view: ClientView) -> Result<Response, ApiError> {
    let tag = HeaderValue::from_str(&etag(view.client.version))
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((status, [(header::ETAG, tag)], axum::Json(view)).into_response())
}

/// Create a client.
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    request_body = NewClientBody,
    responses(
        (status = 201, description = "The client was created.", body = ClientView,
            headers(
                ("Location" = String, description = "The client's URL"),
                ("ETag" = String, description = "The client's version, quoted"),
            )),
        (status = 409, description = "A client with this email address exists.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_user(
    State(state): State<Shared>,
    Json(body): Json<NewClientBody>,
) -> Result<Response, ApiError> {
    let new = body.try_into_domain().map_err(DomainError::from)?;
    let client = state.clients.create(new).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/users/{}", client.id))
        .map_err(|e| ApiError::Internal(e.into()))?;
    // A new address may have been suppressed before (a bounce, an earlier client).
    let view = view(&state, client).await?;
    let mut res = client_response(StatusCode::CREATED, view)?;
    res.headers_mut().insert(header::LOCATION, location);
    Ok(res)
}

/// List clients, optionally searched, filtered and sorted.
///
/// Filters combine (all must hold). On the DynamoDB backend a `sort` answers 501.
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(ListUsersParams),
    responses(
        (status = 200, description = "One page of clients.", body = Page<ClientView>),
        (status = 400, description = "A query parameter is not valid, or the cursor \
            was made for another sort.",
            body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "This backend cannot list in this order.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_users(
    State(state): State<Shared>,
    Query(params): Query<ListUsersParams>,
) -> Result<axum::Json<Page<ClientView>>, ApiError> {
    let query = ClientQuery {
        search: pagination::text_filter("q", params.q, MAX_SEARCH_CHARS)?,
        tier: pagination::tier(params.tier.as_deref())?,
        subscribed: subscription_status(params.status.as_deref())?,
        email_opt_in: bool_filter("email_opt_in", params.email_opt_in.as_deref())?,
        sort: client_sort(params.sort.as_deref())?,
        cursor: pagination::cursor(params.cursor)?,
        limit: pagination::limit(params.limit)?,
    };
    let page = state.clients.store.list(&query).await?;
    Ok(axum::Json(Page {
        items: page.items.into_iter().map(ClientView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Get a client.
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client.", body = ClientView,
            headers(("ETag" = String, description = "The client's version, quoted"))),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let found = state
        .clients
        .store
        .get_with_score(&UserId::from_string(id))
        .await?
        .ok_or(DomainError::NotFound)?;
    client_response(StatusCode::OK, found.into())
}

/// Change a client.
///
/// The change is made against a version, named by `version` in the body or by an
/// `If-Match` header (the `ETag` read); if the client changed since, nothing is
/// written and the answer is 409 with the current version.
#[utoipa::path(
    patch,
    path = "/users/{id}",
    tag = "users",
    params(
        ("id" = String, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header,
            description = "The version the change is made against, e.g. `\"3\"`"),
    ),
    request_body = ClientPatchBody,
    responses(
        (status = 200, description = "The changed client.", body = ClientView,
            headers(("ETag" = String, description = "The client's new version, quoted"))),
        (status = 400, description = "The If-Match header is not a version.",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is at another version (`current_version`).",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is not valid.",
            body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No version was given.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn patch_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ClientPatchBody>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let id = UserId::from_string(id);
    let version = body.version;
    let patch = match body.try_into_domain() {
        Ok(patch) => patch,
        Err(refused) => {
            // A missing, disagreeing or stale version and an unknown client are
            // answered before the fields.
            state.clients.patch_target(&id, version, expected).await?;
            return Err(DomainError::from(refused).into());
        }
    };
    let client = state.clients.patch(&id, patch, expected).await?;
    client_response(StatusCode::OK, view(&state, client).await?)
}

/// Delete a client.
///
/// With `If-Match`, only if it is still at that version. Its emails and decisions
/// stay in the ledger.
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    params(
        ("id" = String, Path, description = "The client's id"),
        ("If-Match" = Option<String>, Header,
            description = "Delete only if the client is at this version"),
    ),
    responses(
        (status = 204, description = "The client was deleted."),
        (status = 400, description = "The If-Match header is not a version.",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is at another version (`current_version`).",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn delete_user(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let expected = if_match(&headers)?;
    state
        .clients
        .delete(&UserId::from_string(id), expected)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Record something the client did.
///
/// A login, an order, a Fix delivered, feedback on a Fix, an email opened or clicked.
#[utoipa::path(
    post,
    path = "/users/{id}/activity",
    tag = "users",
    params(("id" = String, Path, description = "The client's id")),
    request_body = ActivityBody,
    responses(
        (status = 200, description = "The client with the activity recorded.", body = ClientView,
            headers(("ETag" = String, description = "The client's new version, quoted"))),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The activity is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn record_activity(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<ActivityBody>,
) -> Result<Response, ApiError> {
    let activity = body.try_into_domain().map_err(DomainError::from)?;
    let client = state
        .clients
        .record_activity(&UserId::from_string(id), activity)
        .await?;
    client_response(StatusCode::OK, view(&state, client).await?)
}

/// Get the client's engagement score.
///
/// Computed as of now, with its components and drivers.
#[utoipa::path(
    get,
    path = "/users/{id}/engagement",
    tag = "users",
    params(("id" = String, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The score, computed now.", body = ScoreBreakdown),
        (status = 404, description = "No client has this id.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_engagement(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> Result<axum::Json<ScoreBreakdown>, ApiError> {
    let client = state.clients.get(&UserId::from_string(id)).await?;
    Ok(axum::Json(state.engine.engagement(&client).await?))
}

/// List the client's emails.
///
/// Newest first. A deleted client's emails stay listed.
#[utoipa::path(
    get,
    path = "/users/{id}/emails",
    tag = "users",
    params(("id" = String, Path, description = "The client's id"), PageParams),
    responses(
        (status = 200, description = "One page of emails.", body = Page<Email>),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_user_emails(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<Page<Email>>, ApiError> {
    let query = EmailQuery {
        user_id: Some(UserId::from_string(id)),
        status: None,
        campaign: None,
        cursor: pagination::cursor(params.cursor)?,
        limit: pagination::limit(params.limit)?,
    };
    Ok(axum::Json(state.history.list_emails(&query).await?.into()))
}

/// List the client's decisions.
///
/// Every decision the email processor made for the client, including the ones that
/// sent nothing and why.
#[utoipa::path(
    get,
    path = "/users/{id}/decisions",
    tag = "users",
    params(("id" = String, Path, description = "The client's id"), PageParams),
    responses(
        (status = 200, description = "One page of decisions.", body = Page<Decision>),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_user_decisions(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<Page<Decision>>, ApiError> {
    let cursor = pagination::cursor(params.cursor)?;
    let limit = pagination::limit(params.limit)?;
    let page = state
        .history
        .list_decisions(&UserId::from_string(id), cursor, limit)
        .await?;
    Ok(axum::Json(page.into()))
}

/// List the client's changes.
///
/// The client's change log, newest first: each committed write, the event the
/// stream processor published for it (null when it published none) and the fields it
/// changed. A deleted client's log stays listed. On the DynamoDB backend: 501 (the
/// table's stream keeps 24 hours of changes and has no per-client log).
#[utoipa::path(
    get,
    path = "/users/{id}/changes",
    tag = "users",
    params(("id" = String, Path, description = "The client's id"), PageParams),
    responses(
        (status = 200, description = "One page of changes.", body = Page<ClientChange>),
        (status = 400, description = "A query parameter is not valid.",
            body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "This backend keeps no per-client change log.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_user_changes(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<axum::Json<Page<ClientChange>>, ApiError> {
    let cursor = pagination::cursor(params.cursor)?;
    let limit = pagination::limit(params.limit)?;
    let page = state
        .clients
        .store
        .changes(&UserId::from_string(id), cursor, limit)
        .await?;
    Ok(axum::Json(page.into()))
}
