//! Unsubscribe links: an HMAC-signed token naming the client, so a link in an email
//! works without a login and cannot be forged for another client.
//!
//! Tokens never expire (a link in a years-old email must still work), but keys rotate:
//! new links are signed with the current key, and links signed with a previous key
//! keep working while that key is listed as previous. Dropping a key from the list
//! revokes every link it signed.

use crate::ids::UserId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct UnsubscribeLinks {
    public_url: String,
    secret: Vec<u8>,
    /// Keys of earlier links, still accepted.
    previous: Vec<Vec<u8>>,
    /// A mailbox someone reads, for `mailto:` unsubscribes; none: links only.
    mailbox: Option<String>,
}

impl std::fmt::Debug for UnsubscribeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsubscribeLinks")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl UnsubscribeLinks {
    pub fn new(public_url: &str, secret: &[u8]) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            secret: secret.to_vec(),
            previous: Vec::new(),
            mailbox: None,
        }
    }

    /// Offers `mailto:` unsubscribes to `mailbox` too. Only for a mailbox that is
    /// read: a request sent there that nobody acts on is an unsubscribe ignored.
    pub fn with_mailbox(mut self, mailbox: Option<String>) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Also accepts links signed with these earlier keys.
    pub fn with_previous_keys(mut self, keys: Vec<Vec<u8>>) -> Self {
        self.previous = keys;
        self
    }

    fn mac(key: &[u8], user: &UserId) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(b"unsubscribe:v1:");
        m.update(user.as_str().as_bytes());
        hex::encode(&m.finalize().into_bytes()[..16])
    }

    pub fn token(&self, user: &UserId) -> String {
        format!("{}.{}", user.as_str(), Self::mac(&self.secret, user))
    }

    /// The client a token names, if its signature holds under the current key or a
    /// previous one.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let (user, mac) = token.rsplit_once('.')?;
        let user = UserId::from_string(user);
        // Every key is tried, so the time taken does not tell which one matched.
        let matched = std::iter::once(&self.secret)
            .chain(&self.previous)
            .fold(false, |ok, key| {
                let expected = Self::mac(key, &user);
                // Constant-time: both are fixed-length hex and compared whole.
                let same = expected.len() == mac.len()
                    && expected
                        .bytes()
                        .zip(mac.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0;
                ok | same
            });
        matched.then_some(user)
    }

    pub fn https_url(&self, user: &UserId) -> String {
        format!("{}/u/{}", self.public_url, self.token(user))
    }

    /// `mailto:{mailbox}?subject=unsubscribe%20{token}`, when a mailbox is configured.
    pub fn mailto(&self, user: &UserId) -> Option<String> {
        let mailbox = self.mailbox.as_ref()?;
        Some(format!(
            "mailto:{mailbox}?subject=unsubscribe%20{}",
            self.token(user)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_tampering_fails() {
        let links = UnsubscribeLinks::new("http://127.0.0.1:8080/", b"secret");
        let u = UserId::from_string("usr_1");
        let t = links.token(&u);
        assert_eq!(links.verify(&t), Some(u.clone()));
        assert_eq!(links.verify(&t.replace("usr_1", "usr_2")), None);
        let other = UnsubscribeLinks::new("http://x", b"other");
        assert_eq!(other.verify(&t), None);
        assert!(
            links
                .https_url(&u)
                .starts_with("http://127.0.0.1:8080/u/usr_1.")
        );
    }

    #[test]
    fn a_mailto_only_with_a_mailbox_someone_reads() {
        let u = UserId::from_string("usr_1");
        let links = UnsubscribeLinks::new("http://x", b"secret");
        assert_eq!(links.mailto(&u), None);
        let links = links.with_mailbox(Some("unsubscribe@shop.example".into()));
        let mailto = links.mailto(&u).unwrap();
        assert!(
            mailto.starts_with("mailto:unsubscribe@shop.example?subject=unsubscribe%20usr_1."),
            "{mailto}"
        );
    }

    #[test]
    fn a_rotated_key_keeps_old_links_working_until_it_is_dropped() {
        let u = UserId::from_string("usr_1");
        let old = UnsubscribeLinks::new("http://x", b"old-key").token(&u);
        let rotated = UnsubscribeLinks::new("http://x", b"new-key")
            .with_previous_keys(vec![b"old-key".to_vec()]);
        assert_eq!(rotated.verify(&old), Some(u.clone()));
        assert_ne!(rotated.token(&u), old, "new links use the new key");
        assert_eq!(rotated.verify(&rotated.token(&u)), Some(u.clone()));
        let revoked = UnsubscribeLinks::new("http://x", b"new-key");
        assert_eq!(revoked.verify(&old), None);
    }
}
