//! What the web console reads: the client list's consent filters and sorts (paged
//! with cursors that carry the sort key), suppression and last activity on a client,
//! the configured campaigns, the dashboard's counts, a client's change log and an
//! email's message as sent.

use crate::helpers::*;
use axum::http::Method;
use chrono::Duration;
use serde_json::{Value, json};

fn items(a: &Answer) -> Vec<Value> {
    a.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", a.body))
        .clone()
}

fn field(list: &[Value], name: &str) -> Vec<Value> {
    list.iter().map(|c| c[name].clone()).collect()
}

impl TestApp {
    /// Every page of `uri` (which has no `limit`), `limit` at a time; also checks
    /// that the pages together are the one-page answer.
    async fn all_pages(&self, uri: &str, limit: u32) -> Vec<Value> {
        let sep = if uri.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page_uri = match &cursor {
                None => format!("{uri}{sep}limit={limit}"),
                Some(c) => format!("{uri}{sep}limit={limit}&cursor={c}"),
            };
            let a = self.call(Method::GET, &page_uri, None).await;
            assert_eq!(a.status, 200, "{page_uri}: {}", a.body);
            let page = items(&a);
            assert!(page.len() <= limit as usize);
            out.extend(page);
            match a.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let whole = self
            .call(Method::GET, &format!("{uri}{sep}limit=200"), None)
            .await;
        assert_eq!(field(&items(&whole), "id"), field(&out, "id"), "{uri}");
        out
    }

