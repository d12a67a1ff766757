//! The embedded backend's engine from the configuration, over one SQLite store;
//! `Application::build` and the commands that act like the server (`engage resend`)
//! share it. Its parts are built as on every host ([`engage_host::wiring`]).

use crate::config::Config;
use engage_core::clock::Clock;
use engage_core::ports::ContentGenerator;
use engage_core::processor::Engine;
use engage_embedded::Store;
pub use engage_host::wiring::*;
use engage_llm::TemplateGenerator;
use std::sync::Arc;

/// The store's emails, as what a model already spent today.
struct StoreSpending<'a>(&'a Store);

#[async_trait::async_trait]
impl SpentSince for StoreSpending<'_> {
    async fn spent_since(
        &self,
        since: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<(u64, f64)> {
        Ok(self.0.llm_spend_since(since).await?)
    }
}

/// The engine on `store`, with every part as configured; a model's daily budget
/// counts what the store's emails already spent today.
pub async fn engine(
    config: &Config,
    store: &Store,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Engine> {
    let secret =
        crate::secrets::unsubscribe_secret(config.unsubscribe_secret.as_deref(), &config.data_dir)?;
    let template: Arc<dyn ContentGenerator> = Arc::new(TemplateGenerator);
    let spent = StoreSpending(store);
    let generator = generator(config, Spending::Local(&spent), &clock, &template).await?;
    let store_arc = Arc::new(store.clone());
    Ok(Engine {
        clients: store_arc.clone(),
        ledger: store_arc.clone(),
        generator,
        fallback: template,
        sender: sender(config).await?,
        publisher: store_arc.clone(),
        suppressions: store_arc,
        links: links(config, &secret),
        clock,
        config: Arc::new(engine_config(config)),
    })
}
