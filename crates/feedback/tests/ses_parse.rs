//! SES notifications from the AWS documentation's examples (tests/fixtures/).

use engage_feedback::ses::{self, BounceType, Feedback, FeedbackKind, SesEvent};

fn feedback(json: &str) -> Feedback {
    match ses::parse(json).unwrap() {
        SesEvent::Feedback(fb) => fb,
        other => panic!("not feedback: {other:?}"),
    }
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().unwrap()
}

#[test]
fn a_permanent_general_bounce() {
    let fb = feedback(include_str!("fixtures/ses-bounce-permanent-general.json"));
    assert_eq!(
        fb.kind,
        FeedbackKind::Bounced {
            permanent: true,
            bounce_type: BounceType::Permanent,
            sub_type: "General".into(),
            diagnostic: Some("smtp; 550 5.1.1 <jane@example.com>... User".into()),
        }
    );
    // The bounced recipient only, not every destination of the message.
    assert_eq!(fb.recipients, ["jane@example.com"]);
    assert_eq!(fb.message_id.as_deref(), Some("custom-message-ID"));
    assert_eq!(
        fb.ses_message_id,
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
    );
    assert_eq!(fb.at, at("2016-01-27T14:59:38.237Z"));
    assert_eq!(
        fb.detail,
        "Permanent/General; jane@example.com: 5.1.1 smtp; 550 5.1.1 <jane@example.com>... User"
    );
}

#[test]
fn a_transient_mailbox_full_bounce() {
    let fb = feedback(include_str!(
        "fixtures/ses-bounce-transient-mailboxfull.json"
    ));
    assert_eq!(
        fb.kind,
        FeedbackKind::Bounced {
            permanent: false,
            bounce_type: BounceType::Transient,
            sub_type: "MailboxFull".into(),
            diagnostic: Some("smtp; 452 4.2.2 Mailbox full".into()),
        }
    );
    assert_eq!(fb.recipients, ["jane@example.com"]);
    // No commonHeaders here: from the Message-ID header, angle brackets removed.
    assert_eq!(
        fb.message_id.as_deref(),
        Some("01JQ8ZC5S0V4V6YF3Y0QK6N2XH@example.com")
    );
    assert_eq!(
        fb.ses_message_id,
        "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000"
    );
}

#[test]
fn an_undetermined_bounce_is_not_permanent() {
    let json = include_str!("fixtures/ses-bounce-permanent-general.json")
        .replace(
            r#""bounceType": "Permanent""#,
            r#""bounceType": "Undetermined""#,
        )
        .replace(
            r#""bounceSubType": "General""#,
            r#""bounceSubType": "Undetermined""#,
        );
    let fb = feedback(&json);
    assert!(matches!(
        fb.kind,
        FeedbackKind::Bounced {
            permanent: false,
            bounce_type: BounceType::Undetermined,
            ..
        }
    ));
}

#[test]
fn an_abuse_complaint() {
    let fb = feedback(include_str!("fixtures/ses-complaint-abuse.json"));
    assert_eq!(
        fb.kind,
        FeedbackKind::Complained {
            feedback_type: Some("abuse".into())
        }
    );
    assert_eq!(fb.recipients, ["richard@example.com"]);
    assert_eq!(fb.message_id.as_deref(), Some("custom-message-ID"));
    assert_eq!(
        fb.ses_message_id,
        "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000"
    );
    assert_eq!(fb.at, at("2016-01-27T14:59:38.237Z"));
    assert_eq!(
        fb.detail,
        "complaint: abuse, reported by AnyCompany Feedback Loop (V0.01)"
    );
}

#[test]
fn a_delivery() {
    let fb = feedback(include_str!("fixtures/ses-delivery.json"));
    assert_eq!(fb.kind, FeedbackKind::Delivered);
    assert_eq!(fb.recipients, ["jane@example.com"]);
    assert_eq!(fb.message_id.as_deref(), Some("custom-message-ID"));
    assert_eq!(
        fb.ses_message_id,
        "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000"
    );
    assert_eq!(fb.at, at("2016-01-27T14:59:38.237Z"));
    assert_eq!(fb.detail, "250 ok:  Message 64111812 accepted");
}

#[test]
fn event_publishing_records_read_the_same() {
    let fb = feedback(include_str!("fixtures/ses-event-bounce.json"));
    assert!(
        matches!(&fb.kind, FeedbackKind::Bounced { permanent: true, sub_type, .. } if sub_type == "General")
    );
    assert_eq!(fb.recipients, ["recipient@example.com"]);
    assert_eq!(fb.at, at("2017-08-05T00:41:02.669Z"));

    let fb = feedback(include_str!("fixtures/ses-event-complaint.json"));
    assert_eq!(
        fb.kind,
        FeedbackKind::Complained {
            feedback_type: Some("abuse".into())
        }
    );
    assert_eq!(fb.recipients, ["recipient@example.com"]);

    let fb = feedback(include_str!("fixtures/ses-event-delivery.json"));
    assert_eq!(fb.kind, FeedbackKind::Delivered);
    assert_eq!(fb.detail, "250 2.6.0 Message received");
    assert_eq!(fb.at, at("2016-10-19T23:21:04.133Z"));
    assert_eq!(
        fb.ses_message_id,
        "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    );
}

#[test]
fn other_event_types_are_named_not_errors() {
    let cases = [
        (include_str!("fixtures/ses-event-open.json"), "Open"),
        (
            include_str!("fixtures/ses-event-delivery-delay.json"),
            "DeliveryDelay",
        ),
        (
            include_str!("fixtures/ses-event-rendering-failure.json"),
            "Rendering Failure",
        ),
        (
            r#"{"eventType":"Send","mail":{"messageId":"m"},"send":{}}"#,
            "Send",
        ),
        (
            r#"{"eventType":"Click","click":{"link":"https://example.com"}}"#,
            "Click",
        ),
        (
            r#"{"eventType":"Reject","mail":{"messageId":"m"},"reject":{"reason":"Bad content"}}"#,
            "Reject",
        ),
    ];
    for (json, name) in cases {
        assert_eq!(
            ses::parse(json).unwrap(),
            SesEvent::Other(name.into()),
            "{name}"
        );
    }
}
