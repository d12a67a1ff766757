//! The queue contract (`engage_core::testing::contract::queue`) on SQLite: the
//! store's topic, email queue and dead letters, each case on a new database file,
//! time passing on the store's manual clock.

use engage_embedded::testing::SqliteBackend;

engage_core::queue_contract!(SqliteBackend);
