//! `engage rotate-token` against a running server, and the brake on guessed tokens.

use crate::helpers::{engage, serve, terminate};
use std::time::Duration;

#[test]
fn rotate_token_revokes_the_old_token_in_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, token) = serve(dir.path());
    let old = token.unwrap();
    let out = engage()
        .args(["rotate-token", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(new.starts_with("eng_") && new != old);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = |t: &str| {
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!("http://{addr}/api/v1/users"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    // Within a few seconds (the server re-reads the token every 2 s), no restart.
    let mut seen = (0, 0);
    for _ in 0..50 {
        seen = (status(&old), status(&new));
        if seen == (401, 200) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(seen, (401, 200), "old refused, new accepted");
    assert!(terminate(&mut server).success());
}

#[test]
fn guessing_tokens_is_braked_with_429_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr, token) = serve(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (statuses, braked) = rt.block_on(async {
        let http = reqwest::Client::new();
        let mut statuses = Vec::new();
        for i in 0..10 {
            let r = http
                .get(format!("http://{addr}/api/v1/users"))
                .bearer_auth(format!("eng_guess_{i}"))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        // The right token now gets the same answer as a wrong one.
        let r = http
            .get(format!("http://{addr}/api/v1/users"))
            .bearer_auth(token.unwrap())
            .send()
            .await
            .unwrap();
        let retry = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap();
        let body: serde_json::Value = r.json().await.unwrap();
        (statuses, (retry, body))
    });
    assert_eq!(statuses, vec![401; 10]);
    let (retry_after, problem) = braked;
    assert!((1..=7).contains(&retry_after), "{retry_after}");
    assert_eq!(problem["type"], "/problems/too-many-requests");
    assert!(terminate(&mut server).success());
}
