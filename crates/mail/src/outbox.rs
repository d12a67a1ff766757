//! The outbox: "sending" writes the message to `{dir}/{email_id}.eml`, where the
//! console and the API show it. It is the default sender of the embedded mode, so a
//! newcomer sees every email engage would send without any mail server.
//!
//! A message is written under its final name and synced before the send counts as
//! done; sending the same email twice leaves one file with the same bytes, and a file
//! torn by a crash mid-write is replaced atomically when the email is sent again. A
//! batch (`send_many`) shares one sync on Linux.

use async_trait::async_trait;
use engage_core::StoreError;
use engage_core::ids::EmailId;
use engage_core::ports::{MailSender, OutgoingEmail, SendError, SendReceipt, SentMessages};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::message::{build_message, message_id, safe_id};

/// Writes each message as an `.eml` file in one directory.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    dir: PathBuf,
    /// Held while a batch is written. Files created at once in one directory contend
    /// for its lock inside the kernel, which spins: measured with four workers, the
    /// spinning took a tenth of the CPU. Taking turns costs nothing, as the disk sync
    /// is shared anyway.
    writing: Arc<Mutex<()>>,
}

impl OutboxSender {
    /// An outbox in `dir`, created (with its parents) if missing. The messages hold
    /// personal data and live unsubscribe links: the directory is created `0700` and
    /// each message `0600`.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        Ok(Self {
            dir,
            writing: Arc::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where this outbox keeps the message of `email_id`.
    pub fn path_of(&self, email_id: &EmailId) -> PathBuf {
        outbox_path(&self.dir, email_id)
    }
}

/// The file of `email_id`'s message in the outbox `dir`. Ids are opaque, so any
/// character that could escape the directory is percent-encoded: an id taken from a
/// URL cannot point outside `dir`.
pub fn outbox_path(dir: &Path, email_id: &EmailId) -> PathBuf {
    dir.join(format!("{}.eml", safe_id(email_id.as_str())))
}

/// The outbox's copies of the messages sent, read back (`GET /emails/{id}/message`):
/// the [`SentMessages`] of a host whose outbox is `dir`. Reading creates nothing, so
/// a host that sends through SMTP still answers for messages an earlier outbox kept
/// (and `None` for the rest).
#[derive(Debug, Clone)]
pub struct OutboxCopies {
    dir: PathBuf,
}

impl OutboxCopies {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

#[async_trait]
impl SentMessages for OutboxCopies {
    async fn sent_message(&self, id: &EmailId) -> Result<Option<Vec<u8>>, StoreError> {
        match tokio::fs::read(outbox_path(&self.dir, id)).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Unexpected(
                io::Error::new(e.kind(), format!("reading an outbox file: {e}")).into(),
            )),
        }
    }
}

/// One message ready to be written: its bytes and where, or why it cannot be.
type Prepared = Result<(PathBuf, Vec<u8>, String), SendError>;

impl OutboxSender {
    fn prepare(&self, email: &OutgoingEmail) -> Prepared {
        let message = build_message(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let message_id = message_id(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        Ok((
            self.path_of(&email.email.id),
            message.formatted(),
            message_id,
        ))
    }
}

#[async_trait]
impl MailSender for OutboxSender {
    fn name(&self) -> &'static str {
        "outbox"
    }

    /// The directory is there and this process can create a file in it.
    async fn check(&self) -> Result<serde_json::Value, String> {
        let dir = self.dir.clone();
        let probe = dir.join(".health-probe");
        let detail = serde_json::json!({"outbox": dir.display().to_string()});
        let written = tokio::task::spawn_blocking(move || {
            std::fs::write(&probe, b"")?;
            std::fs::remove_file(&probe)
        })
        .await
        .map_err(|e| e.to_string())?;
        written
            .map(|()| detail)
            .map_err(|e| format!("the outbox {} is not writable: {e}", self.dir.display()))
    }

    /// The receipt's `message_id` is the message's `Message-ID` without angle brackets.
    #[tracing::instrument(skip_all, fields(email_id = %email.email.id))]
    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        self.send_many(std::slice::from_ref(email))
            .await
            .pop()
            .expect("one result per email")
    }

