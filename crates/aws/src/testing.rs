//! The AWS emulator (moto's server, through `tools/moto_peer.py`) started on
//! 127.0.0.1 for tests. `make test` installs moto into the project's `.venv`
//! (`tools/requirements.txt`); `TOOLS_VENV` names another venv.
//!
//! The server runs under `timeout` and is stopped (SIGTERM) when the handle drops, so
//! it stops by itself even if the test process dies first.
//!
//! The contracts' backends: [`DynamoBackend`] (the stores on DynamoDB) and
//! [`SqsBackend`] (the events topic, the email queue and its dead letters on SNS and
//! SQS), each case in an emulator of its own with what `engage aws init` creates.

use aws_sdk_sesv2::config::{Credentials, SharedCredentialsProvider};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:{port}`: the endpoint URL for every AWS client.
    pub endpoint: String,
    http: reqwest::Client,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let venv = std::env::var_os("TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"));
    let bin = venv.join("bin/python");
    let has_moto = Command::new(&bin)
        .args(["-c", "import moto.server"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_moto,
        "moto is not installed in {}: run `make venv` (or `make test`), which installs tools/requirements.txt",
        venv.display()
    );
    bin
}

impl Moto {
    /// Starts a fresh emulator on a free port and waits until it answers. The SDK
    /// clients of the tests use fixed test credentials and region `us-east-1`.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("timeout")
            .args(["-s", "TERM", "900"])
            .arg(python())
            .arg(root().join("tools/moto_peer.py"))
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let me = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..300 {
            if let Ok(r) = me.http.get(me.url("/_engage/ses/messages")).send().await
                && r.status().is_success()
            {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto did not answer on {}", me.endpoint);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }

    /// An SDK configuration pointing at this emulator, with test credentials.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test",
                "test",
                None,
                None,
                "engage-tests",
            )))
            .build()
    }

    /// The messages SES accepted: `{"id", "region", "source", "destinations", "raw"}`.
    pub async fn ses_messages(&self) -> Vec<Value> {
        self.http
            .get(self.url("/_engage/ses/messages"))
            .send()
            .await
            .expect("moto answers")
            .json()
            .await
            .expect("JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // SIGTERM through `timeout`, which passes it on to the server.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// The DynamoDB backend of the port contracts (`engage_core::testing`): each case
/// gets an emulator of its own, with every resource `engage aws init` creates.
#[derive(Debug, Default, Clone, Copy)]
pub struct DynamoBackend;

#[async_trait::async_trait]
impl engage_core::testing::Backend for DynamoBackend {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    async fn fresh(&self) -> engage_core::testing::Stores {
        use std::sync::Arc;
        let moto = Moto::start().await;
        let sdk = moto.sdk_config();
        let resources = crate::tables::Resources::with_prefix("contract");
        crate::init(&sdk, &resources)
            .await
            .expect("init creates the resources");
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let clients = Arc::new(crate::DynamoClients::for_resources(ddb.clone(), &resources));
        let ledger = Arc::new(crate::DynamoLedger::new(ddb.clone(), &resources));
        engage_core::testing::Stores {
            clients: clients.clone(),
            import: clients,
            ledger: ledger.clone(),
            history: ledger,
            suppressions: Arc::new(crate::DynamoSuppressions::new(ddb, &resources)),
            clock: Arc::new(engage_core::clock::ManualClock::new(
                engage_core::testing::t0(),
            )),
            guard: Box::new(moto),
        }
    }
}

/// The queue contract's backend (`engage_core::testing::contract::queue`): the
/// events topic, the email queue subscribed to it and its dead-letter queue as
/// `engage aws init` creates them, the queue's visibility timeout and redrive
/// policy then set to the case's; wired as `engage serve --backend aws` wires them
/// ([`crate::AwsBackend::email_queue`]). Time is real: moto reads the system's.
#[derive(Debug, Default, Clone, Copy)]
pub struct SqsBackend;

#[async_trait::async_trait]
impl engage_core::testing::contract::queue::QueueBackend for SqsBackend {
    fn name(&self) -> &'static str {
        "sqs"
    }

    async fn fresh(
        &self,
        settings: engage_core::testing::contract::queue::QueueSettings,
    ) -> engage_core::testing::contract::queue::QueueStores {
        use aws_sdk_sqs::types::QueueAttributeName;
        use std::sync::Arc;
        let moto = Moto::start().await;
        let sdk = moto.sdk_config();
        let resources = crate::tables::Resources::with_prefix("contract");
        let report = crate::init(&sdk, &resources)
            .await
            .expect("init creates the resources");
        let redrive = serde_json::json!({
            "deadLetterTargetArn": report.email_dlq_arn,
            "maxReceiveCount": settings.max_receives.to_string(),
        });
        aws_sdk_sqs::Client::new(&sdk)
            .set_queue_attributes()
            .queue_url(&report.email_queue_url)
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                settings.visibility.as_secs().max(1).to_string(),
            )
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .send()
            .await
            .expect("the queue takes the case's settings");
        let at = crate::Locations {
            resources: resources.clone(),
            ..Default::default()
        };
        let backend = crate::AwsBackend::connect(sdk, &at)
            .await
            .expect("the backend connects");
        let queue = backend.email_queue(&at).await.expect("the email queue");
        assert_eq!(
            queue.dlq_url.as_deref(),
            Some(report.email_dlq_url.as_str())
        );
        engage_core::testing::contract::queue::QueueStores {
            publisher: backend.publisher.clone(),
            queue: Arc::new(queue.queue),
            dead_letters: queue.dead_letters,
            source_queue: resources.email_queue,
            clock: None,
            guard: Box::new(moto),
        }
    }
}
