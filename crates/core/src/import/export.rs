//! What an export writes: one client as a CSV record in the header's order
//! ([`csv_record`]), every cell defused so a spreadsheet shows it as text instead of
//! running it as a formula ([`spreadsheet_safe`]), and the reverse on the way in.

use super::header::{CSV_COLUMNS, CSV_READ_ONLY_COLUMNS};
use crate::client::Client;
use crate::score::Tier;
use chrono::SecondsFormat;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{NewClientFields, StyleProfile};
    use crate::ids::UserId;
    use crate::import::RowReader;

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
        NewClientFields {
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
        .check()
        .unwrap()
        .into_client(UserId::from_string("usr_1"), now)
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
            .check()
            .unwrap()
            .into_client(UserId::from_string("usr_2"), now);
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
}
