//! JSON request bodies: the one extractor every JSON endpoint takes. It owns the checks
//! all of them share (declared type, size limit, read timeout, duplicate keys) and hands
//! the handler the exact bytes; it must not interpret the document (each endpoint's
//! parser does).

use super::error::ApiError;
use super::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// A request body declared as JSON (or undeclared), within the body limit, with no
/// object that repeats a key.
pub struct JsonBody(pub Bytes);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        require_json(request.headers(), "a JSON request body")?;
        let body = body_or_error(Bytes::from_request(request, state).await, state.body_limit)?;
        reject_duplicate_keys(&body)?;
        Ok(JsonBody(body))
    }
}

/// Refuses a body that is declared as something other than JSON.
pub fn require_json(headers: &HeaderMap, what: &str) -> Result<(), ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default();
        if !ct.starts_with("application/json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "{what} must be sent as application/json, not {ct:?}"
            )));
        }
    }
    Ok(())
}

/// Maps a body-extraction failure (size limit, read timeout, broken stream) to our JSON
/// errors.
pub fn body_or_error(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "request body exceeds the {limit}-byte limit (THREADLOG_MAX_BODY_BYTES)"
            ))
        } else if timed_out(&e) {
            ApiError::Timeout(
                "the request body stalled longer than THREADLOG_BODY_TIMEOUT_SECS; nothing \
                 was logged"
                    .into(),
            )
        } else {
            ApiError::BadRequest(format!("could not read the request body: {e}"))
        }
    })
}

fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Refuses JSON in which an object repeats a key. serde_json (like many parsers) keeps
/// the last value and others keep the first, so such a document means different things
/// to different readers of the log. Malformed JSON passes: the endpoint's own parser
/// reports it in its own words.
pub fn reject_duplicate_keys(body: &[u8]) -> Result<(), ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    match Unique::deserialize(&mut de) {
        Err(e) if e.is_data() && e.to_string().starts_with(DUPLICATE) => {
            Err(ApiError::Invalid(format!(
                "{e}: a JSON object must not repeat a key (readers disagree on which value \
                 counts); nothing was logged"
            )))
        }
        _ => Ok(()),
    }
}

const DUPLICATE: &str = "duplicate key";

/// Walks any JSON value, remembering the keys of each object.
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format!("{DUPLICATE} {key:?}")));
            }
            map.next_value::<Unique>()?;
            seen.insert(key);
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_at_any_depth() {
        assert!(reject_duplicate_keys(br#"{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}"#).is_ok());
        for doc in [
            r#"{"a":1,"a":2}"#,
            r#"[{"x":{"b":1,"b":1}}]"#,
            r#"{"a\u0062":1,"ab":2}"#,
        ] {
            let e = reject_duplicate_keys(doc.as_bytes()).unwrap_err();
            assert!(matches!(e, ApiError::Invalid(_)), "{doc}");
            assert!(e.to_string().starts_with("duplicate key"), "{e}");
        }
        // Malformed JSON is left to the endpoint's parser.
        assert!(reject_duplicate_keys(b"{\"a\":").is_ok());
    }
}