    async fn login_at(&self, id: &str, hours_ago: i64) {
        let at = t0() - Duration::hours(hours_ago);
        let a = self
            .call(
                Method::POST,
                &format!("/api/v1/users/{id}/activity"),
                Some(json!({"type": "login", "at": at})),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
}

async fn emails_of(app: &TestApp, uri: &str) -> Vec<String> {
    let a = app.call(Method::GET, uri, None).await;
    assert_eq!(a.status, 200, "{uri}: {}", a.body);
    items(&a)
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn clients_filter_by_subscription_status_and_opt_in() {
    let app = spawn_app();
    app.create_client("ada@example.com").await;
    let mut body = client_body("bob@example.com");
    body["email_opt_in"] = json!(false);
    let a = app.call(Method::POST, "/api/v1/users", Some(body)).await;
    assert_eq!(a.status, 201);
    let cy = app.create_client("cy@example.com").await;
    let a = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{cy}"),
            Some(json!({"version": 1, "unsubscribed": true})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);

    let uri = "/api/v1/users?status=subscribed";
    assert_eq!(
        emails_of(&app, uri).await,
        ["ada@example.com", "bob@example.com"]
    );
    let uri = "/api/v1/users?status=unsubscribed";
    assert_eq!(emails_of(&app, uri).await, ["cy@example.com"]);
    let uri = "/api/v1/users?email_opt_in=false";
    assert_eq!(emails_of(&app, uri).await, ["bob@example.com"]);
    let uri = "/api/v1/users?email_opt_in=true";
    assert_eq!(
        emails_of(&app, uri).await,
        ["ada@example.com", "cy@example.com"]
    );
    let uri = "/api/v1/users?status=subscribed&email_opt_in=true&q=a";
    assert_eq!(emails_of(&app, uri).await, ["ada@example.com"]);
    let uri = "/api/v1/users?status=subscribed&sort=-last_activity";
    assert_eq!(emails_of(&app, uri).await.len(), 2);

    // Filters page like the whole list.
    let subscribed = app.all_pages("/api/v1/users?status=subscribed", 1).await;
    assert_eq!(subscribed.len(), 2);

    for (uri, field) in [
        ("/api/v1/users?status=active", "status"),
        ("/api/v1/users?email_opt_in=yes", "email_opt_in"),
        ("/api/v1/users?sort=name", "sort"),
        ("/api/v1/users?sort=score&cursor=bogus", "cursor"),
    ] {
        let a = app.call(Method::GET, uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], field, "{uri}");
    }
}

#[tokio::test]
async fn clients_sort_by_last_activity_both_ways_across_pages() {
    let app = spawn_app();
    let mut ids = Vec::new();
    for (i, hours_ago) in [Some(5), None, Some(1), Some(30), Some(12)]
        .iter()
        .enumerate()
    {
        let id = app.create_client(&format!("c{i}@example.com")).await;
        if let Some(h) = hours_ago {
            app.login_at(&id, *h).await;
        }
        ids.push(id);
    }
    let never = ids[1].clone();
    // Oldest first; never active below every time.
    let asc = app.all_pages("/api/v1/users?sort=last_activity", 2).await;
    assert_eq!(
        field(&asc, "id"),
        [&never, &ids[3], &ids[4], &ids[0], &ids[2]].map(|s| json!(s))
    );
    assert!(asc[0]["last_activity_at"].is_null());
    assert_eq!(asc[4]["last_activity_at"], json!(t0() - Duration::hours(1)));
    let desc = app.all_pages("/api/v1/users?sort=-last_activity", 2).await;
    let mut reversed = field(&asc, "id");
    reversed.reverse();
    assert_eq!(field(&desc, "id"), reversed);
    // One at a time too, through the never-active client's empty key.
    let ones = app.all_pages("/api/v1/users?sort=last_activity", 1).await;
    assert_eq!(field(&ones, "id"), field(&asc, "id"));

    // A cursor of one order does not page another.
    let a = app
        .call(
            Method::GET,
            "/api/v1/users?sort=last_activity&limit=2",
            None,
        )
        .await;
    let cursor = a.body["next_cursor"].as_str().unwrap().to_string();
    for uri in [
        format!("/api/v1/users?sort=score&cursor={cursor}"),
        format!("/api/v1/users?cursor={cursor}"),
    ] {
        let a = app.call(Method::GET, &uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], "cursor");
    }
}

#[tokio::test]
async fn clients_sort_by_score_both_ways_with_the_unscored_below_every_score() {
    let app = spawn_app();
    for i in 0..6 {
        let id = app.create_client(&format!("s{i}@example.com")).await;
        for h in 0..i {
            app.login_at(&id, 24 * (h + 1)).await;
        }
        if i % 2 == 0 {
            let a = app
                .call(
                    Method::POST,
                    &format!("/api/v1/users/{id}/activity"),
                    Some(json!({"type": "order"})),
                )
                .await;
            assert_eq!(a.status, 200);
        }
    }
    app.settle().await;
    let unscored = app.create_client("late@example.com").await;

    let key = |c: &Value| c["score"].as_i64().unwrap_or(-1);
    let desc = app.all_pages("/api/v1/users?sort=-score", 2).await;
    assert_eq!(desc.len(), 7);
    let scores: Vec<i64> = desc.iter().map(key).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!(scores[0] > scores[5], "distinct scores: {scores:?}");
    assert_eq!(desc[6]["id"], json!(unscored));
    assert!(desc[6]["score"].is_null() && desc[6]["tier"].is_null());

    let asc = app.all_pages("/api/v1/users?sort=score", 3).await;
    let mut reversed = field(&desc, "id");
    reversed.reverse();
    assert_eq!(field(&asc, "id"), reversed, "ties by id, reversed");

    // With a tier filter, in score order.
    let tier = desc[0]["tier"].as_str().unwrap();
    let same_tier = app
        .all_pages(&format!("/api/v1/users?sort=-score&tier={tier}"), 1)
        .await;
    let expected: Vec<Value> = desc
        .iter()
        .filter(|c| c["tier"] == json!(tier))
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(field(&same_tier, "id"), expected);
}

#[tokio::test]
async fn a_client_on_the_suppression_list_is_shown_suppressed() {
    let app = spawn_app();
    let id = app.create_client("ada@example.com").await;
    assert_eq!(app.get_user(&id).await["suppressed"], false);
    let a = app
        .call(
            Method::POST,
            "/api/v1/suppressions",
            Some(json!({"email": "ADA@example.com"})),
        )
        .await;
    assert!(a.status.is_success(), "{}", a.body);
    assert_eq!(app.get_user(&id).await["suppressed"], true);
    let a = app.call(Method::GET, "/api/v1/users", None).await;
    assert_eq!(items(&a)[0]["suppressed"], true);
    // A write answers with it too.
    let a = app
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"version": 1, "first_name": "Ada L."})),
        )
        .await;
    assert_eq!(a.body["suppressed"], true, "{}", a.body);
    // A new client at a suppressed address is suppressed from the start.
    app.call(
        Method::POST,
        "/api/v1/suppressions",
        Some(json!({"email": "bob@example.com"})),
    )
    .await;
    let a = app
        .call(
            Method::POST,
            "/api/v1/users",
            Some(client_body("bob@example.com")),
        )
        .await;
    assert_eq!(a.body["suppressed"], true, "{}", a.body);
}

