//! The SNS verifier against a real HTTPS server on 127.0.0.1 standing in for
//! `sns.us-east-1.amazonaws.com` (see `engage_feedback::testing`), over the production client settings.

use std::sync::Arc;
use std::time::Duration;

use engage_feedback::testing::*;
use engage_feedback::{
    ConfirmError, FeedbackKind, Inbound, InboundError, MessageType, Origin, SesEvent, UrlRefusal,
    VerifierConfig, VerifyError, handle_sns_body, handle_sqs_body,
};

const BOUNCE: &str = include_str!("fixtures/ses-bounce-permanent-general.json");
const DELIVERY: &str = include_str!("fixtures/ses-event-delivery.json");

/// Any topic: these tests are about the signature, the certificate and the age.
fn config() -> VerifierConfig {
    VerifierConfig {
        allow_any_topic: true,
        ..VerifierConfig::default()
    }
}

#[tokio::test]
async fn v1_and_v2_notifications_verify() {
    let server = start().await;
    let verifier = verifier(&server, config());
    for version in ["1", "2"] {
        let msg = notification(BOUNCE, version);
        let verified = verifier
            .verify_json(&body(&msg))
            .await
            .unwrap_or_else(|e| panic!("v{version}: {e}"));
        assert_eq!(verified.message(), &msg);
    }
    // Without a subject, too (the key is then not in the signed string).
    let mut msg = notification(DELIVERY, "2");
    msg.subject = None;
    sign(&mut msg);
    verifier.verify(msg).await.unwrap();
    assert_eq!(server.hits.cert(), 1);
}

