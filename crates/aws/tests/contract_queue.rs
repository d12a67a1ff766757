//! The queue contract (`engage_core::testing::contract::queue`) on SNS and SQS, in
//! the AWS emulator (moto's server on 127.0.0.1, real HTTP, real time): each case
//! in an emulator of its own, with the topic, the email queue and its dead-letter
//! queue `engage aws init` creates.

use engage_aws::testing::SqsBackend;
use engage_core::testing::contract::queue::QueueSupport;

engage_core::queue_contract!(
    SqsBackend,
    QueueSupport {
        // SQS documents that a delete with an earlier receipt handle "succeeds, but
        // the message might not be deleted"; moto deletes it, and releases it too.
        refuses_stale_receipts: false,
        // SQS shows a queue's messages only by receiving them: one look, no order.
        pages_dead_letters: false,
        // Deleting is idempotent on SQS: a deleted message's receipt is accepted again.
        counts_deletes: false,
        // SQS keeps no processing error with a message.
        keeps_last_error: false,
    }
);
