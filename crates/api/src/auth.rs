//! Bearer-token authentication for `/api/v1`, `/metrics` and `/health`'s details.
//! Only SHA-256 hashes of the accepted tokens are held; a presented token is hashed
//! and compared against every one in constant time, so neither timing nor a memory
//! dump gives a token away.
//!
//! Guessing is braked: each client address may fail [`FAILURE_BURST`] times, then one
//! more every [`FAILURE_REFILL`]; past that every request from it that presents (or
//! lacks) a token gets 429 with `Retry-After` until the wait is over, *without* its
//! token being looked at, so a right guess is not told from a wrong one. The address
//! is [`ClientIp`] when a host sets it (the Lambda `api` function), else the TCP
//! peer (`engage serve`). A request with neither is not braked (in-process tests).
//!
//! The accepted tokens can be replaced while serving ([`TokenAuth::replace`]), so a
//! rotation revokes the old token without a restart.

use crate::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use subtle::{Choice, ConstantTimeEq};

/// Failed authentications an address may make at once.
pub const FAILURE_BURST: u32 = 10;
/// Then one more per this long.
pub const FAILURE_REFILL: Duration = Duration::from_secs(6);
/// Addresses remembered before the forgotten ones are dropped.
const MAX_TRACKED: usize = 10_000;

/// The client's address, for hosts where the TCP peer is not the client (a Lambda
/// function behind API Gateway): put it in the request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The accepted API tokens, as SHA-256 hashes, and the brake on failures.
#[derive(Clone)]
pub struct TokenAuth {
    hashes: Arc<RwLock<Arc<[[u8; 32]]>>>,
    brake: Arc<Brake>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("tokens", &self.current().len())
            .finish()
    }
}

impl TokenAuth {
    pub fn new(token_hashes: Vec<[u8; 32]>) -> Self {
        Self {
            hashes: Arc::new(RwLock::new(token_hashes.into())),
            brake: Arc::new(Brake::new()),
        }
    }

    /// The SHA-256 of a token, as [`TokenAuth::new`] takes it.
    pub fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// Accepts `token_hashes` from now on, and no other token: every clone of this
    /// `TokenAuth` (the router's included) sees the change at its next request.
    pub fn replace(&self, token_hashes: Vec<[u8; 32]>) {
        *self.hashes.write().unwrap_or_else(|p| p.into_inner()) = token_hashes.into();
    }

