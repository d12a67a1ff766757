//! The contract of [`Ledger`](crate::ports::Ledger): what every implementation must
//! answer, case by case, from fresh stores. A backend's test file runs it all with
//! one line, `engage_core::ledger_contract!(MyBackend);`.
//!
//! - [`context`]: the processor's reads (claims, ledger state, recent emails,
//!   suppression);
//! - [`commit`]: decision commits, their refusals and their precedence;
//! - [`delivery`]: reading emails, their conditional moves, the scheduler's sweeps;
//! - [`sweeps`]: the leases of composing emails and due rescores;
//! - [`lists`]: the API's lists and the stored score;
//! - [`dashboard`]: what a backend may decline (`Unsupported`).

pub mod commit;
pub mod context;
pub mod dashboard;
pub mod delivery;
mod fixtures;
pub mod lists;
pub mod sweeps;

pub use commit::*;
pub use context::*;
pub use dashboard::*;
pub use delivery::*;
pub use lists::*;
pub use sweeps::*;

/// One `#[tokio::test]` per case of the [`Ledger`](crate::ports::Ledger) contract,
/// each on fresh stores of the backend given (an expression of a type implementing
/// [`Backend`](crate::testing::Backend)).
#[macro_export]
macro_rules! ledger_contract {
    ($backend:expr) => {
        $crate::ledger_contract!(@cases $backend;
            a_new_clients_context_is_empty,
            the_context_holds_the_claim_of_its_event,
            claim_of_answers_the_decision_of_a_decided_event,
            recent_emails_are_the_last_90_days_newest_first,
            suppression_is_by_address_and_never_without_one,
            contexts_answer_each_request_in_order,
            a_commit_stores_its_claim_decision_email_and_score,
            a_redelivered_event_is_already_claimed_and_writes_nothing,
            a_commit_on_a_stale_read_is_refused_and_writes_nothing,
            the_claim_wins_over_a_stale_read,
            the_processed_version_only_grows,
            a_commit_without_a_decision_rescores_without_claiming,
            a_commit_without_a_score_leaves_the_ledger_state_alone,
            commit_many_answers_each_commit_in_order,
            get_email_answers_the_email_as_committed,
            a_transition_moves_only_from_its_from_status,
            a_transition_records_history_sent_at_and_message_id,
            transition_many_answers_each_move_in_order,
            due_scheduled_and_stranded_pending_emails_are_to_deliver,
            emails_to_deliver_takes_up_to_limit_of_each_kind,
            sending_emails_are_stuck_once_older_than_the_bound,
            composing_emails_are_leased_to_one_writer_at_a_time,
            claim_composing_takes_up_to_limit_earliest_first,
            finish_composing_stores_the_written_email_once,
            a_composed_email_can_be_scheduled,
            due_rescores_are_leased_with_the_clients_version,
            take_due_rescores_takes_up_to_limit_earliest_first,
            email_lists_are_newest_first_in_pages,
            email_lists_filter_by_client_status_and_campaign,
            lists_refuse_a_cursor_they_did_not_make,
            decisions_list_newest_first_in_pages,
            stored_score_is_the_last_committed_breakdown,
            email_activity_counts_by_day_status_and_generator,
        );
    };
    (@cases $backend:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::testing::contract::ledger::$case(&$backend).await
            }
        )*
    };
}
