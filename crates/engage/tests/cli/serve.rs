//! `engage serve`: the token it prints, a clean stop on SIGTERM, a private data
//! directory, and the refusals (a second server, a bad configuration, a taken port).

use crate::helpers::{Server, engage, serve, serve_with, terminate};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

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

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_its_files_are_private_to_their_owner() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    // No quiet hours, so the welcome email is sent whatever the hour (the real clock).
    let (mut server, addr, token) = serve_with(
        &dir,
        &[
            ("ENGAGE_POLICY__QUIET_START_HOUR", "0"),
            ("ENGAGE_POLICY__QUIET_END_HOUR", "0"),
        ],
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outbox = dir.join("outbox");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(format!("http://{addr}/api/v1/users"))
            .bearer_auth(token.unwrap())
            .json(
                &serde_json::json!({"email": "ada@example.com", "first_name": "Ada",
                                      "time_zone": "Etc/UTC", "email_opt_in": true}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    });
    let mut emls = Vec::new();
    for _ in 0..100 {
        emls = std::fs::read_dir(&outbox)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if !emls.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(terminate(&mut server).success());
    assert_eq!(emls.len(), 1, "the welcome email is in the outbox");
    assert_eq!(mode(&dir), 0o700);
    for f in [
        "engage.db",
        "engage.db-wal",
        "engage.db-shm",
        "unsubscribe.key",
    ] {
        let p = dir.join(f);
        if p.exists() || f == "engage.db" {
            assert_eq!(mode(&p), 0o600, "{f}");
        }
    }
    assert_eq!(mode(&outbox), 0o700);
    for eml in &emls {
        assert_eq!(mode(eml), 0o600, "{}", eml.display());
    }

    // A directory made looser by hand is reported at the next start, not changed.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut child = engage()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("engage is serving") {
            break;
        }
    }
    let mut child = Server(child);
    assert!(terminate(&mut child).success());
    assert!(
        seen.contains("readable by other local users") && seen.contains("mode=755"),
        "{seen}"
    );
    assert_eq!(mode(&dir), 0o755);
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, _, _) = serve(dir.path());
    let out = engage()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another `engage serve`"), "{stderr}");
    assert!(terminate(&mut first).success());
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
