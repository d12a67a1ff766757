//! Amazon SES notifications: what SES puts in an SNS notification's `Message` (or,
//! with raw message delivery, in an SQS message's body).
//!
//! Both formats are read: identity notifications (`"notificationType"`) and
//! configuration-set event publishing (`"eventType"`). Bounces, complaints and
//! deliveries become a [`Feedback`]; every other event (`Send`, `Open`, `Click`,
//! `Reject`, `DeliveryDelay`, `Rendering Failure`, `Subscription`, SES's own
//! `AmazonSnsSubscriptionSucceeded`, …) becomes [`SesEvent::Other`] with its name.
//! Unknown fields are ignored: AWS documents that it may add some.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// One SES notification.
#[derive(Debug, Clone, PartialEq)]
pub enum SesEvent {
    Feedback(Feedback),
    /// Any other event type, by its name (`"Open"`, `"Reject"`, …).
    Other(String),
}

/// A delivery, bounce or complaint report about one sent message.
#[derive(Debug, Clone, PartialEq)]
pub struct Feedback {
    pub kind: FeedbackKind,
    /// The recipients the report is about (bounced, complained, delivered to).
    pub recipients: Vec<String>,
    /// Our RFC 5322 `Message-ID`, without angle brackets (engage's are
    /// `{email_id}@{domain}`), from `mail.commonHeaders.messageId` or else the
    /// `Message-ID` in `mail.headers`. `None` when the notification carries no
    /// headers (the identity's "include original headers" setting is off).
    pub message_id: Option<String>,
    /// SES's own id for the message (`mail.messageId`), as `SendEmail` returned it.
    pub ses_message_id: String,
    /// When the bounce, complaint or delivery happened (else when SES accepted the
    /// message).
    pub at: DateTime<Utc>,
    /// The provider's words for the status history: bounce type and sub-type with
    /// each recipient's status and diagnostic code, the complaint's feedback type and
    /// reporter, the receiving server's SMTP response.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackKind {
    Delivered,
    Bounced {
        /// A hard bounce: `bounceType` is `Permanent`. Transient and undetermined
        /// bounces are not.
        permanent: bool,
        bounce_type: BounceType,
        /// `bounceSubType`: `General`, `NoEmail`, `Suppressed`,
        /// `OnAccountSuppressionList`, `MailboxFull`, `MessageTooLarge`, …
        sub_type: String,
        /// The first bounced recipient's `diagnosticCode`, when the DSN had one.
        diagnostic: Option<String>,
    },
    Complained {
        /// `complaintFeedbackType` (`abuse`, `fraud`, `not-spam`, …), when the
        /// receiver sent a feedback report.
        feedback_type: Option<String>,
    },
}

/// `bounceType`. A value SES may add later reads as `Undetermined`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceType {
    Permanent,
    Transient,
    Undetermined,
}

/// Why a notification could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SesError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("neither notificationType nor eventType is set")]
    NoType,
    #[error("a {event} notification without a valid {object} object: {reason}")]
    Invalid {
        event: String,
        object: &'static str,
        reason: String,
    },
    #[error("a {0} notification without a usable timestamp")]
    NoTimestamp(String),
}

/// Parses one SES notification (the SNS `Message`, or a raw-delivered SQS body).
pub fn parse(message: &str) -> Result<SesEvent, SesError> {
    let value: Value =
        serde_json::from_str(message).map_err(|e| SesError::NotJson(e.to_string()))?;
    parse_value(value)
}

/// As [`parse`], from JSON already read.
pub fn parse_value(value: Value) -> Result<SesEvent, SesError> {
    let name = value
        .get("notificationType")
        .or_else(|| value.get("eventType"))
        .and_then(Value::as_str)
        .ok_or(SesError::NoType)?
        .to_owned();
    match name.as_str() {
        "Bounce" | "Complaint" | "Delivery" => {}
        _ => return Ok(SesEvent::Other(name)),
    }
    let mut value = value;
    let mail: Mail = take(&mut value, "mail", &name)?;
    let message_id = mail.our_message_id();
    let fallback_at = mail.timestamp.as_deref().and_then(parse_time);
    let at = |ts: Option<&str>| {
        ts.and_then(parse_time)
            .or(fallback_at)
            .ok_or_else(|| SesError::NoTimestamp(name.clone()))
    };
    let feedback = match name.as_str() {
        "Bounce" => {
            let b: Bounce = take(&mut value, "bounce", &name)?;
            let bounce_type = match b.bounce_type.as_str() {
                "Permanent" => BounceType::Permanent,
                "Transient" => BounceType::Transient,
                _ => BounceType::Undetermined,
            };
            let sub_type = b.bounce_sub_type.unwrap_or_default();
            let mut detail = format!("{}/{}", b.bounce_type, sub_type);
            for r in &b.bounced_recipients {
                if r.status.is_some() || r.diagnostic_code.is_some() {
                    detail.push_str(&format!("; {}:", r.email_address));
                    for part in [&r.status, &r.diagnostic_code].into_iter().flatten() {
                        detail.push(' ');
                        detail.push_str(part);
                    }
                }
            }
            Feedback {
                kind: FeedbackKind::Bounced {
                    permanent: bounce_type == BounceType::Permanent,
                    bounce_type,
                    sub_type,
                    diagnostic: b
                        .bounced_recipients
                        .iter()
                        .find_map(|r| r.diagnostic_code.clone()),
                },
                recipients: b
                    .bounced_recipients
                    .into_iter()
                    .map(|r| r.email_address)
                    .collect(),
                message_id,
                ses_message_id: mail.message_id,
                at: at(b.timestamp.as_deref())?,
                detail,
            }
        }
        "Complaint" => {
            let c: Complaint = take(&mut value, "complaint", &name)?;
            let mut detail = format!(
                "complaint: {}",
                c.complaint_feedback_type
                    .as_deref()
                    .unwrap_or("no feedback report")
            );
            if let Some(sub) = &c.complaint_sub_type {
                detail.push_str(&format!(" ({sub})"));
            }
            if let Some(agent) = &c.user_agent {
                detail.push_str(&format!(", reported by {agent}"));
            }
            Feedback {
                kind: FeedbackKind::Complained {
                    feedback_type: c.complaint_feedback_type,
                },
                recipients: c
                    .complained_recipients
                    .into_iter()
                    .map(|r| r.email_address)
                    .collect(),
                message_id,
                ses_message_id: mail.message_id,
                at: at(c.timestamp.as_deref())?,
                detail,
            }
        }
        _ => {
            let d: Delivery = take(&mut value, "delivery", &name)?;
            Feedback {
                kind: FeedbackKind::Delivered,
                recipients: d.recipients,
                message_id,
                ses_message_id: mail.message_id,
                at: at(d.timestamp.as_deref())?,
                detail: d.smtp_response.unwrap_or_else(|| "delivered".to_owned()),
            }
        }
    };
    Ok(SesEvent::Feedback(feedback))
}

