//! The provider's reports after a send (`Engine::apply_feedback`): bounces and
//! complaints move the email and keep the address off the list; repeats, reports out
//! of order and reports about anything engage did not send change nothing.

use crate::world::{World, last_note};
use chrono::Duration;
use engage_core::client::{Client, EmailAddress};
use engage_core::email::{Email, EmailStatus, SkipReason};
use engage_core::ids::EmailId;
use engage_core::ports::SuppressionStore;
use engage_core::processor::{FeedbackKind, FeedbackOutcome, ProviderFeedback};
use engage_core::testing::t0;

/// A client sent its welcome.
async fn welcomed(w: &World) -> (Client, Email) {
    let ada = w.create("ada@example.com", "UTC").await;
    w.decide_one().await;
    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Sent);
    (ada, email)
}

fn report(email: &Email, to: &Client, kind: FeedbackKind) -> ProviderFeedback {
    ProviderFeedback {
        email_id: email.id.clone(),
        message_id: email.message_id.clone().expect("sent"),
        kind,
        recipients: vec![to.email.clone()],
        at: t0() + Duration::minutes(1),
        detail: "smtp; 550 5.1.1 user unknown".into(),
    }
}

fn hard_bounce() -> FeedbackKind {
    FeedbackKind::Bounced {
        permanent: true,
        sub_type: "General".into(),
    }
}

#[tokio::test]
async fn a_hard_bounce_marks_the_email_suppresses_the_address_and_stops_the_next_email() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    let bounce = report(&email, &ada, hard_bounce());

    assert_eq!(
        w.engine.apply_feedback(&bounce).await.unwrap(),
        FeedbackOutcome::Suppressed {
            status: Some(EmailStatus::Bounced),
            addresses: 1
        }
    );
    let bounced = w.email(&email.id).await;
    assert_eq!(bounced.status, EmailStatus::Bounced);
    assert_eq!(
        last_note(&bounced),
        "hard bounce (General): smtp; 550 5.1.1 user unknown"
    );
    let s = w.store.get(&ada.email).await.unwrap().expect("suppressed");
    assert_eq!(
        (s.reason.as_str(), s.created_at),
        ("hard_bounce", bounce.at)
    );

    // The next change would have sent the profile reminder.
    w.login(&ada.id).await;
    assert_eq!(w.decide_one().await.reason, Some(SkipReason::Suppressed));
    assert_eq!(w.sender.sent().len(), 1);
}

#[tokio::test]
async fn a_repeated_or_late_report_moves_nothing() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    let bounce = report(&email, &ada, hard_bounce());
    w.engine.apply_feedback(&bounce).await.unwrap();
    let history = w.email(&email.id).await.status_history.len();

    // The same report again: the address is suppressed again, the email not moved.
    assert_eq!(
        w.engine.apply_feedback(&bounce).await.unwrap(),
        FeedbackOutcome::Suppressed {
            status: None,
            addresses: 1
        }
    );
    // A delivery reported after the bounce does not override it.
    let delivered = report(&email, &ada, FeedbackKind::Delivered);
    assert_eq!(
        w.engine.apply_feedback(&delivered).await.unwrap(),
        FeedbackOutcome::Ignored("nothing to change (a repeat, or out of order)")
    );
    let email = w.email(&email.id).await;
    assert_eq!(email.status, EmailStatus::Bounced);
    assert_eq!(email.status_history.len(), history);
}

#[tokio::test]
async fn a_soft_bounce_is_recorded_on_the_email_and_leaves_the_address_mailable() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    let soft = report(
        &email,
        &ada,
        FeedbackKind::Bounced {
            permanent: false,
            sub_type: "MailboxFull".into(),
        },
    );

    assert_eq!(
        w.engine.apply_feedback(&soft).await.unwrap(),
        FeedbackOutcome::Recorded(EmailStatus::Sent)
    );
    let email = w.email(&email.id).await;
    assert_eq!(email.status, EmailStatus::Sent);
    assert!(last_note(&email).starts_with("transient bounce (MailboxFull)"));
    assert_eq!(w.store.get(&ada.email).await.unwrap(), None);
}

