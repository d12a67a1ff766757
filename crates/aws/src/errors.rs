//! What a failed AWS request means to a caller: [`StoreError::Transient`] when the
//! same request may succeed later (throttling, overload, a timeout or a connection
//! that failed: the SDK has already retried these with its own backoff), and
//! [`StoreError::Unexpected`] for everything else. Callers branch on the variant.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use engage_core::StoreError;

/// Error codes with which DynamoDB, DynamoDB Streams, SQS and SNS say "not now":
/// throttling, an overloaded or failing service, a transaction still in flight.
const TRANSIENT_CODES: [&str; 12] = [
    "ThrottlingException",
    "Throttling",
    "RequestThrottled",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "KMSThrottlingException",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// True when `e` says the same request may succeed if tried again later.
pub(crate) fn is_transient<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => true,
        SdkError::ServiceError(se) => se
            .err()
            .code()
            .is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        _ => false,
    }
}

/// A failed request as a [`StoreError`], with `what` (the operation, for the logs)
/// and the service's code and message.
pub(crate) fn aws_error<E, R>(what: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let detail = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&e).to_string(),
    };
    if is_transient(&e) {
        StoreError::Transient(format!("{what}: {detail}"))
    } else {
        StoreError::Unexpected(anyhow::anyhow!("{what}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;

    fn service_error(code: &str) -> SdkError<PutItemError, ()> {
        let err = PutItemError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("it said no")
                .build(),
        );
        SdkError::service_error(err, ())
    }

    #[test]
    fn throttling_is_transient_and_a_refusal_is_not() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
        ] {
            let e = aws_error("PutItem on users", service_error(code));
            assert!(e.is_transient(), "{code}: {e}");
            assert!(e.to_string().contains("PutItem on users"), "{e}");
        }
        let e = aws_error("PutItem on users", service_error("ValidationException"));
        assert!(matches!(e, StoreError::Unexpected(_)), "{e}");
        assert!(
            e.to_string().contains("ValidationException: it said no"),
            "{e}"
        );
    }

    #[test]
    fn a_timeout_is_transient() {
        let e: SdkError<PutItemError, ()> = SdkError::timeout_error("the request took too long");
        assert!(aws_error("PutItem", e).is_transient());
    }
}
