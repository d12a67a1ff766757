//! Bulk import over HTTP: streamed NDJSON and CSV, upsert by address, per-row errors.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn row(email: &str, first: &str) -> String {
    json!({"email": email, "first_name": first, "time_zone": "Europe/Paris", "email_opt_in": true})
        .to_string()
}

async fn import(
    app: &TestApp,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url("/api/v1/users/import"))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap())
}

fn lines_and_reasons(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_import_stores_good_rows_once_and_reports_each_bad_row_by_line() {
    let app = spawn_app().await;
    let file = [
        row("ana@example.com", "Ana"),
        row("ben@example.com", "Ben"),
        row("ANA@example.com", "Ana again"),                                   // 3: duplicate address
        "{\"email\": \"no-at-sign\", \"first_name\": \"X\", \"time_zone\": \"UTC\", \"email_opt_in\": true}".into(), // 4
        "this is not json".into(),                                             // 5
        row("cleo@example.com", "Cleo"),
        json!({"email": "dan@example.com", "first_name": "Dan", "time_zone": "Moon/Base", "email_opt_in": true}).to_string(), // 7
        "{\"email\": \"eve@example.com\", \"first_na".into(),                  // 8: truncated
    ]
    .join("\n");

    let (status, report) = import(&app, "application/x-ndjson", file.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rows"], 8);
    assert_eq!(report["created"], 3);
    assert_eq!(report["failed"], 5);
    let errors = lines_and_reasons(&report);
    assert_eq!(
        errors.iter().map(|e| e.0).collect::<Vec<_>>(),
        [3, 4, 5, 7, 8]
    );
    assert!(
        errors[0].1.contains("duplicate") && errors[0].1.contains("line 1"),
        "{errors:?}"
    );
    assert!(errors[1].1.contains("email"), "{errors:?}");
    assert!(errors[3].1.contains("time zone"), "{errors:?}");
    assert!(errors[4].1.contains("truncated"), "{errors:?}");

    let users = app.get_json("/api/v1/users?limit=200").await;
    let mut emails: Vec<&str> = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(
        emails,
        ["ana@example.com", "ben@example.com", "cleo@example.com"]
    );

    // The same file again changes nothing: no new change record, same errors.
    let head = app.store.stream_position().await.unwrap().0;
    let (_, again) = import(&app, "application/x-ndjson", file).await;
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(lines_and_reasons(&again), errors);
    assert_eq!(app.store.stream_position().await.unwrap().0, head);
}

#[tokio::test]
async fn a_known_address_is_updated_through_the_change_stream_and_never_resubscribed() {
    let app = spawn_app().await;
    let id = app
        .create_client("fay@example.com", "Europe/London", true)
        .await;
    let r = app
        .post(&format!("/api/v1/users/{id}/unsubscribe"), &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let csv = "email,first_name,last_name,time_zone,email_opt_in,preferences\nFAY@example.com,Fay,Ray,Asia/Tokyo,true,minimal;boho\n";
    let (status, report) = import(&app, "text/csv", csv).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["updated"], 1);
    let client = app.get_json(&format!("/api/v1/users/{id}")).await;
    assert_eq!(client["time_zone"], "Asia/Tokyo");
    assert_eq!(client["last_name"], "Ray");
    assert_eq!(client["profile"]["preferences"], json!(["minimal", "boho"]));
    assert_eq!(
        client["consent"]["unsubscribed"], true,
        "import never re-subscribes"
    );
    app.settle().await;
    let events: Vec<String> = app
        .decisions(&id)
        .await
        .iter()
        .map(|d| d["event_type"].as_str().unwrap().to_string())
        .collect();
    assert!(
        events.contains(&"profile_updated".to_string()),
        "the import was a change like any other: {events:?}"
    );
}

#[tokio::test]
async fn a_large_import_streams_past_the_ordinary_body_limit() {
    let app = spawn_app().await;
    let body: String = (0..12_000)
        .map(|i| row(&format!("bulk{i}@example.com"), "Bulk") + "\n")
        .collect();
    assert!(body.len() > 1024 * 1024);
    let (status, report) = import(&app, "application/x-ndjson", body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["created"], 12_000);
    assert_eq!(report["failed"], 0);
}

#[tokio::test]
async fn an_import_needs_a_known_format_and_a_usable_csv_header() {
    let app = spawn_app().await;
    let (status, p) = import(&app, "application/pdf", "x").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{p}");
    let (status, p) = import(&app, "text/csv", "mail,first_name\nx,y\n").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("mail"), "{p}");
    let r = app
        .http
        .post(app.url("/api/v1/users/import"))
        .header("content-type", "text/csv")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        app.get_json("/api/v1/users").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
