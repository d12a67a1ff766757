//! Bearer-token authentication for `/api/v1`. Only SHA-256 hashes of the accepted
//! tokens are held; a presented token is hashed and compared against every one in
//! constant time, so neither timing nor a memory dump gives a token away.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::{Choice, ConstantTimeEq};

/// The accepted API tokens, as SHA-256 hashes.
#[derive(Clone)]
pub struct TokenAuth {
    hashes: Arc<[[u8; 32]]>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("tokens", &self.hashes.len())
            .finish()
    }
}

impl TokenAuth {
    pub fn new(token_hashes: Vec<[u8; 32]>) -> Self {
        Self {
            hashes: token_hashes.into(),
        }
    }

    /// The SHA-256 of a token, as [`TokenAuth::new`] takes it.
    pub fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// Whether `token` is one of the accepted tokens.
    pub fn accepts(&self, token: &str) -> bool {
        let presented = Self::hash(token);
        // Every hash is compared, whichever matches, so the time taken says nothing.
        let mut ok = Choice::from(0);
        for h in self.hashes.iter() {
            ok |= presented.ct_eq(h);
        }
        ok.into()
    }

    /// Checks a request's `Authorization` header.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let token = bearer_token(headers)?;
        if self.accepts(token) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized(
                "the bearer token is not valid".into(),
            ))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values
        .next()
        .ok_or_else(|| ApiError::Unauthorized("send `Authorization: Bearer <token>`".into()))?;
    let malformed =
        || ApiError::Unauthorized("the Authorization header is not `Bearer <token>`".into());
    if values.next().is_some() {
        return Err(malformed());
    }
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(malformed());
    }
    Ok(token)
}

/// Middleware guarding `/api/v1`.
pub(crate) async fn require_bearer(
    State(auth): State<TokenAuth>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    auth.check(req.headers())?;
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    fn auth() -> TokenAuth {
        TokenAuth::new(vec![TokenAuth::hash("s3cret"), TokenAuth::hash("other")])
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hex(&TokenAuth::hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn accepts_each_configured_token() {
        assert!(auth().check(&headers("Bearer s3cret")).is_ok());
        assert!(auth().check(&headers("Bearer other")).is_ok());
        assert!(auth().check(&headers("bearer s3cret")).is_ok());
    }

    #[test]
    fn rejects_missing_malformed_and_wrong_tokens() {
        let a = auth();
        assert!(matches!(
            a.check(&HeaderMap::new()),
            Err(ApiError::Unauthorized(_))
        ));
        for bad in [
            "Bearer wrong",
            "Bearer ",
            "Bearer",
            "s3cret",
            "Basic s3cret",
            "Bearer s3cret extra",
            "Bearer S3CRET",
        ] {
            assert!(
                matches!(a.check(&headers(bad)), Err(ApiError::Unauthorized(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn no_configured_token_accepts_nothing() {
        let a = TokenAuth::new(vec![]);
        assert!(a.check(&headers("Bearer ")).is_err());
        assert!(a.check(&headers("Bearer anything")).is_err());
        assert!(!a.accepts(""));
    }

    #[test]
    fn debug_shows_no_hashes() {
        assert_eq!(format!("{:?}", auth()), "TokenAuth { tokens: 2 }");
    }
}
