//! What every store writes the same way, so a cursor or a stored time means the same
//! on every backend: page cursors, page sizes, and times as sortable text.

use crate::StoreError;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};

/// A page cursor: the sort key of a page's last item, base64url-encoded. Opaque to
/// clients; one that does not decode is the client's error
/// ([`StoreError::InvalidCursor`]).
pub fn encode_cursor(parts: &[&str]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(parts.join("\u{1f}"))
}

/// The `n` parts of a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str, n: usize) -> Result<Vec<String>, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let parts: Vec<String> = text.split('\u{1f}').map(str::to_string).collect();
    if parts.len() != n || parts.iter().any(String::is_empty) {
        return Err(StoreError::InvalidCursor);
    }
    Ok(parts)
}

/// Page sizes every store accepts.
pub fn clamp_limit(limit: u32) -> u32 {
    limit.clamp(1, 1000)
}

/// A time as text that sorts as the time does: RFC 3339, microseconds, `Z`.
pub fn sortable_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_the_clients_error() {
        let c = encode_cursor(&["2026-03-02T12:00:00.000000Z", "eml_1"]);
        assert_eq!(
            decode_cursor(&c, 2).unwrap(),
            ["2026-03-02T12:00:00.000000Z", "eml_1"]
        );
        assert!(matches!(
            decode_cursor(&c, 3),
            Err(StoreError::InvalidCursor)
        ));
        assert!(matches!(
            decode_cursor("%%%", 1),
            Err(StoreError::InvalidCursor)
        ));
    }
}
