//! The `engage` binary as a user runs it: a real process, real signals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn engage() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_engage"));
    // A clean environment for configuration, whatever the developer's shell has.
    for (k, _) in std::env::vars() {
        if k.starts_with("ENGAGE_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "info");
    c
}

/// Kills the server if a test fails before stopping it, so no process outlives a run.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `engage serve` on port 0; returns the server, the bound address and the
/// token it printed (if any).
fn serve(data_dir: &std::path::Path) -> (Server, String, Option<String>) {
    let mut child = engage()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Server(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut token = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("engage serve starts within 30 s");
        if let Some(t) = line.split_whitespace().find(|w| w.starts_with("eng_")) {
            token.get_or_insert(t.to_string());
        }
        if line.contains("engage is serving") {
            let addr = line
                .split("addr=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
            return (child, addr, token);
        }
    }
}

fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let child = &mut server.0;
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    for _ in 0..200 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("engage did not stop within 10 s of SIGTERM");
}

#[test]
fn serve_prints_a_token_once_answers_with_it_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, token) = serve(dir.path());
    let token = token.expect("a token is printed at the first start");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (health, authed, refused) = rt.block_on(async {
        let http = reqwest::Client::new();
        let health = http
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .unwrap()
            .status();
        let authed = http
            .get(format!("http://{addr}/api/v1/users"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        let refused = http
            .get(format!("http://{addr}/api/v1/users"))
            .send()
            .await
            .unwrap()
            .status();
        (health, authed, refused)
    });
    assert_eq!(
        (health.as_u16(), authed.as_u16(), refused.as_u16()),
        (200, 200, 401)
    );
    assert!(terminate(&mut child).success(), "a clean exit on SIGTERM");

    let (mut again, _, second) = serve(dir.path());
    assert_eq!(second, None, "the token is shown only at the first start");
    assert!(terminate(&mut again).success());
    assert!(dir.path().join("engage.db").exists());
    assert!(dir.path().join("unsubscribe.key").exists());
}

#[test]
fn a_bad_configuration_is_a_one_line_error_and_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let out = engage()
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .env("ENGAGE_ADDR", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("engage: configuration") && lines[0].contains("addr"),
        "{stderr}"
    );

    let out = engage()
        .args(["serve", "--addr", "nowhere"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_taken_port_is_reported_plainly() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = engage()
        .args(["serve", "--addr", &addr, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&format!("binding {addr}")), "{stderr}");
}
