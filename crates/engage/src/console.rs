//! The web console (`web/`, React) served by `engage serve` at `/`, from the files
//! of `web/dist` embedded at compile time (the `console` feature; `make run` builds
//! them first), so the binary stays one file with nothing to install beside it.
//!
//! - `/assets/*` (names with a content hash) are cached for a year, `immutable`;
//!   everything else must be revalidated (`no-cache`), with an `ETag` (the file's
//!   SHA-256) that answers `304 Not Modified`.
//! - A path that is not a file is one of the app's client-side routes
//!   (`/clients/usr_…`): it gets `index.html`.
//! - Every page carries a strict Content-Security-Policy: scripts only from this
//!   server, no plugins, no framing; inline styles are allowed because an email's HTML
//!   (shown in a sandboxed frame, which inherits the policy) uses them; images only
//!   from this server or `data:` (an email's remote images are not fetched).
//! - Without a built `web/dist` at compile time, every page explains how to build it.
//!
//! In debug builds rust-embed reads the files from `web/dist` on disk at each
//! request instead, so `npm run build` shows without rebuilding the binary.

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::RustEmbed)]
#[folder = "../../web/dist"]
#[exclude = "*.map"]
#[allow_missing = true]
struct Dist;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

const NOT_BUILT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>engage</title></head><body><main><h1>The console is not built</h1>\
<p>This binary was compiled without <code>web/dist</code>. Run <code>make run</code>, \
or <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> and build engage \
again. The API is at <a href=\"/docs\">/docs</a>.</p></main></body></html>";

/// The console's routes: a fallback for the API router
/// ([`engage_api::router_with_site`]).
pub fn router() -> Router {
    Router::new().fallback(serve)
}

/// Whether the console's files were embedded in this build.
pub fn built() -> bool {
    Dist::get("index.html").is_some()
}

async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let (name, file) = match Dist::get(path).filter(|_| !path.is_empty()) {
        Some(f) => (path, f),
        None => match Dist::get("index.html") {
            Some(f) => ("index.html", f),
            None => return page(StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT),
        },
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = file.data.into_owned().into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(file.metadata.mimetype())
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        );
        r
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    secure(h);
    response
}

fn page(status: StatusCode, html: &'static str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(r.headers_mut());
    r
}

fn secure(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
