//! A real SMTP server for tests: `tools/smtp_peer.py` (aiosmtpd), started on a free
//! 127.0.0.1 port. `make venv` (and `make test`) installs aiosmtpd and trustme into
//! the project's `.venv` (`tools/requirements.txt`); `TOOLS_VENV` names another venv.
//!
//! The server runs under `timeout`, so it stops by itself even if the test process
//! dies first, and is stopped when its handle drops. It keeps every accepted message
//! in a temporary directory the handle owns; recipients' local parts script refusals
//! (`+t454`, `+t421`: refused once, then accepted; `+p550`: always refused; `+slow`:
//! stored at once, the reply to the data 2 seconds later).

use crate::smtp::{SmtpSecurity, SmtpSettings};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How the peer protects its connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PeerTls {
    /// Plain SMTP.
    #[default]
    None,
    /// Offers `STARTTLS` and requires it before `MAIL`.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// What kind of server to start.
#[derive(Debug, Clone, Default)]
pub struct PeerOptions {
    pub tls: PeerTls,
    /// Requires `AUTH` with these credentials (PLAIN or LOGIN, over TLS only).
    pub auth: Option<(String, String)>,
    /// For benchmarks: keeps only each message (no envelope, no connection stats), so
    /// the Python server spends its time on SMTP; [`SmtpPeer::stored`] counts them.
    pub lean: bool,
}

/// One message the peer accepted.
#[derive(Clone)]
pub struct ReceivedMessage {
    /// The message's bytes as they arrived (after the DATA dot-unstuffing).
    pub raw: Vec<u8>,
    /// The envelope sender (`MAIL FROM`).
    pub mail_from: String,
    /// The `MAIL FROM` parameters (`BODY=8BITMIME`, `SIZE=…`).
    pub mail_options: Vec<String>,
    /// The accepted envelope recipients (`RCPT TO`).
    pub rcpt_to: Vec<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
    /// The user the session authenticated as.
    pub login: Option<String>,
    /// Which connection brought it: connections are numbered from 1 as they open.
    pub connection: u64,
}

impl std::fmt::Debug for ReceivedMessage {
    /// The message as text (it is ASCII on the wire), not as a list of bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("raw", &String::from_utf8_lossy(&self.raw))
            .field("mail_from", &self.mail_from)
            .field("mail_options", &self.mail_options)
            .field("rcpt_to", &self.rcpt_to)
            .field("tls", &self.tls)
            .field("login", &self.login)
            .field("connection", &self.connection)
            .finish()
    }
}

/// Connections the peer saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStats {
    /// Open now.
    pub open: u64,
    /// The most open at once.
    pub max_open: u64,
    /// Opened since the start.
    pub total: u64,
    /// The most mail transactions (from `MAIL` to the end of `DATA`, or of the
    /// connection) at once: messages in flight.
    pub max_transactions: u64,
}

/// A running SMTP peer.
#[derive(Debug)]
pub struct SmtpPeer {
    child: Child,
    port: u16,
    options: PeerOptions,
    /// Holds `mail/` (the messages), `certs/` and `peer.log`; removed on drop.
    dir: tempfile::TempDir,
}

fn venv() -> PathBuf {
    std::env::var_os("TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/smtp_peer.py")
}

