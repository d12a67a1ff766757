//! Loading a demo data set: clients written through the [`ClientImport`] port as
//! ordinary inserts, generated on a blocking thread a batch ahead of the writes.

use super::client::generate;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::ports::{ClientImport, ClientWrite};

/// What a [`load`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub created: u64,
    /// Clients whose address was taken already (a second load of the same seed).
    pub already_present: u64,
    /// Of those created: opted in to email, and unsubscribed.
    pub opted_in: u64,
    pub unsubscribed: u64,
}

/// Writes clients `0..n` of data set `seed` through `store`, `batch` at a time (each
/// an ordinary insert, appended to the change stream); `progress` hears how many were
/// written so far after each batch. The next batch is generated, on a blocking
/// thread, while the current one is written.
pub async fn load(
    store: &dyn ClientImport,
    n: u64,
    seed: u64,
    now: DateTime<Utc>,
    batch: usize,
    mut progress: impl FnMut(u64),
) -> Result<LoadReport, StoreError> {
    let batch = batch.max(1) as u64;
    let make = |start: u64| {
        let end = (start + batch).min(n);
        tokio::task::spawn_blocking(move || {
            (start..end)
                .map(|i| generate(seed, i, now))
                .collect::<Vec<_>>()
        })
    };
    let mut report = LoadReport::default();
    let mut done = 0;
    let mut next = (n > 0).then(|| make(0));
    while let Some(pending) = next.take() {
        let clients = pending
            .await
            .map_err(|e| StoreError::Unexpected(anyhow::Error::new(e)))?;
        done += clients.len() as u64;
        if done < n {
            next = Some(make(done));
        }
        let consent: Vec<(bool, bool)> = clients
            .iter()
            .map(|c| (c.consent.email_opt_in, c.consent.unsubscribed))
            .collect();
        let results = store
            .write_batch(clients.into_iter().map(ClientWrite::Insert).collect())
            .await?;
        for (result, (opted_in, unsubscribed)) in results.into_iter().zip(consent) {
            match result {
                Ok(()) => {
                    report.created += 1;
                    report.opted_in += u64::from(opted_in);
                    report.unsubscribed += u64::from(unsubscribed);
                }
                Err(StoreError::Duplicate(_)) => report.already_present += 1,
                Err(e) => return Err(e),
            }
        }
        progress(done);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use engage_core::client::{Client, EmailAddress};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
    }

    /// Writes inserts into memory, refusing addresses it has.
    #[derive(Default)]
    struct Memory(std::sync::Mutex<(Vec<Client>, Vec<usize>)>);

    #[async_trait::async_trait]
    impl ClientImport for Memory {
        async fn get_by_emails(
            &self,
            emails: &[EmailAddress],
        ) -> Result<Vec<Option<Client>>, StoreError> {
            Ok(vec![None; emails.len()])
        }
        async fn write_batch(
            &self,
            writes: Vec<ClientWrite>,
        ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
            let mut m = self.0.lock().unwrap();
            m.1.push(writes.len());
            Ok(writes
                .into_iter()
                .map(|w| match w {
                    ClientWrite::Insert(c) if m.0.iter().any(|o| o.email == c.email) => {
                        Err(StoreError::Duplicate("email".into()))
                    }
                    ClientWrite::Insert(c) => {
                        m.0.push(c);
                        Ok(())
                    }
                    ClientWrite::Replace { .. } => unreachable!("a demo only inserts"),
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn load_inserts_in_batches_and_reports_progress_and_repeats() {
        let store = Memory::default();
        let mut seen = Vec::new();
        let report = load(&store, 250, 5, now(), 100, |n| seen.push(n))
            .await
            .unwrap();
        assert_eq!(report.created, 250);
        assert_eq!(report.already_present, 0);
        assert!(report.opted_in > 150 && report.opted_in < 250);
        assert_eq!(seen, [100, 200, 250]);
        {
            let m = store.0.lock().unwrap();
            assert_eq!(m.1, [100, 100, 50]);
            assert_eq!(m.0[17], generate(5, 17, now()));
        }
        let again = load(&store, 120, 5, now(), 100, |_| {}).await.unwrap();
        assert_eq!((again.created, again.already_present), (0, 120));
    }
}
