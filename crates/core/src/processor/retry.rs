//! When a failed queue message is tried again: the same policy on every backend
//! (the embedded queue, SQS under `engage serve --backend aws`).

use rand::Rng as _;
use std::time::Duration;

/// Exponential backoff with jitter: about 2, 4, 8 … seconds after the 1st, 2nd, 3rd …
/// receive, at most five minutes (each within ±12.5 %).
pub fn backoff(receive_count: u32) -> Duration {
    let base = 2u64.saturating_pow(receive_count.min(8)).min(300);
    let jitter = rand::rng().random_range(0..=base * 250);
    Duration::from_millis(base * 1000 - base * 125 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_jitter_and_stops_at_five_minutes() {
        for (count, base) in [(1u32, 2u64), (2, 4), (3, 8), (8, 256), (9, 256), (40, 256)] {
            for _ in 0..50 {
                let d = backoff(count).as_millis() as u64;
                assert!(
                    (base * 875..=base * 1125).contains(&d),
                    "receive {count}: {d} ms"
                );
            }
        }
        assert!(backoff(u32::MAX) <= Duration::from_secs(300));
    }
}
