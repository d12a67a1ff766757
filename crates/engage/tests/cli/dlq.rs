//! `engage dlq` and `engage replay`: plain answers on an empty data directory, one-line
//! errors, and a dead letter listed, shown and redriven.

use crate::helpers::run_on;
use std::time::Duration;

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
