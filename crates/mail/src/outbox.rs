//! The outbox: "sending" writes the message to `{dir}/{email_id}.eml`, where the
//! console and the API show it. It is the default sender of the embedded mode, so a
//! newcomer sees every email engage would send without any mail server.
//!
//! Each write goes to a temporary file in the same directory, is fsynced, then renamed
//! over the final name: a reader sees the old file or the new one, never a torn one,
//! and sending the same email twice leaves one file with the same bytes.

use async_trait::async_trait;
use engage_core::ids::EmailId;
use engage_core::ports::{MailSender, OutgoingEmail, SendError, SendReceipt};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::message::{build_message, message_id, safe_id};

/// Writes each message as an `.eml` file in one directory.
#[derive(Debug, Clone)]
pub struct OutboxSender {
    dir: PathBuf,
}

impl OutboxSender {
    /// An outbox in `dir`, created (with its parents) if missing.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
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

#[async_trait]
impl MailSender for OutboxSender {
    fn name(&self) -> &'static str {
        "outbox"
    }

    /// The receipt's `message_id` is the message's `Message-ID` without angle brackets.
    #[tracing::instrument(skip_all, fields(email_id = %email.email.id))]
    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        let message = build_message(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let message_id = message_id(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let bytes = message.formatted();
        let dir = self.dir.clone();
        let path = self.path_of(&email.email.id);
        tokio::task::spawn_blocking(move || write_atomically(&dir, &path, &bytes))
            .await
            .map_err(|e| SendError::Transient(format!("outbox writer stopped: {e}")))?
            .map_err(|e| SendError::Transient(format!("writing to the outbox: {e}")))?;
        tracing::debug!(%message_id, "written to the outbox");
        Ok(SendReceipt { message_id })
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    // A dotfile not ending in `.eml`: listings of the outbox skip it, should a crash
    // leave one behind.
    let mut tmp = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable.
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
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
