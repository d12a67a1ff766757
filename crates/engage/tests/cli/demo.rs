//! `engage demo`, and `engage export` of the clients it loaded.

use crate::helpers::{engage, run_on};

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