fn take<T: serde::de::DeserializeOwned>(
    value: &mut Value,
    object: &'static str,
    event: &str,
) -> Result<T, SesError> {
    let invalid = |reason: String| SesError::Invalid {
        event: event.to_owned(),
        object,
        reason,
    };
    let part = value
        .get_mut(object)
        .map(Value::take)
        .ok_or_else(|| invalid("missing".into()))?;
    serde_json::from_value(part).map_err(|e| invalid(e.to_string()))
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A `Message-ID` without its angle brackets and surrounding space; `None` if empty.
fn bare_message_id(raw: &str) -> Option<String> {
    let id = raw.trim();
    let id = id.strip_prefix('<').unwrap_or(id);
    let id = id.strip_suffix('>').unwrap_or(id).trim();
    (!id.is_empty()).then(|| id.to_owned())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Mail {
    #[serde(default)]
    timestamp: Option<String>,
    message_id: String,
    #[serde(default)]
    headers: Vec<Header>,
    #[serde(default)]
    common_headers: Option<CommonHeaders>,
}

impl Mail {
    fn our_message_id(&self) -> Option<String> {
        self.common_headers
            .as_ref()
            .and_then(|h| h.message_id.as_deref())
            .and_then(bare_message_id)
            .or_else(|| {
                self.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("Message-ID"))
                    .and_then(|h| bare_message_id(&h.value))
            })
    }
}

#[derive(Debug, Deserialize)]
struct Header {
    name: String,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommonHeaders {
    #[serde(default)]
    message_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<BouncedRecipient>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BouncedRecipient {
    email_address: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    diagnostic_code: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    #[serde(default)]
    complaint_feedback_type: Option<String>,
    #[serde(default)]
    complaint_sub_type: Option<String>,
    #[serde(default)]
    user_agent: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    smtp_response: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_lose_brackets_and_space() {
        assert_eq!(
            bare_message_id(" <e1@example.com> ").as_deref(),
            Some("e1@example.com")
        );
        assert_eq!(
            bare_message_id("custom-message-ID").as_deref(),
            Some("custom-message-ID")
        );
        assert_eq!(bare_message_id(" <> "), None);
    }

    #[test]
    fn headers_are_the_fallback_and_matched_without_case() {
        let msg = r#"{"notificationType":"Delivery",
            "mail":{"messageId":"ses-1","timestamp":"2024-01-02T03:04:05Z",
                    "headers":[{"name":"message-id","value":"<e9@engage.example>"}]},
            "delivery":{"recipients":["a@example.com"]}}"#;
        let SesEvent::Feedback(fb) = parse(msg).unwrap() else {
            panic!("not feedback")
        };
        assert_eq!(fb.message_id.as_deref(), Some("e9@engage.example"));
        // No delivery timestamp: the mail's.
        assert_eq!(fb.at.to_rfc3339(), "2024-01-02T03:04:05+00:00");
        assert_eq!(fb.detail, "delivered");
    }

    #[test]
    fn unreadable_notifications_say_why() {
        assert!(matches!(
            parse("Successfully validated SNS topic"),
            Err(SesError::NotJson(_))
        ));
        assert_eq!(parse(r#"{"mail":{}}"#), Err(SesError::NoType));
        assert!(matches!(
            parse(r#"{"notificationType":"Bounce","mail":{"messageId":"m"}}"#),
            Err(SesError::Invalid {
                object: "bounce",
                ..
            })
        ));
        assert!(matches!(
            parse(r#"{"eventType":"Delivery","delivery":{}}"#),
            Err(SesError::Invalid { object: "mail", .. })
        ));
        assert!(matches!(
            parse(r#"{"eventType":"Delivery","mail":{"messageId":"m"},"delivery":{}}"#),
            Err(SesError::NoTimestamp(_))
        ));
    }

    #[test]
    fn ses_subscription_notice_is_other() {
        let msg = r#"{"notificationType":"AmazonSnsSubscriptionSucceeded","message":"You have successfully subscribed"}"#;
        assert_eq!(
            parse(msg).unwrap(),
            SesEvent::Other("AmazonSnsSubscriptionSucceeded".into())
        );
    }
}
