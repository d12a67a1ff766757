//! `POST /webhooks/ses`: the mail provider's reports (bounces, complaints, deliveries)
//! as Amazon SNS posts them. Public, like any webhook: every message is verified by
//! the [`FeedbackIntake`] port (its SNS signature, certificate host, topic and age)
//! before it is believed, and only then applied.
//!
//! Answers as SNS expects: 200 when the message was taken in (or is genuine but of no
//! interest), 403 when it is refused (SNS does not retry a 4xx), 503 when it could not
//! be checked now (SNS retries), 404 when no intake is configured.
//!
//! [`FeedbackIntake`]: engage_core::ports::FeedbackIntake

use crate::error::{ApiError, Problem};
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use engage_core::ports::{Intake, IntakeError};
use engage_core::processor::FeedbackOutcome;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(ses_feedback))
}

/// What a notification came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Taken {
    /// `applied`, `confirmed` (a subscription) or `ignored`.
    pub outcome: &'static str,
    /// Reports applied to emails.
    pub applied: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Take in an Amazon SES notification delivered by SNS.
///
/// The body is the SNS message as SNS posts it (`Content-Type: text/plain`). Subscribe
/// the SES feedback topic to this URL over HTTPS; the subscription is confirmed
/// automatically for an allowed topic.
#[utoipa::path(
    post,
    path = "/webhooks/ses",
    tag = "webhooks",
    request_body(content = String, content_type = "text/plain",
        description = "The SNS message (Notification or SubscriptionConfirmation), JSON"),
    responses(
        (status = 200, description = "Verified and taken in.", body = Taken),
        (status = 403, description = "Not a genuine SNS message (signature, certificate URL, topic or age).",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No feedback intake is configured.",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The message could not be checked now; SNS will retry.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn ses_feedback(State(state): State<Shared>, body: String) -> Result<Json<Taken>, ApiError> {
    let Some(intake) = &state.feedback else {
        return Err(ApiError::NotFound(
            "no feedback intake is configured (mail.sender = \"ses\")".into(),
        ));
    };
    let taken = match intake.read(&body).await {
        Ok(Intake::Confirmed) => Taken {
            outcome: "confirmed",
            applied: 0,
            detail: None,
        },
        Ok(Intake::Ignored(why)) => Taken {
            outcome: "ignored",
            applied: 0,
            detail: Some(why),
        },
        Ok(Intake::Feedback(reports)) => {
            let mut applied = 0;
            let mut why = None;
            for fb in &reports {
                match state.engine.apply_feedback(fb).await? {
                    FeedbackOutcome::Ignored(reason) => why = Some(reason.to_string()),
                    _ => applied += 1,
                }
            }
            Taken {
                outcome: if applied > 0 { "applied" } else { "ignored" },
                applied,
                detail: if applied > 0 { None } else { why },
            }
        }
        Err(IntakeError::Refused(why)) => {
            tracing::warn!(reason = %why, "refused a feedback notification");
            return Err(ApiError::Forbidden(why));
        }
        Err(IntakeError::Unavailable(why)) => {
            tracing::warn!(reason = %why, "could not verify a feedback notification; the sender will retry");
            return Err(ApiError::Unavailable(why));
        }
    };
    Ok(Json(taken))
}
