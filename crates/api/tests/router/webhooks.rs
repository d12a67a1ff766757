//! `POST /webhooks/ses` over the real intake: SNS messages signed with a test key,
//! whose certificate a local HTTPS stand-in for SNS serves (`engage_feedback::testing`).
//! A hard bounce suppresses the address and ends the email `bounced`; a transient one
//! is recorded and suppresses nothing; forged, altered or foreign messages are refused
//! and change nothing.

use crate::helpers::*;
use axum::body::Body;
use axum::http::Method;
use engage_feedback::testing::{self, TOPIC};
use engage_feedback::{SesIntake, VerifierConfig};
use serde_json::{Value, json};
use std::sync::Arc;

fn bounce(message_id: &str, to: &str, permanent: bool) -> String {
    let (kind, sub) = if permanent {
        ("Permanent", "General")
    } else {
        ("Transient", "MailboxFull")
    };
    json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": kind, "bounceSubType": sub,
            "bouncedRecipients": [{"emailAddress": to, "status": "5.1.1", "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
            "timestamp": "2026-03-02T12:01:00.000Z", "feedbackId": "fb-1"
        },
        "mail": {
            "timestamp": "2026-03-02T12:00:00.000Z", "source": "styling@engage.localhost",
            "messageId": "0100018e-ses-id", "destination": [to],
            "headers": [{"name": "Message-ID", "value": format!("<{message_id}>")}],
            "commonHeaders": {"messageId": format!("<{message_id}>"), "subject": "Welcome"}
        }
    })
    .to_string()
}

