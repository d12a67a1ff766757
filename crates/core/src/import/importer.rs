//! The batch writer: each row of a batch parsed into a client, matched to the stored
//! one by address and written as its own conditional write, a lost race redone, and
//! what came of it counted.

use super::{Row, RowError};
use crate::StoreError;
use crate::client::{Client, StyleProfile};
use crate::clock::Clock;
use crate::ids::UserId;
use crate::ports::{ClientImport, ClientWrite};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

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
                    .check()
                    .map_err(|e| e.to_string())?
                    .into_client(UserId::generate(), now);
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
    use crate::import::RowReader;

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
}
