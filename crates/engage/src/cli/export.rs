//! `engage export clients|emails`: the same export as `GET /api/v1/users/export` and
//! `GET /api/v1/emails/export` ([`engage_api::export`]), straight from the data
//! directory's store, to stdout or a file.
//!
//! A file is written beside its final name and renamed into place once complete, so
//! an interrupted or failed export never leaves a complete-looking file behind.

use super::import::FormatArg;
use anyhow::Context as _;
use engage_api::export::Export;
use engage_core::email::EmailStatus;
use engage_core::import::Format;
use engage_embedded::Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum What {
    Clients,
    Emails,
}

impl What {
    pub fn as_str(&self) -> &'static str {
        match self {
            What::Clients => "clients",
            What::Emails => "emails",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// What to export.
    #[arg(value_enum)]
    pub what: What,
    /// NDJSON (one JSON object per line, as the API shows it) or CSV (clients: the
    /// import columns first, so the file can be imported again).
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: FormatArg,
    /// Write to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Emails only: just those in this status (`sent`, `scheduled`, ...).
    #[arg(long)]
    pub status: Option<String>,
    /// Emails only: just those of this campaign (`welcome`, `win_back`, ...).
    #[arg(long)]
    pub campaign: Option<String>,
}

/// Runs the export; returns how many items were written.
pub async fn run(store: Store, args: &ExportArgs) -> anyhow::Result<u64> {
    let format = match args.format {
        FormatArg::Ndjson => Format::Ndjson,
        FormatArg::Csv => Format::Csv,
    };
    let export = match args.what {
        What::Clients => {
            anyhow::ensure!(
                args.status.is_none() && args.campaign.is_none(),
                "--status and --campaign filter emails, not clients"
            );
            Export::clients(Arc::new(store), format)
        }
        What::Emails => {
            let status = args
                .status
                .as_deref()
                .map(|s| {
                    EmailStatus::parse(s).with_context(|| {
                        let valid: Vec<&str> =
                            EmailStatus::ALL.iter().map(EmailStatus::as_str).collect();
                        format!("--status `{s}` is not one of {}", valid.join(", "))
                    })
                })
                .transpose()?;
            Export::emails(Arc::new(store), format, status, args.campaign.clone())
        }
    };
    match &args.output {
        None => Ok(write_all(export, tokio::io::stdout()).await?.0),
        Some(path) => to_file(export, path).await,
    }
}

async fn to_file(export: Export, path: &Path) -> anyhow::Result<u64> {
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let partial = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("creating {}", partial.display()))?;
    let written = async {
        let (n, file) = write_all(export, file).await?;
        // On the disk before it takes the final name.
        file.sync_all().await.context("writing the export")?;
        tokio::fs::rename(&partial, path)
            .await
            .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
        Ok(n)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

async fn write_all<W: AsyncWrite + Unpin>(mut export: Export, out: W) -> anyhow::Result<(u64, W)> {
    let mut out = BufWriter::with_capacity(1 << 20, out);
    while let Some(chunk) = export
        .next_chunk()
        .await
        .with_context(|| format!("reading {} after {}", export.what(), export.items()))?
    {
        out.write_all(&chunk).await.context("writing the export")?;
    }
    out.flush().await.context("writing the export")?;
    Ok((export.items(), out.into_inner()))
}
