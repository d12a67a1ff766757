//! What the benchmarks (`bench.rs`, `bench_llm/`) share: the engage binary next to
//! them, a server child process, read-only SQLite access, percentiles, the machine's
//! description, and the LLM section of `docs/benchmarks.md`.
//!
//! Included by each example with `mod common;` (a directory under `examples/` with a
//! `mod.rs` is not an example of its own).

// Each example is a crate of its own and uses only some of these.
#![allow(dead_code)]

use anyhow::{Context as _, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

pub const TOKEN: &str = "bench-admin-token-0123456789";

pub fn sh(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// `2 cores (AMD EPYC), 23 GiB RAM, Linux 6.1`.
pub fn machine() -> String {
    format!(
        "{} cores ({}), {} GiB RAM, {}",
        sh("nproc"),
        sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").trim(),
        sh("free -g | awk '/Mem:/ {print $2}'"),
        sh("uname -sr"),
    )
}

pub fn engage_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .context("examples dir")?
        .join("engage");
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: build it with `cargo build --release -p engage`",
        bin.display()
    );
    Ok(bin)
}

/// `engage serve`, stopped with SIGTERM (then SIGKILL) when dropped; its resident
/// memory is sampled every 100 ms.
pub struct Server {
    child: Child,
    pub peak_rss_kb: Arc<AtomicU64>,
    sampling: Arc<AtomicBool>,
}

impl Server {
    /// `Err` with the exit status once the server has stopped.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!("engage serve stopped unexpectedly: {status}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.sampling.store(false, Ordering::Relaxed);
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

/// Starts `engage serve` on `addr` with `data` and the extra environment `env`
/// (engage's configuration), and waits until it accepts connections.
pub fn start_server(
    bin: &Path,
    data: &Path,
    addr: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let mut child = Command::new(bin)
        .args(["serve", "--addr", addr, "--data-dir"])
        .arg(data)
        .env("ENGAGE_ADMIN_TOKEN", TOKEN)
        .env(
            "RUST_LOG",
            std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .env("ENGAGE_PIPELINE__SCHEDULER_INTERVAL_SECS", "3600")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(match std::env::var_os("BENCH_SERVER_LOG") {
            Some(_) => Stdio::from(std::fs::File::create(data.with_extension("serve.log"))?),
            None => Stdio::null(),
        })
        .spawn()?;
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let (pid, p, s) = (child.id(), peak.clone(), sampling.clone());
    std::thread::spawn(move || {
        while s.load(Ordering::Relaxed) {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let kb = status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok());
            if let Some(kb) = kb {
                p.fetch_max(kb, Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    for _ in 0..300 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(Server {
                child,
                peak_rss_kb: peak,
                sampling,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            sampling.store(false, Ordering::Relaxed);
            bail!("engage serve exited at start ({status}); set BENCH_SERVER_LOG=info to see why");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    sampling.store(false, Ordering::Relaxed);
    let _ = child.kill();
    let _ = child.wait();
    bail!("engage serve did not start on {addr}")
}

pub fn db(data: &Path) -> anyhow::Result<rusqlite::Connection> {
    let c = rusqlite::Connection::open_with_flags(
        data.join("engage.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    c.busy_timeout(Duration::from_secs(30))?;
    Ok(c)
}

pub fn count(c: &rusqlite::Connection, sql: &str) -> u64 {
    c.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(0) as u64
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Where a side benchmark (`llm`, `smtp`) writes its section for the report `out`:
/// `docs/benchmarks.llm.md` for `docs/benchmarks.md`.
pub fn section_path(out: &Path, name: &str) -> PathBuf {
    out.with_extension(format!("{name}.md"))
}

fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- bench-{name}:begin -->"),
        format!("<!-- bench-{name}:end -->"),
    )
}

/// A side benchmark's section ([`section_path`]) between its markers, for `bench` to
/// put back when it rewrites `out`. Only the markers when that benchmark has not run.
pub fn section_block(out: &Path, name: &str) -> anyhow::Result<String> {
    let section = section_path(out, name);
    let body = if section.exists() {
        std::fs::read_to_string(&section)?
    } else {
        String::new()
    };
    let (begin, end) = markers(name);
    Ok(format!("{begin}\n{}{end}\n", ensure_newline(&body)))
}

/// `md` with the text between `name`'s markers replaced by `section`; without the
/// markers, the block goes before `## Reading the figures` (or at the end).
pub fn splice_section(md: &str, name: &str, section: &str) -> String {
    let (begin, end) = markers(name);
    let block = format!("{begin}\n{}{end}", ensure_newline(section));
    if let (Some(b), Some(e)) = (md.find(&begin), md.find(&end))
        && b < e
    {
        return format!("{}{block}{}", &md[..b], &md[e + end.len()..]);
    }
    let heading = "## Reading the figures";
    match md.find(&format!("\n{heading}")) {
        Some(i) => format!("{}{block}\n\n{}", &md[..i + 1], &md[i + 1..]),
        None => format!("{}\n\n{block}\n", md.trim_end()),
    }
}

fn ensure_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}
