//! The SNS message as it arrives (kept as the exact text received) and the string
//! SNS signs over it.

use super::VerifyError;
use serde::{Deserialize, Serialize};

/// The three kinds of message SNS sends to an HTTP(S) subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

/// An SNS message as SNS POSTs it (and as it sits, unchanged, in the body of an SQS
/// message from a queue subscribed without raw message delivery).
///
/// Fields are kept as the exact text received: the signature covers that text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnsMessage {
    #[serde(rename = "Type")]
    pub kind: MessageType,
    pub message_id: String,
    pub topic_arn: String,
    /// Only notifications published with a subject have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// For a notification from SES, the SES notification JSON (see [`crate::ses`]).
    pub message: String,
    /// RFC 3339, as SNS wrote it.
    pub timestamp: String,
    /// `"1"` (RSA with SHA-1) or `"2"` (RSA with SHA-256).
    pub signature_version: String,
    /// Base64.
    pub signature: String,
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    /// Confirmations only.
    #[serde(
        rename = "SubscribeURL",
        alias = "SubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_url: Option<String>,
    /// Confirmations only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Notifications only; not signed.
    #[serde(
        rename = "UnsubscribeURL",
        alias = "UnsubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
}

impl SnsMessage {
    /// Parses the JSON body SNS POSTs (its `Content-Type` is `text/plain`).
    pub fn from_json(body: &str) -> Result<SnsMessage, VerifyError> {
        serde_json::from_str(body).map_err(|e| VerifyError::Malformed(e.to_string()))
    }
}

/// The string SNS signs, exactly as AWS documents it: for a notification `Message`,
/// `MessageId`, `Subject` (when present), `Timestamp`, `TopicArn`, `Type`; for a
/// subscription or unsubscribe confirmation `Message`, `MessageId`, `SubscribeURL`,
/// `Timestamp`, `Token`, `TopicArn`, `Type`; each as `"Key\nvalue\n"`.
pub fn string_to_sign(msg: &SnsMessage) -> Result<String, VerifyError> {
    let kind = match msg.kind {
        MessageType::Notification => "Notification",
        MessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
        MessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
    };
    let mut fields: Vec<(&str, &str)> =
        vec![("Message", &msg.message), ("MessageId", &msg.message_id)];
    match msg.kind {
        MessageType::Notification => {
            if let Some(subject) = &msg.subject {
                fields.push(("Subject", subject));
            }
            fields.push(("Timestamp", &msg.timestamp));
        }
        MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
            let subscribe_url = msg
                .subscribe_url
                .as_deref()
                .ok_or(VerifyError::MissingField("SubscribeURL"))?;
            let token = msg
                .token
                .as_deref()
                .ok_or(VerifyError::MissingField("Token"))?;
            fields.push(("SubscribeURL", subscribe_url));
            fields.push(("Timestamp", &msg.timestamp));
            fields.push(("Token", token));
        }
    }
    fields.push(("TopicArn", &msg.topic_arn));
    fields.push(("Type", kind));
    let mut out = String::with_capacity(fields.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (key, value) in fields {
        out.push_str(key);
        out.push('\n');
        out.push_str(value);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sns::check_sns_url;

    fn notification(subject: Option<&str>) -> SnsMessage {
        SnsMessage {
            kind: MessageType::Notification,
            message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".into(),
            topic_arn: "arn:aws:sns:us-west-2:123456789012:MyTopic".into(),
            subject: subject.map(str::to_owned),
            message: "Hello world!".into(),
            timestamp: "2012-05-02T00:54:06.655Z".into(),
            signature_version: "1".into(),
            signature: String::new(),
            signing_cert_url: "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem".into(),
            subscribe_url: None,
            token: None,
            unsubscribe_url: Some("https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&x=y".into()),
        }
    }

    #[test]
    fn notification_string_to_sign_follows_the_documented_order() {
        let msg = notification(Some("My First Message"));
        assert_eq!(
            string_to_sign(&msg).unwrap(),
            "Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Subject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
        );
        // Without a subject, the key is left out (not signed as an empty value).
        let msg = notification(None);
        assert!(!string_to_sign(&msg).unwrap().contains("Subject"));
    }

    #[test]
    fn confirmation_string_to_sign_includes_url_and_token() {
        let mut msg = notification(Some("ignored for confirmations"));
        msg.kind = MessageType::SubscriptionConfirmation;
        msg.subscribe_url =
            Some("https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription".into());
        msg.token = Some("2336412f37".into());
        assert_eq!(
            string_to_sign(&msg).unwrap(),
            "Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\n\
             Timestamp\n2012-05-02T00:54:06.655Z\nToken\n2336412f37\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nSubscriptionConfirmation\n"
        );
        msg.token = None;
        assert_eq!(
            string_to_sign(&msg),
            Err(VerifyError::MissingField("Token"))
        );
    }

    #[test]
    fn the_sns_docs_example_parses() {
        let body = include_str!("../../tests/fixtures/sns-notification.json");
        let msg = SnsMessage::from_json(body).unwrap();
        assert_eq!(msg.kind, MessageType::Notification);
        assert_eq!(msg.subject.as_deref(), Some("My First Message"));
        assert_eq!(msg.signature_version, "1");
        assert!(check_sns_url(&msg.signing_cert_url, true).is_ok());
    }
}
