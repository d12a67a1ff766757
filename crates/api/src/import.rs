//! Running an import: rows are read on a blocking thread (a file, or an HTTP body
//! bridged to a blocking reader) and handed over in batches to the async side,
//! which writes them through the core's [`Importer`]. Memory stays bounded: at most a
//! few batches are in flight, whatever the size of the input. Used by
//! `POST /api/v1/users/import` and by `engage import`.

use engage_core::StoreError;
use engage_core::import::{ImportCounts, Importer, Row, RowError, RowReader};
use std::io::BufRead;
use tokio::sync::mpsc;

/// Rows per write batch: large enough to amortise a transaction, small enough that
/// progress and resume points stay fine-grained.
pub const BATCH_ROWS: usize = 2000;

/// Where an import stands after a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportProgress {
    pub counts: ImportCounts,
    /// Byte offset of the next row in the input (for resuming).
    pub offset: u64,
    /// Lines consumed so far.
    pub line: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    /// The input could not be read further (a broken upload, a disk error).
    #[error("reading the input failed after {} rows: {cause}", progress.counts.rows)]
    Read {
        cause: std::io::Error,
        progress: ImportProgress,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Batch = Result<(Vec<Row>, (u64, u64)), std::io::Error>;

/// Imports every row `rows` yields; `on_batch` sees the progress and the failed rows
/// of each batch once it is stored.
pub async fn import_rows<R>(
    rows: RowReader<R>,
    importer: &mut Importer,
    mut on_batch: impl FnMut(&ImportProgress, Vec<RowError>) + Send,
) -> Result<ImportProgress, ImportFailure>
where
    R: BufRead + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Batch>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let mut rows = rows;
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        loop {
            match rows.next() {
                Some(Ok(row)) => {
                    batch.push(row);
                    if batch.len() == BATCH_ROWS
                        && tx
                            .blocking_send(Ok((std::mem::take(&mut batch), rows.position())))
                            .is_err()
                    {
                        return;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
                None => {
                    if !batch.is_empty() {
                        let _ = tx.blocking_send(Ok((batch, rows.position())));
                    }
                    return;
                }
            }
        }
    });
    let mut progress = ImportProgress {
        counts: importer.counts,
        ..ImportProgress::default()
    };
    while let Some(next) = rx.recv().await {
        match next {
            Ok((batch, (offset, line))) => {
                let errors = importer.import_batch(batch).await?;
                progress = ImportProgress {
                    counts: importer.counts,
                    offset,
                    line,
                };
                on_batch(&progress, errors);
            }
            Err(cause) => return Err(ImportFailure::Read { cause, progress }),
        }
    }
    let _ = reader.await;
    Ok(progress)
}
