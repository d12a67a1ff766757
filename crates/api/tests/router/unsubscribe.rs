//! `/u/{token}`: the unsubscribe page (GET asks, changes nothing) and the RFC 8058
//! one-click endpoint (POST unsubscribes through a normal, recorded client write).

use crate::doubles::{BrokenStore, SECRET_CAUSE};
use crate::helpers::*;
use axum::body::Body;
use axum::http::{Method, header};
use engage_api::UNSUBSCRIBE_PAGE_CSP;
use engage_core::ids::UserId;
use engage_core::service::ClientService;
use engage_core::unsubscribe::UnsubscribeLinks;
use std::sync::Arc;

const ONE_CLICK: &str = "List-Unsubscribe=One-Click";

/// Asserts one of the unsubscribe pages: HTML that loads and runs nothing, kept out
/// of caches and search engines.
fn assert_page(a: &Answer, status: u16) -> &str {
    assert_eq!(a.status.as_u16(), status, "{}", a.body);
    assert_eq!(a.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(a.header("content-security-policy"), UNSUBSCRIBE_PAGE_CSP);
    assert_eq!(
        UNSUBSCRIBE_PAGE_CSP,
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    );
    assert_eq!(a.header("cache-control"), "no-store");
    assert_eq!(a.header("x-robots-tag"), "noindex");
    let html = a.text();
    assert!(html.starts_with("<!doctype html>"), "{html}");
    for never in ["<script", "src=", "<link", "http://", "https://", "@import"] {
        assert!(!html.contains(never), "{never} in {html}");
    }
    html
}

impl TestApp {
    async fn one_click(&self, token: &str) -> Answer {
        let r = axum::http::Request::post(format!("/u/{token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(ONE_CLICK))
            .unwrap();
        self.send(r).await
    }

    fn token(&self, id: &str) -> String {
        self.links.token(&UserId::from_string(id))
    }
}

#[tokio::test]
async fn the_page_asks_to_confirm_shows_the_address_masked_and_changes_nothing() {
    let app = spawn_app();
    let id = app.create_client("zoe@example.com").await;
    let a = app.get_public(&format!("/u/{}", app.token(&id))).await;
    let html = assert_page(&a, 200);
    assert!(html.contains("<form method=\"post\">"), "{html}");
    assert!(html.contains("z***@example.com"), "{html}");
    assert!(!html.contains("zoe@"), "the address in full: {html}");

    let head = axum::http::Request::head(format!("/u/{}", app.token(&id)))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(head).await.status, 200);

    let user = app.get_user(&id).await;
    assert_eq!(user["consent"]["unsubscribed"], false);
    assert_eq!(user["version"], 1);
    assert_eq!(app.changes().await.len(), 1, "only the create");
}

#[tokio::test]
async fn one_click_unsubscribes_with_one_recorded_write_and_again_with_none() {
    let app = spawn_app();
    let id = app.create_client("zoe@example.com").await;
    let token = app.token(&id);
    app.clock.advance(chrono::Duration::hours(1));

    let a = app.one_click(&token).await;
    let html = assert_page(&a, 200);
    assert!(html.contains("You are unsubscribed"), "{html}");
    assert!(html.contains("z***@example.com") && !html.contains("zoe@"));
    let user = app.get_user(&id).await;
    assert_eq!(user["consent"]["unsubscribed"], true);
    assert_eq!(user["consent"]["unsubscribed_at"], "2026-03-02T13:00:00Z");

    let changes = app.changes().await;
    assert_eq!(changes.len(), 2, "create + unsubscribe");
    let change = &changes[1];
    assert_eq!(change.user_id.as_str(), id);
    assert!(!change.old.as_ref().unwrap().consent.unsubscribed);
    assert!(change.new.as_ref().unwrap().consent.unsubscribed);

    let again = app.one_click(&token).await;
    assert_eq!(assert_page(&again, 200), html, "the same page");
    assert_eq!(app.changes().await.len(), 2, "no second write");
    assert_eq!(app.get_user(&id).await["version"], 2);

    // The page now says so, and offers no button.
    let a = app.get_public(&format!("/u/{token}")).await;
    let html = assert_page(&a, 200);
    assert!(
        html.contains("unsubscribed") && !html.contains("<form"),
        "{html}"
    );
}

#[tokio::test]
async fn the_pages_button_and_any_small_body_unsubscribe_too() {
    let app = spawn_app();
    for (n, (content_type, body)) in [
        (None, ""),
        (Some("application/x-www-form-urlencoded"), ""),
        (Some("text/plain"), "whatever"),
        (Some("application/json"), "{not json"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = app.create_client(&format!("c{n}@example.com")).await;
        let mut r = axum::http::Request::post(format!("/u/{}", app.token(&id)));
        if let Some(ct) = content_type {
            r = r.header(header::CONTENT_TYPE, ct);
        }
        let a = app.send(r.body(Body::from(body)).unwrap()).await;
        assert_page(&a, 200);
        assert_eq!(
            app.get_user(&id).await["consent"]["unsubscribed"],
            true,
            "{content_type:?} {body:?}"
        );
    }
}

#[tokio::test]
async fn forged_tampered_and_garbage_tokens_get_the_same_404_and_change_nothing() {
    let app = spawn_app();
    let zoe = app.create_client("zoe@example.com").await;
    let bob = app.create_client("bob@example.com").await;
    let token = app.token(&zoe);
    let (_, mac) = token.rsplit_once('.').unwrap();

    let mut flipped = token.clone().into_bytes();
    let last = flipped.last_mut().unwrap();
    *last = if *last == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_secret =
        UnsubscribeLinks::new(PUBLIC_URL, b"another-secret").token(&UserId::from_string(&zoe));
    let bad = [
        flipped,
        format!("{bob}.{mac}"),
        other_secret,
        token.to_uppercase(),
        format!("{token}0"),
        zoe.clone(),
        "nonsense".into(),
        ".".into(),
        "%FF%FE".into(),
        "a%2Fb".into(),
        format!("{token}/x"),
        "x".repeat(4000),
    ];
    let mut bodies = Vec::new();
    for t in &bad {
        let a = app.get_public(&format!("/u/{t}")).await;
        bodies.push(assert_page(&a, 404).to_string());
        let a = app.one_click(t).await;
        bodies.push(assert_page(&a, 404).to_string());
    }
    assert!(bodies[0].contains("not valid"), "{}", bodies[0]);
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "the same wording whatever is wrong"
    );
    assert_eq!(app.changes().await.len(), 2, "only the two creates");
    for id in [&zoe, &bob] {
        assert_eq!(app.get_user(id).await["consent"]["unsubscribed"], false);
    }
}

#[tokio::test]
async fn a_deleted_clients_link_says_the_address_is_not_on_our_lists() {
    let app = spawn_app();
    let id = app.create_client("zoe@example.com").await;
    let token = app.token(&id);
    let a = app
        .call(Method::DELETE, &format!("/api/v1/users/{id}"), None)
        .await;
    assert_eq!(a.status, 204);
    let before = app.changes().await.len();

    for a in [
        app.get_public(&format!("/u/{token}")).await,
        app.one_click(&token).await,
    ] {
        let html = assert_page(&a, 200);
        assert!(html.contains("not on our lists"), "{html}");
        assert!(!html.contains("<form"));
    }
    assert_eq!(app.changes().await.len(), before, "nothing written");
}

#[tokio::test]
async fn the_link_in_a_sent_email_unsubscribes_its_client() {
    let app = spawn_app();
    let id = app.create_client("zoe@example.com").await;
    app.settle().await;

    let outbox = app.dir.path().join("outbox");
    let file = std::fs::read_dir(&outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "eml"))
        .expect("the welcome email");
    let raw = std::fs::read_to_string(file).unwrap();
    // Unfold the headers (RFC 5322 folds long lines at whitespace).
    let raw = raw.replace("\r\n ", " ").replace("\n ", " ");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    let start = raw
        .find(&format!("<{PUBLIC_URL}/u/"))
        .unwrap_or_else(|| panic!("no unsubscribe URL in {raw}"));
    let url = &raw[start + 1..];
    let url = &url[..url.find('>').unwrap()];
    let path = url.strip_prefix(PUBLIC_URL).unwrap();

    assert_page(&app.get_public(path).await, 200);
    let token = path.strip_prefix("/u/").unwrap();
    assert_page(&app.one_click(token).await, 200);
    assert_eq!(app.get_user(&id).await["consent"]["unsubscribed"], true);
}

#[tokio::test]
async fn the_routes_need_no_token_and_other_methods_are_refused() {
    let app = spawn_app();
    let id = app.create_client("zoe@example.com").await;
    let uri = format!("/u/{}", app.token(&id));
    // With an (irrelevant, wrong) bearer token too: these routes do not look at it.
    let r = axum::http::Request::post(&uri)
        .header(header::AUTHORIZATION, "Bearer wrong")
        .body(Body::from(ONE_CLICK))
        .unwrap();
    assert_page(&app.send(r).await, 200);
    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let r = axum::http::Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let a = app.send(r).await;
        assert_eq!(a.status, 405, "{method}");
    }
}

#[tokio::test]
async fn a_store_failure_is_a_500_page_that_does_not_leak_its_cause() {
    let app = spawn_app_with(|state| {
        state.clients = ClientService::new(
            Arc::new(BrokenStore),
            state.suppressions.clone(),
            state.engine.clock.clone(),
        );
    });
    let token = app.token("usr_1");
    for a in [
        app.get_public(&format!("/u/{token}")).await,
        app.one_click(&token).await,
    ] {
        let html = assert_page(&a, 500);
        assert!(
            !html.contains("sqlite") && !html.contains("/srv/"),
            "{html} leaks {SECRET_CAUSE}"
        );
    }
}
