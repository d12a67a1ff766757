//! `engage resend`: sends `failed` emails again, through the configured sender, from
//! the command line (the API's `POST /api/v1/emails/{id}/resend` does the same). Each
//! email moves `failed → pending` and is sent at once, with consent and suppression
//! checked again; a running `engage serve` may share the data directory (the moves
//! are conditional, so an email is never sent twice by the two).

use crate::config::Config;
use engage_core::clock::SystemClock;
use engage_core::email::EmailStatus;
use engage_core::ids::EmailId;
use engage_core::ports::{EmailHistory as _, EmailQuery};
use engage_core::processor::{Delivery, ProcessError};
use std::io::Write;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct ResendArgs {
    /// The ids of the emails to send again.
    #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
    pub ids: Vec<String>,
    /// Every `failed` email (check the provider first for those whose outcome is
    /// unknown: they may have arrived).
    #[arg(long)]
    pub all_failed: bool,
}

/// Resends as asked; writes one line per email to `out`. Fails when an email could
/// not be resent (unknown, or not `failed`), after trying all of them.
pub async fn run(config: Config, args: &ResendArgs, out: &mut impl Write) -> anyhow::Result<()> {
    let store = super::open_store(&config)?;
    let engine = crate::wiring::engine(&config, &store, Arc::new(SystemClock)).await?;
    let ids: Vec<EmailId> = if args.all_failed {
        let mut ids = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_emails(&EmailQuery {
                    status: Some(EmailStatus::Failed),
                    cursor: cursor.take(),
                    limit: 200,
                    ..EmailQuery::default()
                })
                .await?;
            ids.extend(page.items.into_iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        ids
    } else {
        args.ids
            .iter()
            .map(|i| EmailId::from_string(i.as_str()))
            .collect()
    };
    let mut refused = 0;
    for id in &ids {
        let line = match engine.resend(id).await {
            Ok(Some(Delivery::Sent)) => "sent".to_string(),
            Ok(Some(Delivery::Cancelled(reason))) => {
                format!("cancelled: not sent, because {}", reason.explain())
            }
            Ok(Some(Delivery::Failed(why))) => {
                refused += 1;
                format!("failed again: {why}")
            }
            Ok(Some(other)) => format!("{other:?}").to_lowercase(),
            Err(ProcessError::SendDeferred(why)) => format!("deferred (will be retried): {why}"),
            Ok(None) => {
                refused += 1;
                match engine.ledger.get_email(id).await? {
                    Some(e) => format!("not resent: it is `{}`, not failed", e.status.as_str()),
                    None => "not resent: no email has this id".to_string(),
                }
            }
            Err(e) => return Err(e.into()),
        };
        writeln!(out, "{id}: {line}")?;
    }
    if args.all_failed {
        writeln!(out, "{} failed email(s) resent", ids.len())?;
    }
    anyhow::ensure!(refused == 0, "{refused} email(s) could not be resent");
    Ok(())
}
