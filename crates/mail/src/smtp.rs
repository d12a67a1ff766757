//! The SMTP sender: hands each message to a relay (a provider's submission server,
//! a company relay, or a local MTA) over a pool of SMTP connections.
//!
//! It speaks SMTP through [lettre], the maintained Rust mail crate that already
//! builds engage's messages: one library for the message and its transport, an async
//! client on tokio with connection pooling, STARTTLS and implicit TLS over rustls,
//! AUTH PLAIN/LOGIN, and typed replies (the code of a refusal and its text). Writing
//! an SMTP client by hand would mean re-doing all of that, and the protocol's edge
//! cases (dot-stuffing, multi-line replies, 8BITMIME, TLS downgrade) are where
//! hand-written clients go wrong.
//!
//! What it sends is exactly [`build_message`]'s message: its envelope (MAIL FROM the
//! `From` address, RCPT TO the `To` address) and its bytes, so the relay receives what
//! the outbox would have written. The receipt's `message_id` is the message's
//! `Message-ID` without angle brackets, as for every sender.
//!
//! Outcomes: a `2xx` to the message is a [`SendReceipt`]. A `4xx` reply (421, 450,
//! 451, 452, 454 …) and any trouble reaching the relay (refused or dropped
//! connection, TLS failure, timeout) are [`SendError::Transient`]; a `5xx` reply is
//! [`SendError::Permanent`]. Either carries the server's reply, code first:
//! `"550 5.1.1 User unknown"`. A `5xx` during the session's set-up counts too, so a
//! wrong password (`535`) fails the email for good.
//!
//! Concurrency: at most `pool_size` messages are in flight at once, across all
//! callers and clones, each on its own connection; up to `pool_size` connections
//! are kept for reuse (closed after a minute idle). lettre's pool alone does not
//! bound this (its `max_size` caps the *idle* connections it keeps, and opens more
//! when asked to), so the sender holds a semaphore of the same size. lettre hands a
//! connection back to its pool from a task of its own, so now and then a message
//! opens one more connection while another is on its way back (lettre closes the
//! spare when its pool is full): in 50-message batches, one or two connections more
//! than `pool_size` were open for a moment.
//!
//! Timeouts: lettre's async client times out only the TCP connect; a relay that
//! accepts and then says nothing would hold a send forever. So the sender bounds
//! each message's whole exchange (connection, greeting, TLS, AUTH, the transaction)
//! by `timeout`. A connection abandoned mid-command must never be reused (its late
//! reply would answer the next command), and lettre would put it back in its pool:
//! after a timeout the sender therefore starts a fresh pool and closes the old one.

use async_trait::async_trait;
use engage_core::ports::{MailSender, OutgoingEmail, SendError, SendReceipt};
use futures_util::stream::{self, StreamExt};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, AsyncSmtpTransportBuilder, PoolConfig};
use lettre::{AsyncTransport, Tokio1Executor};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::message::{build_message, message_id};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text throughout: only for a relay on this host or a trusted network.
    None,
    /// Plain text, then `STARTTLS`, which is required: a server that does not offer
    /// it is an error, never a fallback to plain text. Usually port 587.
    StartTls,
    /// TLS from the first byte (implicit TLS, "SMTPS"). Usually port 465.
    Tls,
}

impl SmtpSecurity {
    /// The usual port: 25, 587 or 465.
    pub fn default_port(self) -> u16 {
        match self {
            SmtpSecurity::None => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpSecurity::None => "none",
            SmtpSecurity::StartTls => "starttls",
            SmtpSecurity::Tls => "tls",
        }
    }
}

impl fmt::Display for SmtpSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SmtpSecurity {
    type Err = SmtpConfigError;

    /// `none`, `starttls` or `tls` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(SmtpSecurity::None),
            "starttls" => Ok(SmtpSecurity::StartTls),
            "tls" => Ok(SmtpSecurity::Tls),
            _ => Err(SmtpConfigError::Security(s.to_string())),
        }
    }
}

/// Where and how to reach the relay.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// For `AUTH` (PLAIN or LOGIN, whichever the server offers); with `password`.
    pub username: Option<String>,
    /// The password itself: the caller reads it from the environment or a file.
    pub password: Option<String>,
    /// Messages in flight at once, each on its own connection, and connections kept
    /// open for reuse.
    pub pool_size: u32,
    /// The longest one message may take: taking or opening a connection (TCP,
    /// greeting, TLS, `EHLO`, `AUTH`) and its whole transaction, up to the reply to
    /// its data.
    pub timeout: Duration,
    /// A PEM root certificate trusted besides the public roots (a private relay's
    /// CA, or a test CA).
    pub extra_root_pem: Option<Vec<u8>>,
    /// The name said in `EHLO`; the machine's host name when `None`.
    pub hello_name: Option<String>,
}

