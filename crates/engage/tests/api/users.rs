//! The users API: create, read, list (search, tier, cursor), patch with optimistic
//! concurrency, delete, activity and engagement.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_created_client_has_an_id_a_version_and_an_etag() {
    let app = spawn_app().await;
    let r = app
        .post("/api/v1/users", &json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace", "time_zone": "Europe/London", "email_opt_in": true}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["etag"], "\"1\"");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let v: Value = r.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("usr_"));
    assert_eq!(v["version"], 1);
    assert_eq!(v["time_zone"], "Europe/London");
    assert_eq!(v["consent"]["email_opt_in"], true);
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
    let fetched = app.get_json(&location).await;
    assert_eq!(fetched["email"], "ada@example.com");
}

#[tokio::test]
async fn lists_search_filter_by_tier_and_page_with_cursors() {
    let app = spawn_app().await;
    for (i, name) in ["Ada", "Adele", "Bob", "Carla", "Adrian"]
        .iter()
        .enumerate()
    {
        app.create_user(json!({"email": format!("c{i}@example.com"), "first_name": name, "time_zone": "UTC", "email_opt_in": true}))
            .await;
    }
    app.settle().await;

    let mut names = Vec::new();
    let mut path = "/api/v1/users?limit=2".to_string();
    loop {
        let page = app.get_json(&path).await;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["first_name"].as_str().unwrap().to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/users?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["Ada", "Adele", "Bob", "Carla", "Adrian"]);

    let found = app.get_json("/api/v1/users?q=ad").await;
    let found: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["first_name"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["Ada", "Adele", "Adrian"]);

    let new = app.get_json("/api/v1/users?tier=new").await;
    assert_eq!(
        new["items"].as_array().unwrap().len(),
        5,
        "all scored as new after the pipeline ran"
    );
    assert_eq!(new["items"][0]["tier"], "new");
    assert!(
        app.get_json("/api/v1/users?tier=dormant").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_patch_with_the_current_version_applies_and_bumps_it() {
    let app = spawn_app().await;
    let id = app.create_client("p@example.com", "UTC", true).await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"version": 1, "first_name": "Adeline", "profile": {"preferences": ["boho"]}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"], 2);
    assert_eq!(v["first_name"], "Adeline");
    // If-Match works as well as the body's version.
    let r = app
        .http
        .patch(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(TOKEN)
        .header("if-match", "\"2\"")
        .json(&json!({"time_zone": "Asia/Tokyo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get_json(&format!("/api/v1/users/{id}")).await["version"],
        3
    );
}

#[tokio::test]
async fn concurrent_patches_against_the_same_version_have_one_winner() {
    let app = spawn_app().await;
    let id = app.create_client("race@example.com", "UTC", true).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let http = app.http.clone();
        let url = app.url(&format!("/api/v1/users/{id}"));
        tasks.push(tokio::spawn(async move {
            http.patch(url)
                .bearer_auth(TOKEN)
                .json(&json!({"version": 1, "first_name": format!("Writer{i}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(
        app.get_json(&format!("/api/v1/users/{id}")).await["version"],
        2
    );
}

#[tokio::test]
async fn deleting_a_client_removes_it_and_the_pipeline_records_why_nothing_is_sent() {
    let app = spawn_app().await;
    let id = app.create_client("gone@example.com", "UTC", true).await;
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get(&format!("/api/v1/users/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    app.settle().await;
    let d = app.decisions(&id).await;
    assert!(
        d.iter()
            .all(|d| d["outcome"] == "skip" && d["reason"] == "client_deleted"),
        "{d:?}"
    );
    assert!(app.outbox_files().is_empty());
}

#[tokio::test]
async fn activity_is_recorded_and_the_engagement_breakdown_explains_the_score() {
    let app = spawn_app().await;
    let id = app.create_client("act@example.com", "UTC", true).await;
    let v = app
        .record(
            &id,
            json!({"type": "fix_delivered", "fix_id": "fx-1", "items_sent": 5}),
        )
        .await;
    assert_eq!(v["version"], 2);
    let v = app
        .record(
            &id,
            json!({"type": "fix_feedback", "fix_id": "fx-1", "items_kept": 3, "rating": 4}),
        )
        .await;
    assert_eq!(v["activity"]["fixes"][0]["items_kept"], 3);
    let e = app
        .get_json(&format!("/api/v1/users/{id}/engagement"))
        .await;
    let score = e["score"].as_u64().unwrap();
    assert!(score <= 100);
    let components = e["components"].as_array().unwrap();
    assert_eq!(components.len(), 5);
    let sum: f64 = components
        .iter()
        .map(|c| c["contribution"].as_f64().unwrap())
        .sum();
    assert!(
        (sum - score as f64).abs() <= 0.5,
        "contributions {sum} add up to the score {score}"
    );
    assert!(
        components
            .iter()
            .all(|c| c["explanation"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(e["drivers"]["keep_rate"], 0.6);
}
