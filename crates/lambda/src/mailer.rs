//! The `mailer` function: what the email queue and the feedback queue deliver, and
//! the scheduled sweep.
//!
//! - An SQS record whose body is an SNS envelope carrying an [`Event`] (or, with raw
//!   message delivery, the event itself) goes to [`Engine::process_batch`], all the
//!   batch's events together.
//! - An SQS record carrying an SES notification in an SNS envelope goes to the
//!   [`FeedbackIntake`] (which verifies the SNS signature) and then
//!   [`Engine::apply_feedback`].
//! - `{"sweep": true}` (the EventBridge schedule) runs [`Engine::tick`].
//!
//! The response names exactly the messages that failed (`ReportBatchItemFailures`):
//! SQS makes them visible again after their visibility timeout and moves them to the
//! dead-letter queue after the maximum receives; the others are deleted.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use engage_core::change::Event;
use engage_core::ports::{FeedbackIntake, Intake, IntakeError};
use engage_core::processor::Engine;
use serde_json::{Value, json};

/// What one SQS record carries.
enum Body {
    Event(Box<Event>),
    /// An SNS envelope that is not an event: provider feedback, for the intake.
    Feedback(String),
}

/// Reads a record's body: the SNS envelope's `Message` if it is one, else the body.
fn body_of(raw: &str) -> Result<Body, String> {
    let value: Value =
        serde_json::from_str(raw).map_err(|e| format!("the body is not JSON: {e}"))?;
    let inner = match (&value["Type"], &value["Message"]) {
        (Value::String(t), Value::String(m)) if t == "Notification" => m.as_str(),
        _ => raw,
    };
    match engage_core::records::decode_event(inner) {
        Ok(e) => Ok(Body::Event(Box::new(e))),
        // A body that declares a record version is an event message this build cannot
        // read (of a later version, or damaged): it fails, to be retried and then
        // dead-lettered, rather than pass for feedback, which would drop it.
        Err(e) if engage_core::records::declared_version(inner).is_some() => Err(e.to_string()),
        Err(_) if value.get("Type").is_some() => Ok(Body::Feedback(raw.to_string())),
        Err(e) => Err(format!("neither an event nor an SNS message: {e}")),
    }
}

fn failure(m: &SqsMessage) -> BatchItemFailure {
    // The response types are `#[non_exhaustive]`: built from their defaults.
    let mut f = BatchItemFailure::default();
    f.item_identifier = m.message_id.clone().unwrap_or_default();
    f
}

/// Handles one invocation's payload: an SQS batch, or the sweep.
pub async fn handle(
    engine: &Engine,
    intake: Option<&dyn FeedbackIntake>,
    payload: Value,
) -> Result<Value, String> {
    if payload.get("sweep").and_then(Value::as_bool) == Some(true) {
        let report = engine.tick(500).await.map_err(|e| e.to_string())?;
        return Ok(json!({
            "sweep": {"sent": report.sent, "deferred": report.deferred, "stuck": report.stuck, "rescores": report.rescores}
        }));
    }
    let batch: SqsEvent =
        serde_json::from_value(payload).map_err(|e| format!("not an SQS event: {e}"))?;
    let response = handle_sqs(engine, intake, batch).await;
    serde_json::to_value(response).map_err(|e| e.to_string())
}

/// Handles an SQS batch; answers with the messages that failed.
pub async fn handle_sqs(
    engine: &Engine,
    intake: Option<&dyn FeedbackIntake>,
    batch: SqsEvent,
) -> SqsBatchResponse {
    let mut failed = Vec::new();
    let mut events = Vec::new();
    let mut event_messages = Vec::new();
    for m in &batch.records {
        match body_of(m.body.as_deref().unwrap_or("")) {
            Ok(Body::Event(e)) => {
                events.push(*e);
                event_messages.push(m);
            }
            Ok(Body::Feedback(body)) => {
                if !take_feedback(engine, intake, &body).await {
                    failed.push(failure(m));
                }
            }
            Err(why) => {
                // Retried until the dead-letter queue takes it, where an operator sees it.
                tracing::error!(message_id = ?m.message_id, %why, "an unreadable message");
                failed.push(failure(m));
            }
        }
    }
    if !events.is_empty() {
        match engine.process_batch(&events).await {
            Ok(results) => {
                for (m, r) in event_messages.iter().zip(results) {
                    if let Err(e) = r {
                        tracing::warn!(message_id = ?m.message_id, error = %e, "event failed, will be retried");
                        failed.push(failure(m));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "the store failed; every event of the batch will be retried");
                failed.extend(event_messages.iter().map(|m| failure(m)));
            }
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed;
    response
}

/// Takes in one provider notification; false when it should be retried.
async fn take_feedback(engine: &Engine, intake: Option<&dyn FeedbackIntake>, body: &str) -> bool {
    let Some(intake) = intake else {
        tracing::error!("a feedback notification arrived, but no intake is configured");
        return false;
    };
    match intake.read(body).await {
        Ok(Intake::Feedback(reports)) => {
            for fb in &reports {
                if let Err(e) = engine.apply_feedback(fb).await {
                    tracing::warn!(error = %e, "applying feedback failed, will be retried");
                    return false;
                }
            }
            true
        }
        Ok(Intake::Confirmed | Intake::Ignored(_)) => true,
        // Not genuine: retrying will not change that; it is dropped, loudly.
        Err(IntakeError::Refused(why)) => {
            tracing::warn!(%why, "refused a feedback notification");
            true
        }
        Err(IntakeError::Unavailable(why)) => {
            tracing::warn!(%why, "could not verify a feedback notification now; will retry");
            false
        }
    }
}
