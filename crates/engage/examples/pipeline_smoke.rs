//! A quick end-to-end throughput probe of the embedded pipeline (not the benchmark):
//! N clients created through the client service by concurrent tasks, then the change
//! stream and the email processor run until idle.
//!
//!     cargo run --release -p engage --example pipeline_smoke -- 20000

use engage::Application;
use engage::config::{Config, DurabilitySetting};
use engage_core::client::NewClient;
use engage_core::clock::SystemClock;
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        durability: DurabilitySetting::Full,
        ..Config::default()
    };
    config.addr = "127.0.0.1:0".parse()?;
    config.admin_token = Some("smoke-test-token-0123456789".into());
    config.pipeline.autostart = false;
    let app = Application::build(config, Arc::new(SystemClock)).await?;
    let pipeline = app.pipeline();
    let service =
        engage_core::service::ClientService::new(Arc::new(app.store()), Arc::new(SystemClock));

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per = n / 64;
    for t in 0..64 {
        let service = service.clone();
        tasks.spawn(async move {
            for i in 0..per {
                let new = NewClient {
                    email: format!("c{t}-{i}@example.com"),
                    first_name: "Sam".into(),
                    last_name: None,
                    time_zone: "Europe/London".into(),
                    email_opt_in: i % 10 != 0,
                    profile: None,
                };
                service.create(new).await.expect("create");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let created = per * 64;
    let t_write = started.elapsed();
    println!(
        "created {created} clients in {:.2?}: {:.0}/s",
        t_write,
        created as f64 / t_write.as_secs_f64()
    );

    let started = Instant::now();
    while pipeline.pump_once().await? > 0 {}
    let t_pump = started.elapsed();
    println!("published {created} events in {t_pump:.2?}");
    let workers: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(8);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let p = pipeline.clone();
        tasks.spawn(async move {
            let mut n = 0;
            loop {
                match p.work_once().await.expect("work") {
                    0 => return n,
                    k => n += k,
                }
            }
        });
    }
    let mut processed = 0;
    while let Some(n) = tasks.join_next().await {
        processed += n?;
    }
    let t_proc = started.elapsed();
    println!(
        "processed {processed} events with {workers} workers in {t_proc:.2?}: {:.0}/s",
        processed as f64 / t_proc.as_secs_f64()
    );
    Ok(())
}