#[tokio::test]
async fn campaigns_are_listed_in_priority_order_with_their_triggers_in_words() {
    let app = spawn_app();
    let a = app.call(Method::GET, "/api/v1/campaigns", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let list = items(&a);
    assert_eq!(
        field(&list, "name"),
        [
            "welcome",
            "fix_feedback",
            "schedule_next_fix",
            "win_back",
            "complete_style_profile"
        ]
        .map(|s| json!(s))
    );
    assert_eq!(list[0]["priority"], 1);
    assert_eq!(list[0]["cooldown_days"], Value::Null);
    assert_eq!(list[0]["enabled"], true);
    assert_eq!(
        list[0]["description"],
        "The client signed up less than 7 days ago."
    );
    assert_eq!(
        list[0]["trigger"],
        json!({"kind": "new_client", "within_days": 7})
    );
    assert_eq!(list[3]["cooldown_days"], 30);
    assert_eq!(
        list[3]["description"],
        "The client is in the lapsing or dormant tier."
    );
}

#[tokio::test]
async fn stats_count_clients_and_each_days_emails() {
    let app = spawn_app();
    for i in 0..3 {
        app.create_client(&format!("c{i}@example.com")).await;
    }
    app.settle().await;
    app.create_client("late@example.com").await;

    let a = app.call(Method::GET, "/api/v1/stats?days=3", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let s = &a.body;
    assert_eq!(s["generated_at"], json!(t0()));
    assert_eq!(s["clients"]["total"], 4);
    let by_tier = s["clients"]["by_tier"].as_object().unwrap();
    assert_eq!(by_tier["unscored"], 1);
    let tiered: u64 = by_tier.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(tiered, 4);
    assert_eq!(s["score_histogram"]["bucket_width"], 10);
    let counts = s["score_histogram"]["counts"].as_array().unwrap();
    assert_eq!(counts.len(), 10);
    assert_eq!(counts.iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 3);

    let days = s["emails_per_day"].as_array().unwrap();
    assert_eq!(
        field(days, "date"),
        ["2026-02-28", "2026-03-01", "2026-03-02"].map(|d| json!(d))
    );
    assert_eq!(days[0]["by_status"]["sent"], 0);
    let today: u64 = days[2]["by_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(today, 3, "a welcome email each: {}", days[2]);
    assert_eq!(s["generators"], json!({"llm": 0, "template": 3}));
    assert_eq!(s["llm_cost_usd"], Value::Null);

    let a = app.call(Method::GET, "/api/v1/stats", None).await;
    assert_eq!(a.body["emails_per_day"].as_array().unwrap().len(), 14);
    for uri in ["/api/v1/stats?days=0", "/api/v1/stats?days=91"] {
        let a = app.call(Method::GET, uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], "days");
    }
}

#[tokio::test]
async fn a_clients_changes_are_listed_newest_first_with_their_events() {
    let app = spawn_app();
    let id = app.create_client("ada@example.com").await;
    let other = app.create_client("bob@example.com").await;
    let uri = format!("/api/v1/users/{id}");
    app.call(
        Method::PATCH,
        &uri,
        Some(json!({"version": 1, "first_name": "Ada L."})),
    )
    .await;
    app.login_at(&id, 1).await;
    app.login_at(&other, 1).await;

    let changes = app.all_pages(&format!("{uri}/changes"), 2).await;
    assert_eq!(
        field(&changes, "event_type"),
        ["login_recorded", "contact_updated", "client_created"].map(|s| json!(s))
    );
    assert_eq!(field(&changes, "version"), [3, 2, 1].map(|v| json!(v)));
    assert_eq!(changes[0]["changed_fields"], json!(["activity.logins"]));
    assert_eq!(changes[1]["changed_fields"], json!(["first_name"]));
    assert_eq!(changes[2]["at"], json!(t0()));
    let seqs: Vec<u64> = changes.iter().map(|c| c["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    // A deleted client's log stays, its deletion first.
    let a = app.call(Method::DELETE, &uri, None).await;
    assert_eq!(a.status, 204);
    let a = app.call(Method::GET, &format!("{uri}/changes"), None).await;
    assert_eq!(items(&a)[0]["event_type"], "client_deleted");
    assert_eq!(items(&a).len(), 4);

    let a = app
        .call(Method::GET, "/api/v1/users/usr_nobody/changes", None)
        .await;
    assert_eq!(a.status, 200);
    assert!(items(&a).is_empty());
    let a = app
        .call(Method::GET, &format!("{uri}/changes?cursor=bogus"), None)
        .await;
    a.assert_problem(400, "/problems/bad-request");
}

#[tokio::test]
async fn an_email_sent_to_the_outbox_is_served_as_sent() {
    let app = spawn_app();
    app.create_client("ada@example.com").await;
    app.settle().await;
    let a = app.call(Method::GET, "/api/v1/emails", None).await;
    let email = &items(&a)[0];
    assert_eq!(email["status"], "sent", "{email}");
    let id = email["id"].as_str().unwrap();

    let a = app
        .call(Method::GET, &format!("/api/v1/emails/{id}/raw"), None)
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), "message/rfc822");
    let raw = a.text();
    assert!(raw.contains("To: "), "{raw}");
    assert!(raw.contains("List-Unsubscribe"), "{raw}");
    let on_disk = std::fs::read_to_string(app.dir.path().join(format!("outbox/{id}.eml"))).unwrap();
    assert_eq!(raw, on_disk);

    std::fs::remove_file(app.dir.path().join(format!("outbox/{id}.eml"))).unwrap();
    app.call(Method::GET, &format!("/api/v1/emails/{id}/raw"), None)
        .await
        .assert_problem(404, "/problems/not-found");
    app.call(Method::GET, "/api/v1/emails/eml_nope/raw", None)
        .await
        .assert_problem(404, "/problems/not-found");
}
