//! Bulk import: rows of clients from NDJSON or CSV, upserted by email address.
//!
//! Reading is synchronous over any `BufRead` (a file, or an HTTP body bridged to a
//! blocking reader) and yields one [`Row`] per line/record with its line number, so a
//! broken row is reported and skipped, never fatal. [`Importer`] writes batches
//! through the [`ClientImport`] port: each row is its own conditional write, so a
//! failing row never half-writes a client and never stops the others.
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

use crate::StoreError;
use crate::client::{Client, NewClient, StyleProfile};
use crate::clock::Clock;
use crate::ids::UserId;
use crate::ports::{ClientImport, ClientWrite};
use crate::score::Tier;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufRead;
use std::sync::Arc;

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

/// One row as read: its first line number (1-based) and the client it describes.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    pub parsed: Result<NewClient, String>,
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

/// The CSV columns an import reads, in the order an export writes them. Only `email`,
/// `first_name`, `time_zone` and `email_opt_in` are required.
pub const CSV_COLUMNS: [&str; 12] = [
    "email",
    "first_name",
    "last_name",
    "time_zone",
    "email_opt_in",
    "preferences",
    "top_size",
    "bottom_size",
    "shoe_size",
    "budget",
    "fit_notes",
    "unsubscribed",
];

/// Columns the store assigns: an export writes them after [`CSV_COLUMNS`], an import
/// accepts and ignores them (a client is matched by address, never by id).
pub const CSV_READ_ONLY_COLUMNS: [&str; 6] =
    ["id", "version", "score", "tier", "created_at", "updated_at"];

/// The header of an exported CSV file: [`CSV_COLUMNS`] then [`CSV_READ_ONLY_COLUMNS`].
pub fn csv_export_header() -> impl Iterator<Item = &'static str> {
    CSV_COLUMNS.into_iter().chain(CSV_READ_ONLY_COLUMNS)
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// One client as an exported CSV record, in [`csv_export_header`]'s order; importing it
/// gives the same name, time zone, consent and profile back. (Preferences are joined
/// with `;`, so one that itself holds a `;` or `|` comes back split.)
pub fn csv_record(client: &Client, score: Option<u8>, tier: Option<Tier>) -> Vec<String> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let p = &client.profile;
    vec![
        client.email.as_str().to_string(),
        client.first_name.clone(),
        text(&client.last_name),
        client.time_zone.name().to_string(),
        client.consent.email_opt_in.to_string(),
        p.preferences.join(";"),
        text(&p.top_size),
        text(&p.bottom_size),
        text(&p.shoe_size),
        text(&p.budget),
        text(&p.fit_notes),
        client.consent.unsubscribed.to_string(),
        client.id.to_string(),
        client.version.to_string(),
        score.map(|s| s.to_string()).unwrap_or_default(),
        tier.map(|t| t.as_str().to_string()).unwrap_or_default(),
        rfc3339(client.created_at),
        rfc3339(client.updated_at),
    ]
}

/// What a spreadsheet takes for the start of a formula (or, tab and CR, for a way to
/// smuggle one past its first look): a CSV cell beginning with one of these is run as
/// a formula when the file is opened (OWASP's "CSV injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn starts_a_formula(cell: &str) -> bool {
    cell.trim_start_matches('\'').starts_with(FORMULA_STARTS)
}

/// A CSV cell as written out: one that a spreadsheet would run as a formula gets a
/// leading `'`, which spreadsheets show as text. Cells already starting with `'`
/// before such a character get one more, so [`from_spreadsheet_safe`] gives back
/// exactly what went in.
pub fn spreadsheet_safe(cell: String) -> String {
    if starts_a_formula(&cell) {
        format!("'{cell}")
    } else {
        cell
    }
}

/// The inverse of [`spreadsheet_safe`], applied to every imported CSV cell: exactly
/// one leading `'` is removed from a cell that would otherwise start a formula.
pub fn from_spreadsheet_safe(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if starts_a_formula(rest) => rest,
        _ => cell,
    }
}

fn parse_bool(column: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Ok(true),
        "false" | "0" | "no" | "n" => Ok(false),
        other => Err(format!("{column}: `{other}` is not true or false")),
    }
}

/// The columns a CSV row must have.
const CSV_REQUIRED_COLUMNS: [&str; 4] = ["email", "first_name", "time_zone", "email_opt_in"];

