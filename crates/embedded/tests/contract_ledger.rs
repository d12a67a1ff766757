//! The `Ledger` contract (`engage_core::testing::contract::ledger`) on SQLite: a new
//! database file per case.

engage_core::ledger_contract!(engage_embedded::testing::SqliteBackend);
