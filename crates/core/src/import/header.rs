//! The CSV columns engage reads, and how a file's header is matched to them: by
//! name, whatever the case, spaces or dashes, ignoring columns engage does not know
//! and naming the one a missing required column looks misspelt as.

use super::export::from_spreadsheet_safe;
use crate::client::{NewClientFields, StyleProfile};

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
    pub(super) fn row(
        &self,
        record: &csv::StringRecord,
    ) -> Result<(NewClientFields, bool), String> {
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
        let client = NewClientFields {
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

#[cfg(test)]
mod tests {
    use crate::import::RowReader;

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
}