/// Where each known column sits in a CSV file's header, how many columns it has, and
/// the columns it has that engage does not know (a CRM's export carries dozens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvHeader {
    at: Vec<Option<usize>>,
    width: usize,
    ignored: Vec<String>,
}

impl CsvHeader {
    /// Reads the header record. Columns engage does not know are ignored (and named by
    /// [`CsvHeader::ignored_columns`]); a missing required column is fatal, and names
    /// the ignored column it looks misspelt as, if any. A repeated column is fatal.
    pub fn parse(record: &csv::StringRecord) -> Result<Self, String> {
        let mut at = vec![None; CSV_COLUMNS.len()];
        let mut ignored = Vec::new();
        for (i, raw) in record.iter().enumerate() {
            // `First Name`, `first-name` and `FIRST_NAME` all name `first_name`.
            let name = raw
                .trim()
                .trim_start_matches('\u{feff}')
                .to_ascii_lowercase()
                .replace([' ', '-'], "_");
            if CSV_READ_ONLY_COLUMNS.contains(&name.as_str()) {
                continue;
            }
            match CSV_COLUMNS.iter().position(|c| *c == name) {
                Some(known) if at[known].is_some() => {
                    return Err(format!("the CSV header names `{name}` twice"));
                }
                Some(known) => at[known] = Some(i),
                None => ignored.push(raw.trim().trim_start_matches('\u{feff}').to_string()),
            }
        }
        for required in CSV_REQUIRED_COLUMNS {
            let i = CSV_COLUMNS
                .iter()
                .position(|c| *c == required)
                .expect("listed");
            if at[i].is_none() {
                let hint = ignored
                    .iter()
                    .find(|c| looks_like(c, required))
                    .map(|c| format!(" (is `{c}` meant to be `{required}`?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "the CSV header has no `{required}` column{hint}; the columns engage reads are {}",
                    CSV_COLUMNS.join(", ")
                ));
            }
        }
        Ok(Self {
            at,
            width: record.len(),
            ignored,
        })
    }

    /// The header's columns engage does not read, as written in the file.
    pub fn ignored_columns(&self) -> &[String] {
        &self.ignored
    }

