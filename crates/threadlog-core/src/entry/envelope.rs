//! The logged envelope `{"kind","integrated_at","submitter","subjects","body"}` in RFC 8785
//! canonical form: the exact leaf bytes.

use super::edges::{event_thread, EventThread};
use super::EntryError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::str::FromStr;

/// Leaves stay under 64 KiB, the C2SP tlog-tiles entry limit.
pub const LEAF_MAX_BYTES: usize = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Event,
    Sbom,
    Attestation,
    Control,
    Key,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::Sbom => "sbom",
            Kind::Attestation => "attestation",
            Kind::Control => "control",
            Kind::Key => "key",
        }
    }
}

impl FromStr for Kind {
    type Err = EntryError;
    fn from_str(s: &str) -> Result<Self, EntryError> {
        serde_json::from_value(Value::String(s.to_string())).map_err(|_| EntryError::Invalid {
            path: "kind".into(),
            reason: format!("unknown kind {s:?}"),
        })
    }
}

/// Exact leaf bytes; only this module can make one, always by canonicalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalLeaf(Vec<u8>);

impl CanonicalLeaf {
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

/// The parsed view of a leaf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub kind: Kind,
    pub integrated_at: String,
    pub submitter: String,
    pub subjects: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
}

/// A validated entry waiting for its integration time.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEntry {
    pub kind: Kind,
    pub submitter: String,
    /// Sorted, without duplicates.
    pub subjects: Vec<String>,
    pub body: Value,
    /// The idempotency key, e.g. `event:<event_id>`.
    pub dedup_key: String,
    /// SHA-256 of the canonical body: equal for a resubmission, different for a reuse.
    pub content_sha256: [u8; 32],
    /// The genealogy edges the entry creates (events only), derived at validation so
    /// the sequencer does not.
    pub thread: EventThread,
    /// The uploaded document the body binds (`body.document`), stored with the entry.
    pub blob: Option<super::Blob>,
    /// The canonical bytes of everything but `integrated_at`, made once at validation so
    /// the sequencer only splices the time in.
    parts: LeafParts,
}

#[derive(Debug, Clone, PartialEq)]
struct LeafParts {
    /// `{"body":<canonical body>,"integrated_at":"`
    head: Vec<u8>,
    /// `","kind":"...","subjects":[...],"submitter":"..."}`
    tail: Vec<u8>,
}

pub(crate) fn canonical(v: &Value) -> Result<Vec<u8>, EntryError> {
    serde_json_canonicalizer::to_vec(v).map_err(|e| EntryError::Invalid {
        path: String::new(),
        reason: format!("cannot be canonicalized: {e}"),
    })
}

