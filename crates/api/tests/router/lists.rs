//! The lists: query validation, cursor pagination, and the emails and decisions the
//! real pipeline records; suppressions.

use crate::helpers::*;
use axum::http::Method;
use serde_json::{Value, json};

fn items(a: &Answer) -> &Vec<Value> {
    a.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", a.body))
}

#[tokio::test]
async fn lists_check_their_query_parameters() {
    let app = spawn_app();
    app.create_client("ada@example.com").await;
    let a = app
        .call(Method::GET, "/api/v1/users?limit=10&q=ad", None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(items(&a).len(), 1);
    assert!(a.body["next_cursor"].is_null());
    assert!(items(&a)[0]["id"].is_string());
    let a = app.call(Method::GET, "/api/v1/users?q=zz", None).await;
    assert!(items(&a).is_empty());

    for (uri, field) in [
        ("/api/v1/users?limit=201", "limit"),
        ("/api/v1/users?limit=0", "limit"),
        ("/api/v1/users?tier=gold", "tier"),
        ("/api/v1/users?cursor=bogus", "cursor"),
        ("/api/v1/emails?cursor=bogus", "cursor"),
        ("/api/v1/users/usr_1/decisions?cursor=bogus", "cursor"),
        ("/api/v1/suppressions?cursor=bogus", "cursor"),
        ("/api/v1/emails?status=lost", "status"),
    ] {
        let a = app.call(Method::GET, uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], field, "{uri}");
    }
    app.call(Method::GET, "/api/v1/users?limit=abc", None)
        .await
        .assert_problem(400, "/problems/bad-request");

    for uri in [
        "/api/v1/emails?status=sent&campaign=welcome&user_id=usr_1",
        "/api/v1/users/usr_gone/emails",
        "/api/v1/users/usr_gone/decisions?limit=5",
        "/api/v1/suppressions",
    ] {
        let a = app.call(Method::GET, uri, None).await;
        assert_eq!(a.status, 200, "{uri}: {}", a.body);
        assert!(items(&a).is_empty(), "{uri}");
    }
    app.call(Method::GET, "/api/v1/emails/eml_nope", None)
        .await
        .assert_problem(404, "/problems/not-found");
}

#[tokio::test]
async fn lists_page_through_clients_with_cursors() {
    let app = spawn_app();
    for name in ["ada", "bea", "cy"] {
        app.create_client(&format!("{name}@example.com")).await;
    }
    let first = app.call(Method::GET, "/api/v1/users?limit=2", None).await;
    assert_eq!(items(&first).len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("a next page");
    let second = app
        .call(
            Method::GET,
            &format!("/api/v1/users?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(items(&second).len(), 1);
    assert!(second.body["next_cursor"].is_null());
    let mut ids: Vec<&Value> = items(&first)
        .iter()
        .chain(items(&second))
        .map(|c| &c["id"])
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "each client once");
}

#[tokio::test]
async fn the_pipelines_emails_decisions_and_scores_are_listed() {
    let app = spawn_app();
    let ada = app.create_client("ada@example.com").await;
    let bea = app.create_client("bea@example.com").await;
    app.settle().await;

    let a = app
        .call(Method::GET, &format!("/api/v1/users/{ada}/emails"), None)
        .await;
    assert_eq!(items(&a).len(), 1, "{}", a.body);
    let email = &items(&a)[0];
    assert_eq!(email["user_id"], ada.as_str());
    assert_eq!(email["campaign"], "welcome");
    assert_eq!(email["status"], "sent");
    assert!(email["subject"].as_str().unwrap().contains("Ada"));
    assert_eq!(email["created_at"], "2026-03-02T12:00:00Z");

    let one = app
        .call(
            Method::GET,
            &format!("/api/v1/emails/{}", email["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["id"], email["id"]);

    let all = app
        .call(
            Method::GET,
            "/api/v1/emails?status=sent&campaign=welcome",
            None,
        )
        .await;
    assert_eq!(items(&all).len(), 2);
    let page = app.call(Method::GET, "/api/v1/emails?limit=1", None).await;
    assert_eq!(items(&page).len(), 1);
    assert!(page.body["next_cursor"].is_string());
    let only_bea = app
        .call(Method::GET, &format!("/api/v1/emails?user_id={bea}"), None)
        .await;
    assert_eq!(items(&only_bea).len(), 1);
    assert_eq!(items(&only_bea)[0]["user_id"], bea.as_str());
    let none = app
        .call(Method::GET, "/api/v1/emails?status=failed", None)
        .await;
    assert!(items(&none).is_empty());

    let d = app
        .call(Method::GET, &format!("/api/v1/users/{ada}/decisions"), None)
        .await;
    assert_eq!(items(&d).len(), 1, "{}", d.body);
    assert_eq!(items(&d)[0]["outcome"], "send");
    assert_eq!(items(&d)[0]["campaign"], "welcome");

    let user = app.get_user(&ada).await;
    assert!(user["score"].is_u64(), "scored: {user}");
    assert_eq!(user["tier"], "new");
    let new = app.call(Method::GET, "/api/v1/users?tier=new", None).await;
    assert_eq!(items(&new).len(), 2);
    assert!(items(&new).iter().all(|c| c["score"].is_u64()));
}

#[tokio::test]
async fn suppressions_can_be_added_listed_and_lifted() {
    let app = spawn_app();
    let a = app
        .call(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"email": "Bob@Example.com"})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["email"], "bob@example.com");
    assert_eq!(a.body["reason"], "manual");
    assert_eq!(a.body["created_at"], "2026-03-02T12:00:00Z");

    let a = app
        .call(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"email": "nope"})),
        )
        .await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "email");
    app.call(
        Method::POST,
        "/api/v1/suppressions",
        Some(json!({"email": "x@example.com", "reason": "a\u{0}b"})),
    )
    .await
    .assert_problem(422, "/problems/validation-error");

    let a = app.call(Method::GET, "/api/v1/suppressions", None).await;
    assert_eq!(items(&a).len(), 1);
    assert_eq!(items(&a)[0]["email"], "bob@example.com");

    let a = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/bob%40example.com",
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    app.call(Method::DELETE, "/api/v1/suppressions/bob@example.com", None)
        .await
        .assert_problem(404, "/problems/not-found");
    app.call(Method::DELETE, "/api/v1/suppressions/nope", None)
        .await
        .assert_problem(422, "/problems/validation-error");
    let a = app.call(Method::GET, "/api/v1/suppressions", None).await;
    assert!(items(&a).is_empty());
}
