//! HTTP metrics: every request is counted (`engage_http_requests_total{method,route,status}`)
//! and timed (`engage_http_request_duration_seconds{method,route}`) through the
//! `metrics` facade; the host decides where they go (`engage serve` renders them at
//! `/metrics`, a process with no recorder drops them).
//!
//! `route` is the matched route template (`/api/v1/users/{id}`), never the raw path:
//! paths can carry email addresses (`/api/v1/suppressions/{email}`), and one label
//! value per client id would make the series count grow with the data. Requests no
//! route matched are `unmatched`.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// The `route` label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Middleware: counts and times the request. It sits outside the error and panic
/// layers, so `status` is the one the client got.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = route_label(req.extensions().get::<MatchedPath>());
    let started = Instant::now();
    let res = next.run(req).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = res.status().as_u16().to_string();
    metrics::counter!(
        "engage_http_requests_total",
        "method" => method,
        "route" => route.clone(),
        "status" => status,
    )
    .increment(1);
    metrics::histogram!(
        "engage_http_request_duration_seconds",
        "method" => method,
        "route" => route,
    )
    .record(elapsed);
    res
}

fn route_label(matched: Option<&MatchedPath>) -> String {
    matched.map_or(UNMATCHED, MatchedPath::as_str).to_owned()
}

/// The standard methods by name; anything else is `other`, so a client inventing
/// methods cannot add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower::ServiceExt as _;

    /// One series as the test sees it: name, labels (sorted) and value.
    type Series = (String, Vec<(String, String)>, DebugValue);

    /// Sends `requests` through a router with the middleware, under a recorder of
    /// its own (a local recorder only sees its thread, hence a current-thread runtime).
    fn series_after(requests: &[(Method, &str)]) -> Vec<Series> {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let app = Router::new()
            .route("/api/v1/users/{id}", get(|| async { "a client" }))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .layer(axum::middleware::from_fn(track));
        metrics::with_local_recorder(&recorder, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                for (method, uri) in requests {
                    let req = Request::builder()
                        .method(method.clone())
                        .uri(*uri)
                        .body(Body::empty())
                        .unwrap();
                    app.clone().oneshot(req).await.unwrap();
                }
            });
        });
        snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let mut labels: Vec<_> = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                labels.sort();
                (key.name().to_owned(), labels, value)
            })
            .collect()
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_matched_request_is_labelled_with_its_route_template_not_its_path() {
        let series = series_after(&[
            (Method::GET, "/api/v1/users/usr_1"),
            (Method::GET, "/api/v1/users/ada@example.com"),
        ]);

        let count = series
            .iter()
            .find(|(name, l, _)| {
                name == "engage_http_requests_total"
                    && *l
                        == labels(&[
                            ("method", "GET"),
                            ("route", "/api/v1/users/{id}"),
                            ("status", "200"),
                        ])
            })
            .map(|(_, _, v)| v);
        assert_eq!(count, Some(&DebugValue::Counter(2)), "{series:?}");
        let timed = series
            .iter()
            .find(|(name, l, _)| {
                name == "engage_http_request_duration_seconds"
                    && *l == labels(&[("method", "GET"), ("route", "/api/v1/users/{id}")])
            })
            .map(|(_, _, v)| v);
        assert!(
            matches!(timed, Some(DebugValue::Histogram(h)) if h.len() == 2),
            "{series:?}"
        );
        assert!(
            series
                .iter()
                .flat_map(|(_, l, _)| l)
                .all(|(_, v)| !v.contains('@') && !v.contains("usr_1")),
            "{series:?}"
        );
    }

    #[test]
    fn an_unmatched_request_is_labelled_unmatched() {
        let series = series_after(&[(Method::GET, "/nothing/ada@example.com")]);

        assert!(
            series
                .iter()
                .any(|(name, l, v)| name == "engage_http_requests_total"
                    && *l == labels(&[("method", "GET"), ("route", UNMATCHED), ("status", "404")])
                    && *v == DebugValue::Counter(1)),
            "{series:?}"
        );
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let custom = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&custom), "other");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}
