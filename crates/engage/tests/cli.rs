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
    serve_with(data_dir, &[])
}

/// [`serve`] with more environment variables.
fn serve_with(
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (Server, String, Option<String>) {
    let mut child = engage()
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .envs(env.iter().copied())
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

fn write_rows(path: &std::path::Path, n: usize, tail: &str) {
    use std::io::Write as _;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(
            f,
            "{{\"email\":\"r{i}@example.com\",\"first_name\":\"R\",\"time_zone\":\"Europe/Paris\",\"email_opt_in\":true}}"
        )
        .unwrap();
    }
    f.write_all(tail.as_bytes()).unwrap();
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn an_import_with_bad_rows_exits_non_zero_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.ndjson");
    write_rows(&file, 10, "{\"email\":\"broken\"}\n{\"email\":\"trunc");
    let out = engage()
        .arg("import")
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("line 11: "), "{stderr}");
    assert!(stderr.contains("line 12: truncated"), "{stderr}");
    assert!(
        stderr.contains("12 rows, 10 created, 0 updated, 0 unchanged, 2 failed"),
        "{stderr}"
    );
    assert_eq!(
        count(
            &dir.path().join("data/engage.db"),
            "SELECT COUNT(*) FROM users"
        ),
        10
    );
}

#[test]
fn an_interrupted_import_resumes_where_it_stopped_and_stores_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.ndjson");
    let data = dir.path().join("data");
    let db = data.join("engage.db");
    let rows = 200_000;
    write_rows(&file, rows, "");

    let child = engage()
        .arg("import")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    // Kill it (SIGKILL: no chance to tidy up) once a checkpoint has been stored.
    let mut saved = false;
    for _ in 0..1500 {
        if db.exists() && count(&db, "SELECT COUNT(*) FROM meta WHERE key LIKE 'import:%'") > 0 {
            saved = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(saved, "no checkpoint within 30 s");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let before = count(&db, "SELECT COUNT(*) FROM users");
    assert!(
        before > 0 && (before as usize) < rows,
        "interrupted mid-way: {before} rows stored"
    );

    let out = engage()
        .arg("import")
        .arg(&file)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users"), rows as i64);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM user_changes"),
        rows as i64,
        "each row written once"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM meta WHERE key LIKE 'import:%'"),
        0,
        "the checkpoint is gone when done"
    );
}

/// Runs `engage ARGS --data-dir DIR` to completion.
fn run_on(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    engage()
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn dlq_and_replay_answer_plainly_on_an_empty_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            &["dlq", "list"][..],
            "ID  QUEUE  RECEIVES  SENT AT  LAST ERROR\n",
        ),
        (&["dlq", "redrive", "--all"][..], "redrove 0 dead letters\n"),
        (
            &["replay", "--from", "0"][..],
            "0 changes after 0 will be published again\n",
        ),
    ] {
        let out = run_on(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected, "{args:?}");
    }
}

#[test]
fn an_unknown_dead_letter_or_a_replay_past_the_log_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["dlq", "redrive", "nope"][..],
            "no dead letter has the id `nope`",
        ),
        (
            &["dlq", "show", "msg_7"][..],
            "no dead letter has the id `msg_7`",
        ),
        (
            &["replay", "--from", "5"][..],
            "past the end of the change log",
        ),
    ] {
        let out = run_on(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(
            lines[0].starts_with("engage: ") && lines[0].contains(says),
            "{stderr}"
        );
    }
}

#[test]
fn dlq_lists_shows_and_redrives_a_dead_letter() {
    use engage_embedded::queue::{EMAIL_QUEUE, QueueSettings};
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = engage_embedded::Store::open(
            &dir.path().join("engage.db"),
            engage_embedded::Durability::Normal,
            std::sync::Arc::new(engage_core::clock::SystemClock),
        )
        .unwrap();
        let once = QueueSettings {
            max_receives: 1,
            ..QueueSettings::default()
        };
        let body = r#"{"id":"evt_1"}"#.to_string();
        store
            .send_messages(EMAIL_QUEUE, vec![body], Duration::ZERO)
            .await
            .unwrap();
        let m = store.receive(EMAIL_QUEUE, 1, once).await.unwrap().remove(0);
        store
            .release(&m.receipt, Duration::ZERO, "disk\nfull")
            .await
            .unwrap();
        assert!(
            store
                .receive(EMAIL_QUEUE, 1, once)
                .await
                .unwrap()
                .is_empty()
        );
    });
    let stdout = |args: &[&str]| {
        let out = run_on(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };

    let list = stdout(&["dlq", "list"]);
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(rows.len(), 2, "{list}");
    assert!(rows[1].starts_with("msg_1  email  1  "), "{list}");
    assert!(rows[1].ends_with("  disk full"), "{list}");
    let shown: serde_json::Value =
        serde_json::from_str(&stdout(&["dlq", "show", "msg_1"])).unwrap();
    assert_eq!(shown["body"]["id"], "evt_1");
    assert_eq!(shown["last_error"], "disk\nfull");
    assert_eq!(
        stdout(&["dlq", "redrive", "msg_1"]),
        "redrove msg_1 to the `email` queue\n"
    );
    assert_eq!(
        stdout(&["dlq", "list"]).lines().count(),
        1,
        "the header only"
    );
}

