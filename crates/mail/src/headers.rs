//! The headers lettre does not know: RFC 2369 / RFC 8058 unsubscribe headers and
//! engage's own tracing headers. Each is a small newtype implementing lettre's
//! `Header`, so values go through lettre's encoder (folding, RFC 2047) like any other.

use lettre::message::header::{Header, HeaderName, HeaderValue};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

macro_rules! text_header {
    ($(#[$doc:meta])* $ty:ident, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $ty(pub String);

        impl Header for $ty {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, BoxError> {
                Ok(Self(s.to_string()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(
    /// `List-Unsubscribe: <https://…>, <mailto:…>` (RFC 2369).
    ListUnsubscribe,
    "List-Unsubscribe"
);
text_header!(
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    ListUnsubscribePost,
    "List-Unsubscribe-Post"
);
text_header!(
    /// `List-Id: <{campaign}.{domain}>` (RFC 2919): which of the sender's lists an
    /// email belongs to, for filters and feedback loops.
    ListId,
    "List-Id"
);
text_header!(
    /// The ledger id of the email, so a bounce or a complaint can be traced back.
    XEngageEmailId,
    "X-Engage-Email-Id"
);
text_header!(
    /// The campaign that sent the email.
    XEngageCampaign,
    "X-Engage-Campaign"
);

impl ListId {
    /// The list of `campaign` at `domain`. A list label is a dot-atom; campaign names
    /// are configurable, so anything but letters, digits, `-` and `_` becomes `-`.
    pub fn for_campaign(campaign: &str, domain: &str) -> Self {
        let label: String = campaign
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let label = if label.is_empty() {
            "engage".into()
        } else {
            label
        };
        Self(format!("<{label}.{domain}>"))
    }
}

impl ListUnsubscribePost {
    /// The only value RFC 8058 defines.
    pub fn one_click() -> Self {
        Self("List-Unsubscribe=One-Click".to_string())
    }
}
