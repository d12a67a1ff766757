//! `engage`: the client engagement system in one binary.

use clap::{Parser, Subcommand};
use engage::Application;
use engage::config::{Backend, Config, Overrides, Secrets};
use engage_core::clock::SystemClock;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "engage",
    version,
    about = "Client engagement acceleration: change stream → score → decide → email"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// Listen address (overrides ENGAGE_ADDR).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Data directory (overrides ENGAGE_DATA_DIR).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `embedded` (SQLite) or `aws` (overrides ENGAGE_BACKEND).
    #[arg(long, value_parser = clap::builder::TypedValueParser::try_map(clap::builder::PossibleValuesParser::new(["embedded", "aws"]), |s| s.parse::<Backend>()))]
    backend: Option<Backend>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API, the console and the pipeline.
    Serve(Common),
    /// Replace the stored admin API token with a new one and print it.
    RotateToken(Common),
    /// Import clients from an NDJSON or CSV file (upsert by email), resumably.
    Import {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: engage::cli::import::ImportArgs,
    },
    /// Inspect and redrive dead letters (messages that failed the maximum receives).
    Dlq {
        #[command(subcommand)]
        command: engage::cli::dlq::DlqCommand,
    },
    /// Publish the change log again from a sequence number (safe: nothing is sent twice).
    Replay {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: engage::cli::replay::ReplayArgs,
    },
    /// Send failed emails again (`engage resend ID…` or `--all-failed`).
    Resend {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: engage::cli::resend::ResendArgs,
    },
    /// Export clients or emails as NDJSON or CSV, to stdout or a file.
    Export {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: engage::cli::export::ExportArgs,
    },
    /// The AWS backend's resources.
    Aws {
        #[command(subcommand)]
        command: AwsCommand,
    },
    /// Load synthetic demo clients (the same --seed gives the same clients).
    Demo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: engage::cli::demo::DemoArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AwsCommand {
    /// Create the tables, the topic, the queues and the subscription (`[aws]`'s
    /// region, endpoint and prefix); running it again changes nothing.
    Init(Common),
}

impl Common {
    /// The configuration, checking only the secrets the command uses.
    fn config(&self, needed: Secrets) -> anyhow::Result<Config> {
        Config::load_for(
            &Overrides {
                addr: self.addr,
                data_dir: self.data_dir.clone(),
                backend: self.backend,
            },
            needed,
        )
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal that arrives while the server is
/// starting is not lost (nor does it kill the process mid-start).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
            tracing::info!("shutting down");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(common) => {
            let config = common.config(Secrets::ALL)?;
            let shutdown = shutdown_signal()?;
            let app = Application::build(config.clone(), Arc::new(SystemClock)).await?;
            if let Some(token) = &app.created_admin_token {
                // Printed, not logged: it is shown once and never stored in plain text.
                eprintln!(
                    "\nengage: created an admin API token (shown only this once, keep it):\n\n    {token}\n"
                );
                eprintln!(
                    "Use it as:  curl -H 'Authorization: Bearer {token}' http://{}/api/v1/users\n",
                    app.addr()
                );
            }
            tracing::info!(addr = %app.addr(), data_dir = %config.data_dir.display(), "engage is serving: API at /api/v1, docs at /docs, health at /health");
            app.run_until_stopped(shutdown).await
        }
        Command::RotateToken(common) => {
            let store = engage::cli::open_store(&common.config(Secrets::NONE)?)?;
            let token = engage::secrets::rotate_admin_token(&store).await?;
            println!("{token}");
            Ok(())
        }
        Command::Import { common, args } => {
            let store = engage::cli::open_store(&common.config(Secrets::NONE)?)?;
            let started = std::time::Instant::now();
            let c = engage::cli::import::run(store, &args).await?;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "engage: imported {}: {} rows, {} created, {} updated, {} unchanged, {} failed ({secs:.1} s)",
                args.file.display(),
                c.rows,
                c.created,
                c.updated,
                c.unchanged,
                c.failed
            );
            anyhow::ensure!(
                c.failed == 0,
                "{} rows failed (listed above with their line numbers)",
                c.failed
            );
            Ok(())
        }
        Command::Dlq { command } => {
            let store = engage::cli::open_store(&command.config()?)?;
            engage::cli::dlq::run(&store, &command, &mut std::io::stdout()).await
        }
        Command::Resend { common, args } => {
            engage::cli::resend::run(
                common.config(Secrets::LINKS)?,
                &args,
                &mut std::io::stdout(),
            )
            .await
        }
        Command::Replay { common, args } => {
            engage::cli::replay::run(common.config(Secrets::ALL)?, &args, &mut std::io::stdout())
                .await
        }
        Command::Export { common, args } => {
            let store = engage::cli::open_store(&common.config(Secrets::NONE)?)?;
            let started = std::time::Instant::now();
            let n = engage::cli::export::run(store, &args).await?;
            let to = args
                .output
                .as_ref()
                .map_or("stdout".into(), |p| p.display().to_string());
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "engage: exported {n} {} to {to} ({secs:.1} s)",
                args.what.as_str()
            );
            Ok(())
        }
        Command::Aws {
            command: AwsCommand::Init(common),
        } => {
            // It only creates resources: no token, no key.
            let config = common.config(Secrets::NONE)?;
            #[cfg(not(feature = "aws"))]
            {
                let _ = config;
                Err(engage::aws_not_built("`engage aws init`"))
            }
            #[cfg(feature = "aws")]
            {
                let sdk = config.aws.sdk_config().await;
                let mut resources = config.aws.resources();
                // Sending through SES: the domain of `from` as its identity.
                if matches!(config.mail.sender, engage::config::SenderKind::Ses) {
                    resources.ses_identity = Some(config.engine.from_domain().to_string());
                }
                let report = engage_aws::init(&sdk, &resources)
                    .await
                    .map_err(|e| anyhow::anyhow!("aws init: {e:#}"))?;
                print!("{report}");
                Ok(())
            }
        }
        Command::Demo { common, args } => {
            let store = engage::cli::open_store(&common.config(Secrets::NONE)?)?;
            let started = std::time::Instant::now();
            let r = engage::cli::demo::run(store, &args).await?;
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "engage: loaded {} demo clients (seed {}; {} opted in, {} unsubscribed; {} already there) in {secs:.1} s; `engage serve` decides on them through the change stream",
                r.created, args.seed, r.opted_in, r.unsubscribed, r.already_present
            );
            Ok(())
        }
    }
}

/// jemalloc instead of glibc's allocator, which gives each thread that allocates
/// concurrently an arena of its own and seldom hands memory back: with the runtime's
/// blocking threads coming and going, the server's resident memory crept past 150 MB
/// at 2,000 changes/s. (mimalloc was as fast but held twice the memory.)
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let _logs = engage::telemetry::init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("engage: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("engage: {e:#}");
            ExitCode::FAILURE
        }
    }
}