impl SmtpSettings {
    /// `host` on `security`'s usual port, without credentials, 4 connections and a
    /// 30-second timeout.
    pub fn new(host: impl Into<String>, security: SmtpSecurity) -> Self {
        Self {
            host: host.into(),
            port: security.default_port(),
            security,
            username: None,
            password: None,
            pool_size: 4,
            timeout: Duration::from_secs(30),
            extra_root_pem: None,
            hello_name: None,
        }
    }

    /// `host:port`, as errors name the relay.
    pub fn relay(&self) -> String {
        relay_name(self.host.trim(), self.port)
    }
}

impl fmt::Debug for SmtpSettings {
    /// Everything but the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .field("extra_root_pem", &self.extra_root_pem.is_some())
            .field("hello_name", &self.hello_name)
            .finish()
    }
}

/// Settings that cannot make a working sender.
#[derive(Debug, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("unknown SMTP security `{0}`: use `none`, `starttls` or `tls`")]
    Security(String),
    #[error("the SMTP host is empty")]
    NoHost,
    #[error("the SMTP pool size must be at least 1")]
    PoolSize,
    #[error("an SMTP username needs a password, and a password a username")]
    Credentials,
    #[error(
        "refusing to send the SMTP password in plain text to {0}: use security `starttls` or `tls`"
    )]
    PlaintextAuth(String),
    #[error("the extra SMTP root certificate is not a PEM certificate")]
    RootCertificate,
    #[error("SMTP TLS settings: {0}")]
    Tls(#[source] lettre::transport::smtp::Error),
    /// lettre's connection pool starts its clean-up task on the current runtime.
    #[error("the SMTP sender must be made inside a tokio runtime")]
    NoRuntime,
}

/// Sends each message to an SMTP relay.
#[derive(Clone)]
pub struct SmtpSender {
    /// Makes a transport (a pool of connections) when the current one is retired.
    builder: AsyncSmtpTransportBuilder,
    pool: Arc<RwLock<Pool>>,
    /// One permit per message in flight; `pool_size` of them.
    in_flight: Arc<Semaphore>,
    pool_size: usize,
    timeout: Duration,
    relay: String,
    security: SmtpSecurity,
}

