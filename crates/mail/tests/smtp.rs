//! The SMTP sender against a real SMTP server: aiosmtpd (`tools/smtp_peer.py`) on
//! 127.0.0.1, over TCP, plain, with STARTTLS and with implicit TLS.

use chrono::{TimeZone, Utc};
use engage_core::client::EmailAddress;
use engage_core::compose::render_html;
use engage_core::email::{Email, EmailStatus};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{MailSender, OutgoingEmail, SendError};
use engage_mail::testing::{PeerOptions, PeerTls, SmtpPeer};
use engage_mail::{SmtpSecurity, SmtpSender, SmtpSettings, build_message};
use mailparse::MailHeaderMap;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// An outgoing email (as the message builder's own tests make one) to `to`.
fn outgoing(id: &str, to: &str) -> OutgoingEmail {
    let body_text = "Hi Zoë,\n\nYour stylist has new pieces <for> you & more.";
    OutgoingEmail {
        email: Email {
            id: EmailId::from_string(id),
            user_id: UserId::from_string("usr_1"),
            campaign: "welcome".into(),
            status: EmailStatus::Sending,
            subject: "Voilà, Zoë".into(),
            preheader: "Your first Fix, explained".into(),
            body_text: body_text.into(),
            body_html: render_html(body_text),
            generator: "template".into(),
            generation: None,
            fallback_reason: None,
            trigger_event_id: EventId::for_change("42"),
            decision_id: DecisionId::from_string("dec_1"),
            created_at: Utc.with_ymd_and_hms(2025, 3, 4, 10, 30, 0).unwrap(),
            scheduled_for: None,
            sent_at: None,
            message_id: None,
            status_history: vec![],
        },
        to: EmailAddress::parse(to).unwrap(),
        to_name: "Zoë Müller".into(),
        from: "Your styling team <styling@engage.localhost>".into(),
        unsubscribe_url: "https://engage.example/u/tok?a=1&b=2".into(),
        unsubscribe_mailto: Some(
            "mailto:unsubscribe@engage.example?subject=unsubscribe%20tok".into(),
        ),
    }
}

fn sender(settings: SmtpSettings) -> SmtpSender {
    SmtpSender::new(settings).expect("usable settings")
}

fn auth() -> Option<(String, String)> {
    Some(("engage".into(), "s3cret pass".into()))
}

/// The header block of a raw message, as text.
fn head(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_message_arrives_whole_with_both_parts_and_the_unsubscribe_headers() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let smtp = sender(peer.settings());
    assert_eq!(smtp.name(), "smtp");
    let email = outgoing("eml_abc", "zoe@example.com");

    let receipt = smtp.send(&email).await.unwrap();
    assert_eq!(receipt.message_id, "eml_abc@engage.localhost");

    let received = peer.messages();
    assert_eq!(received.len(), 1, "{}", peer.log());
    let got = &received[0];
    assert_eq!(got.mail_from, "styling@engage.localhost");
    assert_eq!(got.rcpt_to, ["zoe@example.com"]);
    assert!(!got.tls && got.login.is_none());
    // Exactly the bytes every sender sends.
    let built = build_message(&email).unwrap().formatted();
    assert_eq!(
        String::from_utf8_lossy(&got.raw).trim_end(),
        String::from_utf8_lossy(&built).trim_end()
    );

    let m = mailparse::parse_mail(&got.raw).unwrap();
    let h = &m.headers;
    assert_eq!(
        h.get_first_value("Message-ID").unwrap(),
        format!("<{}>", receipt.message_id)
    );
    assert_eq!(
        h.get_first_value("Date").unwrap(),
        "Tue, 04 Mar 2025 10:30:00 +0000"
    );
    assert_eq!(
        h.get_first_value("From").unwrap(),
        "\"Your styling team\" <styling@engage.localhost>"
    );
    assert_eq!(
        h.get_first_value("To").unwrap(),
        "Zoë Müller <zoe@example.com>"
    );
    assert_eq!(
        h.get_first_value("List-Unsubscribe").unwrap(),
        "<https://engage.example/u/tok?a=1&b=2>, \
         <mailto:unsubscribe@engage.example?subject=unsubscribe%20tok>"
    );
    assert_eq!(
        h.get_first_value("List-Unsubscribe-Post").unwrap(),
        "List-Unsubscribe=One-Click"
    );
    assert_eq!(m.ctype.mimetype, "multipart/alternative");
    let types: Vec<_> = m
        .subparts
        .iter()
        .map(|p| p.ctype.mimetype.as_str())
        .collect();
    assert_eq!(types, ["text/plain", "text/html"]);
    let text = m.subparts[0].get_body().unwrap();
    assert!(text.starts_with("Hi Zoë,"), "{text}");
    assert!(text.contains("Unsubscribe: https://engage.example/u/tok?a=1&b=2"));
    let html = m.subparts[1].get_body().unwrap();
    assert!(html.contains("<p>Hi Zoë,</p>"), "{html}");
    assert!(html.contains("<a href=\"https://engage.example/u/tok?a=1&amp;b=2\">"));
}

