//! The router driven in-process (`tower::ServiceExt::oneshot`, no socket) over the
//! real adapters `engage serve` uses: a fresh SQLite file per test, the template
//! generator, the outbox sender, and a manual clock. Where a test needs emails or
//! decisions, it runs the real pipeline step by step. The same router over real HTTP
//! is tested end to end in `crates/engage/tests/api`.

mod auth_and_errors;
mod console;
mod docs_and_health;
mod doubles;
mod export;
mod helpers;
mod lists;
mod operations;
mod unsubscribe;
mod users;
mod webhooks;
