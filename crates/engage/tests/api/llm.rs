//! The pipeline with an LLM writing the emails (llmock on 127.0.0.1): what the model
//! wrote is recorded with its accounting; what fails a guard or never comes falls back
//! to the campaign's template, with the reason recorded; no event is lost.

use crate::helpers::*;
use engage::config::GeneratorKind;
use engage_llm::testing::Llmock;
use serde_json::{Value, json};

async fn app_writing_with(mock: &Llmock) -> TestApp {
    let base = mock.v1();
    spawn_app_with(move |c| {
        c.llm.generator = Some(GeneratorKind::Openai);
        c.llm.base_url = Some(base);
        c.llm.model = Some("gpt-4o-mini".into());
        c.llm.max_attempts = 2;
        c.llm.timeout_secs = 2;
    })
    .await
}

fn reply(subject: &str, body: &str) -> Value {
    json!({"type": "reply", "text": json!({"subject": subject, "preheader": "Picked for you", "body": body}).to_string()})
}

async fn welcome_of(app: &TestApp, email: &str) -> Value {
    let id = app.create_client(email, "Europe/London", true).await;
    app.settle().await;
    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
    emails[0].clone()
}

#[tokio::test]
async fn health_names_the_llm_generator() {
    let mock = Llmock::start().await;
    let app = app_writing_with(&mock).await;
    let health: Value = app.get("/health").await.json().await.unwrap();
    assert!(health.to_string().contains("llm:gpt-4o-mini"), "{health}");
}

#[tokio::test]
async fn the_models_email_is_recorded_with_its_accounting() {
    let mock = Llmock::start().await;
    mock.script(json!([reply(
        "Welcome aboard, your stylist is ready",
        "Hi there,\n\nWelcome! Tell us about your style and your stylist will pick your first Fix."
    )]))
    .await;
    let app = app_writing_with(&mock).await;
    let email = welcome_of(&app, "llm-happy@example.com").await;
    assert_eq!(email["generator"], "llm:gpt-4o-mini", "{email}");
    assert_eq!(email["subject"], "Welcome aboard, your stylist is ready");
    assert_eq!(email["generation"]["attempts"], 1, "{email}");
    assert!(email["generation"]["tokens_out"].as_u64().unwrap() > 0);
    assert!(email.get("fallback_reason").is_none(), "{email}");
    let sent = mock.requests().await;
    assert!(
        !sent[0]["body"]
            .to_string()
            .contains("llm-happy@example.com"),
        "the address never reaches the model"
    );
}

#[tokio::test]
async fn content_failing_a_guard_falls_back_to_the_template_with_the_reason() {
    let mock = Llmock::start().await;
    let long_subject = "A".repeat(200);
    mock.script(json!([reply(
        &long_subject,
        "Hi,\n\nThis body is long enough to pass."
    )]))
    .await;
    let app = app_writing_with(&mock).await;
    let email = welcome_of(&app, "llm-guard@example.com").await;
    assert_eq!(email["generator"], "template", "{email}");
    assert!(
        email["fallback_reason"]
            .as_str()
            .unwrap()
            .contains("subject_length"),
        "{email}"
    );
    assert_eq!(email["status"], "sent");
}

#[tokio::test]
async fn an_llm_that_is_down_costs_no_email() {
    let mock = Llmock::start().await;
    mock.script(json!([{"type": "fail", "status": 503, "times": null}]))
        .await;
    let app = app_writing_with(&mock).await;
    let email = welcome_of(&app, "llm-down@example.com").await;
    assert_eq!(email["generator"], "template", "{email}");
    assert!(
        email["fallback_reason"].as_str().unwrap().contains("503"),
        "{email}"
    );
    assert_eq!(email["status"], "sent");
    assert_eq!(mock.requests().await.len(), 2, "max_attempts");
}
