//! The `Ledger` contract.