#[tokio::test]
async fn a_complaint_after_a_delivery_ends_complained_and_a_message_id_in_brackets_matches() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    let mut delivered = report(&email, &ada, FeedbackKind::Delivered);
    delivered.message_id = format!("<{}>", delivered.message_id);
    assert_eq!(
        w.engine.apply_feedback(&delivered).await.unwrap(),
        FeedbackOutcome::Recorded(EmailStatus::Delivered)
    );
    let complaint = report(
        &email,
        &ada,
        FeedbackKind::Complained {
            feedback_type: Some("abuse".into()),
        },
    );
    assert_eq!(
        w.engine.apply_feedback(&complaint).await.unwrap(),
        FeedbackOutcome::Suppressed {
            status: Some(EmailStatus::Complained),
            addresses: 1
        }
    );
    assert_eq!(w.email(&email.id).await.status, EmailStatus::Complained);
    let s = w.store.get(&ada.email).await.unwrap().unwrap();
    assert_eq!(s.reason, "complaint");
}

#[tokio::test]
async fn reports_about_what_engage_did_not_send_are_ignored_and_change_nothing() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    let grace = w.create("grace@example.com", "UTC").await;
    w.sender.fail_next_permanently("refused");
    w.decide_one().await;
    let unsent = w.email_of(&grace.id).await;
    assert_eq!(unsent.status, EmailStatus::Failed);

    let mut unknown = report(&email, &ada, hard_bounce());
    unknown.email_id = EmailId::from_string("eml_404_welcome");
    let mut not_sent = report(&email, &grace, hard_bounce());
    not_sent.email_id = unsent.id.clone();
    let mut other_message = report(&email, &ada, hard_bounce());
    other_message.message_id = "forged@elsewhere.example".into();
    let mut other_address = report(&email, &ada, hard_bounce());
    other_address.recipients = vec![EmailAddress::parse("eve@example.com").unwrap()];
    for (fb, why) in [
        (unknown, "no such email"),
        (not_sent, "the email was not sent"),
        (other_message, "another message id than the one sent"),
        (
            other_address,
            "about an address engage did not send this email to",
        ),
    ] {
        assert_eq!(
            w.engine.apply_feedback(&fb).await.unwrap(),
            FeedbackOutcome::Ignored(why)
        );
    }
    assert!(w.store.list(None, 100).await.unwrap().items.is_empty());
    assert_eq!(w.email(&email.id).await.status, EmailStatus::Sent);
    assert_eq!(w.email(&unsent.id).await.status, EmailStatus::Failed);
}

#[tokio::test]
async fn a_report_naming_a_stranger_too_suppresses_only_the_recipient() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    let eve = EmailAddress::parse("eve@example.com").unwrap();
    let mut bounce = report(&email, &ada, hard_bounce());
    bounce.recipients.push(eve.clone());

    assert_eq!(
        w.engine.apply_feedback(&bounce).await.unwrap(),
        FeedbackOutcome::Suppressed {
            status: Some(EmailStatus::Bounced),
            addresses: 1
        }
    );
    assert!(w.store.get(&ada.email).await.unwrap().is_some());
    assert_eq!(w.store.get(&eve).await.unwrap(), None);
}

#[tokio::test]
async fn a_report_about_a_client_deleted_since_suppresses_nothing() {
    let w = World::new();
    let (ada, email) = welcomed(&w).await;
    w.service.delete(&ada.id, None).await.unwrap();

    assert_eq!(
        w.engine
            .apply_feedback(&report(&email, &ada, hard_bounce()))
            .await
            .unwrap(),
        FeedbackOutcome::Ignored("about an address engage did not send this email to")
    );
    assert_eq!(w.store.get(&ada.email).await.unwrap(), None);
    assert_eq!(w.email(&email.id).await.status, EmailStatus::Sent);
}
