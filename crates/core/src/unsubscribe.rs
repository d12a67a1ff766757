//! Unsubscribe links: an HMAC-signed token naming the client, so a link in an email
//! works without a login and cannot be forged for another client.

use crate::ids::UserId;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Clone)]
pub struct UnsubscribeLinks {
    public_url: String,
    secret: Vec<u8>,
    mailto_domain: String,
}

impl std::fmt::Debug for UnsubscribeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsubscribeLinks")
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl UnsubscribeLinks {
    pub fn new(public_url: &str, secret: &[u8], mailto_domain: &str) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_string(),
            secret: secret.to_vec(),
            mailto_domain: mailto_domain.to_string(),
        }
    }

    fn mac(&self, user: &UserId) -> String {
        let mut m =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        m.update(b"unsubscribe:v1:");
        m.update(user.as_str().as_bytes());
        hex::encode(&m.finalize().into_bytes()[..16])
    }

    pub fn token(&self, user: &UserId) -> String {
        format!("{}.{}", user.as_str(), self.mac(user))
    }

    /// The client a token names, if its signature holds.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let (user, mac) = token.rsplit_once('.')?;
        let user = UserId::from_string(user);
        let expected = self.mac(&user);
        // Constant-time enough: both are fixed-length hex and compared whole.
        let ok = expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
        ok.then_some(user)
    }

    pub fn https_url(&self, user: &UserId) -> String {
        format!("{}/u/{}", self.public_url, self.token(user))
    }

    pub fn mailto(&self, user: &UserId) -> String {
        format!(
            "mailto:unsubscribe@{}?subject=unsubscribe%20{}",
            self.mailto_domain,
            self.token(user)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_tampering_fails() {
        let links = UnsubscribeLinks::new("http://127.0.0.1:8080/", b"secret", "example.com");
        let u = UserId::from_string("usr_1");
        let t = links.token(&u);
        assert_eq!(links.verify(&t), Some(u.clone()));
        assert_eq!(links.verify(&t.replace("usr_1", "usr_2")), None);
        let other = UnsubscribeLinks::new("http://x", b"other", "example.com");
        assert_eq!(other.verify(&t), None);
        assert!(
            links
                .https_url(&u)
                .starts_with("http://127.0.0.1:8080/u/usr_1.")
        );
    }
}
