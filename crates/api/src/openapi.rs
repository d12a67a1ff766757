//! The OpenAPI document. Operations and schemas come from the handlers'
//! `#[utoipa::path]`s (collected by utoipa-axum as the routes are registered); this
//! module adds what is common to many operations: the bearer security scheme on
//! everything under `/api/v1`, and the problem responses any such call can get.

use crate::error::{PROBLEM_JSON, Problem};
use utoipa::OpenApi;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

pub(crate) const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "engage",
        description = "Client engagement: client records, engagement scores, and the \
            decisions and emails of the engagement processor. Every error is \
            `application/problem+json` (RFC 9457) with a stable `type`."
    ),
    tags(
        (name = "users", description = "Client records, their activity, score, emails and decisions"),
        (name = "emails", description = "Engagement emails in the ledger"),
        (name = "suppressions", description = "Addresses never to email"),
        (name = "campaigns", description = "The campaigns the engine is configured with"),
        (name = "stats", description = "Counts for the console's dashboard"),
        (name = "health", description = "Service health"),
        (name = "unsubscribe", description = "The public pages an email's unsubscribe link \
            opens: HTML for people, and the RFC 8058 one-click endpoint for mail providers"),
    ),
    components(schemas(Problem))
)]
pub(crate) struct ApiDoc;

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// Shared responses, referenced by name from the operations: (name, status, description).
const SHARED: [(&str, &str, &str); 7] = [
    (
        "Unauthorized",
        "401",
        "The bearer token is missing, malformed or not valid.",
    ),
    (
        "TooManyRequests",
        "429",
        "Too many failed authentications from this address; wait `Retry-After` seconds.",
    ),
    ("MalformedBody", "400", "The body is not valid JSON."),
    ("PayloadTooLarge", "413", "The body is larger than 1 MiB."),
    (
        "UnsupportedMediaType",
        "415",
        "The body is not `application/json`.",
    ),
    (
        "ValidationError",
        "422",
        "The body is JSON but a field is missing, unknown or not valid.",
    ),
    (
        "Internal",
        "500",
        "An unexpected failure (a store failure); it was logged.",
    ),
];

/// Adds the security scheme and the shared problem responses.
pub(crate) fn finish(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An engage API token: `Authorization: Bearer <token>`"))
                .build(),
        ),
    );
    for (name, _, description) in SHARED {
        let mut response = problem_response(description);
        if name == "Unauthorized" {
            response.headers.insert(
                "WWW-Authenticate".into(),
                HeaderBuilder::new().description(Some("`Bearer`")).build(),
            );
        }
        if name == "TooManyRequests" {
            response.headers.insert(
                "Retry-After".into(),
                HeaderBuilder::new()
                    .description(Some("Seconds to wait before the next attempt"))
                    .build(),
            );
        }
        components
            .responses
            .insert(name.to_string(), RefOr::T(response));
    }

    for (path, item) in doc.paths.paths.iter_mut() {
        // The unsubscribe pages answer people in HTML, never with problem documents.
        if path.starts_with("/u/") {
            continue;
        }
        let protected = path.starts_with("/api/v1/");
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let mut shared = |name: &str| {
                let (_, status, _) = SHARED
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .expect("a shared response");
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            };
            shared("Internal");
            if protected {
                shared("Unauthorized");
                shared("TooManyRequests");
            }
            if op.request_body.is_some() {
                shared("MalformedBody");
                shared("PayloadTooLarge");
                shared("UnsupportedMediaType");
                shared("ValidationError");
            }
            if protected {
                op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            }
        }
    }
}