    fn get<'r>(&self, record: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let i = CSV_COLUMNS.iter().position(|c| *c == column)?;
        self.at[i]
            .and_then(|j| record.get(j))
            .map(|cell| from_spreadsheet_safe(cell.trim()).trim())
            .filter(|s| !s.is_empty())
    }

    /// The client a record describes, and whether it unsubscribes the client.
    fn row(&self, record: &csv::StringRecord) -> Result<(NewClient, bool), String> {
        if record.len() != self.width {
            return Err(format!(
                "{} fields, the header has {}",
                record.len(),
                self.width
            ));
        }
        let need = |c: &str| self.get(record, c).ok_or_else(|| format!("`{c}` is empty"));
        let opt_in = parse_bool("email_opt_in", need("email_opt_in")?)?;
        let unsubscribed = self
            .get(record, "unsubscribed")
            .map(|v| parse_bool("unsubscribed", v))
            .transpose()?
            .unwrap_or(false);
        let text = |c: &str| self.get(record, c).map(str::to_string);
        let profile = StyleProfile {
            preferences: self
                .get(record, "preferences")
                .map(|p| {
                    p.split([';', '|'])
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            top_size: text("top_size"),
            bottom_size: text("bottom_size"),
            shoe_size: text("shoe_size"),
            budget: text("budget"),
            fit_notes: text("fit_notes"),
        };
        let has_profile = [
            "preferences",
            "top_size",
            "bottom_size",
            "shoe_size",
            "budget",
            "fit_notes",
        ]
        .iter()
        .any(|c| self.get(record, c).is_some());
        let client = NewClient {
            email: need("email")?.to_string(),
            first_name: need("first_name")?.to_string(),
            last_name: text("last_name"),
            time_zone: need("time_zone")?.to_string(),
            email_opt_in: opt_in,
            profile: has_profile.then_some(profile),
        };
        Ok((client, unsubscribed))
    }
}

/// Whether the column `name` looks like a misspelling of `column`: the same once case,
/// spaces, `-` and `_` are set aside, or at most two edits apart.
fn looks_like(name: &str, column: &str) -> bool {
    let squash = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let (a, b) = (squash(name), squash(column));
    a == b || strsim::levenshtein(&a, &b) <= 2
}

/// The longest row read, in bytes. A client is far smaller (names, a few sizes,
/// 20 preferences, 500 characters of notes); a longer row is reported and skipped
/// without being held in memory whole.
pub const MAX_ROW_BYTES: usize = 64 * 1024;

/// Reads rows, tracking the byte offset of the next row (for resuming).
#[derive(Debug)]
pub enum RowReader<R> {
    Ndjson {
        reader: R,
        line: u64,
        offset: u64,
        buf: Vec<u8>,
    },
    Csv {
        reader: csv::Reader<R>,
        header: CsvHeader,
        base: u64,
        line_base: u64,
    },
}

impl<R: BufRead> RowReader<R> {
    /// NDJSON from the start of `reader`, which begins at `offset` / line `line + 1`.
    pub fn ndjson(reader: R, offset: u64, line: u64) -> Self {
        RowReader::Ndjson {
            reader,
            line,
            offset,
            buf: Vec::new(),
        }
    }

    /// CSV whose first record is the header.
    pub fn csv(reader: R) -> Result<Self, String> {
        let mut reader = csv_reader(reader);
        let mut header = csv::StringRecord::new();
        match reader.read_record(&mut header) {
            Ok(true) => {}
            Ok(false) => return Err("the CSV file is empty (no header)".into()),
            Err(e) => return Err(format!("the CSV header cannot be read: {e}")),
        }
        Ok(RowReader::Csv {
            header: CsvHeader::parse(&header)?,
            reader,
            base: 0,
            line_base: 0,
        })
    }

    /// CSV resumed at `offset` (a row start) and line `line + 1`, with a known header.
    pub fn csv_from(reader: R, header: CsvHeader, offset: u64, line: u64) -> Self {
        RowReader::Csv {
            reader: csv_reader(reader),
            header,
            base: offset,
            line_base: line,
        }
    }

    /// The byte offset and line count just after the last row returned.
    pub fn position(&self) -> (u64, u64) {
        match self {
            RowReader::Ndjson { offset, line, .. } => (*offset, *line),
            RowReader::Csv {
                reader,
                base,
                line_base,
                ..
            } => {
                let p = reader.position();
                (base + p.byte(), line_base + p.line().saturating_sub(1))
            }
        }
    }

    pub fn csv_header(&self) -> Option<&CsvHeader> {
        match self {
            RowReader::Csv { header, .. } => Some(header),
            RowReader::Ndjson { .. } => None,
        }
    }
}

fn csv_reader<R: std::io::Read>(r: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(r)
}

impl<R: BufRead> Iterator for RowReader<R> {
    type Item = Result<Row, std::io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            RowReader::Ndjson {
                reader,
                line,
                offset,
                buf,
            } => loop {
                buf.clear();
                let limit = MAX_ROW_BYTES as u64 + 1;
                let n = match std::io::Read::take(&mut *reader as &mut R, limit)
                    .read_until(b'\n', buf)
                {
                    Ok(0) => return None,
                    Ok(n) => n,
                    Err(e) => return Some(Err(e)),
                };
                *offset += n as u64;
                *line += 1;
                if buf.len() > MAX_ROW_BYTES && buf.last() != Some(&b'\n') {
                    // Skip the rest of the line without keeping it.
                    match reader.skip_until(b'\n') {
                        Ok(skipped) => *offset += skipped as u64,
                        Err(e) => return Some(Err(e)),
                    }
                    return Some(Ok(Row {
                        line: *line,
                        parsed: Err(format!("longer than {MAX_ROW_BYTES} bytes")),
                        unsubscribed: false,
                    }));
                }
                let text = buf.trim_ascii();
                if text.is_empty() {
                    continue;
                }
                let complete = buf.last() == Some(&b'\n');
                let parsed = serde_json::from_slice::<NewClient>(text).map_err(|e| {
                    if !complete && e.is_eof() {
                        "truncated: the last line ends before its JSON does".to_string()
                    } else {
                        format!("not a client: {e}")
                    }
                });
                return Some(Ok(Row {
                    line: *line,
                    parsed,
                    unsubscribed: false,
                }));
            },
            RowReader::Csv {
                reader,
                header,
                line_base,
                ..
            } => {
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => None,
                    Ok(true) => {
                        let line = *line_base + record.position().map_or(0, |p| p.line());
                        if record.iter().all(|f| f.trim().is_empty()) {
                            return self.next();
                        }
                        if record.as_slice().len() > MAX_ROW_BYTES {
                            return Some(Ok(Row {
                                line,
                                parsed: Err(format!("longer than {MAX_ROW_BYTES} bytes")),
                                unsubscribed: false,
                            }));
                        }
                        let (parsed, unsubscribed) = match header.row(&record) {
                            Ok((client, unsubscribed)) => (Ok(client), unsubscribed),
                            Err(e) => (Err(e), false),
                        };
                        Some(Ok(Row {
                            line,
                            parsed,
                            unsubscribed,
                        }))
                    }
                    Err(e) => match e.kind() {
                        csv::ErrorKind::Io(_) => Some(Err(std::io::Error::other(e.to_string()))),
                        _ => {
                            let line = *line_base + e.position().map_or(0, |p| p.line());
                            Some(Ok(Row {
                                line,
                                parsed: Err(format!("not a CSV record: {e}")),
                                unsubscribed: false,
                            }))
                        }
                    },
                }
            }
        }
    }
}

