//! `engage resend`: failed emails sent again, and what it cannot resend refused.

use crate::helpers::{count, engage, write_rows};

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
