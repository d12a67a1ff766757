//! Bulk import: rows of clients from NDJSON or CSV, upserted by email address.
//!
//! Reading is synchronous over any `BufRead` (a file, or an HTTP body bridged to a
//! blocking reader) and yields one [`Row`] per line/record with its line number, so a
//! broken row is reported and skipped, never fatal. [`Importer`] writes batches
//! through the [`ClientImport`](crate::ports::ClientImport) port: each row is its own
//! conditional write, so a failing row never half-writes a client and never stops the
//! others.
//!
//! Upsert rules: a new address creates a client; a known one takes the row's name,
//! time zone, opt-in and (when given) profile. A row that changes nothing writes
//! nothing, so importing the same file twice changes nothing. Import never
//! re-subscribes an unsubscribed client: that stays an explicit action. A CSV row may
//! unsubscribe one (`unsubscribed` = true), so consent survives export and re-import.
//!
//! [`csv_record`] is the CSV reader's inverse: the rows `engage export` and
//! `GET /api/v1/users/export?format=csv` write, importable again as they are (the
//! store-assigned [`CSV_READ_ONLY_COLUMNS`] are ignored on the way in).
//!
//! - `header`: the CSV columns, and how a file's header is matched to them;
//! - `export`: what an export writes, and the spreadsheet-formula defusing;
//! - `reader`: the rows of a file, NDJSON or CSV, resumable at a byte offset;
//! - `row`: the shape of an NDJSON line;
//! - `importer`: the batch writer and its counts.

mod export;
mod header;
mod importer;
mod reader;
mod row;

pub use export::{csv_export_header, csv_record, from_spreadsheet_safe, spreadsheet_safe};
pub use header::{CSV_COLUMNS, CSV_READ_ONLY_COLUMNS, CsvHeader};
pub use importer::{ImportCounts, Importer};
pub use reader::{MAX_ROW_BYTES, RowReader};

use crate::client::NewClientFields;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Ndjson,
    Csv,
}

impl Format {
    /// From a file name or a media type: `.csv` / `text/csv` is CSV, anything else NDJSON.
    pub fn guess(name: &str) -> Format {
        let n = name.to_ascii_lowercase();
        if n.ends_with(".csv") || n.starts_with("text/csv") {
            Format::Csv
        } else {
            Format::Ndjson
        }
    }
}

/// One row as read: its first line number (1-based) and the client it describes, not
/// checked yet (the importer checks it).
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub parsed: Result<NewClientFields, String>,
    /// The row unsubscribes the client (CSV column `unsubscribed`); never the reverse.
    pub unsubscribed: bool,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RowError {
    pub line: u64,
    pub reason: String,
}
