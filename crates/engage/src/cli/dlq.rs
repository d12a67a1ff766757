//! `engage dlq`: the dead-letter queue from the command line, working on the data
//! directory's store directly (a running `engage serve` may share it).
//!
//! A redriven message is back in its queue at once; the workers of a running server
//! notice it within their idle poll (a second), since the wake-up signal does not
//! cross processes.

use crate::config::{Config, Overrides, Secrets};
use anyhow::Context as _;
use engage_core::StoreError;
use engage_core::ports::{DeadLetter, DeadLetters};
use engage_embedded::Store;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum DlqCommand {
    /// List dead letters, oldest first.
    List {
        #[command(flatten)]
        data: DataDir,
        /// How many to show at most.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show one dead letter with its message, as JSON.
    Show {
        #[command(flatten)]
        data: DataDir,
        /// The dead letter's id, as `list` shows it.
        id: String,
    },
    /// Move one dead letter (or all of them) back to its queue, with a fresh count.
    Redrive {
        #[command(flatten)]
        data: DataDir,
        /// The dead letter's id, as `list` shows it.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Redrive every dead letter.
        #[arg(long)]
        all: bool,
    },
}

/// `--data-dir`, on each `dlq` subcommand so it can follow the subcommand's name.
#[derive(Debug, Clone, clap::Args)]
pub struct DataDir {
    /// Data directory (overrides ENGAGE_DATA_DIR).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl DlqCommand {
    /// The configuration the command's store is found with.
    pub fn config(&self) -> anyhow::Result<Config> {
        let (Self::List { data, .. } | Self::Show { data, .. } | Self::Redrive { data, .. }) = self;
        Config::load_for(
            &Overrides {
                data_dir: data.data_dir.clone(),
                ..Overrides::default()
            },
            Secrets::NONE,
        )
    }
}

/// The longest last error a table row shows.
const ERROR_CHARS: usize = 60;

/// Runs `command` on `store`, writing what it has to say to `out`.
pub async fn run(store: &Store, command: &DlqCommand, out: &mut impl Write) -> anyhow::Result<()> {
    let dlq: &dyn DeadLetters = store;
    match command {
        DlqCommand::List { limit, .. } => {
            let mut items = Vec::new();
            let mut cursor = None;
            // Pages of the store's size until `limit` dead letters are in hand.
            while items.len() < *limit as usize {
                let want = (*limit as usize - items.len()).min(1000) as u32;
                let page = dlq.list(cursor, want).await?;
                items.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            write!(out, "{}", table(&items))?;
        }
        DlqCommand::Show { id, .. } => {
            let d = dlq.get(id).await?.with_context(|| not_found(id))?;
            writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
        }
        DlqCommand::Redrive { id: Some(id), .. } => {
            let d = dlq.get(id).await?.with_context(|| not_found(id))?;
            match dlq.redrive(id).await {
                Ok(()) => {}
                Err(StoreError::NotFound) => anyhow::bail!(not_found(id)),
                Err(e) => return Err(e.into()),
            }
            writeln!(out, "redrove {id} to the `{}` queue", d.source_queue)?;
        }
        DlqCommand::Redrive { id: None, .. } => {
            let n = dlq.redrive_all().await?;
            writeln!(
                out,
                "redrove {n} dead letter{}",
                if n == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

fn not_found(id: &str) -> String {
    format!("no dead letter has the id `{id}` (see `engage dlq list`)")
}

/// The list as an aligned table; a header even when empty.
fn table(items: &[DeadLetter]) -> String {
    let header = ["ID", "QUEUE", "RECEIVES", "SENT AT", "LAST ERROR"].map(String::from);
    let rows: Vec<[String; 5]> = items
        .iter()
        .map(|d| {
            [
                d.id.clone(),
                d.source_queue.clone(),
                d.receive_count.to_string(),
                d.sent_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                truncate(d.last_error.as_deref().unwrap_or("-"), ERROR_CHARS),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    text
}

/// One line of at most `max` characters, with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    let line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let mut cut: String = line.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn dead(id: &str, error: Option<&str>) -> DeadLetter {
        DeadLetter {
            id: id.into(),
            source_queue: "email".into(),
            body: serde_json::json!({"id": "evt_1"}),
            receive_count: 5,
            last_error: error.map(String::from),
            sent_at: chrono::Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap(),
        }
    }

    #[test]
    fn the_table_aligns_columns_and_keeps_errors_to_one_short_line() {
        let long = format!("disk\nfull {}", "x".repeat(100));
        let t = table(&[dead("msg_1", Some(&long)), dead("msg_12", None)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3, "{t}");
        assert!(
            lines[0].starts_with("ID      QUEUE  RECEIVES  SENT AT"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("msg_1   email  5         2026-03-02T12:00:00Z  disk full x"),
            "{t}"
        );
        assert!(
            lines[1].ends_with('…') && lines[1].chars().count() < 120,
            "{t}"
        );
        assert!(lines[2].ends_with("  -"), "{t}");
    }

    #[test]
    fn an_empty_table_is_its_header() {
        assert_eq!(table(&[]), "ID  QUEUE  RECEIVES  SENT AT  LAST ERROR\n");
    }

    #[test]
    fn truncate_counts_characters_not_bytes() {
        assert_eq!(truncate("héllo", 5), "héllo");
        assert_eq!(truncate("héllo wörld", 6), "héllo…");
    }
}