/// Counts of an import so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportCounts {
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
}

/// Writes batches of rows; remembers the addresses seen so a repeated address in the
/// same import is reported instead of silently applied twice.
pub struct Importer {
    store: Arc<dyn ClientImport>,
    clock: Arc<dyn Clock>,
    seen: HashMap<u64, u64>,
    pub counts: ImportCounts,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

fn address_key(normalized: &str) -> u64 {
    let mut h = DefaultHasher::new();
    normalized.hash(&mut h);
    h.finish()
}

/// The client as the row says it should be, or `None` when the row changes nothing.
fn merge(existing: &Client, row: &Client) -> Option<Client> {
    let mut next = existing.clone();
    next.email = row.email.clone();
    next.first_name = row.first_name.clone();
    if row.last_name.is_some() {
        next.last_name = row.last_name.clone();
    }
    next.time_zone = row.time_zone;
    next.consent.email_opt_in = row.consent.email_opt_in;
    if row.profile != StyleProfile::default() {
        next.profile = row.profile.clone();
    }
    // Unsubscribing is honoured; re-subscribing never is (that is an explicit action).
    if row.consent.unsubscribed && !next.consent.unsubscribed {
        next.consent.unsubscribed = true;
        next.consent.unsubscribed_at = row.consent.unsubscribed_at;
    }
    (next != *existing).then_some(next)
}

impl Importer {
    pub fn new(store: Arc<dyn ClientImport>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            seen: HashMap::new(),
            counts: ImportCounts::default(),
        }
    }

