//! The SQLite file: one writer thread that group-commits, and a pool of readers.
//!
//! Every write is a closure sent to the writer thread. The thread takes whatever
//! closures are waiting (up to [`MAX_BATCH`]), runs each inside its own SAVEPOINT of a
//! single `BEGIN IMMEDIATE` transaction, and commits once. A closure that fails is
//! rolled back to its savepoint alone; its callers are answered only after the commit,
//! so an `Ok` always means "durable". Under load, one fsync covers hundreds of writes;
//! with one caller, a write costs one transaction as usual. WAL mode lets readers run
//! alongside the writer.
//!
//! Reads run on at most [`MAX_READERS`] pooled connections at once (more would only
//! open connections to throw away).
//!
//! Checkpoints copy the WAL back into the database file. A checkpointer thread copies
//! what it can every [`CHECKPOINT_EVERY`], on the other core, without blocking anyone
//! (`PASSIVE`). That alone never lets the WAL start over while the writer is busy:
//! SQLite rewinds the WAL only after a checkpoint that caught up with the writer, and
//! with a checkpoint running beside a busy writer that never happens (measured: the
//! WAL grew by 130 MB/s, and extending the file cost a fifth of the writer's time in
//! the kernel zeroing new blocks). So the writer still checkpoints itself once the WAL
//! holds [`WAL_PAGES`] pages; most frames are copied by then, and it catches up.

use anyhow::Context as _;
use engage_core::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::{Semaphore, oneshot};

/// Writes folded into one transaction at most.
pub const MAX_BATCH: usize = 512;
/// Read connections, idle or busy, at most.
pub const MAX_READERS: usize = 8;
/// How often the checkpointer copies committed WAL frames into the database file. The
/// more it has copied, the shorter the writer's own checkpoints, which stall every
/// write: at 2,000 changes/s, checking every 250 ms gave a p99 latency of 160 ms,
/// every 50 ms 64 ms, with the same throughput.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// The WAL's size, in pages, at which the writer checkpoints (SQLite's default is
/// 1,000). A page written many times between checkpoints is copied once: 2,000 cost
/// a tenth of the pipeline's throughput against 8,000.
const WAL_PAGES: i64 = 8_000;
/// Page cache per connection, in KiB: the writer's holds the hot index pages; readers'
/// are small, since every commit elsewhere invalidates them anyway.
const WRITER_CACHE_KIB: i64 = 16_000;
const READER_CACHE_KIB: i64 = 4_000;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Completion + Send>;

/// How hard each commit is pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: a commit survives power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit survives a process crash, not a power cut.
    Normal,
}

#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    writer: mpsc::Sender<Job>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reading: Arc<Semaphore>,
    /// Dropped with the `Db`, which stops the checkpointer.
    _checkpointer: mpsc::Sender<()>,
}

fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(())
}

/// A failure of the database as a [`StoreError`]: [`StoreError::Transient`] when
/// SQLite stayed busy or locked past the busy timeout (another process held the
/// file; the same write may succeed later), [`StoreError::Unexpected`] otherwise.
pub(crate) fn unexpected(e: impl Fault) -> StoreError {
    if e.transient() {
        StoreError::Transient(format!("sqlite: {e}"))
    } else {
        StoreError::Unexpected(anyhow::anyhow!("sqlite: {e}"))
    }
}

/// What can go wrong in the store, and whether it may pass.
pub(crate) trait Fault: std::fmt::Display {
    fn transient(&self) -> bool {
        false
    }
}

