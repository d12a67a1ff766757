//! Building the RFC 5322 message for an engagement email.
//!
//! The message is a pure function of the recorded email: the `Date` is when the email
//! was due (its schedule, else its creation), the `Message-ID` and the MIME boundary
//! derive from the email id. Sending the same email twice therefore yields the same
//! bytes, and a resend is recognisable by its `Message-ID`.
//!
//! The HTML part wraps `body_html`, which engage rendered itself from the text (never
//! HTML from a generator); only the footer and the hidden preheader are added here.

use engage_core::compose::escape_html;
use engage_core::ports::OutgoingEmail;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use std::time::SystemTime;

use crate::headers::{
    ListId, ListUnsubscribe, ListUnsubscribePost, XEngageCampaign, XEngageEmailId,
};

/// Why a message could not be built. Each is permanent: sending again will not help.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid sender `{from}`: {cause}")]
    From {
        from: String,
        #[source]
        cause: lettre::address::AddressError,
    },
    /// The recipient's address (not shown: it is personal data).
    #[error("invalid recipient address: {0}")]
    To(#[source] lettre::address::AddressError),
    #[error("unsafe unsubscribe link: {0}")]
    UnsubscribeLink(&'static str),
    #[error(transparent)]
    Message(#[from] lettre::error::Error),
}

/// The complete message for `email`: `multipart/alternative` (text, then HTML) with the
/// unsubscribe footer in both parts, `List-Unsubscribe` (https, and mailto when a read
/// mailbox is configured), `List-Unsubscribe-Post: List-Unsubscribe=One-Click`,
/// `List-Id`, and the `X-Engage-*` headers.
pub fn build_message(email: &OutgoingEmail) -> Result<Message, BuildError> {
    let from: Mailbox = email.from.parse().map_err(|cause| BuildError::From {
        from: email.from.clone(),
        cause,
    })?;
    let to_address = email.to.as_str().parse().map_err(BuildError::To)?;
    let to_name = email.to_name.trim();
    let to = Mailbox::new(
        (!to_name.is_empty()).then(|| to_name.to_string()),
        to_address,
    );
    let links: Vec<&String> = std::iter::once(&email.unsubscribe_url)
        .chain(&email.unsubscribe_mailto)
        .collect();
    for link in &links {
        check_link(link)?;
    }
    let list_unsubscribe = links
        .iter()
        .map(|l| format!("<{l}>"))
        .collect::<Vec<_>>()
        .join(", ");

    let record = &email.email;
    let date = record.scheduled_for.unwrap_or(record.created_at);
    let id = safe_id(record.id.as_str());
    let boundary: String = format!("=_engage_{id}")
        .chars()
        .map(|c| if c == '%' { '.' } else { c })
        .take(70)
        .collect();

    let part = |content_type: ContentType, body: String| {
        // Quoted-printable: any text is valid in it, and it never contains "=_", so
        // the boundary cannot occur in a part.
        SinglePart::builder()
            .header(content_type)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body)
    };
    let body = MultiPart::alternative()
        .boundary(boundary)
        .singlepart(part(ContentType::TEXT_PLAIN, text_body(email)))
        .singlepart(part(ContentType::TEXT_HTML, html_document(email)));

    let list_id = ListId::for_campaign(&record.campaign, from.email.domain());
    let message = Message::builder()
        .message_id(Some(format!("<{}>", message_id_for(&id, &from))))
        .date(SystemTime::from(date))
        .from(from)
        .to(to)
        .subject(record.subject.clone())
        .header(ListUnsubscribe(list_unsubscribe))
        .header(ListUnsubscribePost::one_click())
        .header(list_id)
        .header(XEngageEmailId(record.id.to_string()))
        .header(XEngageCampaign(record.campaign.clone()))
        .multipart(body)?;
    Ok(message)
}

/// The `Message-ID` `build_message` gives `email`, without angle brackets:
/// `{email_id}@{domain of From}`. This is what a sender returns in its receipt.
pub fn message_id(email: &OutgoingEmail) -> Result<String, BuildError> {
    let from: Mailbox = email.from.parse().map_err(|cause| BuildError::From {
        from: email.from.clone(),
        cause,
    })?;
    Ok(message_id_for(&safe_id(email.email.id.as_str()), &from))
}

fn message_id_for(safe_id: &str, from: &Mailbox) -> String {
    format!("{safe_id}@{}", from.email.domain())
}

/// The text part: the body and a footer with the unsubscribe link.
pub fn text_body(email: &OutgoingEmail) -> String {
    format!(
        "{}\n\n-- \nYou are receiving this email because you signed up for emails from \
         your styling team.\nUnsubscribe: {}\n",
        email.email.body_text.trim_end(),
        email.unsubscribe_url
    )
}

/// The HTML part: a minimal document with the preheader hidden at the top (inbox
/// previews show it), the rendered body and a footer with the unsubscribe link.
pub fn html_document(email: &OutgoingEmail) -> String {
    let record = &email.email;
    format!(
        "<!DOCTYPE html>\n\
         <html lang=\"en\">\n\
         <head>\n\
         <meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n\
         </head>\n\
         <body>\n\
         <span style=\"display:none;max-height:0;max-width:0;overflow:hidden;opacity:0;\
         mso-hide:all\">{preheader}</span>\n\
         {body}\n\
         <hr>\n\
         <p style=\"font-size:12px;color:#666666\">You are receiving this email because you \
         signed up for emails from your styling team. \
         <a href=\"{url}\">Unsubscribe</a></p>\n\
         </body>\n\
         </html>\n",
        title = escape_html(&record.subject),
        preheader = escape_html(&record.preheader),
        body = record.body_html,
        url = escape_html(&email.unsubscribe_url),
    )
}

/// Links go into `<…>` in a header: no whitespace, no angle brackets, ASCII only.
fn check_link(link: &str) -> Result<(), BuildError> {
    if link.is_empty() {
        return Err(BuildError::UnsubscribeLink("empty"));
    }
    if !link
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
    {
        return Err(BuildError::UnsubscribeLink(
            "only printable ASCII without `<` or `>` fits in the header",
        ));
    }
    Ok(())
}

/// Email ids are opaque; this keeps `[A-Za-z0-9_-]` and percent-encodes every other
/// byte, giving a string that is a valid file name (no `/`, no `..`) and a valid
/// `Message-ID` left part, and that maps distinct ids to distinct strings.
pub(crate) fn safe_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The email id a `Message-ID` of ours names (`{safe id}@{domain}`, angle brackets or
/// not): what provider feedback is matched by. `None` for a Message-ID engage did not
/// make.
pub fn email_id_of(message_id: &str) -> Option<String> {
    let mid = message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let (left, _) = mid.rsplit_once('@')?;
    let mut bytes = Vec::with_capacity(left.len());
    let mut it = left.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let hex = [it.next()?, it.next()?];
                bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => bytes.push(b),
            _ => return None,
        }
    }
    let id = String::from_utf8(bytes).ok()?;
    (!id.is_empty() && safe_id(&id) == left).then_some(id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use engage_core::client::EmailAddress;
    use engage_core::compose::render_html;
    use engage_core::email::{Email, EmailStatus};
    use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
    use mailparse::MailHeaderMap;

    /// An outgoing email to "Zoë Müller" with a non-ASCII subject.
    pub(crate) fn outgoing(id: &str) -> OutgoingEmail {
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
            to: EmailAddress::parse("zoe@example.com").unwrap(),
            to_name: "Zoë Müller".into(),
            from: "Your styling team <styling@engage.localhost>".into(),
            unsubscribe_url: "https://engage.example/u/tok?a=1&b=2".into(),
            unsubscribe_mailto: Some(
                "mailto:unsubscribe@engage.example?subject=unsubscribe%20tok".into(),
            ),
        }
    }

    #[test]
    fn message_has_both_parts_and_the_unsubscribe_headers() {
        let raw = build_message(&outgoing("eml_abc")).unwrap().formatted();
        let raw_text = String::from_utf8(raw.clone()).unwrap();
        assert!(raw_text.contains("Subject: =?utf-8?"), "{raw_text}");
        assert!(raw_text.contains("To: =?utf-8?"), "{raw_text}");

        let m = mailparse::parse_mail(&raw).unwrap();
        let h = &m.headers;
        assert_eq!(h.get_first_value("Subject").unwrap(), "Voilà, Zoë");
        assert_eq!(
            h.get_first_value("To").unwrap(),
            "Zoë Müller <zoe@example.com>"
        );
        assert_eq!(
            h.get_first_value("From").unwrap(),
            "\"Your styling team\" <styling@engage.localhost>"
        );
        assert_eq!(
            h.get_first_value("Message-ID").unwrap(),
            "<eml_abc@engage.localhost>"
        );
        assert_eq!(
            h.get_first_value("Date").unwrap(),
            "Tue, 04 Mar 2025 10:30:00 +0000"
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
        assert_eq!(
            h.get_first_value("List-Id").unwrap(),
            "<welcome.engage.localhost>"
        );
        assert_eq!(h.get_first_value("X-Engage-Email-Id").unwrap(), "eml_abc");
        assert_eq!(h.get_first_value("X-Engage-Campaign").unwrap(), "welcome");
        assert_eq!(m.ctype.mimetype, "multipart/alternative");

        assert_eq!(m.subparts.len(), 2);
        let (text, html) = (&m.subparts[0], &m.subparts[1]);
        assert_eq!(text.ctype.mimetype, "text/plain");
        assert_eq!(html.ctype.mimetype, "text/html");
        let text = text.get_body().unwrap();
        assert!(text.starts_with("Hi Zoë,\r\n\r\nYour stylist"), "{text}");
        assert!(text.contains("Unsubscribe: https://engage.example/u/tok?a=1&b=2"));
        let html = html.get_body().unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
        assert!(html.contains("<p>Hi Zoë,</p>"));
        assert!(html.contains("pieces &lt;for&gt; you &amp; more."));
        assert!(html.contains(">Your first Fix, explained</span>"));
        assert!(html.contains("<a href=\"https://engage.example/u/tok?a=1&amp;b=2\">"));
        assert!(html.trim_end().ends_with("</html>"));
    }

    #[test]
    fn without_a_read_mailbox_list_unsubscribe_has_only_the_https_link() {
        let mut email = outgoing("eml_abc");
        email.unsubscribe_mailto = None;
        email.email.campaign = "win back!".into();
        let raw = build_message(&email).unwrap().formatted();
        let m = mailparse::parse_mail(&raw).unwrap();
        assert_eq!(
            m.headers.get_first_value("List-Unsubscribe").unwrap(),
            "<https://engage.example/u/tok?a=1&b=2>"
        );
        assert_eq!(
            m.headers.get_first_value("List-Id").unwrap(),
            "<win-back-.engage.localhost>"
        );
    }

    #[test]
    fn the_same_email_builds_the_same_bytes() {
        let a = build_message(&outgoing("eml_abc")).unwrap().formatted();
        let b = build_message(&outgoing("eml_abc")).unwrap().formatted();
        assert_eq!(a, b);
        assert_eq!(
            message_id(&outgoing("eml_abc")).unwrap(),
            "eml_abc@engage.localhost"
        );
    }

    #[test]
    fn a_scheduled_email_is_dated_when_it_was_due() {
        let mut e = outgoing("eml_abc");
        e.email.scheduled_for = Some(Utc.with_ymd_and_hms(2025, 3, 5, 8, 0, 0).unwrap());
        let raw = build_message(&e).unwrap().formatted();
        let m = mailparse::parse_mail(&raw).unwrap();
        assert_eq!(
            m.headers.get_first_value("Date").unwrap(),
            "Wed, 05 Mar 2025 08:00:00 +0000"
        );
    }

    #[test]
    fn bad_senders_and_links_are_refused() {
        let mut e = outgoing("eml_abc");
        e.from = "not an address".into();
        assert!(matches!(build_message(&e), Err(BuildError::From { .. })));

        let mut e = outgoing("eml_abc");
        e.unsubscribe_url = "https://x/u/a>\r\nBcc: evil@example.com".into();
        assert!(matches!(
            build_message(&e),
            Err(BuildError::UnsubscribeLink(_))
        ));
    }

    #[test]
    fn odd_ids_become_safe_names() {
        assert_eq!(safe_id("eml_0a-Z"), "eml_0a-Z");
        assert_eq!(safe_id("../x/é"), "%2E%2E%2Fx%2F%C3%A9");
        let raw = build_message(&outgoing("a.b/c")).unwrap().formatted();
        let m = mailparse::parse_mail(&raw).unwrap();
        assert_eq!(
            m.headers.get_first_value("Message-ID").unwrap(),
            "<a%2Eb%2Fc@engage.localhost>"
        );
        assert_eq!(m.subparts.len(), 2);
    }

    #[test]
    fn a_message_id_names_its_email_and_a_foreign_one_nothing() {
        for id in ["eml_42_welcome", "odd id/../x%", "é"] {
            let mid = format!("<{}@example.com>", safe_id(id));
            assert_eq!(email_id_of(&mid).as_deref(), Some(id));
        }
        assert_eq!(
            email_id_of("0100018c-abc@email.amazonses.com").as_deref(),
            Some("0100018c-abc")
        );
        assert_eq!(email_id_of("no-at-sign"), None);
        assert_eq!(email_id_of("a.b@example.com"), None, "not one of ours");
        assert_eq!(email_id_of("%4@example.com"), None);
    }
}
