//! For tests here and in other crates (feature `testing`): a stand-in for SNS on
//! 127.0.0.1: a test CA, a TLS certificate for
//! `sns.us-east-1.amazonaws.com` (and for the hosts the refusal tests use, so a
//! request to them *would* reach this server if the verifier let it through), an RSA
//! signing key with its certificate served as PEM, and a `ConfirmSubscription`
//! endpoint. Every request is counted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::{MessageType, SnsMessage, Verifier, VerifierConfig};
use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};

pub const REGION_HOST: &str = "sns.us-east-1.amazonaws.com";
pub const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:engage-ses-feedback";
pub const CERT_PATH: &str = "/SimpleNotificationService-0123456789abcdef.pem";
pub const CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem";
pub const EXPIRED_CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-expired.pem";
pub const MISSING_CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-missing.pem";
pub const REDIRECT_CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-redirect.pem";
/// Hosts the test client resolves to the local server too.
pub const EVIL_HOSTS: [&str; 2] = ["evil.com", "sns.us-east-1.amazonaws.com.evil.com"];

#[allow(missing_debug_implementations)] // holds a private key
pub struct Pki {
    pub ca_pem: String,
    server_cert_der: Vec<u8>,
    server_key_der: Vec<u8>,
    signing_cert_pem: String,
    expired_signing_cert_pem: String,
    signing_key: RsaPrivateKey,
}

/// Made once per test binary: an RSA key takes seconds to generate in a debug build.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "engage-feedback test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut names = vec![REGION_HOST.to_owned()];
        names.extend(EVIL_HOSTS.iter().map(|h| h.to_string()));
        let mut server = CertificateParams::new(names).unwrap();
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();

        let signing_key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pkcs8 = signing_key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let signing_pair =
            KeyPair::from_pkcs8_pem_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).unwrap();
        let mut signing = CertificateParams::new(Vec::<String>::new()).unwrap();
        signing
            .distinguished_name
            .push(DnType::CommonName, "sns.amazonaws.com");
        let signing_cert = signing.signed_by(&signing_pair, &issuer).unwrap();
        signing.not_before = rcgen::date_time_ymd(2000, 1, 1);
        signing.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired_cert = signing.signed_by(&signing_pair, &issuer).unwrap();

        Pki {
            ca_pem: ca_cert.pem(),
            server_cert_der: server_cert.der().to_vec(),
            server_key_der: server_key.serialize_der(),
            signing_cert_pem: signing_cert.pem(),
            expired_signing_cert_pem: expired_cert.pem(),
            signing_key,
        }
    })
}

/// What reached the server.
#[derive(Debug, Default)]
pub struct Hits {
    /// Every request, whatever its path.
    pub total: AtomicUsize,
    /// Requests for the good signing certificate.
    pub cert: AtomicUsize,
    /// The query strings of `GET /` (subscription confirmations).
    pub confirmations: Mutex<Vec<String>>,
}

impl Hits {
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    pub fn cert(&self) -> usize {
        self.cert.load(Ordering::SeqCst)
    }

    pub fn confirmations(&self) -> Vec<String> {
        self.confirmations.lock().unwrap().clone()
    }
}

/// The local HTTPS server; shut down when dropped (and with its test's runtime).
#[allow(missing_debug_implementations)]
pub struct SnsServer {
    pub addr: SocketAddr,
    pub hits: Arc<Hits>,
    handle: Handle<SocketAddr>,
}

impl Drop for SnsServer {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

async fn count(State(hits): State<Arc<Hits>>, req: Request, next: Next) -> Response {
    hits.total.fetch_add(1, Ordering::SeqCst);
    next.run(req).await
}

pub async fn start() -> SnsServer {
    let pki = pki();
    let hits = Arc::new(Hits::default());
    let app = Router::new()
        .route(
            CERT_PATH,
            get(move |State(hits): State<Arc<Hits>>| async move {
                hits.cert.fetch_add(1, Ordering::SeqCst);
                pki.signing_cert_pem.clone()
            }),
        )
        .route(
            "/SimpleNotificationService-expired.pem",
            get(move || async move { pki.expired_signing_cert_pem.clone() }),
        )
        .route(
            "/SimpleNotificationService-redirect.pem",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "https://evil.com/stolen.pem")],
                )
                    .into_response()
            }),
        )
        .route(
            "/",
            get(
                |State(hits): State<Arc<Hits>>, RawQuery(query): RawQuery| async move {
                    hits.confirmations
                        .lock()
                        .unwrap()
                        .push(query.unwrap_or_default());
                    "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>\
                 arn:aws:sns:us-east-1:123456789012:engage-ses-feedback:1</SubscriptionArn>\
                 </ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
                },
            ),
        )
        .layer(middleware::from_fn_with_state(hits.clone(), count))
        .with_state(hits.clone());

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = RustlsConfig::from_der(
        vec![pki.server_cert_der.clone()],
        pki.server_key_der.clone(),
    )
    .await
    .unwrap();
    let handle = Handle::new();
    let server = axum_server::from_tcp_rustls(listener, tls)
        .unwrap()
        .handle(handle.clone());
    tokio::spawn(server.serve(app.into_make_service()));
    SnsServer { addr, hits, handle }
}

