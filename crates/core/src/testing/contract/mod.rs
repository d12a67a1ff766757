//! The port contracts: what every implementation of a port with state must do,
//! as code. Each case takes a [`super::Backend`] and starts from fresh stores.

pub mod ledger;
