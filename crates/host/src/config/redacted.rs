//! A configured secret: used as the string it is, shown as `<redacted>` by `Debug`,
//! so a logged or printed configuration (`{config:?}`, an error's context) never
//! carries a token or a key.
//!
//! Written here rather than taken from the `secrecy` crate: `secrecy`'s
//! `SecretString` refuses to serialize (on purpose), and the configuration is loaded
//! by serializing the defaults first (`sources.rs`); a secret read from the
//! environment must also still be handed to libraries as a plain `&str`.

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::ops::Deref for Redacted {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Redacted {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<String> for Redacted {
    fn from(s: String) -> Self {
        Self(s)
    }
}

/// How many bits a token is worth at most, by the characters it uses: its length
/// times log2 of the size of the smallest usual alphabet that holds it (digits 10,
/// hex 16, one case of letters and digits 36, both cases 62, anything else 94),
/// discounted for repeats and runs (`aaaa`, `1234`, `abcd` count as one character).
pub fn estimated_bits(token: &str) -> f64 {
    let chars: Vec<char> = token.chars().collect();
    let alphabet = if chars.iter().all(|c| c.is_ascii_digit()) {
        10.0
    } else if chars.iter().all(|c| c.is_ascii_hexdigit()) {
        16.0
    } else if chars
        .iter()
        .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        || chars
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        36.0
    } else if chars.iter().all(char::is_ascii_alphanumeric) {
        62.0
    } else {
        94.0
    };
    // Characters that continue a repeat or a run add nothing.
    let fresh = chars
        .windows(2)
        .filter(|w| {
            let d = w[1] as i64 - w[0] as i64;
            !(-1..=1).contains(&d)
        })
        .count()
        + usize::from(!chars.is_empty());
    fresh as f64 * f64::log2(alphabet)
}

/// The least an admin token must be worth: 64 bits is beyond online guessing (and
/// engage brakes failures per address) by many orders of magnitude.
pub const MIN_TOKEN_BITS: f64 = 64.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Redacted::from("eng_very_secret_0123456789");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(<redacted>)");
        assert_eq!(&*s, "eng_very_secret_0123456789");
    }

    #[test]
    fn weak_tokens_are_worth_few_bits_and_random_ones_many() {
        for weak in [
            "aaaaaaaaaaaaaaaa",
            "0123456789abcdef",
            "1111222233334444",
            "abcdefghijklmnop",
        ] {
            assert!(
                estimated_bits(weak) < MIN_TOKEN_BITS,
                "{weak}: {}",
                estimated_bits(weak)
            );
        }
        for strong in [
            "eng_3f0c9a7e51d2b84c06e1f7a9c3d5b208e4f6a1c7",
            "test-admin-token-0123456789",
            "Zq8vT2mX9pL4rW7kN3bY6cH1",
        ] {
            assert!(
                estimated_bits(strong) >= MIN_TOKEN_BITS,
                "{strong}: {}",
                estimated_bits(strong)
            );
        }
    }
}
