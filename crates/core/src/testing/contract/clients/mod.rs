//! The `ClientStore` contract: writes with their refusals (`Duplicate`,
//! `VersionConflict`, `NotFound`), reads with the score the ledger stored, and lists
//! with every filter, order and cursor. What a backend may answer `Unsupported` for
//! ([`ClientSupport`]) is named where its runner calls [`crate::clients_contract!`],
//! and the contract then checks that it answers so, every time.
//!
//! - `writes`: inserts, replaces and deletes, with their refusals;
//! - `reads`: a client with its score, and lists filtered and searched;
//! - `pages`: lists a page at a time, and the cursors that resume them;
//! - `sorts`: the orders other than by id;
//! - `log_and_stats`: a client's change log and the dashboard's counts.
//!
//! A runner calls the cases through [`crate::clients_contract!`], which names each
//! of them as `clients::<case>` (they are re-exported here).

mod log_and_stats;
mod pages;
mod reads;
mod sorts;
mod support;
mod writes;

pub use log_and_stats::*;
pub use pages::*;
pub use reads::*;
pub use sorts::*;
pub use writes::*;

/// What of [`crate::ports::ClientStore`] a backend does beyond what every backend
/// must: each `false` is a promise to answer `Unsupported` (with a reason) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSupport {
    /// `list` in the orders of [`ClientSort::NAMED`](crate::ports::ClientSort::NAMED)
    /// (every backend lists by id).
    pub sorts: bool,
    /// `changes`: a client's change log.
    pub changes: bool,
    /// `stats`: the dashboard's counts.
    pub stats: bool,
}

impl ClientSupport {
    pub const ALL: ClientSupport = ClientSupport {
        sorts: true,
        changes: true,
        stats: true,
    };
}

/// One test per case of the `ClientStore` contract, against a backend: an expression
/// of a type that implements [`Backend`](crate::testing::Backend), and optionally the
/// [`ClientSupport`] it has (default: all of it).
///
/// ```ignore
/// engage_core::clients_contract!(SqliteBackend);
/// engage_core::clients_contract!(DynamoBackend, ClientSupport { sorts: false, .. });
/// ```
#[macro_export]
macro_rules! clients_contract {
    ($backend:expr, $support:expr $(,)?) => {
        $crate::__contract_cases!(
            clients,
            (&$backend, $support),
            [
                an_inserted_client_reads_back_and_a_missing_one_is_none,
                a_taken_address_is_a_duplicate_whatever_its_case,
                a_taken_id_is_a_duplicate_and_takes_no_address,
                a_replace_at_the_stored_version_wins_and_a_stale_one_names_the_current,
                a_replace_of_a_missing_client_is_not_found,
                of_concurrent_replaces_at_one_version_exactly_one_wins,
                changing_the_address_frees_the_old_one_and_takes_the_new,
                delete_checks_the_version_and_returns_the_client_as_deleted,
                get_with_score_shows_the_score_the_ledger_stored_and_the_suppression,
                list_is_in_id_order_with_scores_and_suppression_marks,
                list_search_is_a_case_insensitive_prefix_of_the_address_or_a_name,
                list_filters_by_tier_subscription_and_opt_in,
                list_pages_cover_every_client_once,
                a_list_limit_of_0_lists_one_and_one_over_1000_is_no_error,
                a_cursor_the_list_did_not_issue_is_invalid,
                list_sorts_by_score_with_the_unscored_first_and_ties_by_id,
                list_sorts_by_last_activity_with_the_never_active_first_and_ties_by_id,
                changes_list_a_clients_writes_newest_first_even_after_its_deletion,
                stats_count_the_clients_by_tier_and_score,
            ]
        );
    };
    ($backend:expr $(,)?) => {
        $crate::clients_contract!(
            $backend,
            $crate::testing::contract::clients::ClientSupport::ALL
        );
    };
}
