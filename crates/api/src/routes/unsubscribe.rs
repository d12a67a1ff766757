//! `/u/{token}`: the public unsubscribe page and the RFC 8058 one-click endpoint that
//! every engagement email's `List-Unsubscribe` header points at.
//!
//! These answer people (and mail providers), not API clients: plain HTML with no
//! script and nothing loaded from elsewhere, never a problem document. `GET` only asks
//! for confirmation, because mail scanners follow links; `POST` unsubscribes. A token
//! that does not verify gets the same 404 page whether it is garbage or forged, and a
//! client who unsubscribes is written through [`ClientService::unsubscribe`], a
//! normal client write, so the change stream records it.
//!
//! [`ClientService::unsubscribe`]: engage_core::service::ClientService::unsubscribe

use crate::state::Shared;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engage_core::DomainError;
use engage_core::client::{Client, EmailAddress};
use engage_core::compose::escape_html;
use engage_core::ids::UserId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(confirm_page, one_click))
}

/// The body RFC 8058 has mail providers POST, and the page's button too. The body is
/// not read, so any other (or none) is accepted as well.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only
pub(crate) struct OneClick {
    /// `One-Click`.
    #[schema(rename = "List-Unsubscribe", example = "One-Click")]
    list_unsubscribe: String,
}

/// Show the unsubscribe page.
///
/// Asks the person to confirm with a button that POSTs to the same URL. Changes
/// nothing, so a mail scanner following the link does not unsubscribe anyone.
#[utoipa::path(
    get,
    path = "/u/{token}",
    tag = "unsubscribe",
    params(("token" = String, Path, description = "The signed token of the email's unsubscribe link")),
    responses(
        (status = 200, description = "The confirmation page (or: already unsubscribed; not on our lists).",
            body = String, content_type = "text/html"),
        (status = 404, description = "The token is not valid.", body = String, content_type = "text/html"),
        (status = 500, description = "An unexpected failure; it was logged.",
            body = String, content_type = "text/html"),
    )
)]
async fn confirm_page(
    State(state): State<Shared>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(id) = verified(&state, token) else {
        return not_recognised().await;
    };
    match state.clients.get(&id).await {
        Ok(client) if client.consent.unsubscribed => unsubscribed_page(&client),
        Ok(client) => page(
            StatusCode::OK,
            "Unsubscribe",
            &format!(
                "<p>Stop engagement emails to <strong>{}</strong>?</p>\n\
                 <form method=\"post\">\
                 <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\">Unsubscribe</button></form>",
                masked(&client.email)
            ),
        ),
        Err(e) => failure(e),
    }
}

/// Unsubscribe (RFC 8058 one-click).
///
/// Mail providers POST `List-Unsubscribe=One-Click`; the page's button posts the
/// same. Idempotent: unsubscribing again writes nothing and answers the same page.
#[utoipa::path(
    post,
    path = "/u/{token}",
    tag = "unsubscribe",
    params(("token" = String, Path, description = "The signed token of the email's unsubscribe link")),
    request_body(content = OneClick, content_type = "application/x-www-form-urlencoded",
        description = "`List-Unsubscribe=One-Click` (RFC 8058), as mail providers and the \
            page's button send it. Leniently, any other body or none is accepted too."),
    responses(
        (status = 200, description = "Unsubscribed (or: not on our lists).",
            body = String, content_type = "text/html"),
        (status = 404, description = "The token is not valid; nothing changed.",
            body = String, content_type = "text/html"),
        (status = 500, description = "An unexpected failure; it was logged.",
            body = String, content_type = "text/html"),
    )
)]
async fn one_click(
    State(state): State<Shared>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(id) = verified(&state, token) else {
        return not_recognised().await;
    };
    match state.clients.unsubscribe(&id, "one-click").await {
        Ok(client) => {
            tracing::info!(user_id = %client.id, "unsubscribed by link");
            unsubscribed_page(&client)
        }
        Err(e) => failure(e),
    }
}

/// The client a token names, if it verifies. A path that does not decode is no token.
fn verified(state: &Shared, token: Result<Path<String>, PathRejection>) -> Option<UserId> {
    let Path(token) = token.ok()?;
    state.engine.links.verify(&token)
}

fn unsubscribed_page(client: &Client) -> Response {
    page(
        StatusCode::OK,
        "You are unsubscribed",
        &format!(
            "<p><strong>{}</strong> will get no more engagement emails from us.</p>",
            masked(&client.email)
        ),
    )
}

/// A deleted client, or a store failure.
fn failure(e: DomainError) -> Response {
    match e {
        DomainError::NotFound => page(
            StatusCode::OK,
            "Not on our lists",
            "<p>This address is not on our lists: there is nothing to unsubscribe.</p>",
        ),
        other => {
            tracing::error!(error = %format!("{:#}", anyhow::Error::from(other)), "unsubscribe failed");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "<p>We could not do this just now. Please try again in a few minutes.</p>",
            )
        }
    }
}

/// Also the answer to any other path under `/u/` (a link a mail client mangled), see
/// `problems::not_found`.
pub(crate) async fn not_recognised() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Link not recognised",
        "<p>This unsubscribe link is not valid. Use the link from the email exactly as it \
         came, or reply to the email asking to unsubscribe.</p>",
    )
}

/// The address with all but the first character of its local part hidden:
/// `z***@example.com`. The page is shown to whoever holds the link.
fn masked(address: &EmailAddress) -> String {
    let (local, domain) = address
        .as_str()
        .rsplit_once('@')
        .unwrap_or((address.as_str(), ""));
    let first: String = local.chars().take(1).collect();
    escape_html(&format!("{first}***@{domain}"))
}

/// What every one of these pages is sent with.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;\
padding:0 1rem;color:#222}h1{font-size:1.4rem}button{font:inherit;padding:.5rem 1.2rem;\
border:0;border-radius:4px;background:#222;color:#fff;cursor:pointer}";

/// A complete page: `title` as heading, `body` as trusted HTML.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title><style>{STYLE}</style></head>\n\
         <body><h1>{title}</h1>\n{body}\n</body></html>\n"
    );
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        ),
        // The token is in the URL; no other site gets to see it.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    (status, headers, html).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_and_escaped() {
        let m = |s: &str| masked(&EmailAddress::parse(s).unwrap());
        assert_eq!(m("zoe@example.com"), "z***@example.com");
        assert_eq!(m("a@example.com"), "a***@example.com");
        assert_eq!(m("Élodie.x@example.fr"), "É***@example.fr");
        assert_eq!(m("&x@example.com"), "&amp;***@example.com");
    }
}