#[tokio::test]
async fn a_verified_ses_notification_becomes_feedback() {
    let server = start().await;
    let verifier = verifier(&server, config());
    let msg = notification(BOUNCE, "1");
    let inbound = handle_sns_body(&verifier, &body(&msg)).await.unwrap();
    let Inbound::Ses {
        event: SesEvent::Feedback(fb),
        origin,
    } = inbound
    else {
        panic!("not feedback: {inbound:?}")
    };
    assert_eq!(
        origin,
        Origin::Sns {
            message_id: msg.message_id.clone(),
            topic_arn: TOPIC.into()
        }
    );
    assert!(matches!(
        fb.kind,
        FeedbackKind::Bounced {
            permanent: true,
            ..
        }
    ));
    assert_eq!(fb.recipients, ["jane@example.com"]);

    // SES's set-up notice is verified but is not a notification engage can use.
    let msg = notification(
        "Successfully validated SNS topic for Amazon SES event publishing.",
        "2",
    );
    let err = handle_sns_body(&verifier, &body(&msg)).await.unwrap_err();
    assert!(matches!(err, InboundError::NotSes(_)), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn a_subscription_confirmation_verifies_and_confirm_calls_its_url() {
    let server = start().await;
    let verifier = verifier(&server, config());
    let url = format!(
        "https://{REGION_HOST}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb687f"
    );
    let msg = subscription_confirmation(&url);
    let inbound = handle_sns_body(&verifier, &body(&msg)).await.unwrap();
    let Inbound::SubscriptionConfirmation(verified) = inbound else {
        panic!("{inbound:?}")
    };
    assert!(
        server.hits.confirmations().is_empty(),
        "verifying must not confirm"
    );
    verifier.confirm(&verified).await.unwrap();
    assert_eq!(
        server.hits.confirmations(),
        [format!(
            "Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb687f"
        )]
    );

    // An UnsubscribeConfirmation signs the same fields; it is not confirmable.
    let mut unsub = subscription_confirmation(&url);
    unsub.kind = MessageType::UnsubscribeConfirmation;
    sign(&mut unsub);
    let inbound = handle_sns_body(&verifier, &body(&unsub)).await.unwrap();
    let Inbound::UnsubscribeConfirmation(verified) = inbound else {
        panic!("{inbound:?}")
    };
    assert_eq!(
        verifier.confirm(&verified).await,
        Err(ConfirmError::NotASubscriptionConfirmation)
    );
    assert_eq!(server.hits.confirmations().len(), 1);
}

#[tokio::test]
async fn confirm_refuses_a_foreign_subscribe_url() {
    let server = start().await;
    let verifier = verifier(&server, config());
    let cases = [
        (
            "https://evil.com/?Action=ConfirmSubscription&Token=x",
            UrlRefusal::ForeignHost("evil.com".into()),
        ),
        (
            "https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription",
            UrlRefusal::ForeignHost("sns.us-east-1.amazonaws.com.evil.com".into()),
        ),
        (
            "https://sns.us-east-1.amazonaws.com@evil.com/?Action=ConfirmSubscription",
            UrlRefusal::UserInfo,
        ),
        (
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            UrlRefusal::NotHttps("http".into()),
        ),
    ];
    for (url, why) in cases {
        // Signed by "SNS": the signature is fine, the link is not followed.
        let verified = verifier
            .verify(subscription_confirmation(url))
            .await
            .unwrap();
        assert_eq!(
            verifier.confirm(&verified).await,
            Err(ConfirmError::UntrustedUrl(why)),
            "{url}"
        );
    }
    // The only request that reached the server is the one certificate fetch.
    assert_eq!(server.hits.total(), 1);
    assert!(server.hits.confirmations().is_empty());
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    let server = start().await;
    let verifier = verifier(&server, config());

    // A genuine signature by the right key, over another message.
    let mut msg = notification(BOUNCE, "2");
    let other = notification(DELIVERY, "2");
    msg.signature = other.signature.clone();
    assert_eq!(verifier.verify(msg).await, Err(VerifyError::BadSignature));

    // A v1 (SHA-1) signature presented as v2 (SHA-256), and the reverse.
    let mut msg = notification(BOUNCE, "1");
    msg.signature_version = "2".into();
    assert_eq!(verifier.verify(msg).await, Err(VerifyError::BadSignature));
    let mut msg = notification(BOUNCE, "2");
    msg.signature_version = "1".into();
    assert_eq!(verifier.verify(msg).await, Err(VerifyError::BadSignature));

    // Bits flipped.
    let mut msg = notification(BOUNCE, "1");
    let mut raw = base64_decode(&msg.signature);
    raw[17] ^= 0x01;
    msg.signature = base64_encode(&raw);
    assert_eq!(verifier.verify(msg).await, Err(VerifyError::BadSignature));

    // Not base64, an unknown version: refused before any fetch.
    let server2 = start().await;
    let verifier2 = engage_feedback::testing::verifier(&server2, config());
    let mut msg = notification(BOUNCE, "1");
    msg.signature = "not base64!".into();
    assert_eq!(
        verifier2.verify(msg).await,
        Err(VerifyError::SignatureEncoding)
    );
    let mut msg = notification(BOUNCE, "1");
    msg.signature_version = "3".into();
    assert_eq!(
        verifier2.verify(msg).await,
        Err(VerifyError::UnsupportedSignatureVersion("3".into()))
    );
    assert_eq!(server2.hits.total(), 0);
}

#[tokio::test]
async fn a_body_altered_after_signing_is_refused() {
    let server = start().await;
    let verifier = verifier(&server, config());
    let msg = notification(BOUNCE, "1");
    let original = body(&msg);
    verifier.verify_json(&original).await.unwrap();
    // The same message again verifies: dropping repeats is the caller's (by MessageId).
    verifier.verify_json(&original).await.unwrap();

    // Replays with one thing changed: the bounced address, the bounce type, the
    // subject, the topic, the message id, the timestamp (a fresh one to look new).
    let altered = [
        original.replace("jane@example.com", "someone.else@example.com"),
        original.replace(r#"\"Permanent\""#, r#"\"Transient\""#),
        original.replace("Amazon SES Email Event Notification", "Hello"),
        original.replace(TOPIC, "arn:aws:sns:us-east-1:123456789012:other"),
        original.replace(&msg.message_id, "msg-replayed"),
        original.replace(&msg.timestamp, &now_plus_ms(1)),
    ];
    for (i, body) in altered.iter().enumerate() {
        assert_ne!(body, &original, "alteration {i} changed nothing");
        assert_eq!(
            verifier.verify_json(body).await,
            Err(VerifyError::BadSignature),
            "alteration {i}"
        );
    }
    // A subject added to a message signed without one.
    let mut msg = notification(DELIVERY, "2");
    msg.subject = None;
    sign(&mut msg);
    msg.subject = Some("added".into());
    assert_eq!(verifier.verify(msg).await, Err(VerifyError::BadSignature));
    // A notification turned into a confirmation (with a link to follow).
    let mut msg = notification(DELIVERY, "2");
    msg.kind = MessageType::SubscriptionConfirmation;
    msg.subscribe_url = Some(format!("https://{REGION_HOST}/?Action=ConfirmSubscription"));
    msg.token = Some("t".into());
    assert_eq!(verifier.verify(msg).await, Err(VerifyError::BadSignature));
}

#[tokio::test]
async fn foreign_certificate_urls_are_refused_without_a_request() {
    let server = start().await;
    let verifier = verifier(&server, config());
    let cases = [
        (
            "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::ForeignHost("sns.us-east-1.amazonaws.com.evil.com".into()),
        ),
        (
            "https://evil.com/sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::ForeignHost("evil.com".into()),
        ),
        (
            "https://evil.com/SimpleNotificationService-0123456789abcdef.pem?host=sns.us-east-1.amazonaws.com",
            UrlRefusal::ForeignHost("evil.com".into()),
        ),
        (
            "https://sns.us-east-1.amazonaws.com@evil.com/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::UserInfo,
        ),
        (
            "https://sns.us-east-1.amazonaws.com:x@evil.com/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::UserInfo,
        ),
        (
            "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::NotHttps("http".into()),
        ),
        (
            "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::Port(8443),
        ),
        (
            "https://127.0.0.1/SimpleNotificationService-0123456789abcdef.pem",
            UrlRefusal::ForeignHost("127.0.0.1".into()),
        ),
        (
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.txt",
            UrlRefusal::NotPem,
        ),
    ];
    for (url, why) in cases {
        let mut msg = notification(BOUNCE, "1");
        msg.signing_cert_url = url.to_owned();
        assert_eq!(
            verifier.verify(msg).await,
            Err(VerifyError::CertUrl(why)),
            "{url}"
        );
    }
    assert_eq!(
        server.hits.total(),
        0,
        "a refused URL must not be requested"
    );

    // Control: the test client does reach the server under the evil names, so the
    // count above is zero because the verifier refused, not because nothing listens.
    let ca = reqwest::Certificate::from_pem(pki().ca_pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .resolve("evil.com", server.addr)
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = client
        .get("https://evil.com/SimpleNotificationService-0123456789abcdef.pem")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(server.hits.total(), 1);
}

#[tokio::test]
async fn stale_and_future_messages_are_refused() {
    let server = start().await;
    let verifier = verifier(&server, config());
    let mut msg = notification(BOUNCE, "1");
    msg.timestamp = shifted(-2 * 3600);
    sign(&mut msg);
    let err = verifier.verify(msg).await.unwrap_err();
    assert!(
        matches!(err, VerifyError::Expired { max_secs: 3600, .. }),
        "{err:?}"
    );

    let mut msg = notification(BOUNCE, "1");
    msg.timestamp = shifted(3600);
    sign(&mut msg);
    let err = verifier.verify(msg).await.unwrap_err();
    assert!(matches!(err, VerifyError::FromTheFuture { .. }), "{err:?}");

    let mut msg = notification(BOUNCE, "1");
    msg.timestamp = "yesterday".into();
    sign(&mut msg);
    assert_eq!(
        verifier.verify(msg).await,
        Err(VerifyError::BadTimestamp("yesterday".into()))
    );
    assert_eq!(server.hits.total(), 0);

    // Within the limits: 50 minutes old, a minute ahead.
    for offset in [-50 * 60, 60] {
        let mut msg = notification(BOUNCE, "1");
        msg.timestamp = shifted(offset);
        sign(&mut msg);
        verifier
            .verify(msg)
            .await
            .unwrap_or_else(|e| panic!("{offset}: {e}"));
    }

    // The maximum age is configurable (an SQS consumer wants the queue's retention).
    let strict = engage_feedback::testing::verifier(
        &server,
        VerifierConfig {
            max_age: Duration::from_secs(600),
            ..config()
        },
    );
    let mut msg = notification(BOUNCE, "1");
    msg.timestamp = shifted(-20 * 60);
    sign(&mut msg);
    assert!(matches!(
        strict.verify(msg).await,
        Err(VerifyError::Expired { max_secs: 600, .. })
    ));
}

#[tokio::test]
async fn unexpected_topics_are_refused() {
    let server = start().await;
    // No list: no topic at all, however genuine its signature.
    let none = verifier(&server, VerifierConfig::default());
    assert_eq!(
        none.verify(notification(BOUNCE, "1")).await,
        Err(VerifyError::TopicNotAllowed(TOPIC.into()))
    );

    let allowed = VerifierConfig {
        allowed_topic_arns: vec![
            "arn:aws:sns:us-east-1:123456789012:something-else".into(),
            TOPIC.into(),
        ],
        ..VerifierConfig::default()
    };
    let verifier = verifier(&server, allowed);
    verifier.verify(notification(BOUNCE, "1")).await.unwrap();

    let mut msg = notification(BOUNCE, "1");
    msg.topic_arn = "arn:aws:sns:us-east-1:999999999999:attacker".into();
    sign(&mut msg); // validly signed: the topic alone is wrong
    assert_eq!(
        verifier.verify(msg).await,
        Err(VerifyError::TopicNotAllowed(
            "arn:aws:sns:us-east-1:999999999999:attacker".into()
        ))
    );
    assert_eq!(
        server.hits.total(),
        1,
        "only the accepted message's certificate fetch"
    );
}

#[tokio::test]
async fn the_certificate_is_fetched_once_for_many_messages() {
    let server = start().await;
    let verifier = Arc::new(verifier(&server, config()));
    // Concurrently first: one fetch even when all arrive before it completes.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let verifier = verifier.clone();
        let msg = notification(BOUNCE, if i % 2 == 0 { "1" } else { "2" });
        tasks.spawn(async move { verifier.verify(msg).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    for _ in 0..16 {
        verifier.verify(notification(DELIVERY, "2")).await.unwrap();
    }
    assert_eq!(server.hits.cert(), 1);
    assert_eq!(server.hits.total(), 1);
}

#[tokio::test]
async fn certificate_problems_are_refused() {
    let server = start().await;
    let verifier = verifier(&server, config());

    // Not valid now.
    let mut msg = notification(BOUNCE, "1");
    msg.signing_cert_url = EXPIRED_CERT_URL.into();
    assert_eq!(
        verifier.verify(msg).await,
        Err(VerifyError::CertNotValidNow)
    );

    // Not there: transient, and not cached (the next message tries again).
    for expected_total in [2, 3] {
        let mut msg = notification(BOUNCE, "1");
        msg.signing_cert_url = MISSING_CERT_URL.into();
        let err = verifier.verify(msg).await.unwrap_err();
        assert!(
            matches!(&err, VerifyError::CertFetch { reason, .. } if reason.contains("404")),
            "{err:?}"
        );
        assert!(err.is_transient());
        assert_eq!(server.hits.total(), expected_total);
    }

    // A redirect is not followed, even to a host that would answer.
    let mut msg = notification(BOUNCE, "1");
    msg.signing_cert_url = REDIRECT_CERT_URL.into();
    let err = verifier.verify(msg).await.unwrap_err();
    assert!(
        matches!(&err, VerifyError::CertFetch { reason, .. } if reason.contains("302")),
        "{err:?}"
    );
    assert_eq!(server.hits.total(), 4);
    assert_eq!(server.hits.cert(), 0);
}

#[tokio::test]
async fn sqs_bodies_are_sns_envelopes_or_raw_ses_json() {
    let server = start().await;
    let verifier = verifier(&server, config());

    // The SNS envelope, verified like a POST.
    let msg = notification(DELIVERY, "1");
    let inbound = handle_sqs_body(&verifier, &body(&msg)).await.unwrap();
    let Inbound::Ses {
        event: SesEvent::Feedback(fb),
        origin: Origin::Sns { .. },
    } = inbound
    else {
        panic!("{inbound:?}")
    };
    assert_eq!(fb.kind, FeedbackKind::Delivered);
    // ...and refused like a POST when altered.
    let altered = body(&msg).replace("recipient@example.com", "other@example.com");
    let err = handle_sqs_body(&verifier, &altered).await.unwrap_err();
    assert_eq!(err, InboundError::Refused(VerifyError::BadSignature));

    // Raw message delivery: the SES JSON itself, unsigned, marked so.
    let inbound = handle_sqs_body(&verifier, BOUNCE).await.unwrap();
    let Inbound::Ses {
        event: SesEvent::Feedback(fb),
        origin: Origin::RawDelivery,
    } = inbound
    else {
        panic!("{inbound:?}")
    };
    assert_eq!(
        fb.ses_message_id,
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
    );
    let inbound = handle_sqs_body(&verifier, include_str!("fixtures/ses-event-open.json"))
        .await
        .unwrap();
    assert_eq!(
        inbound,
        Inbound::Ses {
            event: SesEvent::Other("Open".into()),
            origin: Origin::RawDelivery
        }
    );

    for junk in ["", "hello", "[]", r#"{"foo":1}"#] {
        assert_eq!(
            handle_sqs_body(&verifier, junk).await,
            Err(InboundError::Unrecognised),
            "{junk:?}"
        );
    }
    assert_eq!(server.hits.cert(), 1);
}

fn shifted(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn now_plus_ms(ms: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::milliseconds(ms + 1000))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
