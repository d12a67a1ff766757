//! The whole path: client change → change stream → event → score → decision → email.

use crate::helpers::*;
use chrono::Duration;
use serde_json::{Value, json};

fn outcome(d: &Value) -> (&str, Option<&str>, Option<&str>) {
    (
        d["outcome"].as_str().unwrap(),
        d["campaign"].as_str(),
        d["reason"].as_str(),
    )
}

#[tokio::test]
async fn a_new_opted_in_client_gets_a_welcome_email_in_the_outbox() {
    let app = spawn_app().await;
    let id = app
        .create_client("ada@example.com", "Europe/London", true)
        .await;
    app.settle().await;

    let decisions = app.decisions(&id).await;
    assert_eq!(decisions.len(), 1);
    assert_eq!(outcome(&decisions[0]), ("send", Some("welcome"), None));
    assert_eq!(decisions[0]["event_type"], "client_created");

    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["campaign"], "welcome");
    assert_eq!(emails[0]["status"], "sent");
    assert!(emails[0]["subject"].as_str().unwrap().contains("Ada"));

    let files = app.outbox_files();
    assert_eq!(files.len(), 1);
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("List-Unsubscribe: <http"), "{raw}");
    assert!(!raw.contains("mailto:"), "no mailbox is configured: {raw}");
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(raw.contains("List-Id: <welcome.engage.localhost>"), "{raw}");
    assert!(raw.contains("multipart/alternative"));

    // The email is also reachable through the emails API.
    let one = app
        .get_json(&format!(
            "/api/v1/emails/{}",
            emails[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one["user_id"], id.as_str());
}

#[tokio::test]
async fn a_configured_unsubscribe_mailbox_is_offered_beside_the_link() {
    let app = spawn_app_with(|c| {
        c.mail.unsubscribe_mailbox = Some("unsubscribe@shop.example".into());
    })
    .await;
    app.create_client("ada@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    use mailparse::MailHeaderMap as _;
    let raw = std::fs::read(&app.outbox_files()[0]).unwrap();
    let header = mailparse::parse_mail(&raw)
        .unwrap()
        .headers
        .get_first_value("List-Unsubscribe")
        .unwrap();
    assert!(
        header.contains("<http")
            && header.contains("<mailto:unsubscribe@shop.example?subject=unsubscribe"),
        "{header}"
    );
}

/// A client with two good Fixes a month apart and a complete profile.
async fn client_with_history(app: &TestApp, email: &str) -> String {
    let v = app
        .create_user(json!({
            "email": email, "first_name": "Bea", "time_zone": "Europe/Paris", "email_opt_in": true,
            "profile": {"preferences": ["minimal", "workwear"], "top_size": "M", "bottom_size": "38",
                        "shoe_size": "39", "budget": "mid", "fit_notes": "relaxed"}
        }))
        .await;
    let id = v["id"].as_str().unwrap().to_string();
    let t = t0();
    for (fix, days_ago) in [("f1", 60), ("f2", 30)] {
        let at = t - Duration::days(days_ago);
        app.record(
            &id,
            json!({"type": "fix_delivered", "fix_id": fix, "items_sent": 5, "at": at}),
        )
        .await;
        app.record(&id, json!({"type": "fix_feedback", "fix_id": fix, "items_kept": 4, "rating": 5, "at": at + Duration::days(3)})).await;
    }
    id
}

#[tokio::test]
async fn activity_that_finds_a_client_at_risk_yields_schedule_next_fix() {
    let app = spawn_app().await;
    let id = client_with_history(&app, "bea@example.com").await;
    app.settle().await;
    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1, "only the welcome so far: {emails:?}");
    assert_eq!(emails[0]["campaign"], "welcome");

    // Five weeks of silence, then she opens the welcome email: the event
    // rescores her, and she is now at risk against her own monthly cadence.
    app.clock.advance(Duration::days(35));
    app.record(&id, json!({"type": "email_opened"})).await;
    app.settle().await;

    let engagement = app
        .get_json(&format!("/api/v1/users/{id}/engagement"))
        .await;
    assert_eq!(engagement["tier"], "at_risk", "{engagement}");
    let last = app.decisions(&id).await[0].clone();
    assert_eq!(last["event_type"], "email_engaged");
    assert_eq!(outcome(&last), ("send", Some("schedule_next_fix"), None));
    let emails = app.emails(&id).await;
    assert_eq!(emails[0]["campaign"], "schedule_next_fix");
    assert_eq!(emails[0]["status"], "sent");
}

#[tokio::test]
async fn an_opted_out_client_gets_no_email_and_the_reason_is_recorded() {
    let app = spawn_app().await;
    let id = app
        .create_client("opt-out@example.com", "Europe/London", false)
        .await;
    app.settle().await;
    let d = app.decisions(&id).await;
    assert_eq!(
        outcome(&d[0]),
        ("skip", Some("welcome"), Some("not_opted_in"))
    );
    assert!(
        d[0]["explanation"]
            .as_str()
            .unwrap()
            .starts_with("not sent, because")
    );
    assert!(app.emails(&id).await.is_empty());
    assert!(app.outbox_files().is_empty());
}

#[tokio::test]
async fn a_suppressed_address_gets_no_email_and_the_reason_is_recorded() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/suppressions",
            &json!({"email": "Bounced@Example.com", "reason": "hard bounce"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = app
        .create_client("bounced@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    assert_eq!(
        outcome(&app.decisions(&id).await[0]),
        ("skip", Some("welcome"), Some("suppressed"))
    );
    assert!(app.emails(&id).await.is_empty());
}

#[tokio::test]
async fn an_unsubscribe_survives_deleting_and_creating_the_client_again_until_an_operator_resubscribes()
 {
    let app = spawn_app().await;
    let id = app
        .create_client("Leaving@Example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let r = app
        .post(&format!("/api/v1/users/{id}/unsubscribe"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let suppressions = app.get_json("/api/v1/suppressions").await;
    assert_eq!(suppressions["items"][0]["email"], "leaving@example.com");
    assert_eq!(suppressions["items"][0]["reason"], "unsubscribed (api)");

    // Deleted, then created again (or imported again): still not mailed.
    let r = app
        .http
        .delete(app.url(&format!("/api/v1/users/{id}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let again = app
        .create_client("leaving@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    assert_eq!(
        app.get_json(&format!("/api/v1/users/{again}")).await["suppressed"],
        true
    );
    assert_eq!(
        outcome(&app.decisions(&again).await[0]),
        ("skip", Some("welcome"), Some("suppressed"))
    );
    assert!(app.emails(&again).await.is_empty());

    // An operator's explicit re-subscribe lifts it; the change log shows it.
    let r = app
        .post(&format!("/api/v1/users/{again}/unsubscribe"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(&format!("/api/v1/users/{again}/resubscribe"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get_json(&format!("/api/v1/users/{again}")).await["suppressed"],
        false
    );
    let changes = app
        .get_json(&format!("/api/v1/users/{again}/changes"))
        .await;
    assert!(changes.to_string().contains("consent_changed"), "{changes}");

    // A bounce's suppression is not lifted by a re-subscribe.
    let r = app
        .post(
            "/api/v1/suppressions",
            &json!({"email": "leaving@example.com", "reason": "hard bounce"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(&format!("/api/v1/users/{again}/unsubscribe"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .post(&format!("/api/v1/users/{again}/resubscribe"), &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.get_json(&format!("/api/v1/users/{again}")).await["suppressed"],
        true
    );
    let suppressions = app.get_json("/api/v1/suppressions").await;
    assert_eq!(
        suppressions["items"][0]["reason"], "hard bounce",
        "{suppressions}"
    );
}

#[tokio::test]
async fn an_unsubscribed_client_gets_no_further_email() {
    let app = spawn_app().await;
    let id = app
        .create_client("leaving@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"version": 1, "unsubscribed": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.settle().await;
    app.clock.advance(Duration::days(2));
    app.record(&id, json!({"type": "login"})).await;
    app.settle().await;
    let d = app.decisions(&id).await;
    assert_eq!(
        outcome(&d[0]),
        ("skip", Some("complete_style_profile"), Some("unsubscribed"))
    );
    assert_eq!(
        app.emails(&id).await.len(),
        1,
        "only the welcome sent before"
    );
}

#[tokio::test]
async fn quiet_hours_schedule_the_email_and_the_scheduler_sends_it_when_due() {
    let app = spawn_app().await;
    // Noon UTC is 23:00 in Sydney (AEDT, UTC+11, in March).
    let id = app
        .create_client("sydney@example.com", "Australia/Sydney", true)
        .await;
    app.settle().await;

    let d = app.decisions(&id).await;
    assert_eq!(outcome(&d[0]), ("schedule", Some("welcome"), None));
    assert_eq!(
        d[0]["scheduled_for"], "2026-03-02T21:00:00Z",
        "08:00 the next morning in Sydney"
    );
    let emails = app.emails(&id).await;
    assert_eq!(emails[0]["status"], "scheduled");

    app.tick().await;
    assert_eq!(
        app.emails(&id).await[0]["status"],
        "scheduled",
        "not due yet"
    );
    assert!(app.outbox_files().is_empty());

    app.clock.advance(Duration::hours(9));
    app.tick().await;
    let emails = app.emails(&id).await;
    assert_eq!(emails[0]["status"], "sent");
    assert_eq!(app.outbox_files().len(), 1);
    let history: Vec<&str> = emails[0]["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["scheduled", "pending", "sending", "sent"]);
}

#[tokio::test]
async fn a_scheduled_email_is_cancelled_if_the_client_unsubscribes_meanwhile() {
    let app = spawn_app().await;
    let id = app
        .create_client("night@example.com", "Australia/Sydney", true)
        .await;
    app.settle().await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"version": 1, "unsubscribed": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.settle().await;
    app.clock.advance(Duration::hours(10));
    app.tick().await;
    let emails = app.emails(&id).await;
    assert_eq!(emails[0]["status"], "cancelled");
    assert!(app.outbox_files().is_empty());
}

#[tokio::test]
async fn inactivity_is_noticed_by_the_sweep_without_any_write() {
    let app = spawn_app().await;
    let id = client_with_history(&app, "quiet@example.com").await;
    app.settle().await;
    let changes_before = app.store.stream_position().await.unwrap().0;

    // Nobody touches the client; the scheduler's sweep rescores her daily.
    for _ in 0..40 {
        app.clock.advance(Duration::days(1));
        app.tick().await;
    }
    assert_eq!(
        app.store.stream_position().await.unwrap().0,
        changes_before,
        "no client write happened"
    );
    let campaigns: Vec<String> = app
        .emails(&id)
        .await
        .iter()
        .map(|e| e["campaign"].as_str().unwrap().to_string())
        .collect();
    assert!(
        campaigns.contains(&"schedule_next_fix".to_string()),
        "{campaigns:?}"
    );
    let rescore = app
        .decisions(&id)
        .await
        .into_iter()
        .find(|d| d["campaign"] == "schedule_next_fix")
        .unwrap();
    assert_eq!(rescore["event_type"], "rescore_due");
}

#[tokio::test]
async fn the_background_pipeline_processes_changes_without_being_stepped() {
    let app = spawn_app_with(|c| c.pipeline.autostart = true).await;
    let id = app
        .create_client("live@example.com", "Europe/London", true)
        .await;
    // Bounded wait for the background tasks (real time; at most 10 s).
    for _ in 0..200 {
        if app
            .emails(&id)
            .await
            .first()
            .is_some_and(|e| e["status"] == "sent")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the background pipeline did not send the welcome email");
}