/// The production client settings, pointed at the local server for the SNS host
/// (and the "evil" hosts), trusting the test CA.
pub fn verifier(server: &SnsServer, config: VerifierConfig) -> Verifier {
    let mut builder = Verifier::client_builder(&config).resolve(REGION_HOST, server.addr);
    for host in EVIL_HOSTS {
        builder = builder.resolve(host, server.addr);
    }
    let ca = reqwest::Certificate::from_pem(pki().ca_pem.as_bytes()).unwrap();
    let client = builder.add_root_certificate(ca).build().unwrap();
    Verifier::with_client(config, client)
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A signed notification carrying `message`, signed with `version` ("1" or "2").
pub fn notification(message: &str, version: &str) -> SnsMessage {
    let mut msg = SnsMessage {
        kind: MessageType::Notification,
        message_id: format!("msg-{}", rand_suffix()),
        topic_arn: TOPIC.to_owned(),
        subject: Some("Amazon SES Email Event Notification".to_owned()),
        message: message.to_owned(),
        timestamp: now(),
        signature_version: version.to_owned(),
        signature: String::new(),
        signing_cert_url: CERT_URL.to_owned(),
        subscribe_url: None,
        token: None,
        unsubscribe_url: Some(format!(
            "https://{REGION_HOST}/?Action=Unsubscribe&SubscriptionArn={TOPIC}:1"
        )),
    };
    sign(&mut msg);
    msg
}

/// A signed SubscriptionConfirmation whose link is `subscribe_url`.
pub fn subscription_confirmation(subscribe_url: &str) -> SnsMessage {
    let mut msg = SnsMessage {
        kind: MessageType::SubscriptionConfirmation,
        message_id: format!("msg-{}", rand_suffix()),
        topic_arn: TOPIC.to_owned(),
        subject: None,
        message: format!(
            "You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, \
             visit the SubscribeURL included in this message."
        ),
        timestamp: now(),
        signature_version: "2".to_owned(),
        signature: String::new(),
        signing_cert_url: CERT_URL.to_owned(),
        subscribe_url: Some(subscribe_url.to_owned()),
        token: Some("2336412f37fb687f5d51e6e241d09c805a5a57b30d712f79".to_owned()),
        unsubscribe_url: None,
    };
    sign(&mut msg);
    msg
}

/// Signs `msg` as SNS does, with the test key, by its own `SignatureVersion`.
pub fn sign(msg: &mut SnsMessage) {
    let text = canonical(msg);
    let key = pki().signing_key.clone();
    let signature = match msg.signature_version.as_str() {
        "1" => rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key)
            .sign(text.as_bytes())
            .to_vec(),
        "2" => rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key)
            .sign(text.as_bytes())
            .to_vec(),
        other => panic!("no signature version {other}"),
    };
    msg.signature = base64::engine::general_purpose::STANDARD.encode(signature);
}

/// The string SNS signs, written here independently of the crate's own, from the
/// AWS documentation ("Verifying the signatures of Amazon SNS messages").
pub fn canonical(msg: &SnsMessage) -> String {
    let kind = match msg.kind {
        MessageType::Notification => "Notification",
        MessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
        MessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
    };
    let mut s = format!("Message\n{}\nMessageId\n{}\n", msg.message, msg.message_id);
    if msg.kind == MessageType::Notification {
        if let Some(subject) = &msg.subject {
            s += &format!("Subject\n{subject}\n");
        }
        s += &format!("Timestamp\n{}\n", msg.timestamp);
    } else {
        s += &format!(
            "SubscribeURL\n{}\nTimestamp\n{}\nToken\n{}\n",
            msg.subscribe_url.as_deref().unwrap(),
            msg.timestamp,
            msg.token.as_deref().unwrap()
        );
    }
    s += &format!("TopicArn\n{}\nType\n{kind}\n", msg.topic_arn);
    s
}

fn rand_suffix() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst) as u64
}

/// The JSON body SNS would POST.
pub fn body(msg: &SnsMessage) -> String {
    serde_json::to_string_pretty(msg).unwrap()
}
