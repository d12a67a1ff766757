//! The [`Verifier`]: its config, the checks a message passes (in the order the module
//! docs give), and subscription confirmation.

use super::certs::CertCache;
use super::url::check_sns_url;
use super::{ConfirmError, MessageType, SnsMessage, VerifyError, string_to_sign};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use chrono::{DateTime, Utc};

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
/// Verifies SNS messages and confirms subscriptions. Cheap to share (`Arc`); its
/// certificate cache is shared by all callers.
#[derive(Debug)]
pub struct Verifier {
    pub(super) config: VerifierConfig,
    pub(super) client: reqwest::Client,
    pub(super) cache: Mutex<CertCache>,
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
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