/// The transport in use, and how many were retired before it.
struct Pool {
    generation: u64,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSender")
            .field("relay", &self.relay)
            .field("security", &self.security)
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl SmtpSender {
    /// A sender for `settings`. Connects lazily: the first message opens the first
    /// connection (see [`SmtpSender::check`] to try the relay at start-up). Must be
    /// called inside a tokio runtime, where the connection pool's clean-up task runs
    /// (idle connections are closed after a minute).
    pub fn new(settings: SmtpSettings) -> Result<Self, SmtpConfigError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SmtpConfigError::NoRuntime);
        }
        let host = settings.host.trim().to_string();
        if host.is_empty() {
            return Err(SmtpConfigError::NoHost);
        }
        if settings.pool_size == 0 {
            return Err(SmtpConfigError::PoolSize);
        }
        let credentials = match (settings.username, settings.password) {
            (Some(user), Some(password)) => Some(Credentials::new(user, password)),
            (None, None) => None,
            _ => return Err(SmtpConfigError::Credentials),
        };
        let relay = relay_name(&host, settings.port);
        if credentials.is_some() && settings.security == SmtpSecurity::None && !is_loopback(&host) {
            return Err(SmtpConfigError::PlaintextAuth(relay));
        }

        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(settings.port)
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(settings.pool_size));
        if settings.security != SmtpSecurity::None {
            let mut tls = TlsParameters::builder(host);
            if let Some(pem) = &settings.extra_root_pem {
                // lettre takes a PEM without any certificate as an empty list.
                if !String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----") {
                    return Err(SmtpConfigError::RootCertificate);
                }
                let cert =
                    Certificate::from_pem(pem).map_err(|_| SmtpConfigError::RootCertificate)?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls.build_rustls().map_err(SmtpConfigError::Tls)?;
            builder = builder.tls(match settings.security {
                SmtpSecurity::StartTls => Tls::Required(tls),
                _ => Tls::Wrapper(tls),
            });
        }
        if let Some(credentials) = credentials {
            builder = builder
                .credentials(credentials)
                .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        }
        if let Some(name) = settings.hello_name {
            builder = builder.hello_name(ClientId::Domain(name));
        }
        let pool_size = settings.pool_size as usize;
        Ok(Self {
            pool: Arc::new(RwLock::new(Pool {
                generation: 0,
                transport: builder.clone().build(),
            })),
            builder,
            in_flight: Arc::new(Semaphore::new(pool_size)),
            pool_size,
            timeout: settings.timeout,
            relay,
            security: settings.security,
        })
    }

    /// The transport to use now, and its generation.
    fn transport(&self) -> (u64, AsyncSmtpTransport<Tokio1Executor>) {
        let pool = self.pool.read().unwrap_or_else(|p| p.into_inner());
        (pool.generation, pool.transport.clone())
    }

    /// Puts a fresh transport in place of the one of `generation`, and returns that
    /// one; `None` when it was replaced already.
    fn replace(&self, generation: u64) -> Option<AsyncSmtpTransport<Tokio1Executor>> {
        let mut pool = self.pool.write().unwrap_or_else(|p| p.into_inner());
        if pool.generation != generation {
            return None;
        }
        pool.generation += 1;
        Some(std::mem::replace(
            &mut pool.transport,
            self.builder.clone().build(),
        ))
    }

    /// Closes `transport`'s connections, waiting at most `timeout` (lettre's `QUIT`
    /// waits for its reply without a limit).
    async fn close(transport: AsyncSmtpTransport<Tokio1Executor>, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, transport.shutdown()).await;
    }

    /// After a timeout: retires the transport of `generation`, closing its
    /// connections in the background.
    fn retire(&self, generation: u64) {
        if let Some(old) = self.replace(generation) {
            tracing::debug!(relay = %self.relay, "new SMTP connection pool after a timeout");
            tokio::spawn(Self::close(old, self.timeout));
        }
    }

    fn timed_out(&self) -> SendError {
        SendError::Transient(format!(
            "{}: timed out after {} ms",
            self.relay,
            self.timeout.as_millis()
        ))
    }

    /// `host:port` of the relay.
    pub fn relay(&self) -> &str {
        &self.relay
    }

    /// Connects (or takes a pooled connection), says `NOOP`, and keeps the
    /// connection: whether the relay is reachable, the TLS handshake passes and the
    /// credentials are accepted.
    pub async fn check(&self) -> Result<(), SendError> {
        let _permit = self.permit().await?;
        let (generation, transport) = self.transport();
        match tokio::time::timeout(self.timeout, transport.test_connection()).await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) => Err(SendError::Transient(format!(
                "{}: the connection does not answer NOOP",
                self.relay
            ))),
            Ok(Err(e)) => Err(self.classify(&e)),
            Err(_) => {
                self.retire(generation);
                Err(self.timed_out())
            }
        }
    }

    /// Closes the pooled connections (`QUIT`, within `timeout`); later sends open new
    /// ones.
    pub async fn shutdown(&self) {
        let (generation, _) = self.transport();
        if let Some(old) = self.replace(generation) {
            Self::close(old, self.timeout).await;
        }
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, SendError> {
        self.in_flight
            .acquire()
            .await
            .map_err(|_| SendError::Transient("the SMTP sender is closed".into()))
    }

    /// The error for a failed exchange with the relay.
    fn classify(&self, e: &lettre::transport::smtp::Error) -> SendError {
        // A reply: lettre keeps its code apart, and the reply's text (every line,
        // the enhanced status code once) as the error's source.
        if let Some(code) = e.status() {
            let text = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_default();
            let reply = format!("{code} {text}").trim_end().to_string();
            return if e.is_permanent() {
                SendError::Permanent(reply)
            } else {
                SendError::Transient(reply)
            };
        }
        let why = format!("{}: {e}", self.relay);
        // lettre refuses before sending when the message needs an extension the
        // server lacks (8BITMIME, SMTPUTF8): this message will not go to this relay.
        // Every other local refusal (STARTTLS not offered, no common AUTH mechanism)
        // is the set-up's, to be fixed and retried.
        if e.is_client() && why.contains("non-ascii") {
            SendError::Permanent(why)
        } else if e.is_timeout() {
            self.timed_out()
        } else {
            SendError::Transient(why)
        }
    }
}

