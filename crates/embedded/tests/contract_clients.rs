//! The client-store, import and suppression contracts on SQLite: each case on a
//! new database file of its own.

use engage_embedded::testing::SqliteBackend;

engage_core::clients_contract!(SqliteBackend);
engage_core::import_contract!(SqliteBackend);
engage_core::suppressions_contract!(SqliteBackend);