async fn post(app: &TestApp, body: String) -> Answer {
    app.send(
        axum::http::Request::post("/webhooks/ses")
            .header("content-type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", "Notification")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// An app whose webhook verifies against the local SNS stand-in, with one client
/// welcomed: its id and its email.
async fn welcomed(server: &testing::SnsServer, address: &str) -> (TestApp, String, Value) {
    let verifier = testing::verifier(
        server,
        VerifierConfig {
            allowed_topic_arns: vec![TOPIC.into()],
            ..VerifierConfig::default()
        },
    );
    let app = spawn_app_with(|s| s.feedback = Some(Arc::new(SesIntake::new(verifier))));
    let id = app.create_client(address).await;
    app.settle().await;
    let emails = app
        .call(Method::GET, &format!("/api/v1/users/{id}/emails"), None)
        .await;
    let email = emails.body["items"][0].clone();
    assert_eq!(email["status"], "sent", "{email}");
    (app, id, email)
}

#[tokio::test]
async fn a_hard_bounce_suppresses_the_address_and_a_soft_one_does_not() {
    let server = testing::start().await;
    let (app, id, email) = welcomed(&server, "bounce-hard@example.com").await;
    let mid = email["message_id"].as_str().unwrap();

    let soft = testing::notification(&bounce(mid, "bounce-hard@example.com", false), "2");
    let a = post(&app, testing::body(&soft)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let after = app
        .call(
            Method::GET,
            &format!("/api/v1/emails/{}", email["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    assert_eq!(
        after["status"], "sent",
        "a transient bounce keeps the status: {after}"
    );
    assert!(
        after["status_history"]
            .to_string()
            .contains("transient bounce (MailboxFull)")
    );
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");

    let hard = testing::notification(&bounce(mid, "bounce-hard@example.com", true), "1");
    let a = post(&app, testing::body(&hard)).await;
    assert_eq!(
        (a.status.as_u16(), a.body["applied"].as_u64()),
        (200, Some(1)),
        "{}",
        a.body
    );
    let after = app
        .call(
            Method::GET,
            &format!("/api/v1/emails/{}", email["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    assert_eq!(after["status"], "bounced", "{after}");
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(
        listed["items"][0]["email"], "bounce-hard@example.com",
        "{listed}"
    );
    assert_eq!(listed["items"][0]["reason"], "hard_bounce");

    // The next email the policy would send is not sent, and says why.
    let p = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/emails/preview"),
            Some(json!({})),
        )
        .await;
    assert_eq!(p.body["decision"]["reason"], "suppressed", "{}", p.body);

    // The same report again changes nothing more.
    let a = post(&app, testing::body(&hard)).await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn forged_altered_or_foreign_messages_are_refused_and_change_nothing() {
    let server = testing::start().await;
    let (app, _, email) = welcomed(&server, "bounce-forged@example.com").await;
    let mid = email["message_id"].as_str().unwrap();
    let genuine = testing::notification(&bounce(mid, "bounce-forged@example.com", true), "2");

    let mut altered = genuine.clone();
    altered.message = altered.message.replace("bounce-forged@", "someone-else@");
    let mut forged = genuine.clone();
    forged.signature = genuine.signature.chars().rev().collect();
    let mut foreign = genuine.clone();
    foreign.signing_cert_url = "https://sns.us-east-1.amazonaws.com.evil.com/cert.pem".into();
    for (what, msg) in [
        ("altered", altered),
        ("forged", forged),
        ("foreign", foreign),
    ] {
        let a = post(&app, testing::body(&msg)).await;
        a.assert_problem(403, "/problems/forbidden");
        assert!(!a.body["detail"].as_str().unwrap().is_empty(), "{what}");
    }
    let a = post(&app, "not even JSON".into()).await;
    a.assert_problem(403, "/problems/forbidden");
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");
    let after = app
        .call(
            Method::GET,
            &format!("/api/v1/emails/{}", email["id"].as_str().unwrap()),
            None,
        )
        .await
        .body;
    assert_eq!(after["status"], "sent");
}

#[tokio::test]
async fn a_genuine_report_acts_only_on_the_message_and_the_address_engage_sent() {
    let server = testing::start().await;
    let (app, _, email) = welcomed(&server, "sent-to@example.com").await;
    let mid = email["message_id"].as_str().unwrap();
    let email_path = format!("/api/v1/emails/{}", email["id"].as_str().unwrap());

    // Validly signed on the listed topic, but naming an address engage never sent
    // this email to: nothing is suppressed.
    let other = testing::notification(&bounce(mid, "victim@example.com", true), "2");
    let a = post(&app, testing::body(&other)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");

    // The email's id under another domain: not the Message-ID engage sent.
    let (id_part, _) = mid.split_once('@').unwrap();
    let lookalike = format!("{id_part}@evil.example");
    let forged = testing::notification(&bounce(&lookalike, "sent-to@example.com", true), "2");
    let a = post(&app, testing::body(&forged)).await;
    assert_eq!(
        (
            a.status.as_u16(),
            a.body["outcome"].as_str(),
            a.body["applied"].as_u64()
        ),
        (200, Some("ignored"), Some(0)),
        "{}",
        a.body
    );
    assert!(
        a.body["detail"].as_str().unwrap().contains("message id"),
        "{}",
        a.body
    );
    assert_eq!(
        app.call(Method::GET, &email_path, None).await.body["status"],
        "sent"
    );
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "{listed}");

    // The genuine report about the address it went to acts.
    let genuine = testing::notification(&bounce(mid, "Sent-To@example.com", true), "2");
    let a = post(&app, testing::body(&genuine)).await;
    assert_eq!(a.body["applied"], 1, "{}", a.body);
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(
        listed["items"][0]["email"], "sent-to@example.com",
        "{listed}"
    );
}

#[tokio::test]
async fn without_an_intake_the_webhook_is_not_found() {
    let app = spawn_app();
    let a = post(&app, "{}".into()).await;
    a.assert_problem(404, "/problems/not-found");
}

fn event(kind: &str, message_id: &str, to: &str) -> String {
    let mail = json!({
        "timestamp": "2026-03-02T12:00:00.000Z", "source": "styling@engage.localhost",
        "messageId": "0100018e-ses-id", "destination": [to],
        "headers": [{"name": "Message-ID", "value": format!("<{message_id}>")}],
        "commonHeaders": {"messageId": format!("<{message_id}>"), "subject": "Welcome"}
    });
    match kind {
        "Delivery" => json!({"notificationType": "Delivery", "mail": mail, "delivery": {
            "timestamp": "2026-03-02T12:00:02.000Z", "recipients": [to],
            "smtpResponse": "250 2.6.0 Message received", "processingTimeMillis": 900}}),
        _ => json!({"notificationType": "Complaint", "mail": mail, "complaint": {
            "timestamp": "2026-03-02T13:00:00.000Z", "feedbackId": "fb-2",
            "complainedRecipients": [{"emailAddress": to}], "complaintFeedbackType": "abuse"}}),
    }
    .to_string()
}

#[tokio::test]
async fn a_delivery_then_a_complaint_ends_complained_and_suppressed() {
    let server = testing::start().await;
    let (app, _, email) = welcomed(&server, "complains@example.com").await;
    let mid = email["message_id"].as_str().unwrap();
    let path = format!("/api/v1/emails/{}", email["id"].as_str().unwrap());

    let delivered = testing::notification(&event("Delivery", mid, "complains@example.com"), "2");
    assert_eq!(post(&app, testing::body(&delivered)).await.status, 200);
    assert_eq!(
        app.call(Method::GET, &path, None).await.body["status"],
        "delivered"
    );

    let complaint = testing::notification(&event("Complaint", mid, "complains@example.com"), "2");
    assert_eq!(post(&app, testing::body(&complaint)).await.status, 200);
    let after = app.call(Method::GET, &path, None).await.body;
    assert_eq!(after["status"], "complained", "{after}");
    assert!(
        after["status_history"]
            .to_string()
            .contains("complaint (abuse)")
    );
    let listed = app
        .call(Method::GET, "/api/v1/suppressions", None)
        .await
        .body;
    assert_eq!(listed["items"][0]["reason"], "complaint", "{listed}");

    // A late delivery report does not undo the complaint.
    assert_eq!(post(&app, testing::body(&delivered)).await.status, 200);
    assert_eq!(
        app.call(Method::GET, &path, None).await.body["status"],
        "complained"
    );
}