#[tokio::test]
async fn a_non_ascii_subject_and_name_are_encoded_on_the_wire_and_decode_back() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let smtp = sender(peer.settings());
    let mut email = outgoing("eml_utf8", "zoe@example.com");
    email.email.subject = "Ihre nächste Fix ✨".into();
    email.to_name = "Zoë Ñúñez".into();

    smtp.send(&email).await.unwrap();

    let raw = peer.messages().remove(0).raw;
    let head = head(&raw);
    assert!(head.is_ascii(), "raw UTF-8 in the headers:\n{head}");
    // lettre encodes the words that need it (RFC 2047 encoded-words).
    let line = |name: &str| {
        head.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("Subject: ").contains("=?utf-8?b?"), "{head}");
    assert!(line("To: ").starts_with("To: =?utf-8?b?"), "{head}");
    let m = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(
        m.headers.get_first_value("Subject").unwrap(),
        "Ihre nächste Fix ✨"
    );
    assert_eq!(
        m.headers.get_first_value("To").unwrap(),
        "Zoë Ñúñez <zoe@example.com>"
    );
    let to = mailparse::addrparse_header(m.headers.get_first_header("To").unwrap()).unwrap();
    match &to[0] {
        mailparse::MailAddr::Single(s) => {
            assert_eq!(s.display_name.as_deref(), Some("Zoë Ñúñez"));
            assert_eq!(s.addr, "zoe@example.com");
        }
        other => panic!("one mailbox expected: {other:?}"),
    }
}

#[tokio::test]
async fn a_4xx_refusal_is_transient_and_the_next_try_is_delivered_once() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let smtp = sender(peer.settings());

    for (tag, text) in [("t454", "4.7.0"), ("t421", "4.3.2")] {
        let email = outgoing(&format!("eml_{tag}"), &format!("zoe+{tag}@example.com"));
        let before = peer.messages().len();
        match smtp.send(&email).await {
            Err(SendError::Transient(why)) => {
                assert!(why.starts_with(&tag[1..]), "{why}");
                assert!(why.contains(text), "{why}");
            }
            other => panic!("transient {tag} expected: {other:?}"),
        }
        assert_eq!(
            peer.messages().len(),
            before,
            "nothing stored after a refusal"
        );

        let receipt = smtp.send(&email).await.unwrap();
        assert_eq!(receipt.message_id, format!("eml_{tag}@engage.localhost"));
        let stored: Vec<_> = peer
            .messages()
            .into_iter()
            .filter(|m| m.rcpt_to == [format!("zoe+{tag}@example.com")])
            .collect();
        assert_eq!(stored.len(), 1, "{}", peer.log());
    }
}

#[tokio::test]
async fn a_5xx_refusal_is_permanent_with_the_servers_reply() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let smtp = sender(peer.settings());
    let email = outgoing("eml_gone", "nobody+p550@example.com");

    for _ in 0..2 {
        match smtp.send(&email).await {
            Err(SendError::Permanent(why)) => {
                assert_eq!(why, "550 5.1.1 User unknown");
            }
            other => panic!("permanent 550 expected: {other:?}"),
        }
    }
    assert!(peer.messages().is_empty());
    // The refusal did not spoil the sender: the next message goes through.
    smtp.send(&outgoing("eml_ok", "zoe@example.com"))
        .await
        .unwrap();
    assert_eq!(peer.messages().len(), 1);
}

