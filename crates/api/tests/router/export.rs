//! Export: clients and emails streamed as NDJSON or CSV, page by page; a clients' CSV
//! export imports again as the same clients.

use crate::helpers::*;
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use engage_core::StoreError;
use engage_core::change::ClientChange;
use engage_core::client::Client;
use engage_core::ids::UserId;
use engage_core::ports::{ClientQuery, ClientStats, ClientStore, ClientWithScore, Page};
use engage_core::service::ClientService;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tower::ServiceExt;

struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Raw {
    fn lines(&self) -> Vec<Value> {
        self.text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn csv(&self) -> Vec<csv::StringRecord> {
        csv::Reader::from_reader(self.text.as_bytes())
            .records()
            .map(Result::unwrap)
            .collect()
    }
}

/// A GET whose body is kept as text.
async fn get_raw(app: &TestApp, uri: &str) -> Raw {
    let res = app
        .router
        .clone()
        .oneshot(req(Method::GET, uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Raw {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn import(app: &TestApp, format: &str, body: String) -> Value {
    let a = app
        .send(
            req(
                Method::POST,
                &format!("/api/v1/users/import?format={format}"),
            )
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(body))
            .unwrap(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

/// What an import carries over, from a `ClientView`.
fn portable(v: &Value) -> Value {
    json!({
        "email": v["email"],
        "first_name": v["first_name"],
        "last_name": v["last_name"],
        "time_zone": v["time_zone"],
        "email_opt_in": v["consent"]["email_opt_in"],
        "unsubscribed": v["consent"]["unsubscribed"],
        "profile": v["profile"],
    })
}

#[tokio::test]
async fn a_csv_export_imports_into_a_fresh_app_as_the_same_clients() {
    let app = spawn_app();
    for body in [
        json!({"email": "zoe@example.com", "first_name": "Zoë", "last_name": "García, \"Zo\"",
            "time_zone": "Europe/Paris", "email_opt_in": true,
            "profile": {"preferences": ["minimal", "boho"], "top_size": "M", "bottom_size": "28",
                "shoe_size": "39", "budget": "$100–$200", "fit_notes": "relaxed fits,\nno wool"}}),
        json!({"email": "jose@example.com", "first_name": "José", "time_zone": "America/Mexico_City",
            "email_opt_in": false}),
        json!({"email": "chloe@example.com", "first_name": "Chloé", "last_name": "Martin",
            "time_zone": "America/New_York", "email_opt_in": true}),
    ] {
        let a = app.call(Method::POST, "/api/v1/users", Some(body)).await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let chloe = get_raw(&app, "/api/v1/users?q=chloe").await.text;
    let chloe: Value = serde_json::from_str(&chloe).unwrap();
    let id = chloe["items"][0]["id"].as_str().unwrap();
    let a = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/unsubscribe"),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    app.settle().await;

    let csv = get_raw(&app, "/api/v1/users/export?format=csv").await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        csv.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"clients.csv\""
    );
    assert_eq!(csv.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        csv.text.lines().next().unwrap(),
        "email,first_name,last_name,time_zone,email_opt_in,preferences,top_size,bottom_size,shoe_size,budget,fit_notes,unsubscribed,id,version,score,tier,created_at,updated_at"
    );
    let records = csv.csv();
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| !r[14].is_empty() && !r[15].is_empty()),
        "scored after settling: {records:?}"
    );

    let fresh = spawn_app();
    let report = import(&fresh, "csv", csv.text.clone()).await;
    assert_eq!(
        (&report["created"], &report["failed"]),
        (&json!(3), &json!(0)),
        "{report}"
    );

    let before = get_raw(&app, "/api/v1/users/export").await;
    let after = get_raw(&fresh, "/api/v1/users/export?format=ndjson").await;
    assert_eq!(after.headers[header::CONTENT_TYPE], "application/x-ndjson");
    assert_eq!(
        after.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"clients.ndjson\""
    );
    let by_email = |r: &Raw| {
        let mut v: Vec<Value> = r.lines().iter().map(portable).collect();
        v.sort_by_key(|c| c["email"].to_string());
        v
    };
    assert_eq!(by_email(&before), by_email(&after));
    assert!(
        by_email(&after)
            .iter()
            .any(|c| c["unsubscribed"] == true && c["email"] == "chloe@example.com"),
        "consent survives the round trip"
    );

    // Each NDJSON line is the client as `GET /users/{id}` shows it.
    for line in before.lines() {
        assert_eq!(line, app.get_user(line["id"].as_str().unwrap()).await);
    }
}

#[tokio::test]
async fn a_formula_in_a_cell_goes_out_defused_and_comes_back_as_it_was() {
    let app = spawn_app();
    let body = json!({"email": "eve@example.com", "first_name": "=HYPERLINK(\"https://evil.example\",\"x\")",
        "last_name": "@SUM(A1)", "time_zone": "Europe/Paris", "email_opt_in": true,
        "profile": {"fit_notes": "+1 size up", "budget": "-50"}});
    let a = app.call(Method::POST, "/api/v1/users", Some(body)).await;
    assert_eq!(a.status, 201, "{}", a.body);

    let csv = get_raw(&app, "/api/v1/users/export?format=csv").await;
    let r = &csv.csv()[0];
    assert_eq!(&r[1], "'=HYPERLINK(\"https://evil.example\",\"x\")");
    assert_eq!(&r[2], "'@SUM(A1)");
    assert_eq!(&r[9], "'-50");
    assert_eq!(&r[10], "'+1 size up");
    for field in r.iter() {
        assert!(
            !field.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{r:?}"
        );
    }

    let fresh = spawn_app();
    let report = import(&fresh, "csv", csv.text.clone()).await;
    assert_eq!(report["created"], 1, "{report}");
    let back = get_raw(&fresh, "/api/v1/users/export").await.lines();
    assert_eq!(back[0]["first_name"], a.body["first_name"]);
    assert_eq!(back[0]["last_name"], "@SUM(A1)");
    assert_eq!(back[0]["profile"]["fit_notes"], "+1 size up");
    assert_eq!(back[0]["profile"]["budget"], "-50");
}

#[tokio::test]
async fn a_crm_export_with_columns_engage_does_not_know_imports_and_names_them() {
    let app = spawn_app();
    let crm = "Customer ID,Email,First Name,Time Zone,Email Opt In,Lifetime Value,Top Size\n\
               c-1,ada@example.com,Ada,Europe/London,true,1200,M\n\
               c-2,bea@example.com,Bea,Europe/Paris,false,80,S\n";
    let report = import(&app, "csv", crm.into()).await;
    assert_eq!(
        (&report["created"], &report["failed"]),
        (&json!(2), &json!(0)),
        "{report}"
    );
    assert_eq!(
        report["ignored_columns"],
        json!(["Customer ID", "Lifetime Value"])
    );
    let clients = get_raw(&app, "/api/v1/users/export").await.lines();
    assert!(
        clients
            .iter()
            .any(|c| c["email"] == "ada@example.com" && c["profile"]["top_size"] == "M")
    );

    // A misspelt required column still fails, and says which one it looks like.
    let a = app
        .send(
            req(Method::POST, "/api/v1/users/import?format=csv")
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(
                    "emial,first_name,time_zone,email_opt_in\nx@example.com,X,UTC,true\n",
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    let detail = a.body["detail"].as_str().unwrap_or_default().to_string() + &a.body.to_string();
    assert!(
        detail.contains("is `emial` meant to be `email`?"),
        "{}",
        a.body
    );
    assert_eq!(get_raw(&app, "/api/v1/users/export").await.lines().len(), 2);
}

#[tokio::test]
async fn an_email_export_after_the_pipeline_holds_the_welcome_emails() {
    let app = spawn_app();
    let ids: HashSet<String> = [
        app.create_client("ada@example.com").await,
        app.create_client("bea@example.com").await,
    ]
    .into();
    app.settle().await;

    let nd = get_raw(&app, "/api/v1/emails/export").await;
    assert_eq!(nd.status, 200);
    assert_eq!(
        nd.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"emails.ndjson\""
    );
    let lines = nd.lines();
    assert_eq!(lines.len(), 2, "{}", nd.text);
    for e in &lines {
        assert_eq!(e["campaign"], "welcome");
        assert!(ids.contains(e["user_id"].as_str().unwrap()), "{e}");
        let one = app
            .call(
                Method::GET,
                &format!("/api/v1/emails/{}", e["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(e, &one.body, "a line is the email as the API shows it");
    }

    let csv = get_raw(&app, "/api/v1/emails/export?format=csv&campaign=welcome").await;
    assert_eq!(
        csv.text.lines().next().unwrap(),
        "id,user_id,campaign,status,subject,generator,created_at,sent_at"
    );
    let records = csv.csv();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!((&r[2], &r[3], &r[5]), ("welcome", "sent", "template"));
        assert!(!r[4].is_empty() && !r[7].is_empty(), "{r:?}");
    }

    let none = get_raw(&app, "/api/v1/emails/export?format=csv&campaign=win_back").await;
    assert_eq!(none.status, 200);
    assert_eq!(none.csv().len(), 0, "only the header: {}", none.text);
    let sent = get_raw(&app, "/api/v1/emails/export?status=sent&campaign=welcome").await;
    assert_eq!(sent.lines().len(), 2, "{}", sent.text);
    let none = get_raw(&app, "/api/v1/emails/export?status=failed").await;
    assert_eq!((none.status, none.text.as_str()), (StatusCode::OK, ""));
}

#[tokio::test]
async fn an_export_of_more_than_a_page_returns_every_client_once() {
    let app = spawn_app();
    let n = 2500;
    let rows: String = (0..n)
        .map(|i| {
            format!("{{\"email\":\"c{i}@example.com\",\"first_name\":\"C\",\"time_zone\":\"UTC\",\"email_opt_in\":true}}\n")
        })
        .collect();
    assert_eq!(import(&app, "ndjson", rows).await["created"], n);

    let nd = get_raw(&app, "/api/v1/users/export").await;
    let emails: Vec<String> = nd
        .lines()
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emails.len(), n);
    assert_eq!(emails.iter().collect::<HashSet<_>>().len(), n);
    let ids: Vec<String> = nd
        .lines()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order");

    let csv = get_raw(&app, "/api/v1/users/export?format=csv").await;
    let records = csv.csv();
    assert_eq!(records.len(), n);
    assert_eq!(
        records
            .iter()
            .map(|r| r[0].to_string())
            .collect::<HashSet<_>>()
            .len(),
        n
    );
}

#[tokio::test]
async fn an_export_refuses_an_unknown_format_or_filter() {
    let app = spawn_app();
    for (uri, field) in [
        ("/api/v1/users/export?format=xml", "format"),
        ("/api/v1/emails/export?format=json", "format"),
        ("/api/v1/emails/export?status=lost", "status"),
    ] {
        let a = app.call(Method::GET, uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], field, "{uri}");
    }
    let a = app.get_public("/api/v1/users/export").await;
    a.assert_problem(401, "/problems/unauthorized");
}

/// The real store, failing every list after the first `pages` calls.
struct FailsAfter {
    inner: Arc<dyn ClientStore>,
    pages: AtomicU32,
}

#[async_trait]
impl ClientStore for FailsAfter {
    async fn insert(&self, c: Client) -> Result<(), StoreError> {
        self.inner.insert(c).await
    }
    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError> {
        self.inner.get(id).await
    }
    async fn get_with_score(&self, id: &UserId) -> Result<Option<ClientWithScore>, StoreError> {
        self.inner.get_with_score(id).await
    }
    async fn replace(&self, c: Client, v: u64) -> Result<(), StoreError> {
        self.inner.replace(c, v).await
    }
    async fn delete(&self, id: &UserId, v: Option<u64>) -> Result<Client, StoreError> {
        self.inner.delete(id, v).await
    }
    async fn list(&self, q: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        let left = self.pages.load(Ordering::SeqCst);
        if left == 0 {
            return Err(StoreError::Unexpected(anyhow::anyhow!("disk on fire")));
        }
        self.pages.store(left - 1, Ordering::SeqCst);
        self.inner.list(q).await
    }
    async fn changes(
        &self,
        id: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<ClientChange>, StoreError> {
        self.inner.changes(id, cursor, limit).await
    }
    async fn stats(&self) -> Result<ClientStats, StoreError> {
        self.inner.stats().await
    }
}

fn failing_after(pages: u32) -> TestApp {
    spawn_app_with(|state| {
        let inner = state.clients.store.clone();
        state.clients = ClientService::new(
            Arc::new(FailsAfter {
                inner,
                pages: AtomicU32::new(pages),
            }),
            state.suppressions.clone(),
            state.engine.clock.clone(),
        );
    })
}

#[tokio::test]
async fn a_store_failing_at_once_is_a_500_and_part_way_an_aborted_body() {
    let app = failing_after(0);
    app.call(Method::GET, "/api/v1/users/export", None)
        .await
        .assert_problem(500, "/problems/internal");

    let app = failing_after(1);
    let rows: String = (0..1001)
        .map(|i| {
            format!("{{\"email\":\"c{i}@example.com\",\"first_name\":\"C\",\"time_zone\":\"UTC\",\"email_opt_in\":true}}\n")
        })
        .collect();
    assert_eq!(import(&app, "ndjson", rows).await["created"], 1001);
    let res = app
        .router
        .clone()
        .oneshot(
            req(Method::GET, "/api/v1/users/export")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the first page was read in time");
    assert!(
        res.into_body().collect().await.is_err(),
        "the body breaks off rather than looking complete"
    );
}
