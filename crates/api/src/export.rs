//! Export: every client or every email as NDJSON or CSV, read page by page through
//! the ports' keyset lists (`ClientStore::list`, `EmailHistory::list_emails`) and encoded
//! one page at a time, so memory stays bounded whatever the size of the table. Used
//! by `GET /api/v1/users/export`, `GET /api/v1/emails/export` and `engage export`.
//!
//! NDJSON lines are what the API answers for one item ([`ClientView`], `Email`). The
//! clients' CSV has the import columns first ([`engage_core::import::csv_record`]), so
//! an export can be imported again as it is. Clients come in id (creation) order,
//! emails newest first, as the lists show them. Keyset cursors never repeat or skip
//! an item that existed when the export started, however much is written meanwhile.

use crate::routes::users::ClientView;
use engage_core::StoreError;
use engage_core::email::{Email, EmailStatus};
use engage_core::import::{Format, csv_export_header, csv_record, spreadsheet_safe};
use engage_core::ports::{ClientQuery, ClientStore, EmailHistory, EmailQuery};
use futures_util::Stream;
use std::sync::Arc;

/// Items read per page (the most the stores return at once).
pub const PAGE_SIZE: u32 = 1000;

/// The columns of the emails' CSV.
pub const EMAIL_CSV_COLUMNS: [&str; 8] = [
    "id",
    "user_id",
    "campaign",
    "status",
    "subject",
    "generator",
    "created_at",
    "sent_at",
];

enum Source {
    Clients(Arc<dyn ClientStore>),
    Emails {
        history: Arc<dyn EmailHistory>,
        status: Option<EmailStatus>,
        campaign: Option<String>,
    },
}

/// An export under way: each [`Export::next_chunk`] reads a page and encodes it.
pub struct Export {
    source: Source,
    format: Format,
    cursor: Option<String>,
    started: bool,
    done: bool,
    items: u64,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("what", &self.what())
            .field("format", &self.format)
            .field("items", &self.items)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn encoding_failed(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unexpected(anyhow::Error::new(e).context("encoding the export"))
}

impl Export {
    /// Every client with its last stored score.
    pub fn clients(store: Arc<dyn ClientStore>, format: Format) -> Self {
        Self::new(Source::Clients(store), format)
    }

    /// Every email, optionally only those in `status` or of `campaign`.
    pub fn emails(
        history: Arc<dyn EmailHistory>,
        format: Format,
        status: Option<EmailStatus>,
        campaign: Option<String>,
    ) -> Self {
        Self::new(
            Source::Emails {
                history,
                status,
                campaign,
            },
            format,
        )
    }

    fn new(source: Source, format: Format) -> Self {
        Self {
            source,
            format,
            cursor: None,
            started: false,
            done: false,
            items: 0,
        }
    }

    /// `clients` or `emails`.
    pub fn what(&self) -> &'static str {
        match self.source {
            Source::Clients(_) => "clients",
            Source::Emails { .. } => "emails",
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self.format {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// `clients.ndjson`, `emails.csv`, ...
    pub fn file_name(&self) -> String {
        let ext = match self.format {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
        };
        format!("{}.{ext}", self.what())
    }

    /// Items encoded so far.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// The next page, encoded (the first carries the CSV header, even when there is
    /// nothing to export); `None` once everything was returned.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let first = !self.started;
        self.started = true;
        let mut out = Vec::new();
        if first && self.format == Format::Csv {
            let header: Vec<&str> = match self.source {
                Source::Clients(_) => csv_export_header().collect(),
                Source::Emails { .. } => EMAIL_CSV_COLUMNS.to_vec(),
            };
            let mut w = csv_writer(&mut out);
            w.write_record(header).map_err(encoding_failed)?;
            w.flush().map_err(encoding_failed)?;
        }
        self.read_page(&mut out).await?;
        if out.is_empty() && !first {
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// Reads the next page and appends it, encoded, to `out`.
    async fn read_page(&mut self, out: &mut Vec<u8>) -> Result<(), StoreError> {
        let cursor = self.cursor.take();
        let (count, next) = match &self.source {
            Source::Clients(store) => {
                let page = store
                    .list(&ClientQuery {
                        cursor,
                        limit: PAGE_SIZE,
                        ..ClientQuery::default()
                    })
                    .await?;
                let views: Vec<ClientView> = page.items.into_iter().map(ClientView::from).collect();
                encode(out, self.format, &views, |v| {
                    csv_record(&v.client, v.score, v.tier)
                })?;
                (views.len(), page.next_cursor)
            }
            Source::Emails {
                history,
                status,
                campaign,
            } => {
                let page = history
                    .list_emails(&EmailQuery {
                        user_id: None,
                        status: *status,
                        campaign: campaign.clone(),
                        cursor,
                        limit: PAGE_SIZE,
                    })
                    .await?;
                encode(out, self.format, &page.items, email_record)?;
                (page.items.len(), page.next_cursor)
            }
        };
        self.items += count as u64;
        self.cursor = next;
        self.done = self.cursor.is_none();
        Ok(())
    }

    /// The chunks as a stream, for a response body. A failure after the first chunk
    /// can no longer become an error response (the status is sent): it is logged and
    /// ends the stream with an error, which aborts the body, so the client sees a
    /// broken transfer rather than a complete-looking file.
    pub fn into_stream(self) -> impl Stream<Item = Result<Vec<u8>, StoreError>> + Send {
        futures_util::stream::unfold(Some(self), |state| async move {
            let mut export = state?;
            match export.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), Some(export))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        what = export.what(),
                        items = export.items,
                        "the export failed part-way; ending the response"
                    );
                    Some((Err(e), None))
                }
            }
        })
    }
}

fn csv_writer(out: &mut Vec<u8>) -> csv::Writer<&mut Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out)
}

/// Appends `items` to `out`: JSON lines, or CSV records made by `record`.
fn encode<T: serde::Serialize>(
    out: &mut Vec<u8>,
    format: Format,
    items: &[T],
    record: impl Fn(&T) -> Vec<String>,
) -> Result<(), StoreError> {
    match format {
        Format::Ndjson => {
            for item in items {
                serde_json::to_writer(&mut *out, item).map_err(encoding_failed)?;
                out.push(b'\n');
            }
        }
        Format::Csv => {
            let mut w = csv_writer(out);
            for item in items {
                // No cell may reach a spreadsheet as a formula.
                w.write_record(record(item).into_iter().map(spreadsheet_safe))
                    .map_err(encoding_failed)?;
            }
            w.flush().map_err(encoding_failed)?;
        }
    }
    Ok(())
}

fn email_record(e: &Email) -> Vec<String> {
    vec![
        e.id.to_string(),
        e.user_id.to_string(),
        e.campaign.clone(),
        e.status.as_str().to_string(),
        e.subject.clone(),
        e.generator.clone(),
        rfc3339(e.created_at),
        e.sent_at.map(rfc3339).unwrap_or_default(),
    ]
}
