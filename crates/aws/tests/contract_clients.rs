//! The client-store, import and suppression contracts on DynamoDB, in the AWS
//! emulator (moto's server on 127.0.0.1, real HTTP): each case in an emulator of
//! its own, with every table `engage aws init` creates.

use engage_aws::testing::DynamoBackend;
use engage_core::testing::contract::clients::ClientSupport;

engage_core::clients_contract!(
    DynamoBackend,
    ClientSupport {
        // The Users table has no index by score or by last activity, and sorting
        // would read the whole table.
        sorts: false,
        // The table's stream keeps 24 hours of changes, by shard: no client's log.
        changes: false,
        // Counting would scan the whole table.
        stats: false,
    }
);
engage_core::import_contract!(DynamoBackend);
engage_core::suppressions_contract!(DynamoBackend);
