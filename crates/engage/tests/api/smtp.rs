//! The pipeline sending through SMTP (aiosmtpd on 127.0.0.1): the message arrives
//! whole; a throttled send is retried and sent once; a permanent refusal ends the
//! email `failed` with the server's reason, and an operator can resend it.

use crate::helpers::*;
use engage::config::SenderKind;
use engage_mail::testing::{PeerOptions, SmtpPeer};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn app_sending_to(peer: &SmtpPeer) -> TestApp {
    let port = peer.port();
    spawn_app_with(move |c| {
        c.mail.sender = SenderKind::Smtp;
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = Some(port);
        c.mail.smtp.security = "none".into();
    })
    .await
}

async fn the_email(app: &TestApp, id: &str) -> Value {
    let emails = app.emails(id).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    emails[0].clone()
}

#[tokio::test]
async fn the_welcome_email_arrives_with_both_parts_and_the_unsubscribe_headers() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let app = app_sending_to(&peer).await;
    let id = app
        .create_client("smtp-welcome@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let email = the_email(&app, &id).await;
    assert_eq!(email["status"], "sent", "{email}");
    assert!(
        email["status_history"]
            .to_string()
            .contains("accepted by smtp")
    );

    let got = peer.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpt_to, ["smtp-welcome@example.com"]);
    let parsed = mailparse::parse_mail(&got[0].raw).unwrap();
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
            .unwrap_or_default()
    };
    assert_eq!(
        header("Message-ID"),
        format!("<{}>", email["message_id"].as_str().unwrap())
    );
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    // No mailbox configured: the one-click link only, never a mailto nobody reads.
    let unsubscribe = header("List-Unsubscribe");
    assert!(
        unsubscribe.starts_with('<')
            && unsubscribe.contains("/u/")
            && !unsubscribe.contains("mailto:"),
        "{unsubscribe}"
    );
    assert_eq!(header("List-Id"), "<welcome.engage.localhost>");
    let types: Vec<String> = parsed
        .subparts
        .iter()
        .map(|p| p.ctype.mimetype.clone())
        .collect();
    assert_eq!(types, ["text/plain", "text/html"]);
}

#[tokio::test]
async fn a_throttled_send_is_retried_and_sent_once() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let app = app_sending_to(&peer).await;
    let id = app
        .create_client("ada+t454@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let email = the_email(&app, &id).await;
    assert_eq!(email["status"], "pending", "throttled, not sent: {email}");
    assert!(
        email["status_history"].to_string().contains("454"),
        "{email}"
    );
    assert!(peer.messages().is_empty());

    // The event's message comes back after its backoff; the email is pushed on.
    app.clock.advance(chrono::Duration::minutes(10));
    app.settle().await;
    let email = the_email(&app, &id).await;
    assert_eq!(email["status"], "sent", "{email}");
    assert_eq!(peer.messages().len(), 1, "sent once");
    app.clock.advance(chrono::Duration::minutes(10));
    app.tick().await;
    assert_eq!(peer.messages().len(), 1, "and only once");
}

#[tokio::test]
async fn a_permanent_refusal_fails_the_email_and_an_operator_can_resend_it() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let app = app_sending_to(&peer).await;
    let id = app
        .create_client("ada+p550@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let email = the_email(&app, &id).await;
    assert_eq!(email["status"], "failed", "{email}");
    let last = email["status_history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(last["note"].as_str().unwrap().contains("550"), "{last}");

    let resend = format!("/api/v1/emails/{}/resend", email["id"].as_str().unwrap());
    let r = app.post(&resend, &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["status"], "failed", "still refused: {again}");
    let statuses: Vec<&str> = again["status_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "pending", "sending", "failed", "pending", "sending", "failed"
        ]
    );

    let welcomed = app
        .create_client("smtp-ok@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let sent = the_email(&app, &welcomed).await;
    let r = app
        .post(
            &format!("/api/v1/emails/{}/resend", sent["id"].as_str().unwrap()),
            &json!({}),
        )
        .await;
    let problem = assert_problem(r, StatusCode::CONFLICT).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("`sent`"),
        "{problem}"
    );
    let r = app.post("/api/v1/emails/eml_nope/resend", &json!({})).await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
    assert_eq!(peer.messages().len(), 1, "only the good address got mail");
}

/// The `mail` entry of `/health`, and the answer's status.
async fn mail_health(app: &TestApp) -> (StatusCode, Value) {
    let r = app.get("/health").await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    let mail = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mail")
        .cloned()
        .unwrap();
    (status, mail)
}

#[tokio::test]
async fn health_checks_the_smtp_relay_it_sends_through() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let app = app_sending_to(&peer).await;
    let (status, mail) = mail_health(&app).await;
    assert_eq!(status, StatusCode::OK, "{mail}");
    assert_eq!(mail["status"], "up", "{mail}");
    assert_eq!(mail["detail"]["sender"], "smtp", "{mail}");
    assert!(mail["detail"]["relay"].is_string(), "{mail}");

    // A relay that is not there: down, and why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let app = spawn_app_with(move |c| {
        c.mail.sender = SenderKind::Smtp;
        c.mail.smtp.host = "127.0.0.1".into();
        c.mail.smtp.port = Some(port);
        c.mail.smtp.security = "none".into();
        c.mail.smtp.timeout_secs = 2;
    })
    .await;
    let (status, mail) = mail_health(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{mail}");
    assert_eq!(mail["status"], "down", "{mail}");
    assert!(
        mail["detail"]["error"].as_str().unwrap().contains("relay"),
        "{mail}"
    );
}
