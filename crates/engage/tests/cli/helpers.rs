//! Running the `engage` binary: a clean environment, `engage serve` started on port 0
//! (and killed if a test fails first) and stopped with SIGTERM, a command run to
//! completion, rows to import, and a count read from the SQLite file.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn engage() -> Command {
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
pub struct Server(pub std::process::Child);

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
pub fn serve(data_dir: &std::path::Path) -> (Server, String, Option<String>) {
    serve_with(data_dir, &[])
}

/// [`serve`] with more environment variables.
pub fn serve_with(
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

pub fn terminate(server: &mut Server) -> std::process::ExitStatus {
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

/// Runs `engage ARGS --data-dir DIR` to completion.
pub fn run_on(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    engage()
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .output()
        .unwrap()
}

pub fn write_rows(path: &std::path::Path, n: usize, tail: &str) {
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

pub fn count(db: &std::path::Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}