    /// Writes every message, then makes them all durable with one sync (see
    /// [`write_files`]).
    async fn send_many(&self, emails: &[OutgoingEmail]) -> Vec<Result<SendReceipt, SendError>> {
        let prepared: Vec<Prepared> = emails.iter().map(|e| self.prepare(e)).collect();
        let (dir, writing) = (self.dir.clone(), self.writing.clone());
        let written = tokio::task::spawn_blocking(move || {
            let _turn = writing
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let files: Vec<_> = prepared
                .iter()
                .filter_map(|p| p.as_ref().ok())
                .map(|(path, bytes, _)| (path.as_path(), bytes.as_slice()))
                .collect();
            let mut written = write_files(&dir, &files).into_iter();
            prepared
                .into_iter()
                .map(|p| {
                    let (_, _, message_id) = p?;
                    written
                        .next()
                        .expect("one result per file")
                        .map(|()| SendReceipt { message_id })
                        .map_err(|e| SendError::Transient(format!("writing to the outbox: {e}")))
                })
                .collect::<Vec<_>>()
        })
        .await;
        match written {
            Ok(results) => {
                tracing::debug!(messages = results.len(), "written to the outbox");
                results
            }
            Err(e) => emails
                .iter()
                .map(|_| Err(SendError::Transient(format!("outbox writer stopped: {e}"))))
                .collect(),
        }
    }
}

/// Writes each `(path, bytes)`; each `Ok` is durable. The answers are in order.
///
/// A message is a pure function of its email, so a file that already holds the same
/// bytes is already sent. New files are created under their final names (a temporary
/// name and a rename cost two more directory updates per message, which measured as a
/// tenth of the pipeline's time), then made durable together. A file found with other
/// bytes (left torn by a crash mid-write) is replaced atomically.
fn write_files(dir: &Path, files: &[(&Path, &[u8])]) -> Vec<io::Result<()>> {
    let created: Vec<io::Result<Option<std::fs::File>>> = files
        .iter()
        .map(|(path, bytes)| write_new(dir, path, bytes))
        .collect();
    let new: Vec<&std::fs::File> = created.iter().flatten().flatten().collect();
    let synced = if new.is_empty() {
        Ok(())
    } else {
        sync_new_files(dir, &new)
    };
    created
        .into_iter()
        .map(|c| match (c, &synced) {
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(io::Error::new(e.kind(), e.to_string())),
            (Ok(_), Ok(())) => Ok(()),
        })
        .collect()
}

