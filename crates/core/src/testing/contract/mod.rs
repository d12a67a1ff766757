//! The port contracts: what every implementation of a port with state must do,
//! as code. Each case takes a [`super::Backend`] and starts from fresh stores (the
//! queue's cases a [`queue::QueueBackend`] and a fresh topic, queue and dead letters).

pub mod clients;
pub mod fixtures;
pub mod import;
pub mod ledger;
pub mod queue;
pub mod suppressions;
