//! Demo data: realistic synthetic clients, so a fresh `engage serve` has something to
//! score, decide on and email (`engage demo --clients 1000`).
//!
//! [`generate`] makes client `index` of a data set from `seed` alone, so the same seed
//! always gives the same clients and any slice of them can be made on its own (in
//! parallel, or streamed). Each client has a name (some not ASCII), a unique address,
//! a time zone weighted towards the US and Europe, consent (about 80 % opted in, 3 %
//! unsubscribed), a style profile of varied completeness, and an activity history
//! folded in with [`Activity::apply`](engage_core::client::Activity::apply), so its
//! facts are as consistent as if recorded through the API: Fixes at the client's own cadence (30, 45, 60 or 90 days) up to a
//! point where some stopped, feedback on most of them, logins and orders around them,
//! email opens and clicks. Some clients are brand new, some active, some slipping and
//! some lapsed for months. Every time lies before `now`.
//!
//! [`load`] writes them through the [`ClientImport`](engage_core::ports::ClientImport)
//! port as ordinary inserts: they flow through the change stream like any write and
//! the email processor decides on each.
//!
//! The parts: [`lists`] (the names, time zones, styles and sizes a client is drawn
//! from, with their weights), [`history`] (a client's life with the service, as
//! activities), [`client`] (one client from a seed and an index: [`generate`]) and
//! [`import`] (a data set written through the import port: [`load`]).

mod client;
mod history;
mod import;
mod lists;

pub use client::generate;
pub use import::{LoadReport, load};
