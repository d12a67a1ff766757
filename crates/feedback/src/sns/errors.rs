//! Why a URL, a message or a subscription confirmation was refused.

/// Why a URL in a message (the signing certificate's, or a subscription's) is not
/// one engage will request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("not a URL: {0}")]
    Invalid(String),
    #[error("scheme {0:?} is not https")]
    NotHttps(String),
    #[error("the URL carries user info")]
    UserInfo,
    #[error("the URL names port {0}")]
    Port(u16),
    #[error("host {0:?} is not an SNS host (sns.<region>.amazonaws.com[.cn])")]
    ForeignHost(String),
    #[error("the path is not /SimpleNotificationService-….pem")]
    NotPem,
}

/// Why a message was refused. Each reason is its own variant, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not an SNS message: {0}")]
    Malformed(String),
    #[error("field {0} is missing")]
    MissingField(&'static str),
    #[error("untrusted SigningCertURL: {0}")]
    CertUrl(UrlRefusal),
    #[error("topic {0:?} is not an expected topic")]
    TopicNotAllowed(String),
    #[error("timestamp {0:?} is not RFC 3339")]
    BadTimestamp(String),
    #[error("message is too old ({age_secs} s, at most {max_secs} s accepted)")]
    Expired { age_secs: i64, max_secs: u64 },
    #[error("message is dated {ahead_secs} s in the future")]
    FromTheFuture { ahead_secs: i64 },
    #[error("signature version {0:?} is not supported (1 or 2)")]
    UnsupportedSignatureVersion(String),
    #[error("signature is not base64")]
    SignatureEncoding,
    #[error("could not fetch the signing certificate {url}: {reason}")]
    CertFetch { url: String, reason: String },
    #[error("the signing certificate is not a PEM X.509 certificate: {0}")]
    CertParse(String),
    #[error("the signing certificate's key is not RSA")]
    CertNotRsa,
    #[error("the signing certificate is not valid now")]
    CertNotValidNow,
    #[error("the signature does not match the message")]
    BadSignature,
}

impl VerifyError {
    /// Whether the same message may verify later: only when the certificate could
    /// not be fetched. An HTTP endpoint answers these with a 5xx so SNS retries.
    pub fn is_transient(&self) -> bool {
        matches!(self, VerifyError::CertFetch { .. })
    }
}

/// Why [`Verifier::confirm`](super::Verifier::confirm) did not confirm a subscription.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("the message is not a SubscriptionConfirmation")]
    NotASubscriptionConfirmation,
    #[error("the message has no SubscribeURL")]
    MissingSubscribeUrl,
    #[error("untrusted SubscribeURL: {0}")]
    UntrustedUrl(UrlRefusal),
    #[error("confirming the subscription failed: {0}")]
    Request(String),
    #[error("SNS answered the confirmation with HTTP {0}")]
    Status(u16),
}
