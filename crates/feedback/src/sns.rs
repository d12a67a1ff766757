//! Amazon SNS HTTP/JSON messages and their verification.
//!
//! Anyone can POST to a public endpoint, so a message is believed only after
//! [`Verifier::verify`] has checked, in this order and without any network call for
//! a message it refuses on the way:
//!
//! 1. the `SigningCertURL` is `https`, on a host matching
//!    `^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`, with no user info, no port other
//!    than 443, and a path ending in `.pem`;
//! 2. the `TopicArn` is on the allow-list (when one is configured);
//! 3. the `Timestamp` is neither older than the maximum age nor far in the future;
//! 4. the `SignatureVersion` is `1` (SHA-1) or `2` (SHA-256) and the `Signature` is
//!    base64;
//!
//! then fetches the signing certificate (cached by URL, bounded, with a timeout, no
//! redirects), and checks the RSA PKCS#1 v1.5 signature over the string AWS signs
//! ([`string_to_sign`]) with the certificate's public key.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use regex::Regex;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;
use x509_cert::spki::ObjectIdentifier;

/// The hosts SNS signs from and sends confirmation links on.
static SNS_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$").expect("a valid pattern")
});

/// The path SNS serves its signing certificates at: one file at the root.
static SNS_CERT_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^/SimpleNotificationService-[A-Za-z0-9_-]+\.pem$").expect("a valid pattern")
});

/// `rsaEncryption` (RFC 8017): the only key type SNS signs with.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A signing certificate is a couple of KiB; anything much larger is not one.
const MAX_CERT_BYTES: usize = 64 * 1024;

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

/// Why [`Verifier::confirm`] did not confirm a subscription.
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