#[tokio::test]
async fn starttls_with_auth_delivers_encrypted_and_authenticated() {
    let peer = SmtpPeer::start(PeerOptions {
        tls: PeerTls::StartTls,
        auth: auth(),
        ..PeerOptions::default()
    })
    .await;
    let settings = peer.settings();
    assert_eq!(settings.security, SmtpSecurity::StartTls);
    let smtp = sender(settings);
    smtp.check().await.unwrap();

    smtp.send(&outgoing("eml_tls", "zoe@example.com"))
        .await
        .unwrap();

    let got = peer.messages();
    assert_eq!(got.len(), 1, "{}", peer.log());
    assert!(got[0].tls);
    assert_eq!(got[0].login.as_deref(), Some("engage"));
    smtp.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_is_permanent() {
    let peer = SmtpPeer::start(PeerOptions {
        tls: PeerTls::StartTls,
        auth: auth(),
        ..PeerOptions::default()
    })
    .await;
    let mut settings = peer.settings();
    settings.password = Some("wrong".into());
    let smtp = sender(settings);

    match smtp.send(&outgoing("eml_auth", "zoe@example.com")).await {
        Err(SendError::Permanent(why)) => assert!(why.starts_with("535 "), "{why}"),
        other => panic!("permanent 535 expected: {other:?}"),
    }
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let peer = SmtpPeer::start(PeerOptions {
        tls: PeerTls::StartTls,
        auth: auth(),
        ..PeerOptions::default()
    })
    .await;
    let mut settings = peer.settings();
    settings.extra_root_pem = None;
    let smtp = sender(settings);

    match smtp.send(&outgoing("eml_mitm", "zoe@example.com")).await {
        Err(SendError::Transient(why)) => {
            assert!(
                why.starts_with(&format!("127.0.0.1:{}: ", peer.port())),
                "{why}"
            );
            assert!(why.to_lowercase().contains("certificate"), "{why}");
        }
        other => panic!("a transient TLS failure expected: {other:?}"),
    }
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn required_starttls_never_falls_back_to_plain_text() {
    // A plain server: it does not offer STARTTLS.
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let mut settings = peer.settings();
    settings.security = SmtpSecurity::StartTls;
    let smtp = sender(settings);

    match smtp.send(&outgoing("eml_plain", "zoe@example.com")).await {
        Err(SendError::Transient(why)) => assert!(why.contains("STARTTLS"), "{why}"),
        other => panic!("a transient failure expected: {other:?}"),
    }
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_delivers() {
    let peer = SmtpPeer::start(PeerOptions {
        tls: PeerTls::Implicit,
        auth: auth(),
        ..PeerOptions::default()
    })
    .await;
    let settings = peer.settings();
    assert_eq!(settings.security, SmtpSecurity::Tls);
    let smtp = sender(settings);

    let receipt = smtp
        .send(&outgoing("eml_smtps", "zoe@example.com"))
        .await
        .unwrap();
    assert_eq!(receipt.message_id, "eml_smtps@engage.localhost");

    let got = peer.messages();
    assert_eq!(got.len(), 1, "{}", peer.log());
    assert!(got[0].tls);
    assert_eq!(got[0].login.as_deref(), Some("engage"));
    let m = mailparse::parse_mail(&got[0].raw).unwrap();
    assert_eq!(
        m.headers.get_first_value("X-Engage-Email-Id").unwrap(),
        "eml_smtps"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_many_keeps_the_order_and_bounds_the_connections() {
    let peer = SmtpPeer::start(PeerOptions {
        tls: PeerTls::StartTls,
        auth: auth(),
        ..PeerOptions::default()
    })
    .await;
    let mut settings = peer.settings();
    settings.pool_size = 4;
    let smtp = sender(settings);

    let emails: Vec<OutgoingEmail> = (0..50)
        .map(|i| {
            let to = if i == 17 {
                "nobody+p550@example.com".to_string()
            } else {
                format!("client{i}@example.com")
            };
            outgoing(&format!("eml_{i:02}"), &to)
        })
        .collect();
    let results = smtp.send_many(&emails).await;

    assert_eq!(results.len(), 50);
    for (i, result) in results.iter().enumerate() {
        if i == 17 {
            assert!(
                matches!(result, Err(SendError::Permanent(why)) if why.starts_with("550")),
                "{result:?}"
            );
        } else {
            assert_eq!(
                result.as_ref().unwrap().message_id,
                format!("eml_{i:02}@engage.localhost")
            );
        }
    }
    let stored: BTreeSet<String> = peer
        .messages()
        .iter()
        .map(|m| {
            let parsed = mailparse::parse_mail(&m.raw).unwrap();
            assert_eq!(
                m.rcpt_to,
                [parsed
                    .headers
                    .get_first_value("To")
                    .unwrap()
                    .rsplit('<')
                    .next()
                    .unwrap()
                    .trim_end_matches('>')
                    .to_string()]
            );
            parsed.headers.get_first_value("X-Engage-Email-Id").unwrap()
        })
        .collect();
    let expected: BTreeSet<String> = (0..50)
        .filter(|&i| i != 17)
        .map(|i| format!("eml_{i:02}"))
        .collect();
    assert_eq!(stored, expected);

    let stats = peer.stats();
    eprintln!("{stats:?}");
    assert!(
        stats.max_transactions <= 4,
        "more than 4 messages in flight at once: {stats:?}"
    );
    // No lower bound: on a loaded machine the peer may well see one at a time.
    assert!(stats.total < 20, "connections were not reused: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_the_bound() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let mut settings = peer.settings();
    settings.pool_size = 2;
    let smtp = sender(settings);
    let batch = |worker: usize| -> Vec<OutgoingEmail> {
        (0..10)
            .map(|i| outgoing(&format!("eml_{worker}_{i}"), "zoe@example.com"))
            .collect()
    };
    let (a, b, c) = (batch(0), batch(1), batch(2));

    let (ra, rb, rc) = tokio::join!(smtp.send_many(&a), smtp.send_many(&b), smtp.send_many(&c));

    for r in ra.iter().chain(&rb).chain(&rc) {
        assert!(r.is_ok(), "{r:?}");
    }
    assert_eq!(peer.messages().len(), 30);
    let stats = peer.stats();
    assert!(
        stats.max_transactions <= 2,
        "more than 2 messages in flight at once: {stats:?}"
    );
}

#[tokio::test]
async fn a_reply_too_late_is_transient_and_its_connection_is_never_reused() {
    let peer = SmtpPeer::start(PeerOptions::default()).await;
    let mut settings = peer.settings();
    settings.timeout = Duration::from_millis(1000);
    settings.pool_size = 1;
    let smtp = sender(settings);
    smtp.send(&outgoing("eml_warm", "zoe@example.com"))
        .await
        .unwrap();

    // The relay takes 2 s to answer the data: the send gives up after 1 s, with the
    // connection in the middle of the transaction.
    match smtp
        .send(&outgoing("eml_slow", "zoe+slow@example.com"))
        .await
    {
        Err(SendError::Transient(why)) => assert!(why.contains("timed out after 1000 ms"), "{why}"),
        other => panic!("a transient timeout expected: {other:?}"),
    }
    // Were that connection reused, the late `250` to the data would answer a later
    // command. The next messages each get their own reply instead.
    match smtp
        .send(&outgoing("eml_gone", "nobody+p550@example.com"))
        .await
    {
        Err(SendError::Permanent(why)) => assert_eq!(why, "550 5.1.1 User unknown"),
        other => panic!("permanent 550 expected: {other:?}"),
    }
    smtp.send(&outgoing("eml_next", "next@example.com"))
        .await
        .unwrap();

    // The relay kept the slow message although its reply came too late: SMTP cannot
    // tell a lost reply from a lost message, so a retry may deliver it twice (with
    // the same Message-ID). The connection it came on was never used again.
    let got = peer.messages();
    let ids: Vec<String> = got
        .iter()
        .map(|m| {
            let parsed = mailparse::parse_mail(&m.raw).unwrap();
            parsed.headers.get_first_value("X-Engage-Email-Id").unwrap()
        })
        .collect();
    assert_eq!(ids, ["eml_warm", "eml_slow", "eml_next"], "{got:?}");
    assert_ne!(got[1].connection, got[2].connection, "{got:?}");
}

#[tokio::test]
async fn a_relay_that_is_not_listening_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // The listener is dropped: nothing listens there now.
    let mut settings = SmtpSettings::new("127.0.0.1", SmtpSecurity::None);
    settings.port = port;
    let smtp = sender(settings);

    match smtp.send(&outgoing("eml_down", "zoe@example.com")).await {
        Err(SendError::Transient(why)) => {
            assert!(why.starts_with(&format!("127.0.0.1:{port}: ")), "{why}")
        }
        other => panic!("transient expected: {other:?}"),
    }
    assert!(matches!(smtp.check().await, Err(SendError::Transient(_))));
}

#[tokio::test]
async fn a_relay_that_never_answers_times_out_transiently() {
    // Accepts the connection and says nothing: no greeting ever comes.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut settings = SmtpSettings::new("127.0.0.1", SmtpSecurity::None);
    settings.port = port;
    settings.timeout = Duration::from_millis(500);
    let smtp = sender(settings);

    let started = Instant::now();
    match smtp.send(&outgoing("eml_slow", "zoe@example.com")).await {
        Err(SendError::Transient(why)) => assert!(why.contains("timed out"), "{why}"),
        other => panic!("transient expected: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    silent.abort();
}
