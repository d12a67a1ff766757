//! The SES v2 sender against the AWS emulator (moto's server on 127.0.0.1): a raw
//! send is accepted, and the message SES stored is ours, headers and all.

use chrono::Utc;
use engage_aws::testing::Moto;
use engage_aws::{SesSender, SesSettings};
use engage_core::client::EmailAddress;
use engage_core::email::{Email, EmailStatus};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{MailSender, OutgoingEmail, SendError};

fn outgoing(to: &str, from: &str) -> OutgoingEmail {
    let now = Utc::now();
    OutgoingEmail {
        to: EmailAddress::parse(to).unwrap(),
        to_name: "Zoë Ñúñez".into(),
        from: from.into(),
        unsubscribe_url: "https://engage.example.com/u/tok123".into(),
        unsubscribe_mailto: Some("mailto:unsubscribe+tok123@example.com".into()),
        email: Email {
            id: EmailId::from_string("eml_42_welcome"),
            user_id: UserId::from_string("usr_1"),
            campaign: "welcome".into(),
            status: EmailStatus::Sending,
            subject: "Ihre nächste Fix ✨".into(),
            preheader: "Picked for you".into(),
            body_text: "Hi Zoë,\n\nYour stylist is ready.".into(),
            body_html: "<p>Hi Zoë,</p>\n<p>Your stylist is ready.</p>".into(),
            generator: "template".into(),
            generation: None,
            fallback_reason: None,
            trigger_event_id: EventId::from_string("evt_42"),
            decision_id: DecisionId::from_string("dec_42"),
            created_at: now,
            scheduled_for: None,
            sent_at: None,
            message_id: None,
            status_history: vec![],
        },
    }
}

async fn sender(moto: &Moto) -> (SesSender, aws_sdk_sesv2::Client) {
    let client = aws_sdk_sesv2::Client::new(&moto.sdk_config());
    let settings = SesSettings {
        configuration_set: None,
        max_concurrency: 4,
        ..SesSettings::default()
    };
    (SesSender::with_client(client.clone(), settings), client)
}

#[tokio::test]
async fn a_raw_send_is_accepted_and_carries_our_headers() {
    let moto = Moto::start().await;
    let (ses, client) = sender(&moto).await;
    // `/health`'s check: the account can send, with its quota.
    let health = ses.check().await.expect("the account can send");
    assert_eq!(health["sending_enabled"], true, "{health}");
    assert!(health["max_send_rate"].is_number(), "{health}");
    client
        .create_email_identity()
        .email_identity("example.com")
        .send()
        .await
        .expect("the sending domain is created");

    let email = outgoing("zoe@example.net", "Styling team <styling@example.com>");
    let receipt = ses.send(&email).await.expect("SES accepts the message");
    assert_eq!(receipt.message_id, "eml_42_welcome@example.com");

    let stored = moto.ses_messages().await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(
        stored[0]["destinations"]
            .to_string()
            .contains("zoe@example.net")
    );
    let raw = stored[0]["raw"].as_str().expect("a raw message");
    let parsed = mailparse::parse_mail(raw.as_bytes()).unwrap();
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case(name))
            .map(|h| h.get_value())
            .unwrap_or_default()
    };
    assert_eq!(header("Message-ID"), "<eml_42_welcome@example.com>");
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = header("List-Unsubscribe");
    assert!(
        unsubscribe.contains("<https://engage.example.com/u/tok123>")
            && unsubscribe.contains("<mailto:unsubscribe+tok123@example.com>"),
        "{unsubscribe}"
    );
    assert_eq!(header("Subject"), "Ihre nächste Fix ✨");
    assert!(
        raw.contains("=?utf-8?"),
        "non-ASCII headers are RFC 2047-encoded on the wire"
    );
    assert_eq!(parsed.subparts.len(), 2, "text and HTML");
}

#[tokio::test]
async fn an_unverified_sender_is_a_permanent_failure() {
    let moto = Moto::start().await;
    let (ses, _) = sender(&moto).await;
    let e = ses
        .send(&outgoing(
            "zoe@example.net",
            "Styling team <styling@unverified.example>",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, SendError::Permanent(why) if why.contains("MessageRejected")),
        "{e:?}"
    );
    assert!(moto.ses_messages().await.is_empty());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_transient() {
    let settings = SesSettings {
        region: Some("us-east-1".into()),
        endpoint_url: Some("http://127.0.0.1:9".into()),
        max_concurrency: 1,
        ..SesSettings::default()
    };
    let moto_config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_sesv2::config::SharedCredentialsProvider::new(
            aws_sdk_sesv2::config::Credentials::new("test", "test", None, None, "tests"),
        ))
        .build();
    let ses = SesSender::with_client(aws_sdk_sesv2::Client::new(&moto_config), settings);
    let e = ses
        .send(&outgoing(
            "zoe@example.net",
            "Styling team <styling@example.com>",
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, SendError::Transient(_)), "{e:?}");
}