impl Fault for rusqlite::Error {
    fn transient(&self) -> bool {
        matches!(
            self.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }
}

impl Fault for String {}
impl Fault for &str {}
/// A stored time or number that does not parse: a damaged row, not a passing state.
impl Fault for chrono::ParseError {}
impl Fault for std::num::ParseIntError {}

impl Db {
    /// Opens (creating if needed) the database and applies the schema.
    pub fn open(path: &Path, durability: Durability) -> anyhow::Result<Self> {
        create_private(path)?;
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        configure(&conn, durability).context("configuring SQLite")?;
        crate::schema::migrate(&conn).context("applying the schema")?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES)
            .context("configuring SQLite")?;
        let checkpoints = Connection::open(path).context("opening the checkpointer")?;
        configure(&checkpoints, durability).context("configuring SQLite")?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("engage-sqlite-checkpointer".into())
            .spawn(move || checkpoint_loop(checkpoints, stopped))
            .context("starting the checkpointer thread")?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("engage-sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .context("starting the writer thread")?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: tx,
            readers: Arc::new(Mutex::new(Vec::new())),
            reading: Arc::new(Semaphore::new(MAX_READERS)),
            _checkpointer: stop,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside the writer's next transaction. `Ok` is returned only once the
    /// transaction has committed; an `Err` from `f` undoes `f`'s writes only.
    pub async fn write<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<R, StoreError>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let outcome = (|| {
                conn.execute_batch("SAVEPOINT job").map_err(unexpected)?;
                let r = match catch_unwind(AssertUnwindSafe(|| f(conn))) {
                    Ok(r) => r,
                    Err(_) => Err(unexpected("a write panicked")),
                };
                let end = if r.is_ok() {
                    "RELEASE job"
                } else {
                    "ROLLBACK TO job; RELEASE job"
                };
                conn.execute_batch(end).map_err(unexpected)?;
                r
            })();
            Box::new(move |committed: Result<(), String>| {
                let answer = match committed {
                    Ok(()) => outcome,
                    Err(e) => Err(unexpected(format!("commit failed: {e}"))),
                };
                let _ = tx.send(answer);
            })
        });
        self.writer
            .send(job)
            .map_err(|_| unexpected("the writer thread has stopped"))?;
        rx.await
            .map_err(|_| unexpected("the writer thread dropped a write"))?
    }

    /// Runs `f` on a pooled read connection, off the async runtime: for reads that
    /// may take a while (lists, scans, exports).
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let permit = self.permit().await?;
        let (readers, path) = (self.readers.clone(), self.path.clone());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            with_reader(&readers, &path, f)
        })
        .await
        .map_err(|e| unexpected(format!("reader task: {e}")))?
    }

    /// Runs `f` on a pooled read connection right here, on the async runtime's thread:
    /// for point reads by key, which take microseconds. Handing those to a blocking
    /// thread and back cost more than the read (measured on `GET /users/{id}`: a
    /// quarter of the CPU went to waking threads).
    pub async fn read_point<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Connection) -> Result<R, StoreError>,
    {
        let _permit = self.permit().await?;
        with_reader(&self.readers, &self.path, f)
    }

    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StoreError> {
        self.reading
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| unexpected("the reader pool is closed"))
    }
}

/// Runs `f` on an idle pooled connection (opening one if none is idle), then returns
/// the connection to the pool.
fn with_reader<R>(
    readers: &Mutex<Vec<Connection>>,
    path: &Path,
    f: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let conn = readers.lock().expect("reader pool").pop();
    let conn = match conn {
        Some(c) => c,
        None => open_reader(path).map_err(unexpected)?,
    };
    let r = f(&conn);
    let mut pool = readers.lock().expect("reader pool");
    if pool.len() < MAX_READERS {
        pool.push(conn);
    }
    r
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
    Ok(conn)
}

/// Creates the database file `0600` if it does not exist: it holds personal data.
/// SQLite creates a missing file with the process's umask (usually `0644`), and
/// gives its `-wal` and `-shm` files the database file's mode, so creating it first
/// makes all three private.
fn create_private(path: &Path) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Copies committed WAL frames into the database file every [`CHECKPOINT_EVERY`],
/// without waiting for readers or blocking the writer (`PASSIVE`); SQLite starts the
/// WAL over once a checkpoint has caught up. Stops when the `Db` is dropped.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed; will try again");
        }
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let msg = e.to_string();
            for job in jobs {
                // Run nothing: answer each caller with the failure.
                drop(job);
                tracing::error!(error = %msg, "could not begin a write transaction");
            }
            continue;
        }
        let completions: Vec<Completion> = jobs.into_iter().map(|job| job(&conn)).collect();
        let committed = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for c in completions {
            c(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::ffi;

    fn sqlite_failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn a_busy_or_locked_database_is_transient_and_a_broken_one_is_not() {
        assert!(unexpected(sqlite_failure(ffi::SQLITE_BUSY)).is_transient());
        assert!(unexpected(sqlite_failure(ffi::SQLITE_LOCKED)).is_transient());
        let e = unexpected(sqlite_failure(ffi::SQLITE_CORRUPT));
        assert!(matches!(e, StoreError::Unexpected(_)), "{e}");
        assert!(!unexpected("a stored time that does not parse").is_transient());
    }
}