/// Creates `path` with `bytes`, unsynced (`Some`); `None` when it already held them,
/// or held others and was replaced durably.
fn write_new(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<Option<std::fs::File>> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(path) {
        Ok(mut file) => match file.write_all(bytes) {
            Ok(()) => Ok(Some(file)),
            Err(e) => {
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        },
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if std::fs::read(path)? != bytes {
                replace_atomically(dir, path, bytes)?;
            }
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Writes a temporary file, syncs it and renames it over `path`: a reader sees the
/// old file or the new one, never a torn one.
fn replace_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    // A dotfile not ending in `.eml`: listings of the outbox skip it, should a crash
    // leave one behind.
    let mut tmp = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes new files and their directory entries durable. On Linux several files take
/// one `syncfs` of the outbox's file system (one journal commit, which covers the
/// directory too, instead of one per file); one file, or another system, is synced on
/// its own and then the directory.
fn sync_new_files(dir: &Path, files: &[&std::fs::File]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if files.len() > 1 {
        return rustix::fs::syncfs(std::fs::File::open(dir)?).map_err(io::Error::from);
    }
    for f in files {
        f.sync_all()?;
    }
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::tests::outgoing;
    use mailparse::MailHeaderMap;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn the_copies_are_the_sent_bytes_and_none_without_a_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("outbox");
        let copies = OutboxCopies::new(&dir);
        let email = outgoing("eml_copy");
        let id = email.email.id.clone();
        assert_eq!(
            copies.sent_message(&id).await.unwrap(),
            None,
            "no outbox yet"
        );
        assert!(!dir.exists(), "reading created nothing");
        let outbox = OutboxSender::new(&dir).unwrap();
        outbox.send(&email).await.unwrap();
        let sent = std::fs::read(outbox.path_of(&id)).unwrap();
        assert_eq!(copies.sent_message(&id).await.unwrap(), Some(sent));
        let other = EmailId::from_string("eml_other");
        assert_eq!(copies.sent_message(&other).await.unwrap(), None);
        // An id naming a path outside the outbox reads nothing there.
        std::fs::write(tmp.path().join("secret.eml"), b"x").unwrap();
        let escape = EmailId::from_string("../secret");
        assert_eq!(copies.sent_message(&escape).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_sent_email_is_a_parseable_eml_file() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path().join("outbox")).unwrap();
        let email = outgoing("eml_abc");
        let receipt = outbox.send(&email).await.unwrap();
        assert_eq!(receipt.message_id, "eml_abc@engage.localhost");
        assert_eq!(outbox.name(), "outbox");

        let path = outbox_path(outbox.dir(), &email.email.id);
        assert_eq!(path, tmp.path().join("outbox/eml_abc.eml"));
        let raw = std::fs::read(&path).unwrap();
        let m = mailparse::parse_mail(&raw).unwrap();
        let h = &m.headers;
        assert_eq!(h.get_first_value("Subject").unwrap(), "Voilà, Zoë");
        assert_eq!(
            h.get_first_value("To").unwrap(),
            "Zoë Müller <zoe@example.com>"
        );
        assert_eq!(
            h.get_first_value("Message-ID").unwrap(),
            format!("<{}>", receipt.message_id)
        );
        assert!(h.get_first_value("Date").is_some());
        let unsubscribe = h.get_first_value("List-Unsubscribe").unwrap();
        assert!(unsubscribe.starts_with("<https://") && unsubscribe.contains("<mailto:"));
        assert_eq!(
            h.get_first_value("List-Unsubscribe-Post").unwrap(),
            "List-Unsubscribe=One-Click"
        );
        let types: Vec<_> = m
            .subparts
            .iter()
            .map(|p| p.ctype.mimetype.clone())
            .collect();
        assert_eq!(types, ["text/plain", "text/html"]);
    }

    #[tokio::test]
    async fn sending_twice_leaves_one_identical_file() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path()).unwrap();
        let email = outgoing("eml_abc");
        let first = outbox.send(&email).await.unwrap();
        let bytes = std::fs::read(outbox.path_of(&email.email.id)).unwrap();
        let second = outbox.send(&email).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(files(tmp.path()), ["eml_abc.eml"]);
        assert_eq!(
            std::fs::read(outbox.path_of(&email.email.id)).unwrap(),
            bytes
        );
    }

    #[tokio::test]
    async fn a_batch_writes_every_good_message_and_refuses_the_bad_one() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path()).unwrap();
        let mut bad = outgoing("eml_bad");
        bad.from = "nobody".into();
        let batch = [outgoing("eml_1"), bad, outgoing("eml_2")];
        let results = outbox.send_many(&batch).await;
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[0].as_ref().unwrap().message_id,
            "eml_1@engage.localhost"
        );
        assert!(matches!(results[1], Err(SendError::Permanent(_))));
        assert_eq!(
            results[2].as_ref().unwrap().message_id,
            "eml_2@engage.localhost"
        );
        assert_eq!(files(tmp.path()), ["eml_1.eml", "eml_2.eml"]);
        for id in ["eml_1", "eml_2"] {
            let raw = std::fs::read(tmp.path().join(format!("{id}.eml"))).unwrap();
            let m = mailparse::parse_mail(&raw).unwrap();
            assert_eq!(m.headers.get_first_value("X-Engage-Email-Id").unwrap(), id);
        }
        // The same batch again: the same files, no temporary ones left.
        outbox.send_many(&batch).await;
        assert_eq!(files(tmp.path()), ["eml_1.eml", "eml_2.eml"]);
    }

    #[tokio::test]
    async fn a_file_torn_by_a_crash_is_replaced_when_the_email_is_sent_again() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path()).unwrap();
        let email = outgoing("eml_abc");
        outbox.send(&email).await.unwrap();
        let whole = std::fs::read(outbox.path_of(&email.email.id)).unwrap();
        std::fs::write(outbox.path_of(&email.email.id), &whole[..whole.len() / 2]).unwrap();

        outbox
            .send_many(&[email.clone(), outgoing("eml_def")])
            .await;

        assert_eq!(
            std::fs::read(outbox.path_of(&email.email.id)).unwrap(),
            whole
        );
        assert_eq!(files(tmp.path()), ["eml_abc.eml", "eml_def.eml"]);
    }

    #[tokio::test]
    async fn a_batch_into_a_broken_outbox_fails_transiently_throughout() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path().join("outbox")).unwrap();
        std::fs::remove_dir(outbox.dir()).unwrap();
        let results = outbox
            .send_many(&[outgoing("eml_1"), outgoing("eml_2")])
            .await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(SendError::Transient(_)))),
            "{results:?}"
        );
    }

    #[tokio::test]
    async fn an_id_cannot_write_outside_the_outbox() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path().join("outbox")).unwrap();
        outbox.send(&outgoing("../escape")).await.unwrap();
        assert_eq!(files(tmp.path()), ["outbox"]);
        assert_eq!(files(outbox.dir()), ["%2E%2E%2Fescape.eml"]);
    }

    #[tokio::test]
    async fn a_broken_outbox_is_a_transient_failure() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path().join("outbox")).unwrap();
        std::fs::remove_dir(outbox.dir()).unwrap();
        let err = outbox.send(&outgoing("eml_abc")).await.unwrap_err();
        assert!(matches!(err, SendError::Transient(_)), "{err}");
    }

    #[tokio::test]
    async fn an_unusable_sender_address_is_permanent() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = OutboxSender::new(tmp.path()).unwrap();
        let mut email = outgoing("eml_abc");
        email.from = "nobody".into();
        let err = outbox.send(&email).await.unwrap_err();
        assert!(matches!(err, SendError::Permanent(_)), "{err}");
        assert!(files(tmp.path()).is_empty());
    }
}
