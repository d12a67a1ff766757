//! `engage import`: a summary and a non-zero exit for bad rows, and an interrupted
//! import resumed where it stopped.

use crate::helpers::{Server, count, engage, write_rows};
use std::process::Stdio;
use std::time::Duration;

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
