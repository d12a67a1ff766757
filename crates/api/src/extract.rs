//! Extractors whose rejections are [`ApiError`]s, so a bad body, path or query string
//! gets a problem document like every other error rather than axum's plain text.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON request body. Unlike `axum::Json` it tells a syntax error (400) from input
/// that is JSON but not acceptable (422, naming the field), and answers a missing or
/// wrong `Content-Type` with 415.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType(
                "expected a body with `Content-Type: application/json`".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

fn bytes_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            limit: crate::MAX_BODY_BYTES,
        }
    } else {
        ApiError::MalformedBody(r.body_text())
    }
}

/// `application/json`, or any `application/*+json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    ty.eq_ignore_ascii_case("application")
        && (sub.eq_ignore_ascii_case("json") || sub.to_ascii_lowercase().ends_with("+json"))
}

/// Deserializes a body: syntax errors are 400 `malformed-body`; JSON of the wrong
/// shape (missing, unknown or mistyped fields, values a parsing newtype refuses) is 422
/// `validation-error` with the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end()
        .map_err(|e| ApiError::MalformedBody(format!("invalid JSON: {e}")))?;
    Ok(value)
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::MalformedBody(format!("invalid JSON: {e}"))
        }
        Category::Data => {
            let message = e.to_string();
            let field = if path.is_empty() || path == "." {
                named_field(&message)
            } else {
                Some(path.to_string())
            };
            let detail = match &field {
                Some(f) if !message.contains(&format!("`{f}`")) => format!("{f}: {message}"),
                _ => message,
            };
            ApiError::Validation { field, detail }
        }
    }
}

/// The field a serde "missing field `x`" / "unknown field `x`" message names.
fn named_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split_once('`').map(|(f, _)| f.to_string())
}

/// `axum::extract::Path` with a problem-document rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

/// `axum::extract::Query` with a problem-document rejection.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(r.body_text())
    }
}

/// The version an `If-Match` header names, if any. Accepts `"3"`, `3` and the weak
/// `W/"3"`; `*` (any version) means no particular version. More than one version is
/// refused: a write is made against exactly one.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_param(
            "If-Match",
            "give one If-Match header naming one version",
        ));
    }
    let value = value
        .to_str()
        .map_err(|_| ApiError::bad_param("If-Match", "If-Match is not ASCII"))?;
    parse_if_match(value).map_err(|detail| ApiError::bad_param("If-Match", detail))
}

/// The pure part of [`if_match`].
pub fn parse_if_match(value: &str) -> Result<Option<u64>, String> {
    let v = value.trim();
    if v == "*" {
        return Ok(None);
    }
    if v.contains(',') {
        return Err("If-Match must name exactly one version".into());
    }
    let v = v
        .strip_prefix("W/")
        .or_else(|| v.strip_prefix("w/"))
        .unwrap_or(v);
    let v = match v.strip_prefix('"') {
        Some(inner) => inner
            .strip_suffix('"')
            .ok_or_else(|| format!("`{value}` is not an entity tag"))?,
        None => v,
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{value}` is not a version: send the ETag you read, e.g. If-Match: \"3\""
        ));
    }
    v.parse::<u64>()
        .map(Some)
        .map_err(|_| format!("`{value}` is not a version"))
}

/// The `ETag` of a client at `version`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    #[test]
    fn if_match_accepts_quoted_bare_and_weak_versions() {
        assert_eq!(parse_if_match("\"3\""), Ok(Some(3)));
        assert_eq!(parse_if_match("3"), Ok(Some(3)));
        assert_eq!(parse_if_match("W/\"12\""), Ok(Some(12)));
        assert_eq!(parse_if_match("  \"4\" "), Ok(Some(4)));
        assert_eq!(parse_if_match("*"), Ok(None));
    }

    #[test]
    fn if_match_refuses_what_is_not_one_version() {
        for bad in [
            "",
            "\"\"",
            "\"3",
            "abc",
            "\"-1\"",
            "\"3\", \"4\"",
            "3.0",
            "W/",
            "99999999999999999999999",
        ] {
            assert!(parse_if_match(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn if_match_header_absent_is_none_and_duplicates_are_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(if_match(&h).unwrap(), None);
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"2\""));
        assert_eq!(if_match(&h).unwrap(), Some(2));
        h.append(header::IF_MATCH, HeaderValue::from_static("\"3\""));
        assert!(matches!(
            if_match(&h),
            Err(ApiError::BadRequest { field: Some(f), .. }) if f == "If-Match"
        ));
    }

    #[test]
    fn etag_is_the_quoted_version() {
        assert_eq!(etag(3), "\"3\"");
        assert_eq!(parse_if_match(&etag(3)), Ok(Some(3)));
    }

    #[test]
    fn json_content_types() {
        let h = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            h
        };
        assert!(is_json(&h("application/json")));
        assert!(is_json(&h("application/json; charset=utf-8")));
        assert!(is_json(&h("Application/JSON")));
        assert!(is_json(&h("application/merge-patch+json")));
        assert!(!is_json(&h("text/plain")));
        assert!(!is_json(&h("application/x-www-form-urlencoded")));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: u8,
        #[serde(default)]
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        size: u8,
    }

    fn err(json: &str) -> ApiError {
        parse_json::<Body>(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn syntax_errors_are_malformed_bodies() {
        for bad in [
            "",
            "{",
            "{\"name\":",
            "not json",
            "{\"name\":\"a\",\"count\":1} x",
        ] {
            assert!(matches!(err(bad), ApiError::MalformedBody(_)), "{bad:?}");
        }
    }

    #[test]
    fn shape_errors_are_validation_errors_naming_the_field() {
        let field = |json: &str| match err(json) {
            ApiError::Validation { field, detail } => {
                assert!(!detail.is_empty());
                field
            }
            other => panic!("{json}: {other:?}"),
        };
        assert_eq!(field(r#"{"count":1}"#).as_deref(), Some("name"));
        assert_eq!(
            field(r#"{"name":"a","count":1,"extra":true}"#).as_deref(),
            Some("extra")
        );
        assert_eq!(
            field(r#"{"name":"a","count":"x"}"#).as_deref(),
            Some("count")
        );
        assert_eq!(
            field(r#"{"name":"a","count":300}"#).as_deref(),
            Some("count")
        );
        assert_eq!(
            field(r#"{"name":"a","count":1,"nested":{"size":-1}}"#).as_deref(),
            Some("nested.size")
        );
        assert!(matches!(err("[]"), ApiError::Validation { .. }));
    }

    #[test]
    fn refusals_of_parsing_newtypes_are_validation_errors() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct WithEmail {
            email: engage_core::client::EmailAddress,
            time_zone: engage_core::client::TimeZone,
        }
        match parse_json::<WithEmail>(br#"{"email":"nope","time_zone":"UTC"}"#) {
            Err(ApiError::Validation { field, detail }) => {
                assert_eq!(field.as_deref(), Some("email"));
                assert!(detail.contains("not an email address"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        match parse_json::<WithEmail>(br#"{"email":"a@b.co","time_zone":"Mars/Olympus"}"#) {
            Err(ApiError::Validation { field, detail }) => {
                assert_eq!(field.as_deref(), Some("time_zone"));
                assert!(detail.contains("IANA"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
    }
}
