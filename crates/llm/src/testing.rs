//! llmock (an OpenAI-compatible fake that misbehaves on request), started on
//! 127.0.0.1 for tests. `make test` installs it into the project's `.venv`
//! (`tools/requirements.txt`); `TOOLS_VENV` names another venv.
//!
//! The server is killed when the handle drops, and runs under `timeout`, so it stops
//! by itself even if the test process dies first.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[derive(Debug)]
pub struct Llmock {
    child: Child,
    pub base: String,
    http: reqwest::Client,
}

fn llmock_bin() -> PathBuf {
    let venv = std::env::var_os("TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let bin = venv.join("bin/llmock");
    assert!(
        bin.exists(),
        "llmock is not installed at {}: run `make venv` (or `make test`), which installs tools/requirements.txt",
        bin.display()
    );
    bin
}

impl Llmock {
    /// Starts a fresh server on a free port and waits until it answers.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Llmock::start`] with more `llmock serve` flags (`--rpm 60`, `--latency-ms 2000`).
    pub async fn start_with(flags: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("timeout")
            .arg("900")
            .arg(llmock_bin())
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--log-level", "warning"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llmock starts");
        let me = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        for _ in 0..200 {
            if let Ok(r) = me.http.get(me.url("/_llmock/scenario")).send().await
                && r.status().is_success()
            {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("llmock did not answer on {}", me.base);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The OpenAI-style base URL, for the generator's settings.
    pub fn v1(&self) -> String {
        self.url("/v1")
    }

    /// Queues scripted behaviours (`{"type": "fail", "status": 429, ...}`), consumed
    /// in order by the next requests.
    pub async fn script(&self, behaviors: Value) {
        let r = self
            .http
            .post(self.url("/_llmock/scenario"))
            .json(&serde_json::json!({ "behaviors": behaviors }))
            .send()
            .await
            .expect("llmock answers");
        assert!(
            r.status().is_success(),
            "llmock refused the scenario: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// The server's log of the requests it received, oldest first.
    pub async fn requests(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(self.url("/_llmock/requests"))
            .send()
            .await
            .expect("llmock answers")
            .json()
            .await
            .expect("a JSON request log");
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// llmock's verdict on the client's behaviour (`/_llmock/verdict`).
    pub async fn verdict(&self) -> Value {
        self.http
            .get(self.url("/_llmock/verdict"))
            .send()
            .await
            .expect("llmock answers")
            .json()
            .await
            .expect("a JSON verdict")
    }
}

impl Drop for Llmock {
    /// SIGTERM, which `timeout` passes on to llmock before it exits itself; a SIGKILL
    /// would end `timeout` alone and leave llmock running.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
