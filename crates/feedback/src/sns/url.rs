//! Which URLs are SNS's: the signing certificate's and a subscription's links must be
//! https on an SNS host, and a certificate's a `.pem` at the root.

use super::UrlRefusal;
use regex::Regex;
use reqwest::Url;
use std::sync::LazyLock;

/// The hosts SNS signs from and sends confirmation links on.
static SNS_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$").expect("a valid pattern")
});

/// The path SNS serves its signing certificates at: one file at the root.
static SNS_CERT_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^/SimpleNotificationService-[A-Za-z0-9_-]+\.pem$").expect("a valid pattern")
});
/// Checks `raw` is an https URL on an SNS host, without user info or a port of its
/// own; with `pem`, also that its path ends in `.pem`.
pub fn check_sns_url(raw: &str, pem: bool) -> Result<Url, UrlRefusal> {
    let url = Url::parse(raw).map_err(|e| UrlRefusal::Invalid(e.to_string()))?;
    if url.scheme() != "https" {
        return Err(UrlRefusal::NotHttps(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefusal::UserInfo);
    }
    if let Some(port) = url.port() {
        return Err(UrlRefusal::Port(port));
    }
    // `domain()` is `None` for an IP address: never an SNS host.
    match url.domain() {
        Some(host) if SNS_HOST.is_match(host) => {}
        _ => {
            return Err(UrlRefusal::ForeignHost(
                url.host_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    if pem && !(SNS_CERT_PATH.is_match(url.path()) && url.query().is_none()) {
        return Err(UrlRefusal::NotPem);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sns_urls_are_checked_by_scheme_host_port_userinfo_and_path() {
        let ok = [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
            "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
        ];
        for url in ok {
            assert!(check_sns_url(url, true).is_ok(), "{url}");
        }
        let refused = [
            (
                "http://sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::NotHttps("http".into()),
            ),
            (
                "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
                UrlRefusal::ForeignHost("sns.us-east-1.amazonaws.com.evil.com".into()),
            ),
            (
                "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::ForeignHost("evil.com".into()),
            ),
            (
                "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
                UrlRefusal::UserInfo,
            ),
            (
                "https://a:b@sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::UserInfo,
            ),
            (
                "https://sns.us-east-1.amazonaws.com:8443/x.pem",
                UrlRefusal::Port(8443),
            ),
            (
                "https://sns.us-east-1.amazonaws.com./x.pem",
                UrlRefusal::ForeignHost("sns.us-east-1.amazonaws.com.".into()),
            ),
            (
                "https://sns.amazonaws.com/x.pem",
                UrlRefusal::ForeignHost("sns.amazonaws.com".into()),
            ),
            (
                "https://127.0.0.1/x.pem",
                UrlRefusal::ForeignHost("127.0.0.1".into()),
            ),
            (
                "https://sns.us-east-1.amazonaws.com/x.pem.txt",
                UrlRefusal::NotPem,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/x.txt?a=.pem",
                UrlRefusal::NotPem,
            ),
            // Any other file SNS's host might serve is not a signing certificate.
            (
                "https://sns.us-east-1.amazonaws.com/x.pem",
                UrlRefusal::NotPem,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/a/SimpleNotificationService-abc.pem",
                UrlRefusal::NotPem,
            ),
            (
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
                UrlRefusal::NotPem,
            ),
        ];
        for (url, why) in refused {
            assert_eq!(check_sns_url(url, true).unwrap_err(), why, "{url}");
        }
        assert!(matches!(
            check_sns_url("not a url", true),
            Err(UrlRefusal::Invalid(_))
        ));
        // A subscription link is not a certificate: no .pem needed.
        assert!(
            check_sns_url(
                "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
                false
            )
            .is_ok()
        );
    }
}
