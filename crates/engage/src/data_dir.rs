//! The embedded backend's data directory: the SQLite file and its WAL, the outbox's
//! messages, the keys. It holds personal data and live unsubscribe links, so it is
//! private to its owner: created `0700`, its files `0600` (the store and the outbox
//! create theirs so; SQLite gives the WAL and shared-memory files the database
//! file's mode). A directory or file found looser is reported at start, not changed:
//! an operator may have a reason, and a silent `chmod` would hide it.
//!
//! One `engage serve` owns a data directory's queues: it holds an exclusive lock on
//! `engage.lock` while it runs, so a second one refuses to start instead of racing
//! the first (the other commands, which SQLite lets run beside a server, take no lock).

use anyhow::Context as _;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock file an owning process holds.
const LOCK_FILE: &str = "engage.lock";

/// Creates `dir` (and missing parents) as `0700`.
pub fn create(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating the data directory {}", dir.display()))
}

/// The paths under `dir` that other local users may read or write, with their modes:
/// the directory itself, the database and its WAL, the outbox and its messages.
pub fn loose_permissions(dir: &Path) -> Vec<(PathBuf, u32)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mut paths = vec![
            dir.to_path_buf(),
            dir.join("engage.db"),
            dir.join("engage.db-wal"),
            dir.join("engage.db-shm"),
            dir.join("outbox"),
        ];
        if let Ok(entries) = std::fs::read_dir(dir.join("outbox")) {
            // The first few messages say enough; a big outbox is not walked at start.
            paths.extend(entries.flatten().take(16).map(|e| e.path()));
        }
        paths
            .into_iter()
            .filter_map(|p| {
                let mode = std::fs::metadata(&p).ok()?.permissions().mode() & 0o777;
                (mode & 0o077 != 0).then_some((p, mode))
            })
            .collect()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Vec::new()
    }
}

/// Warns (once per path) about what [`loose_permissions`] finds.
pub fn warn_if_loose(dir: &Path) {
    for (path, mode) in loose_permissions(dir) {
        tracing::warn!(
            path = %path.display(),
            mode = %format_args!("{mode:o}"),
            "readable by other local users: it holds personal data (chmod go-rwx to make it private)"
        );
    }
}

/// The exclusive hold of a data directory by the process that runs its pipeline;
/// released when dropped (or when the process dies: the kernel drops the lock).
#[derive(Debug)]
pub struct Owner {
    _file: File,
}

impl Owner {
    /// Takes the data directory's lock, or says which directory is already owned.
    pub fn acquire(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "another `engage serve` is running on the data directory {}",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn the_directory_is_created_private_and_looser_modes_are_found() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/data");
        create(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert!(loose_permissions(&dir).is_empty());

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("engage.db"), b"").unwrap();
        std::fs::set_permissions(
            dir.join("engage.db"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let loose = loose_permissions(&dir);
        assert_eq!(
            loose,
            vec![(dir.clone(), 0o755), (dir.join("engage.db"), 0o644)]
        );
    }

    #[test]
    fn a_second_owner_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = Owner::acquire(dir.path()).unwrap();
        let e = Owner::acquire(dir.path()).unwrap_err().to_string();
        assert!(e.contains("another `engage serve`"), "{e}");
        drop(first);
        Owner::acquire(dir.path()).unwrap();
    }
}
