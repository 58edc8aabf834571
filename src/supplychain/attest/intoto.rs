//! in-toto Statements, v1 (`https://in-toto.io/Statement/v1`) and v0.1
//! (`https://in-toto.io/Statement/v0.1`), as DSSE payloads carry them: the subjects (each
//! with a SHA-256 digest, which is what the log indexes), the predicate type and the
//! predicate, which `predicate` checks against its schema and which is not otherwise
//! interpreted.
//! Spec: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";

/// A subject the log can index: its name (if any) and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: Option<String>,
    /// 64 lowercase hex digits.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub statement_type: String,
    pub predicate_type: String,
    pub subjects: Vec<Subject>,
    /// Kept for the predicate's schema check; not otherwise interpreted.
    pub predicate: Option<Value>,
}

/// Which part of a statement is wrong, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementError {
    /// `statement` or `subject`.
    pub check: &'static str,
    pub reason: String,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "_type")]
    statement_type: Option<String>,
    subject: Option<Vec<RawSubject>>,
    #[serde(rename = "predicateType")]
    predicate_type: Option<String>,
    predicate: Option<Value>,
}

#[derive(Deserialize)]
struct RawSubject {
    name: Option<String>,
    digest: Option<BTreeMap<String, String>>,
}

pub fn parse_statement(payload: &[u8]) -> Result<Statement, StatementError> {
    let bad = |reason: String| StatementError {
        check: "statement",
        reason,
    };
    let raw: Raw = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("the payload is not an in-toto Statement: {e}")))?;
    let statement_type = raw
        .statement_type
        .ok_or_else(|| bad("_type is missing".into()))?;
    if statement_type != STATEMENT_V1 && statement_type != STATEMENT_V01 {
        return Err(bad(format!(
            "_type {statement_type:?} is not {STATEMENT_V1} or {STATEMENT_V01}"
        )));
    }
    let predicate_type = raw
        .predicate_type
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("predicateType is missing".into()))?;
    if raw.predicate.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(bad("predicate is not a JSON object".into()));
    }
    let raw_subjects = raw.subject.unwrap_or_default();
    if raw_subjects.is_empty() {
        return Err(StatementError {
            check: "subject",
            reason: "the statement has no subject".into(),
        });
    }
    let mut subjects = Vec::with_capacity(raw_subjects.len());
    for (i, s) in raw_subjects.into_iter().enumerate() {
        let subject_err = |reason: String| StatementError {
            check: "subject",
            reason: format!("subject[{i}]: {reason}"),
        };
        let sha256 = s
            .digest
            .as_ref()
            .and_then(|d| d.get("sha256"))
            .ok_or_else(|| {
                let algs: Vec<&str> = s
                    .digest
                    .iter()
                    .flat_map(|d| d.keys().map(String::as_str))
                    .collect();
                subject_err(format!(
                    "has no sha256 digest (digests: {algs:?}); threadlog indexes artifacts \
                     by SHA-256"
                ))
            })?;
        if !super::is_sha256_hex(sha256) {
            return Err(subject_err(format!(
                "digest.sha256 {sha256:?} is not 64 lowercase hex digits"
            )));
        }
        subjects.push(Subject {
            name: s.name,
            sha256: sha256.clone(),
        });
    }
    Ok(Statement {
        statement_type,
        predicate_type,
        subjects,
        predicate: raw.predicate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Statement, StatementError> {
        parse_statement(v.to_string().as_bytes())
    }

    #[test]
    fn both_statement_versions_parse() {
        for t in [STATEMENT_V1, STATEMENT_V01] {
            let s = parse(json!({
                "_type": t,
                "subject": [{"name": "a", "digest": {"sha256": "ab".repeat(32), "sha512": "00"}},
                            {"digest": {"sha256": "cd".repeat(32)}}],
                "predicateType": "https://slsa.dev/provenance/v1",
                "predicate": {}
            }))
            .unwrap();
            assert_eq!(s.statement_type, t);
            assert_eq!(s.subjects[0].name.as_deref(), Some("a"));
            assert_eq!(s.subjects[1].name, None);
        }
    }

    #[test]
    fn subjects_need_a_sha256_and_statements_their_type() {
        let base = |subject: Value| {
            json!({"_type": STATEMENT_V1, "subject": subject,
                   "predicateType": "https://x.example/p"})
        };
        let e = parse(base(json!([{"name": "x", "digest": {"sha512": "00"}}]))).unwrap_err();
        assert_eq!(e.check, "subject");
        assert!(
            e.reason.contains("subject[0]: has no sha256"),
            "{}",
            e.reason
        );
        let e = parse(base(json!([{"digest": {"sha256": "AB".repeat(32)}}]))).unwrap_err();
        assert!(e.reason.contains("lowercase"), "{}", e.reason);
        assert_eq!(parse(base(json!([]))).unwrap_err().check, "subject");
        let mut v = base(json!([{"digest": {"sha256": "ab".repeat(32)}}]));
        v["_type"] = json!("https://in-toto.io/Statement/v2");
        assert_eq!(parse(v).unwrap_err().check, "statement");
        assert_eq!(parse_statement(b"[1]").unwrap_err().check, "statement");
    }
}