    /// Imports one batch; returns the rows that failed. `Err` only when the store
    /// itself fails (nothing of this batch is then reported as done).
    pub async fn import_batch(&mut self, rows: Vec<Row>) -> Result<Vec<RowError>, StoreError> {
        let now = self.clock.now();
        let mut errors = Vec::new();
        let mut pending: Vec<(u64, Client)> = Vec::with_capacity(rows.len());
        for row in rows {
            self.counts.rows += 1;
            let unsubscribed = row.unsubscribed;
            let client = row.parsed.and_then(|new| {
                let mut c = new
                    .into_client(UserId::generate(), now)
                    .map_err(|e| e.to_string())?;
                if unsubscribed {
                    c.consent.unsubscribed = true;
                    c.consent.unsubscribed_at = Some(now);
                }
                Ok(c)
            });
            match client {
                Err(reason) => errors.push(RowError {
                    line: row.line,
                    reason,
                }),
                Ok(c) => {
                    let key = address_key(&c.email.normalized());
                    if let Some(first) = self.seen.get(&key) {
                        errors.push(RowError {
                            line: row.line,
                            reason: format!("duplicate address: already on line {first}"),
                        });
                    } else {
                        self.seen.insert(key, row.line);
                        pending.push((row.line, c));
                    }
                }
            }
        }
        // A row can lose a race with another writer (the address was created, or the
        // client changed, between the read and the write): such rows are redone.
        for _attempt in 0..3 {
            if pending.is_empty() {
                break;
            }
            let emails: Vec<_> = pending.iter().map(|(_, c)| c.email.clone()).collect();
            let existing = self.store.get_by_emails(&emails).await?;
            let mut writes = Vec::new();
            let mut lines = Vec::new();
            for ((line, row), found) in pending.drain(..).zip(existing) {
                match found {
                    None => {
                        writes.push(ClientWrite::Insert(row.clone()));
                        lines.push((line, row, true));
                    }
                    Some(current) => match merge(&current, &row) {
                        None => self.counts.unchanged += 1,
                        Some(mut next) => {
                            next.version = current.version + 1;
                            next.updated_at = now;
                            writes.push(ClientWrite::Replace {
                                client: next,
                                expected_version: current.version,
                            });
                            lines.push((line, row, false));
                        }
                    },
                }
            }
            let results = self.store.write_batch(writes).await?;
            for ((line, row, created), result) in lines.into_iter().zip(results) {
                match result {
                    Ok(()) if created => self.counts.created += 1,
                    Ok(()) => self.counts.updated += 1,
                    Err(
                        StoreError::Duplicate(_)
                        | StoreError::VersionConflict { .. }
                        | StoreError::NotFound,
                    ) => {
                        pending.push((line, row));
                    }
                    Err(e) => errors.push(RowError {
                        line,
                        reason: format!("not stored: {e}"),
                    }),
                }
            }
        }
        for (line, _) in pending {
            errors.push(RowError {
                line,
                reason: "kept changing while being imported; try again".into(),
            });
        }
        self.counts.failed += errors.len() as u64;
        errors.sort_by_key(|e| e.line);
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows<R: BufRead>(r: RowReader<R>) -> Vec<(u64, Result<String, String>)> {
        r.map(|row| {
            let row = row.unwrap();
            (row.line, row.parsed.map(|n| n.email))
        })
        .collect()
    }

    #[test]
    fn ndjson_rows_carry_their_line_numbers_and_a_truncated_last_line_is_named() {
        let data = b"{\"email\":\"a@example.com\",\"first_name\":\"A\",\"time_zone\":\"UTC\",\"email_opt_in\":true}\n\n{\"email\": 3}\n{\"email\":\"b@exa";
        let got = rows(RowReader::ndjson(&data[..], 0, 0));
        assert_eq!(got[0], (1, Ok("a@example.com".into())));
        assert_eq!(got[1].0, 3);
        assert!(got[1].1.as_ref().unwrap_err().starts_with("not a client"));
        assert_eq!(got[2].0, 4);
        assert!(
            got[2].1.as_ref().unwrap_err().starts_with("truncated"),
            "{:?}",
            got[2]
        );
    }

    #[test]
    fn rows_longer_than_the_cap_are_reported_and_the_next_ones_read() {
        let good = "{\"email\":\"a@example.com\",\"first_name\":\"A\",\"time_zone\":\"UTC\",\"email_opt_in\":true}";
        let huge = format!("{{\"email\":\"{}\"}}", "x".repeat(MAX_ROW_BYTES * 3));
        let data = format!("{huge}\n{good}\n");
        let got = rows(RowReader::ndjson(data.as_bytes(), 0, 0));
        assert_eq!(
            got.len(),
            2,
            "{:?}",
            got.iter().map(|r| r.0).collect::<Vec<_>>()
        );
        assert_eq!(got[0].0, 1);
        assert!(got[0].1.as_ref().unwrap_err().contains("longer than"));
        assert_eq!(got[1], (2, Ok("a@example.com".into())));
        let mut r = RowReader::ndjson(data.as_bytes(), 0, 0);
        r.next();
        assert_eq!(
            r.position().0 as usize,
            huge.len() + 1,
            "the offset counts the skipped bytes"
        );

        let csv = format!(
            "email,first_name,time_zone,email_opt_in\n{},A,UTC,true\nb@example.com,B,UTC,true\n",
            "y".repeat(MAX_ROW_BYTES + 1)
        );
        let got: Vec<_> = rows(RowReader::csv(csv.as_bytes()).unwrap());
        assert!(got[0].1.as_ref().unwrap_err().contains("longer than"));
        assert_eq!(got[1], (3, Ok("b@example.com".into())));
    }

    #[test]
    fn csv_rows_are_read_by_header_name() {
        let data = "email,first_name,time_zone,email_opt_in,preferences\na@example.com,A,UTC,yes,minimal;boho\nb@example.com,B,UTC,maybe,\nc@example.com,C\n\"d@example.com\",\"D\nE\",UTC,0,\n";
        let mut r = RowReader::csv(data.as_bytes()).unwrap();
        let first = r.next().unwrap().unwrap();
        assert_eq!(first.line, 2);
        let first = first.parsed.unwrap();
        assert_eq!(first.profile.unwrap().preferences, ["minimal", "boho"]);
        let second = r.next().unwrap().unwrap();
        assert_eq!(
            (second.line, second.parsed.unwrap_err()),
            (3, "email_opt_in: `maybe` is not true or false".to_string())
        );
        let third = r.next().unwrap().unwrap();
        assert!(third.parsed.unwrap_err().contains("fields"));
        let fourth = r.next().unwrap().unwrap();
        assert_eq!(fourth.line, 5);
        assert_eq!(fourth.parsed.unwrap().first_name, "D\nE");
        assert!(r.next().is_none());
    }

    #[test]
    fn a_bad_csv_header_is_fatal_and_says_why() {
        let e = RowReader::csv("email,first_name,tz,email_opt_in\n".as_bytes()).unwrap_err();
        assert!(e.contains("no `time_zone` column"), "{e}");
        let e = RowReader::csv("emial,first_name,time_zone,email_opt_in\n".as_bytes()).unwrap_err();
        assert!(
            e.contains("no `email` column (is `emial` meant to be `email`?)"),
            "{e}"
        );
        let e = RowReader::csv("email,FirstName,time_zone,Email-Opt-In\n".as_bytes()).unwrap_err();
        assert!(e.contains("is `FirstName` meant to be `first_name`"), "{e}");
        // Case, spaces and `-` do not matter.
        let r = RowReader::csv("Email,First Name,Time-Zone,EMAIL_OPT_IN\n".as_bytes()).unwrap();
        assert!(r.csv_header().unwrap().ignored_columns().is_empty());
        assert!(
            RowReader::csv("email,first_name\n".as_bytes())
                .unwrap_err()
                .contains("time_zone")
        );
        let e = RowReader::csv("email,first_name,time_zone,email_opt_in,email\n".as_bytes())
            .unwrap_err();
        assert!(e.contains("`email` twice"), "{e}");
        assert!(RowReader::csv("".as_bytes()).unwrap_err().contains("empty"));
    }

    #[test]
    fn columns_engage_does_not_know_are_ignored_and_named() {
        let data = "Customer ID,email,first_name,time_zone,email_opt_in,Lifetime Value,top_size\n                    c-1,a@example.com,A,UTC,yes,1200,M\n";
        let mut r = RowReader::csv(data.as_bytes()).unwrap();
        assert_eq!(
            r.csv_header().unwrap().ignored_columns(),
            ["Customer ID", "Lifetime Value"]
        );
        let row = r.next().unwrap().unwrap().parsed.unwrap();
        assert_eq!(row.email, "a@example.com");
        assert_eq!(row.profile.unwrap().top_size.as_deref(), Some("M"));
    }

    #[test]
    fn formula_cells_are_defused_on_export_and_restored_on_import() {
        for cell in [
            "=HYPERLINK(\"http://evil\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "'=x",
            "''+y",
        ] {
            let out = spreadsheet_safe(cell.to_string());
            assert!(out.starts_with('\''), "{cell:?} -> {out:?}");
            assert_eq!(from_spreadsheet_safe(&out), cell);
        }
        for cell in ["Zoë", "'Tis", "", "a=b", "'"] {
            assert_eq!(spreadsheet_safe(cell.to_string()), cell);
            assert_eq!(from_spreadsheet_safe(cell), cell);
        }
    }

    fn exported(client: &Client) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(csv_export_header()).unwrap();
        w.write_record(csv_record(client, Some(71), Some(Tier::Engaged)))
            .unwrap();
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    fn zoe(now: chrono::DateTime<chrono::Utc>) -> Client {
        NewClient {
            email: "zoe.garcia@example.com".into(),
            first_name: "Zoë".into(),
            last_name: Some("García, \"Zo\"".into()),
            time_zone: "Europe/Paris".into(),
            email_opt_in: true,
            profile: Some(StyleProfile {
                preferences: vec!["minimal".into(), "boho".into()],
                top_size: Some("M".into()),
                fit_notes: Some("relaxed fits;\nno wool".into()),
                ..StyleProfile::default()
            }),
        }
        .into_client(UserId::from_string("usr_1"), now)
        .unwrap()
    }

    #[test]
    fn an_exported_csv_record_imports_as_the_same_client() {
        let now = chrono::Utc::now();
        let mut client = zoe(now);
        client.consent.unsubscribed = true;
        let text = exported(&client);
        assert!(text.starts_with("email,first_name,"), "{text}");
        let mut rows = RowReader::csv(text.as_bytes()).unwrap();
        let row = rows.next().unwrap().unwrap();
        assert!(rows.next().is_none());
        assert!(row.unsubscribed);
        let back = row
            .parsed
            .unwrap()
            .into_client(UserId::from_string("usr_2"), now)
            .unwrap();
        assert_eq!(
            (
                &back.email,
                &back.first_name,
                &back.last_name,
                back.time_zone
            ),
            (
                &client.email,
                &client.first_name,
                &client.last_name,
                client.time_zone
            )
        );
        assert_eq!(back.profile, client.profile);
        assert_eq!(back.consent.email_opt_in, client.consent.email_opt_in);
    }

    /// Clients by normalized address, for the importer's tests.
    #[derive(Default)]
    struct Memory(std::sync::Mutex<HashMap<String, Client>>);

    #[async_trait::async_trait]
    impl ClientImport for Memory {
        async fn get_by_emails(
            &self,
            emails: &[crate::client::EmailAddress],
        ) -> Result<Vec<Option<Client>>, StoreError> {
            let m = self.0.lock().unwrap();
            Ok(emails
                .iter()
                .map(|e| m.get(&e.normalized()).cloned())
                .collect())
        }
        async fn write_batch(
            &self,
            writes: Vec<ClientWrite>,
        ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            let mut m = self.0.lock().unwrap();
            Ok(writes
                .into_iter()
                .map(|w| {
                    let c = match w {
                        ClientWrite::Insert(c) | ClientWrite::Replace { client: c, .. } => c,
                    };
                    m.insert(c.email.normalized(), c);
                    Ok(())
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn an_unsubscribed_column_unsubscribes_but_never_resubscribes() {
        let now = chrono::Utc::now();
        let store = Arc::new(Memory::default());
        let mut importer =
            Importer::new(store.clone(), Arc::new(crate::clock::ManualClock::new(now)));
        let read = |csv: &str| -> Vec<Row> {
            RowReader::csv(csv.as_bytes())
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let header = "email,first_name,time_zone,email_opt_in,unsubscribed,id,score\n";
        let first = format!(
            "{header}a@example.com,A,UTC,true,true,usr_x,12\nb@example.com,B,UTC,true,,usr_y,\nc@example.com,C,UTC,true,false,,\n"
        );
        assert!(
            importer
                .import_batch(read(&first))
                .await
                .unwrap()
                .is_empty()
        );
        let consent = |e: &str| store.0.lock().unwrap()[e].consent.clone();
        assert!(consent("a@example.com").unsubscribed);
        assert_eq!(consent("a@example.com").unsubscribed_at, Some(now));
        assert!(!consent("b@example.com").unsubscribed);

        let mut importer =
            Importer::new(store.clone(), Arc::new(crate::clock::ManualClock::new(now)));
        let second = format!(
            "{header}a@example.com,A,UTC,true,false,usr_x,12\nb@example.com,B,UTC,true,yes,,\nc@example.com,C,UTC,true,maybe,,\n"
        );
        let errors = importer.import_batch(read(&second)).await.unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].reason,
            "unsubscribed: `maybe` is not true or false"
        );
        assert!(consent("a@example.com").unsubscribed, "never re-subscribed");
        assert!(consent("b@example.com").unsubscribed);
        assert_eq!((importer.counts.updated, importer.counts.unchanged), (1, 1));
    }

    #[test]
    fn positions_allow_resuming_mid_file() {
        let data = "email,first_name,time_zone,email_opt_in\na@example.com,A,UTC,true\nb@example.com,B,UTC,true\n";
        let mut r = RowReader::csv(data.as_bytes()).unwrap();
        r.next().unwrap().unwrap();
        let (offset, line) = r.position();
        let header = r.csv_header().unwrap().clone();
        let rest: Vec<_> = rows(RowReader::csv_from(
            &data.as_bytes()[offset as usize..],
            header,
            offset,
            line,
        ));
        assert_eq!(rest, [(3, Ok("b@example.com".to_string()))]);

        let nd = b"{\"a\":1}\n{\"b\":2}\n";
        let mut r = RowReader::ndjson(&nd[..], 0, 0);
        r.next();
        assert_eq!(r.position(), (8, 1));
    }
}