/// The venv's Python, once it is known to have aiosmtpd and trustme.
fn python() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = PYTHON.get_or_init(|| {
        let python = venv().join("bin/python");
        let help = "run `make venv` (or `make test`), which installs tools/requirements.txt";
        if !python.exists() {
            return Err(format!("no Python venv at {}: {help}", venv().display()));
        }
        let probe = Command::new(&python)
            .args(["-c", "import aiosmtpd, trustme"])
            .output()
            .map_err(|e| format!("{} does not run ({e}): {help}", python.display()))?;
        if !probe.status.success() {
            return Err(format!(
                "aiosmtpd or trustme is missing from {}: {help}\n{}",
                venv().display(),
                String::from_utf8_lossy(&probe.stderr)
            ));
        }
        Ok(python)
    });
    match found {
        Ok(python) => python,
        Err(why) => panic!("the SMTP test peer cannot start: {why}"),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl SmtpPeer {
    /// Starts a fresh server on a free port and waits until it listens.
    pub async fn start(options: PeerOptions) -> Self {
        let python = python();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let certs = dir.path().join("certs");
        if options.tls != PeerTls::None {
            let made = Command::new("timeout")
                .arg("120")
                .arg(python)
                .arg(script())
                .arg("--make-cert")
                .arg(&certs)
                .output()
                .expect("the SMTP peer runs");
            assert!(
                made.status.success(),
                "the SMTP peer did not make a certificate: {}",
                String::from_utf8_lossy(&made.stderr)
            );
        }

        let port = free_port();
        let log = std::fs::File::create(dir.path().join("peer.log")).expect("a log file");
        let mut command = Command::new("timeout");
        command
            .arg("900")
            .arg(python)
            .arg(script())
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path().join("mail"));
        if options.tls != PeerTls::None {
            command
                .arg("--tls-cert")
                .arg(certs.join("cert.pem"))
                .arg("--tls-key")
                .arg(certs.join("key.pem"));
        }
        if options.tls == PeerTls::Implicit {
            command.arg("--implicit-tls");
        }
        if let Some((user, password)) = &options.auth {
            command.args(["--auth", &format!("{user}:{password}")]);
        }
        if options.lean {
            command.arg("--lean");
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log)
            .spawn()
            .expect("the SMTP peer starts");
        let mut me = Self {
            child,
            port,
            options,
            dir,
        };
        let ready = me.dir.path().join("mail/ready");
        for _ in 0..300 {
            if ready.exists() {
                return me;
            }
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!(
                    "the SMTP peer exited ({status}) before listening on port {port}:\n{}",
                    me.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the SMTP peer did not listen on port {port} within 15 s:\n{}",
            me.log()
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The test CA's certificate (PEM) that the peer's certificate chains to; `None`
    /// for a plain server.
    pub fn ca_pem(&self) -> Option<Vec<u8>> {
        (self.options.tls != PeerTls::None).then(|| {
            std::fs::read(self.dir.path().join("certs/ca.pem")).expect("the test CA exists")
        })
    }

    /// Settings that reach this peer as it expects: 127.0.0.1, its port, its TLS mode
    /// with its CA trusted, and its credentials.
    pub fn settings(&self) -> SmtpSettings {
        let security = match self.options.tls {
            PeerTls::None => SmtpSecurity::None,
            PeerTls::StartTls => SmtpSecurity::StartTls,
            PeerTls::Implicit => SmtpSecurity::Tls,
        };
        let mut settings = SmtpSettings::new("127.0.0.1", security);
        settings.port = self.port;
        settings.timeout = Duration::from_secs(10);
        settings.extra_root_pem = self.ca_pem();
        if let Some((user, password)) = &self.options.auth {
            settings.username = Some(user.clone());
            settings.password = Some(password.clone());
        }
        settings
    }

    /// How many messages the server stored.
    pub fn stored(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("mail"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The accepted messages, in the order the server accepted them.
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        let mail = self.dir.path().join("mail");
        let mut numbers: Vec<u64> = std::fs::read_dir(&mail)
            .expect("the peer's mail directory")
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".json")?.parse().ok()
            })
            .collect();
        numbers.sort_unstable();
        numbers
            .into_iter()
            .map(|n| {
                let meta: serde_json::Value = serde_json::from_slice(
                    &std::fs::read(mail.join(format!("{n}.json"))).expect("an envelope"),
                )
                .expect("a JSON envelope");
                let strings = |key: &str| -> Vec<String> {
                    meta[key]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                ReceivedMessage {
                    raw: std::fs::read(mail.join(format!("{n}.eml"))).expect("a message"),
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_string(),
                    mail_options: strings("mail_options"),
                    rcpt_to: strings("rcpt_tos"),
                    tls: meta["tls"].as_bool().unwrap_or(false),
                    login: meta["login"].as_str().map(String::from),
                    connection: meta["connection"].as_u64().unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The connections the peer has seen.
    pub fn stats(&self) -> PeerStats {
        let raw = std::fs::read(self.dir.path().join("mail/stats.json")).expect("the stats");
        let v: serde_json::Value = serde_json::from_slice(&raw).expect("JSON stats");
        let n = |key: &str| v[key].as_u64().unwrap_or_default();
        PeerStats {
            open: n("open"),
            max_open: n("max_open"),
            total: n("total"),
            max_transactions: n("max_transactions"),
        }
    }

    /// What the peer printed (aiosmtpd's log), for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("peer.log")).unwrap_or_default()
    }
}

impl Drop for SmtpPeer {
    /// SIGTERM, which `timeout` passes on to the peer before it exits itself; a SIGKILL
    /// would end `timeout` alone and leave the peer running.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
