//! The `Ledger` contract (`engage_core::testing::contract::ledger`) on DynamoDB: an
//! emulator (moto's server on 127.0.0.1) per case, with every resource `engage aws
//! init` creates.

engage_core::ledger_contract!(engage_aws::testing::DynamoBackend);