    fn current(&self) -> Arc<[[u8; 32]]> {
        self.hashes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether `token` is one of the accepted tokens.
    pub fn accepts(&self, token: &str) -> bool {
        let presented = Self::hash(token);
        // Every hash is compared, whichever matches, so the time taken says nothing.
        let mut ok = Choice::from(0);
        for h in self.current().iter() {
            ok |= presented.ct_eq(h);
        }
        ok.into()
    }

    /// Checks a request's `Authorization` header (no brake: see [`TokenAuth::authorize`]).
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

    /// [`TokenAuth::check`] behind the brake on the request's client address.
    pub fn authorize(&self, req: &Request) -> Result<(), ApiError> {
        let ip = client_ip(req);
        if let Some(ip) = ip {
            self.brake.refuse_if_blocked(ip)?;
        }
        self.check(req.headers()).inspect_err(|_| {
            if let Some(ip) = ip {
                self.brake.failed(ip);
            }
        })
    }
}

/// The address a request is braked by: [`ClientIp`], else the TCP peer.
fn client_ip(req: &Request) -> Option<IpAddr> {
    let ext = req.extensions();
    ext.get::<ClientIp>()
        .map(|c| c.0)
        .or_else(|| ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
}

/// Failures per address (governor's keyed GCRA limiter), and the addresses that ran
/// out, with when they may try again.
struct Brake {
    failures: DefaultKeyedRateLimiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Brake {
    fn new() -> Self {
        // The failure that finds the limiter empty is the one that blocks the address,
        // and it was itself already checked: so the burst is one less.
        let quota = Quota::with_period(FAILURE_REFILL)
            .expect("a non-zero period")
            .allow_burst(NonZeroU32::new(FAILURE_BURST - 1).expect("non-zero"));
        Self {
            failures: RateLimiter::keyed(quota),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    fn refuse_if_blocked(&self, ip: IpAddr) -> Result<(), ApiError> {
        let blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => Err(ApiError::TooManyRequests {
                retry_after_secs: until.duration_since(Instant::now()).as_secs() + 1,
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failure; once the address has none left, it is blocked until the
    /// limiter would allow its next one.
    fn failed(&self, ip: IpAddr) {
        use governor::clock::{Clock as _, DefaultClock};
        if let Err(not_until) = self.failures.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut blocked = self.blocked.lock().unwrap_or_else(|p| p.into_inner());
            if blocked.len() >= MAX_TRACKED {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(ip, Instant::now() + wait);
            tracing::warn!(
                wait_secs = wait.as_secs(),
                "authentication failures braked for one client address"
            );
        }
        if self.failures.len() >= MAX_TRACKED {
            self.failures.retain_recent();
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

/// Middleware guarding `/api/v1` and `/metrics`.
pub(crate) async fn require_bearer(
    State(auth): State<TokenAuth>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    auth.authorize(&req)?;
    Ok(next.run(req).await)
}

/// The header CloudFront adds to every request it forwards to the API on AWS.
pub const ORIGIN_HEADER: &str = "x-origin-verify";

/// Refuses (403) every request without `X-Origin-Verify: <secret>`: on AWS, the API
/// is reachable only through CloudFront (which adds the header), not around it at
/// its execute-api address. Compared in constant time.
pub fn require_origin(router: axum::Router, secret: String) -> axum::Router {
    let secret: Arc<[u8]> = Arc::from(Sha256::digest(secret.as_bytes()).as_slice());
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let secret = secret.clone();
            async move {
                let presented = req
                    .headers()
                    .get(ORIGIN_HEADER)
                    .map(|v| Sha256::digest(v.as_bytes()));
                let ok: bool = presented.is_some_and(|p| bool::from(p.as_slice().ct_eq(&secret)));
                if ok {
                    Ok(next.run(req).await)
                } else {
                    Err(ApiError::Forbidden(
                        "this API is served through its CloudFront address only".into(),
                    ))
                }
            }
        },
    ))
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

    fn request(auth: &str, ip: [u8; 4]) -> Request {
        let mut r = Request::new(axum::body::Body::empty());
        r.headers_mut()
            .insert(header::AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        r.extensions_mut().insert(ClientIp(IpAddr::from(ip)));
        r
    }

    #[test]
    fn failures_past_the_burst_are_braked_per_address_whatever_the_token() {
        let a = auth();
        for _ in 0..FAILURE_BURST {
            assert!(matches!(
                a.authorize(&request("Bearer wrong", [10, 0, 0, 1])),
                Err(ApiError::Unauthorized(_))
            ));
        }
        // Out of failures: even the right token is not looked at.
        for token in ["Bearer wrong", "Bearer s3cret"] {
            match a.authorize(&request(token, [10, 0, 0, 1])) {
                Err(ApiError::TooManyRequests { retry_after_secs }) => {
                    assert!((1..=7).contains(&retry_after_secs), "{retry_after_secs}")
                }
                other => panic!("{token}: {other:?}"),
            }
        }
        // Another address is not affected.
        assert!(
            a.authorize(&request("Bearer s3cret", [10, 0, 0, 2]))
                .is_ok()
        );
    }

    #[test]
    fn a_replaced_token_is_refused_at_once() {
        let a = auth();
        let router_copy = a.clone();
        a.replace(vec![TokenAuth::hash("new-token")]);
        assert!(router_copy.check(&headers("Bearer s3cret")).is_err());
        assert!(router_copy.check(&headers("Bearer new-token")).is_ok());
    }

    #[test]
    fn debug_shows_no_hashes() {
        assert_eq!(format!("{:?}", auth()), "TokenAuth { tokens: 2 }");
    }
}