fn relay_name(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[async_trait]
impl MailSender for SmtpSender {
    fn name(&self) -> &'static str {
        "smtp"
    }

    /// Connects to the relay (TLS as configured), says EHLO and NOOP, within the
    /// send timeout.
    async fn check(&self) -> Result<serde_json::Value, String> {
        let (_, transport) = self.transport();
        match tokio::time::timeout(self.timeout, transport.test_connection()).await {
            Ok(Ok(true)) => Ok(serde_json::json!({"relay": self.relay})),
            Ok(Ok(false)) => Err(format!("the relay {} did not answer NOOP", self.relay)),
            Ok(Err(e)) => Err(format!("the relay {}: {e}", self.relay)),
            Err(_) => Err(format!(
                "no answer from the relay {} within {:?}",
                self.relay, self.timeout
            )),
        }
    }

    /// The receipt's `message_id` is the message's `Message-ID` without angle brackets.
    #[tracing::instrument(skip_all, fields(email_id = %email.email.id, relay = %self.relay))]
    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        let message = build_message(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let message_id = message_id(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let _permit = self.permit().await?;
        let (generation, transport) = self.transport();
        let sent = match tokio::time::timeout(self.timeout, transport.send(message)).await {
            Ok(sent) => sent,
            Err(_) => {
                self.retire(generation);
                let error = self.timed_out();
                tracing::debug!(%error, "no reply from the relay");
                return Err(error);
            }
        };
        // lettre returns the connection to its pool in a task of its own; a turn
        // usually lets that task run before the permit lets the next message take a
        // connection (else lettre opens one more).
        tokio::task::yield_now().await;
        match sent {
            Ok(reply) => {
                tracing::debug!(
                    code = %reply.code(),
                    reply = reply.first_line().unwrap_or_default(),
                    "accepted by the relay"
                );
                Ok(SendReceipt { message_id })
            }
            Err(e) => {
                let error = self.classify(&e);
                tracing::debug!(%error, "not accepted by the relay");
                Err(error)
            }
        }
    }

    /// Sends up to `pool_size` messages at once, each on its own connection; the
    /// answers are in the order of `emails`.
    async fn send_many(&self, emails: &[OutgoingEmail]) -> Vec<Result<SendReceipt, SendError>> {
        // The futures are made up front: a closure inside the stream would make the
        // stream's type name a lifetime the `Send` check cannot see through.
        let sends: Vec<_> = emails.iter().map(|email| self.send(email)).collect();
        stream::iter(sends).buffered(self.pool_size).collect().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_parses_and_names_its_port() {
        assert_eq!("none".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::None);
        assert_eq!(
            "STARTTLS".parse::<SmtpSecurity>().unwrap(),
            SmtpSecurity::StartTls
        );
        assert_eq!("tls".parse::<SmtpSecurity>().unwrap(), SmtpSecurity::Tls);
        assert!("ssl".parse::<SmtpSecurity>().is_err());
        assert_eq!(SmtpSecurity::StartTls.default_port(), 587);
        assert_eq!(SmtpSecurity::Tls.default_port(), 465);
        assert_eq!(SmtpSecurity::Tls.to_string(), "tls");
    }

    #[tokio::test]
    async fn the_password_is_never_shown() {
        let mut s = SmtpSettings::new("smtp.example.com", SmtpSecurity::StartTls);
        s.username = Some("engage".into());
        s.password = Some("hunter2".into());
        let shown = format!("{s:?}");
        assert!(
            shown.contains("engage") && !shown.contains("hunter2"),
            "{shown}"
        );
        let sender = SmtpSender::new(s).unwrap();
        let shown = format!("{sender:?}");
        assert!(shown.contains("smtp.example.com:587"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[tokio::test]
    async fn unusable_settings_are_refused() {
        let base = SmtpSettings::new("smtp.example.com", SmtpSecurity::StartTls);
        let refused = |s: SmtpSettings| SmtpSender::new(s).unwrap_err();

        assert!(matches!(
            refused(SmtpSettings {
                host: " ".into(),
                ..base.clone()
            }),
            SmtpConfigError::NoHost
        ));
        assert!(matches!(
            refused(SmtpSettings {
                pool_size: 0,
                ..base.clone()
            }),
            SmtpConfigError::PoolSize
        ));
        assert!(matches!(
            refused(SmtpSettings {
                username: Some("u".into()),
                ..base.clone()
            }),
            SmtpConfigError::Credentials
        ));
        assert!(matches!(
            refused(SmtpSettings {
                extra_root_pem: Some(b"not a certificate".to_vec()),
                ..base.clone()
            }),
            SmtpConfigError::RootCertificate
        ));
        let plain_with_password = SmtpSettings {
            security: SmtpSecurity::None,
            port: 25,
            username: Some("u".into()),
            password: Some("p".into()),
            ..base.clone()
        };
        let e = refused(plain_with_password.clone());
        assert!(
            matches!(&e, SmtpConfigError::PlaintextAuth(relay) if relay == "smtp.example.com:25"),
            "{e}"
        );
        // A relay on this machine may take a password in plain text.
        for host in ["localhost", "127.0.0.1", "::1"] {
            SmtpSender::new(SmtpSettings {
                host: host.into(),
                ..plain_with_password.clone()
            })
            .unwrap();
        }
    }

    #[test]
    fn a_sender_needs_a_runtime() {
        let e = SmtpSender::new(SmtpSettings::new("localhost", SmtpSecurity::None)).unwrap_err();
        assert!(matches!(e, SmtpConfigError::NoRuntime), "{e}");
    }

    #[test]
    fn relays_are_named_host_and_port() {
        let mut s = SmtpSettings::new("::1", SmtpSecurity::None);
        assert_eq!(s.relay(), "[::1]:25");
        s.host = "mx.example.com".into();
        s.port = 2525;
        assert_eq!(s.relay(), "mx.example.com:2525");
    }
}
