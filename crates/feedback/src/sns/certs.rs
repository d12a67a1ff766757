//! The signing certificates: fetched once per URL (bounded, with a timeout, from the
//! URL checked and no other), their RSA key kept in a bounded cache.

use super::verifier::error_chain;
use super::{Verifier, VerifyError};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use reqwest::Url;
use tokio::sync::OnceCell;
use x509_cert::Certificate;
use x509_cert::der::DecodePem;
use x509_cert::spki::ObjectIdentifier;

/// `rsaEncryption` (RFC 8017): the only key type SNS signs with.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A signing certificate is a couple of KiB; anything much larger is not one.
const MAX_CERT_BYTES: usize = 64 * 1024;
/// A signing certificate's key, as used.
#[derive(Debug)]
pub(super) struct SigningKey {
    /// PKCS#1 `RSAPublicKey`, DER (what ring takes).
    pub(super) rsa_public_key: Vec<u8>,
    pub(super) not_before: SystemTime,
    pub(super) not_after: SystemTime,
}

/// Signing certificates by URL; first in, first out past the capacity. Each entry is
/// a cell, so concurrent messages signed with a new certificate fetch it once. A URL
/// is admitted (counted, and may push an older certificate out) only once its fetch
/// succeeded; a failed one is dropped, so messages naming made-up certificate URLs
/// cannot flush the certificates in use.
#[derive(Debug)]
pub(super) struct CertCache {
    pub(super) capacity: usize,
    pub(super) cells: HashMap<String, Arc<OnceCell<Arc<SigningKey>>>>,
    /// The admitted URLs, oldest first.
    pub(super) order: VecDeque<String>,
}

impl CertCache {
    fn cell(&mut self, url: &str) -> Arc<OnceCell<Arc<SigningKey>>> {
        self.cells
            .entry(url.to_owned())
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone()
    }

    /// `url`'s fetch succeeded: it counts now, and the oldest go past the capacity.
    fn admit(&mut self, url: &str) {
        if self.order.iter().any(|u| u == url) {
            return;
        }
        while self.order.len() >= self.capacity.max(1) {
            match self.order.pop_front() {
                Some(old) => {
                    self.cells.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(url.to_owned());
    }

    /// `url`'s fetch failed: forget its cell (a later message may try again).
    fn reject(&mut self, url: &str) {
        if !self.order.iter().any(|u| u == url) {
            self.cells.remove(url);
        }
    }
}

impl Verifier {
    pub(super) async fn signing_key(&self, url: &Url) -> Result<Arc<SigningKey>, VerifyError> {
        let cell = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .cell(url.as_str());
        let key = cell
            .get_or_try_init(|| self.fetch_signing_key(url))
            .await
            .cloned();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        match &key {
            Ok(_) => cache.admit(url.as_str()),
            Err(_) => cache.reject(url.as_str()),
        }
        key
    }

    async fn fetch_signing_key(&self, url: &Url) -> Result<Arc<SigningKey>, VerifyError> {
        let fetch_err = |reason: String| VerifyError::CertFetch {
            url: url.to_string(),
            reason,
        };
        tracing::debug!(%url, "fetching SNS signing certificate");
        let mut resp = self
            .client
            .get(url.clone())
            .timeout(self.config.fetch_timeout)
            .send()
            .await
            .map_err(|e| fetch_err(error_chain(&e)))?;
        if resp.url() != url {
            return Err(fetch_err(format!(
                "answered from another URL: {}",
                resp.url()
            )));
        }
        if !resp.status().is_success() {
            return Err(fetch_err(format!("HTTP {}", resp.status())));
        }
        let mut pem = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| fetch_err(error_chain(&e)))? {
            if pem.len() + chunk.len() > MAX_CERT_BYTES {
                return Err(fetch_err(format!("larger than {MAX_CERT_BYTES} bytes")));
            }
            pem.extend_from_slice(&chunk);
        }
        let cert =
            Certificate::from_pem(&pem).map_err(|e| VerifyError::CertParse(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let spki = &tbs.subject_public_key_info;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(VerifyError::CertNotRsa);
        }
        let rsa_public_key = spki
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| {
                VerifyError::CertParse("public key bit string is not whole bytes".into())
            })?
            .to_vec();
        Ok(Arc::new(SigningKey {
            rsa_public_key,
            not_before: tbs.validity.not_before.to_system_time(),
            not_after: tbs.validity.not_after.to_system_time(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_first_in_first_out_and_admits_only_fetched_certificates() {
        let mut cache = CertCache {
            capacity: 2,
            cells: HashMap::new(),
            order: VecDeque::new(),
        };
        let a = cache.cell("a");
        assert!(Arc::ptr_eq(&a, &cache.cell("a")));
        cache.admit("a");
        cache.cell("b");
        cache.admit("b");
        // Failed fetches push nothing out.
        for bogus in ["x", "y", "z"] {
            cache.cell(bogus);
            cache.reject(bogus);
        }
        assert_eq!(cache.cells.len(), 2);
        assert!(Arc::ptr_eq(&a, &cache.cell("a")), "a is still cached");
        cache.cell("c");
        cache.admit("c");
        assert_eq!(cache.cells.len(), 2);
        assert!(!cache.cells.contains_key("a"));
        assert!(!Arc::ptr_eq(&a, &cache.cell("a")));
    }
}
