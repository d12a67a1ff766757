//! `ClientStore` (and `ClientImport`) over the DynamoDB Users table, with the key
//! design of [`crate::tables`]: one user item per client and one `email#<address>`
//! guard item per address, always written together in one `TransactWriteItems`, so
//! two clients can never share an address. The table's stream is the change stream
//! (see [`crate::stream`]); nothing here writes change records of its own.
//!
//! The answers are the port's (`engage_core::testing::contract` runs them here): a
//! taken address (or id) is `Duplicate`, a stale `expected_version` is
//! `VersionConflict { current }`, a missing client `NotFound`; a refused write
//! leaves nothing written. Every read is strongly consistent, so a
//! read-modify-write never trips on its own previous write.
//!
//! The store's parts: [`items`] (the items as stored and read back), [`writes`] (the
//! conditional writes and the transaction), [`reads`] (batched reads and the scan),
//! [`store`] (`ClientStore`) and [`import`] (`ClientImport`).

mod import;
mod items;
mod reads;
mod store;
mod writes;

use crate::tables::Resources;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use engage_core::StoreError;

/// The `kind` of a user item and of an address guard item.
pub const KIND_USER: &str = "user";
pub const KIND_EMAIL: &str = "email";

pub(crate) fn unexpected(what: &str, e: impl std::error::Error) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("{what}: {}", DisplayErrorContext(e)))
}

fn broken(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("{what}"))
}

/// The DynamoDB client store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoClients {
    client: aws_sdk_dynamodb::Client,
    users_table: String,
    ledger_table: String,
}

impl DynamoClients {
    /// A store over `users_table`; `ledger_table` holds the clients' score items,
    /// which `get_with_score` and `list` read and `delete` removes.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        users_table: impl Into<String>,
        ledger_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            users_table: users_table.into(),
            ledger_table: ledger_table.into(),
        }
    }

    /// A store over the Users and Ledger tables named in `resources`.
    pub fn for_resources(client: aws_sdk_dynamodb::Client, resources: &Resources) -> Self {
        Self::new(
            client,
            resources.users_table.clone(),
            resources.ledger_table.clone(),
        )
    }
}