impl PreparedEntry {
    /// Builds a prepared entry, checking now that its leaf will fit.
    pub fn new(
        kind: Kind,
        submitter: &str,
        mut subjects: Vec<String>,
        body: Value,
        dedup_key: String,
    ) -> Result<Self, EntryError> {
        subjects.sort();
        subjects.dedup();
        let canonical_body = canonical(&body)?;
        let content_sha256 = Sha256::digest(&canonical_body).into();
        // RFC 8785 orders members by key: body, integrated_at, kind, subjects, submitter.
        let mut head = br#"{"body":"#.to_vec();
        head.extend_from_slice(&canonical_body);
        head.extend_from_slice(br#","integrated_at":""#);
        let subjects_json =
            serde_json::to_value(&subjects).map_err(|e| EntryError::BadLeaf(e.to_string()))?;
        let mut tail = br#"","kind":"#.to_vec();
        tail.extend_from_slice(&canonical(&Value::String(kind.as_str().into()))?);
        tail.extend_from_slice(br#","subjects":"#);
        tail.extend_from_slice(&canonical(&subjects_json)?);
        tail.extend_from_slice(br#","submitter":"#);
        tail.extend_from_slice(&canonical(&Value::String(submitter.to_string()))?);
        tail.push(b'}');
        let e = PreparedEntry {
            kind,
            submitter: submitter.to_string(),
            subjects,
            body,
            dedup_key,
            content_sha256,
            thread: EventThread::default(),
            blob: None,
            parts: LeafParts { head, tail },
        };
        // Fails now, not in the sequencer, if the leaf would be too large.
        e.leaf(DateTime::<Utc>::UNIX_EPOCH)?;
        Ok(e)
    }

    /// Attaches the document the body's `document` member binds.
    pub fn with_blob(mut self, blob: super::Blob) -> Self {
        self.blob = Some(blob);
        self
    }

    /// The exact leaf bytes for this entry integrated at `integrated_at`.
    pub fn leaf(&self, integrated_at: DateTime<Utc>) -> Result<CanonicalLeaf, EntryError> {
        // The one time format has a fixed width, so the size was known before the stamp.
        let time = crate::time::format(&integrated_at);
        let mut bytes =
            Vec::with_capacity(self.parts.head.len() + time.len() + self.parts.tail.len());
        bytes.extend_from_slice(&self.parts.head);
        bytes.extend_from_slice(time.as_bytes());
        bytes.extend_from_slice(&self.parts.tail);
        if bytes.len() > LEAF_MAX_BYTES {
            return Err(EntryError::TooLarge {
                size: bytes.len(),
                max: LEAF_MAX_BYTES,
            });
        }
        Ok(CanonicalLeaf(bytes))
    }
}

/// Parses stored leaf bytes, and checks they are exactly their own canonical form: an
/// auditor relies on one byte string per envelope.
pub fn parse_leaf(bytes: &[u8]) -> Result<Envelope, EntryError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| EntryError::BadLeaf(e.to_string()))?;
    if canonical(&v).map_err(|e| EntryError::BadLeaf(e.to_string()))? != bytes {
        return Err(EntryError::BadLeaf("not in RFC 8785 canonical form".into()));
    }
    serde_json::from_value(v).map_err(|e| EntryError::BadLeaf(e.to_string()))
}

/// What the store indexes about a leaf, derived from its bytes alone, so that a log
/// moved between stores gets exactly the index rows its sequencer wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub envelope: Envelope,
    /// The blob the leaf binds, if any.
    pub document: Option<super::DocumentRef>,
    pub dedup_key: Option<String>,
    pub content_sha256: [u8; 32],
    /// The genealogy edges of an event; empty for other kinds.
    pub thread: EventThread,
}

