//! `engage import FILE`: bulk import straight into the data directory's store, with a
//! progress bar, resumable after an interruption.
//!
//! After each stored batch the position in the file is saved in the store (keyed by
//! the file's path, size and modification time); running the same command again
//! continues from there. Re-importing rows is harmless anyway (upserts that change
//! nothing write nothing), resuming only saves the time.

use anyhow::Context as _;
use engage_api::import::{ImportFailure, ImportProgress, import_rows};
use engage_core::clock::SystemClock;
use engage_core::import::{Format, ImportCounts, Importer, RowReader};
use engage_embedded::Store;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The file to import (NDJSON, or CSV with a header line).
    pub file: PathBuf,
    /// The file's format; guessed from its name when absent (`.csv` is CSV).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Start from the beginning even if an earlier run of this file was interrupted.
    #[arg(long)]
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum FormatArg {
    Ndjson,
    Csv,
}

/// What is saved after each batch, to resume from.
#[derive(Debug, Serialize, Deserialize)]
struct Checkpoint {
    offset: u64,
    line: u64,
    counts: ImportCounts,
}

/// Identifies a file's current contents well enough to refuse resuming an edited file.
fn checkpoint_key(path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)?;
    let canonical = std::fs::canonicalize(path)?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(canonical.to_string_lossy().as_bytes());
    h.update(meta.len().to_le_bytes());
    h.update(modified.as_nanos().to_le_bytes());
    Ok(format!("import:{}", hex::encode(&h.finalize()[..12])))
}

/// Runs the import; `Ok(counts)` even when rows failed (the caller exits non-zero).
pub async fn run(store: Store, args: &ImportArgs) -> anyhow::Result<ImportCounts> {
    let path = &args.file;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata()?.len();
    let format = match args.format {
        Some(FormatArg::Csv) => Format::Csv,
        Some(FormatArg::Ndjson) => Format::Ndjson,
        None => Format::guess(&path.to_string_lossy()),
    };
    let key = checkpoint_key(path)?;
    let resume: Option<Checkpoint> = match (args.restart, store.meta_get(&key).await?) {
        (false, Some(saved)) => serde_json::from_str(&saved).ok(),
        _ => None,
    };

    let (rows, start) = open_rows(file, format, resume.as_ref())?;
    if let Some(h) = rows.csv_header()
        && !h.ignored_columns().is_empty()
    {
        eprintln!(
            "engage: ignoring {} column(s) engage does not read: {}",
            h.ignored_columns().len(),
            h.ignored_columns().join(", ")
        );
    }
    let mut importer = Importer::new(Arc::new(store.clone()), Arc::new(SystemClock));
    if let Some(r) = &resume {
        importer.counts = r.counts;
        eprintln!(
            "engage: resuming {} at line {} ({} rows were done before)",
            path.display(),
            r.line + 1,
            r.counts.rows
        );
    }

    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {percent:>3}%  {msg}  ETA {eta}")
            .expect("a valid template"),
    );
    bar.set_position(start);
    let started = Instant::now();
    let already = importer.counts.rows;
    // Checkpoints are written in order by one task, so an interrupted run (even a
    // killed one) leaves the last stored batch's position behind.
    let (saves, mut saved) = tokio::sync::mpsc::unbounded_channel::<Checkpoint>();
    let saver = {
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(async move {
            while let Some(c) = saved.recv().await {
                if let Ok(json) = serde_json::to_string(&c) {
                    store.meta_set(&key, &json).await?;
                }
            }
            Ok::<_, engage_core::StoreError>(())
        })
    };
    let result = import_rows(rows, &mut importer, |p: &ImportProgress, errors| {
        for e in errors {
            bar.suspend(|| eprintln!("line {}: {}", e.line, e.reason));
        }
        let rate = (p.counts.rows - already) as f64 / started.elapsed().as_secs_f64().max(1e-6);
        bar.set_position(p.offset);
        bar.set_message(format!("{} rows, {rate:.0} rows/s", p.counts.rows));
        let _ = saves.send(Checkpoint {
            offset: p.offset,
            line: p.line,
            counts: p.counts,
        });
    })
    .await;
    bar.finish_and_clear();
    drop(saves);
    saver.await??;
    match result {
        Ok(_) => {
            store.meta_delete(&key).await?;
            Ok(importer.counts)
        }
        Err(e) => Err(match e {
            ImportFailure::Read { cause, progress } => anyhow::anyhow!(
                "reading {} failed at line {}: {cause} (run the same command again to resume)",
                path.display(),
                progress.line + 1
            ),
            ImportFailure::Store(e) => {
                anyhow::anyhow!("storing failed: {e} (run the same command again to resume)")
            }
        }),
    }
}

fn open_rows(
    mut file: std::fs::File,
    format: Format,
    resume: Option<&Checkpoint>,
) -> anyhow::Result<(RowReader<BufReader<std::fs::File>>, u64)> {
    let start = resume.map_or(0, |r| r.offset);
    let line = resume.map_or(0, |r| r.line);
    Ok(match (format, resume) {
        (Format::Ndjson, _) => {
            file.seek(SeekFrom::Start(start))?;
            (
                RowReader::ndjson(BufReader::with_capacity(1 << 20, file), start, line),
                start,
            )
        }
        (Format::Csv, None) => {
            let rows = RowReader::csv(BufReader::with_capacity(1 << 20, file))
                .map_err(|e| anyhow::anyhow!(e))?;
            (rows, 0)
        }
        (Format::Csv, Some(_)) => {
            let header = RowReader::csv(BufReader::new(file.try_clone()?))
                .map_err(|e| anyhow::anyhow!(e))?
                .csv_header()
                .cloned()
                .expect("a CSV reader has a header");
            file.seek(SeekFrom::Start(start))?;
            (
                RowReader::csv_from(BufReader::with_capacity(1 << 20, file), header, start, line),
                start,
            )
        }
    })
}
