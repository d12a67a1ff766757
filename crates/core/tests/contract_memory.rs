//! The port contracts (`engage_core::testing::contract`) on the in-memory reference
//! implementation the processor's tests drive, so the reference is held to the same
//! contract as SQLite and DynamoDB.

use engage_core::testing::memory::MemoryBackend;

engage_core::clients_contract!(MemoryBackend);
engage_core::import_contract!(MemoryBackend);
engage_core::suppressions_contract!(MemoryBackend);

mod ledger {
    use super::MemoryBackend;

    engage_core::ledger_contract!(MemoryBackend);
}
