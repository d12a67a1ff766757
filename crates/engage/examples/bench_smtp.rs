//! The SMTP sender's benchmark (`make bench-smtp`): sends through `SmtpSender` to the
//! local aiosmtpd peer (`tools/smtp_peer.py` on 127.0.0.1), first held to a configured
//! rate by `Throttled` (`mail.max_send_rate`), then unlimited, and writes the figures
//! to `docs/benchmarks.smtp.md`, spliced into `docs/benchmarks.md` between
//! `<!-- bench-smtp:begin -->` and `<!-- bench-smtp:end -->`.
//!
//!     cargo run --release -p engage --example bench_smtp -- --rate 200 --secs 20

mod common;

use chrono::Utc;
use engage_core::client::EmailAddress;
use engage_core::compose::render_html;
use engage_core::email::{Email, EmailStatus};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{MailSender, OutgoingEmail};
use engage_mail::testing::{PeerOptions, SmtpPeer};
use engage_mail::{SmtpSender, Throttled};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    rate: f64,
    secs: u64,
    unlimited: usize,
    pool: u32,
    out: PathBuf,
}

fn args() -> Args {
    let mut a = Args {
        rate: 200.0,
        secs: 20,
        unlimited: 5000,
        // lettre 0.11.23 leaves Nagle on: a connection carries about 20 emails/s.
        pool: 16,
        out: "docs/benchmarks.md".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--rate" => a.rate = v.parse().expect("--rate: emails per second"),
            "--secs" => a.secs = v.parse().expect("--secs: seconds"),
            "--unlimited" => a.unlimited = v.parse().expect("--unlimited: emails"),
            "--pool" => a.pool = v.parse().expect("--pool: connections"),
            "--out" => a.out = v.into(),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

fn outgoing(i: usize) -> OutgoingEmail {
    let body = "Hi Zoë,\n\nYour stylist picked a few pieces for your next Fix.\n\nSee you soon.";
    OutgoingEmail {
        email: Email {
            id: EmailId::from_string(format!("eml_{i}_welcome")),
            user_id: UserId::from_string(format!("usr_{i}")),
            campaign: "welcome".into(),
            status: EmailStatus::Sending,
            subject: "Your next Fix, Zoë".into(),
            preheader: "Picked for you".into(),
            body_text: body.into(),
            body_html: render_html(body),
            generator: "template".into(),
            generation: None,
            fallback_reason: None,
            trigger_event_id: EventId::for_change(&i.to_string()),
            decision_id: DecisionId::from_string(format!("dec_{i}")),
            created_at: Utc::now(),
            scheduled_for: None,
            sent_at: None,
            message_id: None,
            status_history: vec![],
        },
        to: EmailAddress::parse(&format!("client{i}@example.com")).unwrap(),
        to_name: "Zoë Doe".into(),
        from: "Your styling team <styling@engage.localhost>".into(),
        unsubscribe_url: format!("https://engage.example/u/usr_{i}.tok"),
        unsubscribe_mailto: None,
    }
}

/// Sends `n` emails starting at `first` as the pipeline does (batches of 100 from 8
/// workers at once); returns the seconds taken and the failures.
async fn run(sender: Arc<dyn MailSender>, first: usize, n: usize) -> (f64, usize) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per_worker = n.div_ceil(8);
    for w in 0..8 {
        let sender = sender.clone();
        let (lo, hi) = (
            first + w * per_worker,
            (first + (w + 1) * per_worker).min(first + n),
        );
        tasks.spawn(async move {
            let mut failed = 0;
            let mut i = lo;
            while i < hi {
                let batch: Vec<OutgoingEmail> = (i..(i + 100).min(hi)).map(outgoing).collect();
                failed += sender
                    .send_many(&batch)
                    .await
                    .iter()
                    .filter(|r| r.is_err())
                    .count();
                i += batch.len();
            }
            failed
        });
    }
    let mut failed = 0;
    while let Some(f) = tasks.join_next().await {
        failed += f.expect("a sender task");
    }
    (started.elapsed().as_secs_f64(), failed)
}

#[tokio::main]
async fn main() {
    let a = args();
    let peer = SmtpPeer::start(PeerOptions {
        lean: true,
        ..PeerOptions::default()
    })
    .await;
    let mut settings = peer.settings();
    settings.pool_size = a.pool;
    settings.timeout = Duration::from_secs(30);
    let smtp: Arc<dyn MailSender> = Arc::new(SmtpSender::new(settings).expect("SMTP settings"));

    // Warm the pool so the first figures do not include connecting.
    let _ = run(smtp.clone(), 0, 50).await;
    let n = (a.rate * a.secs as f64).round() as usize;
    eprintln!("bench-smtp: {n} emails at {} per second", a.rate);
    let throttled: Arc<dyn MailSender> = Arc::new(Throttled::new(smtp.clone(), a.rate));
    let (secs, failed_limited) = run(throttled, 1_000_000, n).await;
    // The first second's burst goes out at once; the rate is the rest over its time.
    let limited_rate = (n as f64 - a.rate.floor()) / secs;
    eprintln!("bench-smtp: {} emails unlimited", a.unlimited);
    let (usecs, failed_unlimited) = run(smtp.clone(), 2_000_000, a.unlimited).await;
    let unlimited_rate = a.unlimited as f64 / usecs;
    let received = peer.stored();
    let expected = 50 + n + a.unlimited;

    let deviation = (limited_rate - a.rate) / a.rate * 100.0;
    let md = format!(
        "## SMTP sender: rate against a local SMTP server\n\n\
         Written by `make bench-smtp` (`crates/mail/examples/bench_smtp.rs`); rerun it to refresh.\n\n\
         - date: {date}\n- machine: {machine}\n\
         - peer: aiosmtpd 1.4.6 (`tools/smtp_peer.py --lean`, plain SMTP) on 127.0.0.1, writing each message to a file\n\
         - sender: `SmtpSender`, pool of {pool}, 8 workers sending batches of 100 with `send_many` (as the pipeline does)\n\n\
         | measure | result | target | how |\n|---|---|---|---|\n\
         | sending held to `mail.max_send_rate = {rate}` | {limited_rate:.1} emails/s ({deviation:+.1} % off), {n} emails in {secs:.1} s, {failed_limited} failed | within 5 % of the configured rate | `Throttled` over `SmtpSender`; the rate after the first second's burst ({burst} emails) |\n\
         | sending unlimited | {unlimited_rate:.0} emails/s ({un} emails in {usecs:.1} s, {failed_unlimited} failed) | reported | the same sender without a limit |\n\
         | messages the server stored | {received} of {expected} | all, once each | the peer's mail directory |\n\n\
         Each connection carries about 20 emails/s: lettre 0.11.23 leaves Nagle's algorithm on, so the \
         five-byte end of each message waits for the server's delayed ACK (40 ms). lettre's fix \
         (lettre/lettre#1159, `TCP_NODELAY`) is merged but not released; until it is, give \
         `mail.smtp.pool_size` at least the rate / 20 connections. The unlimited figure is also the \
         Python peer's: aiosmtpd handles every message on one core, beside the sender on the other.\n",
        date = common::sh("date -u +%Y-%m-%dT%H:%MZ"),
        machine = common::machine(),
        pool = a.pool,
        rate = a.rate,
        burst = a.rate.floor(),
        un = a.unlimited,
    );
    println!("{md}");
    std::fs::write(common::section_path(&a.out, "smtp"), &md).expect("writing the section");
    if let Ok(report) = std::fs::read_to_string(&a.out) {
        std::fs::write(&a.out, common::splice_section(&report, "smtp", &md))
            .expect("writing the report");
    }
    assert_eq!(received, expected, "every message arrives once");
    assert_eq!(failed_limited + failed_unlimited, 0, "no send failed");
}
