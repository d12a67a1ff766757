//! The rows of an import file: NDJSON (one client a line) or CSV (a header, then
//! one client a record), each with its line number, read one at a time and resumable
//! at the byte offset after any row.

use super::Row;
use super::header::CsvHeader;
use super::row::ClientRow;
use std::io::BufRead;

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
                let parsed = serde_json::from_slice::<ClientRow>(text)
                    .map(Into::into)
                    .map_err(|e| {
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
