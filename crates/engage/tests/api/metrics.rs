//! `GET /metrics`: public, Prometheus text that a strict parser accepts, and counters
//! that move when work is done. The recorder is global to the test process and the
//! tests run in parallel, so counters are compared with `>=`, never `==`.

use crate::helpers::{TestApp, spawn_app};
use prom_text_format_parser::{Scrape, Type, ValueType};
use reqwest::StatusCode;
use std::collections::BTreeMap;

/// A series: its exposition name (with `_bucket`, `_sum`, `_count` for histograms)
/// and its labels, sorted.
type SeriesKey = (String, Vec<(String, String)>);

struct Scraped {
    values: BTreeMap<SeriesKey, f64>,
    kinds: BTreeMap<String, Type>,
}

impl Scraped {
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut labels: Vec<_> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        self.values.get(&(name.to_string(), labels)).copied()
    }

    /// The value, or 0 for a series not yet created (a counter nothing incremented).
    fn count(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or(0.0)
    }

    /// The sum over every series of `name` whose labels include `labels`.
    fn total(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.values
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

async fn scrape(app: &TestApp) -> Scraped {
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), StatusCode::OK);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    let text = r.text().await.unwrap();
    let parsed = Scrape::parse(&text)
        .unwrap_or_else(|e| panic!("/metrics is not Prometheus text: {e:?}\n{text}"));

    let mut values = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    for metric in parsed.metrics {
        kinds.insert(metric.name.clone(), metric.kind);
        for sample in metric.samples {
            let suffix = match (metric.kind, sample.value.value_type) {
                (_, ValueType::Sum) => "_sum",
                (_, ValueType::Count) => "_count",
                (Type::Histogram, ValueType::Sample) => "_bucket",
                _ => "",
            };
            let mut labels: Vec<_> = sample
                .labels
                .iter()
                .map(|l| (l.key.clone(), l.value.clone()))
                .collect();
            labels.sort();
            let key = (format!("{}{suffix}", metric.name), labels);
            let previous = values.insert(key.clone(), sample.value.value.as_f64());
            assert!(previous.is_none(), "series {key:?} appears twice");
        }
    }
    Scraped { values, kinds }
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_counters_move_when_work_is_done() {
    let app = spawn_app().await;
    let before = scrape(&app).await;

    let clients = 3;
    let mut ids = Vec::new();
    for i in 0..clients {
        ids.push(
            app.create_client(&format!("metrics-{i}@example.com"), "Europe/Paris", true)
                .await,
        );
    }
    app.settle().await;
    for id in &ids {
        assert_eq!(
            app.get(&format!("/api/v1/users/{id}")).await.status(),
            StatusCode::OK
        );
    }
    let missing = app.get("/api/v1/no-such-thing/ada@example.com").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let after = scrape(&app).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.count(name, labels) - before.count(name, labels)
    };
    let n = clients as f64;

    assert!(moved("engage_events_total", &[("type", "client_created")]) >= n);
    let sent_decisions = after.total("engage_decisions_total", &[("outcome", "send")])
        - before.total("engage_decisions_total", &[("outcome", "send")]);
    assert!(
        sent_decisions >= n,
        "send decisions moved by {sent_decisions}"
    );
    assert!(moved("engage_emails_total", &[("status", "sent")]) >= n);
    let created = [
        ("method", "POST"),
        ("route", "/api/v1/users"),
        ("status", "201"),
    ];
    assert!(moved("engage_http_requests_total", &created) >= n);
    let read = [
        ("method", "GET"),
        ("route", "/api/v1/users/{id}"),
        ("status", "200"),
    ];
    assert!(moved("engage_http_requests_total", &read) >= n);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert!(moved("engage_http_requests_total", &unmatched) >= 1.0);
    assert!(
        moved(
            "engage_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/v1/users")]
        ) >= n
    );
    assert!(moved("engage_pipeline_lag_seconds_count", &[]) >= n);

    assert_eq!(
        after.kinds.get("engage_http_request_duration_seconds"),
        Some(&Type::Histogram)
    );
    assert_eq!(
        after.kinds.get("engage_pipeline_lag_seconds"),
        Some(&Type::Histogram)
    );
    assert_eq!(
        after.kinds.get("engage_http_requests_total"),
        Some(&Type::Counter)
    );
    for queue in ["email", "email-dlq"] {
        for state in ["visible", "in_flight", "delayed"] {
            assert!(
                after
                    .value(
                        "engage_queue_messages",
                        &[("queue", queue), ("state", state)]
                    )
                    .is_some(),
                "no gauge for {queue}/{state}"
            );
        }
    }
    assert_eq!(after.kinds.get("engage_queue_messages"), Some(&Type::Gauge));
    assert!(after.value("engage_change_stream_lag", &[]).is_some());
    assert!(
        after
            .value("engage_emails_by_status", &[("status", "sent")])
            .is_some()
    );
    assert_eq!(
        after.value(
            "engage_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );

    let addresses: Vec<_> = after
        .values
        .keys()
        .flat_map(|(_, labels)| labels)
        .filter(|(_, v)| v.contains('@'))
        .collect();
    assert!(addresses.is_empty(), "addresses in labels: {addresses:?}");
}