/// Checks `raw` is an https URL on an SNS host, without user info or a port of its
/// own; with `pem`, also that its path ends in `.pem`.
pub fn check_sns_url(raw: &str, pem: bool) -> Result<Url, UrlRefusal> {
    let url = Url::parse(raw).map_err(|e| UrlRefusal::Invalid(e.to_string()))?;
    if url.scheme() != "https" {
        return Err(UrlRefusal::NotHttps(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::UserInfo);
    }
    if let Some(port) = url.port() {
        return Err(UrlRefusal::Port(port));
    }
    // `domain()` is `None` for an IP address: never an SNS host.
    match url.domain() {
        Some(host) if SNS_HOST.is_match(host) => {}
        _ => {
            return Err(UrlRefusal::ForeignHost(
                url.host_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    if pem && !(SNS_CERT_PATH.is_match(url.path()) && url.query().is_none()) {
        return Err(UrlRefusal::NotPem);
    }
    Ok(url)
}

/// What a [`Verifier`] accepts.
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// The topics messages may come from. Empty: none, unless `allow_any_topic`.
    pub allowed_topic_arns: Vec<String>,
    /// Accept any topic whose message verifies: for tests only. Any AWS account can
    /// create a topic and sign messages for it, so this lets anyone report.
    pub allow_any_topic: bool,
    /// The oldest message accepted, by its `Timestamp`. Default one hour.
    pub max_age: Duration,
    /// How far in the future a `Timestamp` may be (clock skew). Default five minutes.
    pub max_future_skew: Duration,
    /// The limit on one certificate fetch or subscription confirmation. Default 5 s.
    pub fetch_timeout: Duration,
    /// How many signing certificates are kept, by URL. Default 32.
    pub cert_cache_capacity: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            allowed_topic_arns: Vec::new(),
            allow_any_topic: false,
            max_age: Duration::from_secs(3600),
            max_future_skew: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(5),
            cert_cache_capacity: 32,
        }
    }
}

/// A message whose signature verified. Only [`Verifier::verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified(SnsMessage);

impl Verified {
    pub fn message(&self) -> &SnsMessage {
        &self.0
    }

    pub fn into_message(self) -> SnsMessage {
        self.0
    }
}

/// A signing certificate's key, as used.
#[derive(Debug)]
struct SigningKey {
    /// PKCS#1 `RSAPublicKey`, DER (what ring takes).
    rsa_public_key: Vec<u8>,
    not_before: SystemTime,
    not_after: SystemTime,
}

/// Signing certificates by URL; first in, first out past the capacity. Each entry is
/// a cell, so concurrent messages signed with a new certificate fetch it once. A URL
/// is admitted (counted, and may push an older certificate out) only once its fetch
/// succeeded; a failed one is dropped, so messages naming made-up certificate URLs
/// cannot flush the certificates in use.
#[derive(Debug)]
struct CertCache {
    capacity: usize,
    cells: HashMap<String, Arc<OnceCell<Arc<SigningKey>>>>,
    /// The admitted URLs, oldest first.
    order: VecDeque<String>,
}

impl CertCache {
    fn cell(&mut self, url: &str) -> Arc<OnceCell<Arc<SigningKey>>> {
        self.cells
            .entry(url.to_owned())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone()
    }

    /// `url`'s fetch succeeded: it counts now, and the oldest go past the capacity.
    fn admit(&mut self, url: &str) {
        if self.order.iter().any(|u| u == url) {
            return;
        }
        while self.order.len() >= self.capacity.max(1) {
            match self.order.pop_front() {
                Some(old) => {
                    self.cells.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(url.to_owned());
    }

    /// `url`'s fetch failed: forget its cell (a later message may try again).
    fn reject(&mut self, url: &str) {
        if !self.order.iter().any(|u| u == url) {
            self.cells.remove(url);
        }
    }
}

/// Verifies SNS messages and confirms subscriptions. Cheap to share (`Arc`); its
/// certificate cache is shared by all callers.
#[derive(Debug)]
pub struct Verifier {
    config: VerifierConfig,
    client: reqwest::Client,
    cache: Mutex<CertCache>,
}

impl Verifier {
    /// The HTTP client settings a verifier uses: https only, no redirects (a
    /// redirect could lead off the checked host), the fetch timeout. Tests add
    /// `.resolve(..)` and `.add_root_certificate(..)` to this same builder.
    pub fn client_builder(config: &VerifierConfig) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.fetch_timeout)
            .timeout(config.fetch_timeout)
    }

    /// A verifier with its own client from [`Verifier::client_builder`].
    pub fn new(config: VerifierConfig) -> Result<Verifier, reqwest::Error> {
        let client = Verifier::client_builder(&config).build()?;
        Ok(Verifier::with_client(config, client))
    }

    /// A verifier over a given client. Whatever the client's own settings, every
    /// request carries the configured timeout and a response that arrived from
    /// another URL (a followed redirect) is refused.
    pub fn with_client(config: VerifierConfig, client: reqwest::Client) -> Verifier {
        let cache = Mutex::new(CertCache {
            capacity: config.cert_cache_capacity,
            cells: HashMap::new(),
            order: VecDeque::new(),
        });
        Verifier {
            config,
            client,
            cache,
        }
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Parses and verifies the body of an SNS POST (or of an SQS message holding an
    /// SNS envelope).
    pub async fn verify_json(&self, body: &str) -> Result<Verified, VerifyError> {
        self.verify(SnsMessage::from_json(body)?).await
    }

    /// Verifies one message; see the module docs for the checks and their order.
    pub async fn verify(&self, msg: SnsMessage) -> Result<Verified, VerifyError> {
        let cert_url = check_sns_url(&msg.signing_cert_url, true).map_err(VerifyError::CertUrl)?;
        let listed = self.config.allowed_topic_arns.contains(&msg.topic_arn);
        if !(listed || self.config.allow_any_topic) {
            return Err(VerifyError::TopicNotAllowed(msg.topic_arn));
        }
        self.check_timestamp(&msg.timestamp)?;
        let algorithm: &'static dyn ring::signature::VerificationAlgorithm =
            match msg.signature_version.as_str() {
                "1" => &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                "2" => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                other => return Err(VerifyError::UnsupportedSignatureVersion(other.to_owned())),
            };
        let signature = base64::engine::general_purpose::STANDARD
            .decode(msg.signature.trim())
            .map_err(|_| VerifyError::SignatureEncoding)?;
        let signed = string_to_sign(&msg)?;

        let key = self.signing_key(&cert_url).await?;
        let now = SystemTime::now();
        if now < key.not_before || now > key.not_after {
            return Err(VerifyError::CertNotValidNow);
        }
        ring::signature::UnparsedPublicKey::new(algorithm, &key.rsa_public_key)
            .verify(signed.as_bytes(), &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        Ok(Verified(msg))
    }

    fn check_timestamp(&self, timestamp: &str) -> Result<(), VerifyError> {
        let at: DateTime<Utc> = DateTime::parse_from_rfc3339(timestamp)
            .map_err(|_| VerifyError::BadTimestamp(timestamp.to_owned()))?
            .with_timezone(&Utc);
        let age = Utc::now().signed_duration_since(at);
        let max_age =
            chrono::Duration::from_std(self.config.max_age).unwrap_or(chrono::Duration::MAX);
        let skew = chrono::Duration::from_std(self.config.max_future_skew)
            .unwrap_or(chrono::Duration::MAX);
        if age > max_age {
            return Err(VerifyError::Expired {
                age_secs: age.num_seconds(),
                max_secs: self.config.max_age.as_secs(),
            });
        }
        if -age > skew {
            return Err(VerifyError::FromTheFuture {
                ahead_secs: (-age).num_seconds(),
            });
        }
        Ok(())
    }

    async fn signing_key(&self, url: &Url) -> Result<Arc<SigningKey>, VerifyError> {
        let cell = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .cell(url.as_str());
        let key = cell
            .get_or_try_init(|| self.fetch_signing_key(url))
            .await
            .cloned();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match &key {
            Ok(_) => cache.admit(url.as_str()),
            Err(_) => cache.reject(url.as_str()),
        }
        key
    }

    async fn fetch_signing_key(&self, url: &Url) -> Result<Arc<SigningKey>, VerifyError> {
        let fetch_err = |reason: String| VerifyError::CertFetch {
            url: url.to_string(),
            reason,
        };
        tracing::debug!(%url, "fetching SNS signing certificate");
        let mut resp = self
            .client
            .get(url.clone())
            .timeout(self.config.fetch_timeout)
            .send()
            .await
            .map_err(|e| fetch_err(error_chain(&e)))?;
        if resp.url() != url {
            return Err(fetch_err(format!(
                "answered from another URL: {}",
                resp.url()
            )));
        }
        if !resp.status().is_success() {
            return Err(fetch_err(format!("HTTP {}", resp.status())));
        }
        let mut pem = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fetch_err(error_chain(&e)))? {
            if pem.len() + chunk.len() > MAX_CERT_BYTES {
                return Err(fetch_err(format!("larger than {MAX_CERT_BYTES} bytes")));
            }
            pem.extend_from_slice(&chunk);
        }
        let cert =
            Certificate::from_pem(&pem).map_err(|e| VerifyError::CertParse(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let spki = &tbs.subject_public_key_info;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(VerifyError::CertNotRsa);
        }
        let rsa_public_key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| {
                VerifyError::CertParse("public key bit string is not whole bytes".into())
            })?
            .to_vec();
        Ok(Arc::new(SigningKey {
            rsa_public_key,
            not_before: tbs.validity.not_before.to_system_time(),
            not_after: tbs.validity.not_after.to_system_time(),
        }))
    }

    /// Confirms a verified `SubscriptionConfirmation` by GETting its `SubscribeURL`,
    /// only when that URL is https on an SNS host. Confirm only subscriptions to
    /// expected topics: with no topic allow-list, check `message().topic_arn` first.
    pub async fn confirm(&self, msg: &Verified) -> Result<(), ConfirmError> {
        let msg = msg.message();
        if msg.kind != MessageType::SubscriptionConfirmation {
            return Err(ConfirmError::NotASubscriptionConfirmation);
        }
        let raw = msg
            .subscribe_url
            .as_deref()
            .ok_or(ConfirmError::MissingSubscribeUrl)?;
        let url = check_sns_url(raw, false).map_err(ConfirmError::UntrustedUrl)?;
        let resp = self
            .client
            .get(url.clone())
            .timeout(self.config.fetch_timeout)
            .send()
            .await
            .map_err(|e| ConfirmError::Request(error_chain(&e)))?;
        if resp.url() != &url {
            return Err(ConfirmError::Request(format!(
                "answered from another URL: {}",
                resp.url()
            )));
        }
        if !resp.status().is_success() {
            return Err(ConfirmError::Status(resp.status().as_u16()));
        }
        tracing::info!(topic_arn = %msg.topic_arn, "SNS subscription confirmed");
        Ok(())
    }
}

/// An error and its causes on one line (reqwest's own message names only the URL).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn sns_urls_are_checked_by_scheme_host_port_userinfo_and_path() {
        let ok = [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
        ];
        for url in ok {
            assert!(check_sns_url(url, true).is_ok(), "{url}");
        }
        let refused = [
            (
                "http://sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::NotHttps("http".into()),
            ),
            (
                "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
                UrlRefusal::ForeignHost("sns.us-east-1.amazonaws.com.evil.com".into()),
            ),
            (
                "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::ForeignHost("evil.com".into()),
            ),
            (
                "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
                UrlRefusal::UserInfo,
            ),
            (
                "https://a:b@sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::UserInfo,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/x.pem",
                UrlRefusal::Port(8443),
            ),
            (
                "https://sns.us-east-1.amazonaws.com./x.pem",
                UrlRefusal::ForeignHost("sns.us-east-1.amazonaws.com.".into()),
            ),
            (
                "https://sns.amazonaws.com/x.pem",
                UrlRefusal::ForeignHost("sns.amazonaws.com".into()),
            ),
            (
                "https://127.0.0.1/x.pem",
                UrlRefusal::ForeignHost("127.0.0.1".into()),
            ),
            (
                "https://sns.us-east-1.amazonaws.com/x.pem.txt",
                UrlRefusal::NotPem,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/x.txt?a=.pem",
                UrlRefusal::NotPem,
            ),
            // Any other file SNS's host might serve is not a signing certificate.
            (
                "https://sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::NotPem,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/a/SimpleNotificationService-abc.pem",
                UrlRefusal::NotPem,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
                UrlRefusal::NotPem,
            ),
        ];
        for (url, why) in refused {
            assert_eq!(check_sns_url(url, true).unwrap_err(), why, "{url}");
        }
        assert!(matches!(
            check_sns_url("not a url", true),
            Err(UrlRefusal::Invalid(_))
        ));
        // A subscription link is not a certificate: no .pem needed.
        assert!(
            check_sns_url(
                "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn cache_is_bounded_first_in_first_out_and_admits_only_fetched_certificates() {
        let mut cache = CertCache {
            capacity: 2,
            cells: HashMap::new(),
            order: VecDeque::new(),
        };
        let a = cache.cell("a");
        assert!(Arc::ptr_eq(&a, &cache.cell("a")));
        cache.admit("a");
        cache.cell("b");
        cache.admit("b");
        // Failed fetches push nothing out.
        for bogus in ["x", "y", "z"] {
            cache.cell(bogus);
            cache.reject(bogus);
        }
        assert_eq!(cache.cells.len(), 2);
        assert!(Arc::ptr_eq(&a, &cache.cell("a")), "a is still cached");
        cache.cell("c");
        cache.admit("c");
        assert_eq!(cache.cells.len(), 2);
        assert!(!cache.cells.contains_key("a"));
        assert!(!Arc::ptr_eq(&a, &cache.cell("a")));
    }

    #[test]
    fn the_sns_docs_example_parses() {
        let body = include_str!("../tests/fixtures/sns-notification.json");
        let msg = SnsMessage::from_json(body).unwrap();
        assert_eq!(msg.kind, MessageType::Notification);
        assert_eq!(msg.subject.as_deref(), Some("My First Message"));
        assert_eq!(msg.signature_version, "1");
        assert!(check_sns_url(&msg.signing_cert_url, true).is_ok());
    }
}
