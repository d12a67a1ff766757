//! `engage demo --clients N`: loads synthetic clients ([`crate::demo`]) into the data
//! directory's store, with a progress bar. They are ordinary inserts on the change
//! stream: a running `engage serve` decides on them within its idle poll, a stopped
//! one at its next start.

use crate::demo::{LoadReport, load};
use engage_core::ports::{ClientQuery, ClientStore};
use engage_embedded::Store;
use indicatif::{ProgressBar, ProgressStyle};

/// Clients per write batch.
const BATCH: usize = 1000;

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many clients to generate.
    #[arg(long)]
    pub clients: u64,
    /// The data set: the same seed always gives the same clients.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Load even though the store already has clients (addresses already there are
    /// skipped; use another `--seed` for different clients).
    #[arg(long)]
    pub force: bool,
}

/// Loads the clients; refuses a store that has clients unless `--force`.
pub async fn run(store: Store, args: &DemoArgs) -> anyhow::Result<LoadReport> {
    if !args.force {
        let any = store
            .list(&ClientQuery {
                limit: 1,
                ..ClientQuery::default()
            })
            .await?;
        anyhow::ensure!(
            any.items.is_empty(),
            "the data directory already has clients; add --force to load demo clients anyway"
        );
    }
    let bar = ProgressBar::new(args.clients);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} clients  {per_sec}  ETA {eta}")
            .expect("a valid template"),
    );
    let report = load(
        &store,
        args.clients,
        args.seed,
        chrono::Utc::now(),
        BATCH,
        |done| bar.set_position(done),
    )
    .await;
    bar.finish_and_clear();
    Ok(report?)
}