#[test]
fn demo_loads_clients_once_and_export_writes_them_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on(dir.path(), &["demo", "--clients", "120", "--seed", "9"]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("loaded 120 demo clients (seed 9;"),
        "{stderr}"
    );

    let again = run_on(dir.path(), &["demo", "--clients", "5"]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8(again.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("already has clients"), "{stderr}");
    let forced = run_on(
        dir.path(),
        &["demo", "--clients", "5", "--seed", "9", "--force"],
    );
    let stderr = String::from_utf8(forced.stderr).unwrap();
    assert!(stderr.contains("loaded 0 demo clients"), "{stderr}");
    assert!(stderr.contains("5 already there"), "{stderr}");

    let file = dir.path().join("clients.csv");
    let out = engage()
        .args(["export", "clients", "--format", "csv", "--output"])
        .arg(&file)
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("exported 120 clients to"), "{stderr}");
    let csv = std::fs::read_to_string(&file).unwrap();
    assert_eq!(csv.lines().count(), 121, "a header and one line per client");
    assert!(csv.starts_with("email,first_name,last_name,time_zone,email_opt_in,"));
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".partial"))
            .count(),
        0
    );

    let out = run_on(dir.path(), &["export", "clients"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 120);
    for line in stdout.lines() {
        let c: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(c["id"].as_str().unwrap().starts_with("usr_"), "{c}");
    }
    let out = run_on(dir.path(), &["export", "emails", "--status", "lost"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("--status `lost`")
    );
}

#[test]
fn resend_sends_failed_emails_again_and_refuses_what_it_cannot() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let peer = rt.block_on(engage_mail::testing::SmtpPeer::start(Default::default()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clients.ndjson");
    write_rows(
        &file,
        1,
        "{\"email\":\"ada+p550@example.com\",\"first_name\":\"Ada\",\"time_zone\":\"Europe/Paris\",\"email_opt_in\":true}\n",
    );
    let port = peer.port().to_string();
    let smtp = |args: &[&str]| {
        engage()
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("ENGAGE_MAIL__SENDER", "smtp")
            .env("ENGAGE_MAIL__SMTP__HOST", "127.0.0.1")
            .env("ENGAGE_MAIL__SMTP__PORT", &port)
            .env("ENGAGE_MAIL__SMTP__SECURITY", "none")
            // The real clock: no quiet hours, or at night in Paris the email would
            // (rightly) wait for the morning instead of failing now.
            .env("ENGAGE_POLICY__QUIET_START_HOUR", "0")
            .env("ENGAGE_POLICY__QUIET_END_HOUR", "0")
            .output()
            .unwrap()
    };
    let out = smtp(&["import", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = smtp(&["replay", "--from", "0", "--process"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = dir.path().join("engage.db");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM emails WHERE status = 'failed'"),
        1
    );
    assert_eq!(peer.messages().len(), 1, "the good address got its email");

    let out = smtp(&["resend", "--all-failed"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "refused again: {stdout}");
    assert!(
        stdout.contains("failed again") && stdout.contains("550"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim().lines().last(),
        Some("engage: 1 email(s) could not be resent"),
        "a one-line error: {stderr}"
    );
    assert!(
        count(
            &db,
            "SELECT COUNT(*) FROM emails e WHERE status = 'failed' AND state LIKE '%resent at an operator%'"
        ) == 1
    );

    let out = smtp(&["resend", "eml_nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no email has this id"));
    assert_eq!(peer.messages().len(), 1, "nothing more was sent");
}

#[cfg(feature = "aws")]
#[test]
fn aws_init_needs_neither_the_admin_token_nor_the_unsubscribe_key() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let moto = rt.block_on(engage_aws::testing::Moto::start());
    let init = || {
        engage()
            .args(["aws", "init", "--backend", "aws"])
            .env("ENGAGE_AWS__ENDPOINT_URL", &moto.endpoint)
            .env("ENGAGE_AWS__REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap()
    };
    let out = init();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("created ") && stdout.contains("email queue:"),
        "{stdout}"
    );
    // Run again: nothing to create.
    let again = String::from_utf8(init().stdout).unwrap();
    assert!(again.contains("everything was already in place"), "{again}");
    // `serve` on the same backend still needs both.
    let out = engage()
        .args(["serve", "--backend", "aws"])
        .env("ENGAGE_AWS__ENDPOINT_URL", &moto.endpoint)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("admin_token"));
}

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
