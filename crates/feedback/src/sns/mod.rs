//! Amazon SNS HTTP/JSON messages and their verification.
//!
//! Anyone can POST to a public endpoint, so a message is believed only after
//! [`Verifier::verify`] has checked, in this order and without any network call for
//! a message it refuses on the way:
//!
//! 1. the `SigningCertURL` is `https`, on a host matching
//!    `^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$`, with no user info, no port other
//!    than 443, and a path ending in `.pem`;
//! 2. the `TopicArn` is on the allow-list (when one is configured);
//! 3. the `Timestamp` is neither older than the maximum age nor far in the future;
//! 4. the `SignatureVersion` is `1` (SHA-1) or `2` (SHA-256) and the `Signature` is
//!    base64;
//!
//! then fetches the signing certificate (cached by URL, bounded, with a timeout, no
//! redirects), and checks the RSA PKCS#1 v1.5 signature over the string AWS signs
//! ([`string_to_sign`]) with the certificate's public key.
//!
//! The parts: [`message`] (the message and the string it is signed over), [`url`]
//! (which URLs are SNS's), [`errors`] (why a message or a confirmation was refused),
//! [`verifier`] (the [`Verifier`], its config and the checks) and [`certs`] (the
//! signing certificates' fetch and cache).

mod certs;
mod errors;
mod message;
mod url;
mod verifier;

pub use errors::{ConfirmError, UrlRefusal, VerifyError};
pub use message::{MessageType, SnsMessage, string_to_sign};
pub use url::check_sns_url;
pub use verifier::{Verified, Verifier, VerifierConfig};
