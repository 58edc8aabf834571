//! The `sbom` kind: a CycloneDX document CI uploaded for an artifact. The leaf binds the
//! document's SHA-256 (the bytes are a [`Blob`]), the artifact it describes and what was
//! read from the validated document. Pure: validating the document itself is
//! `supplychain::cyclonedx`'s work, done before an entry is prepared.
//!
//! ```json
//! {"subject": "sha256:<image digest>" | "pkg:…", "format": "CycloneDX",
//!  "spec_version": "1.5", "encoding": "json" | "xml",
//!  "serial_number": "urn:uuid:…" (when the document has one), "components": 123,
//!  "document": {"sha256": "<hex>", "media_type": "application/vnd.cyclonedx+json; version=1.5", "size": N}}
//! ```
//! Subjects: the artifact and `sha256:<document digest>`, so either finds the entry.

use super::Blob;
use super::EntryError;
use super::{Kind, PreparedEntry};
use crate::supplychain::attest::intoto;
use crate::supplychain::cyclonedx::SbomFacts;
use serde_json::{json, Map, Value};

const MAX_SUBJECT: usize = 1024;

/// Checks an artifact subject: a digest `<algorithm>:<lowercase hex>` of an algorithm in
/// [`intoto::DIGEST_ALGORITHMS`] (`sha256:<64 hex>` for an image or file), or a package URL
/// `pkg:<type>/<name>…`.
pub fn parse_subject(s: &str) -> Result<String, EntryError> {
    let err = |reason: String| EntryError::Invalid {
        path: "subject".into(),
        reason,
    };
    if s.len() > MAX_SUBJECT {
        return Err(err(format!("longer than {MAX_SUBJECT} bytes")));
    }
    if let Some(hex) = s.strip_prefix("sha256:") {
        return match super::parse_hex_digest(hex) {
            Some(_) => Ok(s.to_string()),
            None => Err(err(format!(
                "{s:?} is not a digest of the form sha256:<64 lowercase hex digits>"
            ))),
        };
    }
    if let Some(result) = s
        .split_once(':')
        .and_then(|(alg, value)| intoto::check_digest(alg, value))
    {
        return result.map(|()| s.to_string()).map_err(err);
    }
    if let Some(rest) = s.strip_prefix("pkg:") {
        let (ty, name) = rest.split_once('/').unwrap_or((rest, ""));
        let ty_ok = ty.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && ty
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'));
        let name = name.trim_start_matches('/');
        if ty_ok
            && !name.is_empty()
            && !name.starts_with(['@', '?', '#'])
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Ok(s.to_string());
        }
        return Err(err(format!(
            "{s:?} is not a package URL of the form pkg:<type>/<namespace>/<name>@<version>"
        )));
    }
    Err(err(format!(
        "{s:?} is neither an artifact digest (sha256:<64 hex>, or sha1:, sha512:, gitCommit:… \
         <hex>) nor a package URL (pkg:…)"
    )))
}

/// Prepares the entry for a validated document `blob` about `subject` (already checked
/// with [`parse_subject`]).
pub fn prepare_sbom(
    subject: &str,
    facts: &SbomFacts,
    blob: Blob,
    submitter: &str,
) -> Result<PreparedEntry, EntryError> {
    let mut body = Map::new();
    body.insert("subject".into(), json!(subject));
    body.insert("format".into(), json!("CycloneDX"));
    body.insert("spec_version".into(), json!(facts.spec_version));
    body.insert("encoding".into(), json!(facts.encoding));
    if let Some(sn) = &facts.serial_number {
        body.insert("serial_number".into(), json!(sn));
    }
    body.insert("components".into(), json!(facts.components));
    body.insert("document".into(), blob.reference());
    let doc_hex = hex::encode(blob.sha256());
    let subjects = vec![subject.to_string(), format!("sha256:{doc_hex}")];
    PreparedEntry::new(
        Kind::Sbom,
        submitter,
        subjects,
        Value::Object(body),
        super::dedup::sbom_key(subject, &doc_hex),
    )
    .map(|e| e.with_blob(blob))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn subjects_are_digests_or_package_urls() {
        let d = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(parse_subject(&d).unwrap(), d);
        let sha1 = format!("sha1:{}", "7c".repeat(20));
        let commit = format!("gitCommit:{}", "7c".repeat(20));
        for ok in [
            sha1.as_str(),
            commit.as_str(),
            "pkg:cargo/threadlog@0.1.0",
            "pkg:oci/debian@sha256%3Aabc?repository_url=docker.io/library",
            "pkg:npm/%40angular/core@16.0.0",
        ] {
            assert!(parse_subject(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "sha256:ABC",
            &format!("sha256:{}", "AB".repeat(32)),
            "sha512:abc",
            &format!("sha1:{}", "7c".repeat(32)),
            "pkg:",
            "pkg:cargo",
            "pkg:cargo/",
            "pkg:1x/name",
            "pkg:cargo/na me",
            "lot:L-1",
        ] {
            let e = parse_subject(bad).unwrap_err();
            assert!(e.to_string().starts_with("subject: "), "{bad}: {e}");
        }
    }

    #[test]
    fn the_leaf_binds_document_subject_and_facts() {
        let blob = Blob::new(Bytes::from_static(b"{}"), "application/vnd.cyclonedx+json");
        let facts = SbomFacts {
            encoding: "json",
            spec_version: "1.5".into(),
            serial_number: Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79".into()),
            components: 7,
        };
        let e = prepare_sbom("pkg:cargo/x@1", &facts, blob.clone(), "ci").unwrap();
        assert_eq!(e.kind, Kind::Sbom);
        let doc = format!("sha256:{}", hex::encode(blob.sha256()));
        assert_eq!(e.subjects, vec!["pkg:cargo/x@1".to_string(), doc]);
        assert_eq!(e.body["components"], 7);
        assert_eq!(e.body["document"]["size"], 2);
        assert_eq!(e.blob.as_ref(), Some(&blob));
        let d =
            crate::entry::derive(e.leaf(chrono::DateTime::UNIX_EPOCH).unwrap().as_bytes()).unwrap();
        assert_eq!(d.dedup_key.as_deref(), Some(e.dedup_key.as_str()));
        // The same document for another artifact is another entry.
        let other = prepare_sbom("pkg:cargo/y@1", &facts, blob, "ci").unwrap();
        assert_ne!(other.dedup_key, e.dedup_key);
    }
}