/// Parses a stored leaf and derives its index rows.
pub fn derive(leaf: &[u8]) -> Result<Derived, EntryError> {
    let envelope = parse_leaf(leaf)?;
    let content_sha256 = match (&envelope.body, &envelope.body_sha256) {
        (Some(body), _) => Sha256::digest(canonical(body)?).into(),
        (None, Some(hex_digest)) => hex::decode(hex_digest)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| EntryError::BadLeaf("body_sha256 is not 32 bytes of hex".into()))?,
        (None, None) => return Err(EntryError::BadLeaf("neither body nor body_sha256".into())),
    };
    let mut content_sha256 = content_sha256;
    let dedup_key = match envelope.kind {
        Kind::Event => {
            let id = envelope
                .body
                .as_ref()
                .and_then(|b| b.get("event_id"))
                .and_then(Value::as_str)
                .ok_or_else(|| EntryError::BadLeaf("an event without event_id".into()))?;
            Some(super::event::dedup_key(id))
        }
        // A key is introduced once: its entry is found again by the new key.
        Kind::Key => Some(super::key::dedup_key(
            &super::key::KeyChange::from_envelope(&envelope)?.verifier_key,
        )),
        Kind::Control => {
            let id = envelope
                .body
                .as_ref()
                .and_then(|b| b.get("result_id"))
                .and_then(Value::as_str)
                .ok_or_else(|| EntryError::BadLeaf("a control result without result_id".into()))?;
            Some(super::dedup::control_key(id))
        }
        Kind::Sbom => Some(super::dedup::sbom_key_of(envelope.body.as_ref())?),
        Kind::Attestation => {
            // Keyed and compared by the document, as the sequencer wrote it.
            let (key, document) = super::dedup::attestation_key_of(envelope.body.as_ref())?;
            content_sha256 = document;
            Some(key)
        }
    };
    let thread = match (envelope.kind, &envelope.body) {
        (Kind::Event, Some(body)) => event_thread(body),
        _ => EventThread::default(),
    };
    Ok(Derived {
        document: super::blob::document_ref(envelope.body.as_ref())?,
        envelope,
        dedup_key,
        content_sha256,
        thread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(body: Value) -> PreparedEntry {
        PreparedEntry::new(
            Kind::Event,
            "mes",
            vec!["lot:b".into(), "lot:a".into(), "lot:b".into()],
            body,
            "event:x".into(),
        )
        .unwrap()
    }

    #[test]
    fn leaf_is_rfc8785_and_independent_of_input_order() {
        let a = entry(json!({"z": 1.0, "a": [1e21, "é\u{1}"], "m": {"y": true, "b": null}}));
        let b = entry(
            serde_json::from_str(
                r#"{"m": {"b": null, "y": true}, "a": [1e21, "é\u0001"], "z": 1}"#,
            )
            .unwrap(),
        );
        let t = DateTime::parse_from_rfc3339("2026-11-24T12:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let leaf = a.leaf(t).unwrap();
        assert_eq!(leaf, b.leaf(t).unwrap());
        assert_eq!(a.content_sha256, b.content_sha256);
        let text = std::str::from_utf8(leaf.as_bytes()).unwrap();
        assert_eq!(
            text,
            r#"{"body":{"a":[1e+21,"é\u0001"],"m":{"b":null,"y":true},"z":1},"integrated_at":"2026-11-24T12:00:00.500000Z","kind":"event","subjects":["lot:a","lot:b"],"submitter":"mes"}"#
        );
        let env = parse_leaf(leaf.as_bytes()).unwrap();
        assert_eq!(env.subjects, vec!["lot:a", "lot:b"]);
        // The same envelope with other spacing or key order is not a valid leaf.
        let spaced = text.replacen(":", ": ", 1);
        assert!(parse_leaf(spaced.as_bytes()).is_err());
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(parse_leaf(serde_json::to_string_pretty(&v).unwrap().as_bytes()).is_err());
    }

    #[test]
    fn spliced_leaf_equals_full_canonicalization() {
        let e = PreparedEntry::new(
            Kind::Event,
            "line \"7\" \u{7f}é",
            vec!["serial:\u{1}x".into(), "lot:ß".into()],
            json!({"b": [1.5e-7, -0.0, 10000000000000000000000.0], "a": "\u{2028}\t\\"}),
            "event:x".into(),
        )
        .unwrap();
        let t = DateTime::parse_from_rfc3339("2026-11-24T12:00:00.000001Z")
            .unwrap()
            .with_timezone(&Utc);
        let env = Envelope {
            kind: e.kind,
            integrated_at: crate::time::format(&t),
            submitter: e.submitter.clone(),
            subjects: e.subjects.clone(),
            body: Some(e.body.clone()),
            body_sha256: None,
        };
        let full = canonical(&serde_json::to_value(&env).unwrap()).unwrap();
        assert_eq!(e.leaf(t).unwrap().as_bytes(), full.as_slice());
        assert!(parse_leaf(&full).is_ok());
    }

    #[test]
    fn content_digest_tells_content_apart() {
        assert_ne!(
            entry(json!({"a": 1})).content_sha256,
            entry(json!({"a": 2})).content_sha256
        );
    }

    #[test]
    fn integration_time_has_fixed_width() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let t1 = DateTime::parse_from_rfc3339("2026-11-24T12:34:56.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            crate::time::format(&t0).len(),
            crate::time::format(&t1).len()
        );
        assert_eq!(crate::time::format(&t1), "2026-11-24T12:34:56.123456Z");
    }

    #[test]
    fn oversized_leaf_is_refused_when_prepared() {
        let big = json!({ "data": "x".repeat(LEAF_MAX_BYTES) });
        let err =
            PreparedEntry::new(Kind::Event, "mes", vec![], big, "event:x".into()).unwrap_err();
        assert!(matches!(err, EntryError::TooLarge { .. }));
    }
}
