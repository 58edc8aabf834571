//! What an in-toto DSSE payload says about which artifacts: Statements v1
//! (`https://in-toto.io/Statement/v1`) and v0.1 (`https://in-toto.io/Statement/v0.1`), and
//! in-toto link metadata (`"_type": "link"`, as `in-toto-run` and in-toto-golang write it in
//! a DSSE envelope), whose products are its subjects. Subjects are kept with every digest
//! threadlog can index ([`DIGEST_ALGORITHMS`]: SHA-256, SHA-1 commits, SHA-512
//! packages, …); whether SHA-256 is required is the trust policy's call. Predicate types are
//! opaque strings. The predicate is checked against its schema by `predicate` and not
//! otherwise interpreted.
//! Specs: <https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>,
//! <https://github.com/in-toto/docs/blob/master/in-toto-spec.md> (link metadata).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// The `_type` of in-toto link metadata.
pub const LINK: &str = "link";
/// The predicate type a link is recorded and judged under: the in-toto link predicate,
/// which carries the same fields.
pub const LINK_PREDICATE: &str = "https://in-toto.io/attestation/link/v0.3";

/// The digest algorithms an artifact may be indexed by (in-toto's `DigestSet` names) and
/// the lengths, in lowercase hex digits, their values have. An artifact digest subject is
/// `<algorithm>:<hex>`: `sha256:…` for images and files, `sha1:…` or `gitCommit:…` for
/// commits, `sha512:…` for npm packages.
pub const DIGEST_ALGORITHMS: &[(&str, &[usize])] = &[
    ("sha256", &[64]),
    ("sha1", &[40]),
    ("sha224", &[56]),
    ("sha384", &[96]),
    ("sha512", &[128]),
    ("sha512_224", &[56]),
    ("sha512_256", &[64]),
    ("sha3_224", &[56]),
    ("sha3_256", &[64]),
    ("sha3_384", &[96]),
    ("sha3_512", &[128]),
    ("gitCommit", &[40, 64]),
    ("gitTree", &[40, 64]),
    ("gitBlob", &[40, 64]),
    ("gitTag", &[40, 64]),
];

/// Whether `algorithm` is one threadlog indexes by; `Some(Err)` when it is but `value` is
/// not its lowercase hex form.
pub fn check_digest(algorithm: &str, value: &str) -> Option<Result<(), String>> {
    let (_, lengths) = DIGEST_ALGORITHMS.iter().find(|(a, _)| *a == algorithm)?;
    let hex = value
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    Some(if hex && lengths.contains(&value.len()) {
        Ok(())
    } else {
        let digits = lengths
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" or ");
        Err(format!(
            "{algorithm} {value:?} is not {digits} lowercase hex digits"
        ))
    })
}

/// A subject the log can index: its name (if any) and its digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub name: Option<String>,
    /// Algorithm → lowercase hex, for each algorithm threadlog indexes by; never empty.
    pub digests: BTreeMap<String, String>,
}

impl Subject {
    /// A subject known by its SHA-256 alone (a Sigstore message signature's artifact).
    pub fn sha256_only(hex: String) -> Subject {
        Subject {
            name: None,
            digests: BTreeMap::from([("sha256".to_string(), hex)]),
        }
    }

    pub fn sha256(&self) -> Option<&str> {
        self.digests.get("sha256").map(String::as_str)
    }

    /// `<algorithm>:<hex>` for each digest: the artifact subjects the entry is indexed by.
    pub fn artifact_ids(&self) -> impl Iterator<Item = String> + '_ {
        self.digests.iter().map(|(a, h)| format!("{a}:{h}"))
    }

    /// How a refusal names it: its name, else its first digest.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.artifact_ids().next())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The Statement `_type`, or `link`.
    pub statement_type: String,
    pub predicate_type: String,
    pub subjects: Vec<Subject>,
    /// Kept for the predicate's schema check; not otherwise interpreted. For a link, its
    /// fields other than `_type` and `products`.
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

#[derive(Deserialize)]
struct RawLink {
    products: Option<BTreeMap<String, BTreeMap<String, String>>>,
}

fn bad(reason: String) -> StatementError {
    StatementError {
        check: "statement",
        reason,
    }
}

pub fn parse_statement(payload: &[u8]) -> Result<Statement, StatementError> {
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("the payload is not an in-toto Statement: {e}")))?;
    if value.get("_type").and_then(Value::as_str) == Some(LINK) {
        return parse_link(value);
    }
    let raw: Raw = serde_json::from_value(value)
        .map_err(|e| bad(format!("the payload is not an in-toto Statement: {e}")))?;
    let statement_type = raw
        .statement_type
        .ok_or_else(|| bad("_type is missing".into()))?;
    if statement_type != STATEMENT_V1 && statement_type != STATEMENT_V01 {
        return Err(bad(format!(
            "_type {statement_type:?} is not {STATEMENT_V1}, {STATEMENT_V01} or {LINK}"
        )));
    }
    let predicate_type = raw
        .predicate_type
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("predicateType is missing".into()))?;
    if raw.predicate.as_ref().is_some_and(|p| !p.is_object()) {
        return Err(bad("predicate is not a JSON object".into()));
    }
    let subjects = raw
        .subject
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.name, s.digest.unwrap_or_default()))
        .collect();
    Ok(Statement {
        statement_type,
        predicate_type,
        subjects: subjects_of(subjects, "subject")?,
        predicate: raw.predicate,
    })
}

/// Link metadata: its products are what it is about.
fn parse_link(mut value: Value) -> Result<Statement, StatementError> {
    let raw: RawLink = serde_json::from_value(value.clone())
        .map_err(|e| bad(format!("the payload is not in-toto link metadata: {e}")))?;
    let products = raw
        .products
        .unwrap_or_default()
        .into_iter()
        .map(|(path, digests)| (Some(path), digests))
        .collect();
    let subjects = subjects_of(products, "products")?;
    let predicate = value.as_object_mut().map(|o| {
        o.remove("_type");
        o.remove("products");
        Value::Object(std::mem::take(o))
    });
    Ok(Statement {
        statement_type: LINK.into(),
        predicate_type: LINK_PREDICATE.into(),
        subjects,
        predicate,
    })
}

/// Subjects with their indexable digests; `field` names them in refusals.
fn subjects_of(
    raw: Vec<(Option<String>, BTreeMap<String, String>)>,
    field: &str,
) -> Result<Vec<Subject>, StatementError> {
    if raw.is_empty() {
        return Err(StatementError {
            check: "subject",
            reason: format!("the statement has no subject ({field} is empty)"),
        });
    }
    let mut subjects = Vec::with_capacity(raw.len());
    for (i, (name, all)) in raw.into_iter().enumerate() {
        let subject_err = |reason: String| StatementError {
            check: "subject",
            reason: format!("{field}[{i}]: {reason}"),
        };
        let mut digests = BTreeMap::new();
        for (alg, value) in &all {
            match check_digest(alg, value) {
                Some(Ok(())) => {
                    digests.insert(alg.clone(), value.clone());
                }
                Some(Err(e)) => return Err(subject_err(e)),
                // Algorithms threadlog cannot index are left to the stored document.
                None => {}
            }
        }
        if digests.is_empty() {
            let algs: Vec<&str> = all.keys().map(String::as_str).collect();
            let known: Vec<&str> = DIGEST_ALGORITHMS.iter().map(|(a, _)| *a).collect();
            return Err(subject_err(format!(
                "has no digest threadlog can index (digests: {algs:?}; indexed: {known:?})"
            )));
        }
        subjects.push(Subject { name, digests });
    }
    Ok(subjects)
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
                "subject": [{"name": "a", "digest": {"sha256": "ab".repeat(32), "sha512": "00".repeat(64)}},
                            {"digest": {"sha256": "cd".repeat(32)}}],
                "predicateType": "https://slsa.dev/provenance/v1",
                "predicate": {}
            }))
            .unwrap();
            assert_eq!(s.statement_type, t);
            assert_eq!(s.subjects[0].name.as_deref(), Some("a"));
            assert_eq!(s.subjects[0].digests.len(), 2);
            assert_eq!(s.subjects[1].name, None);
            assert_eq!(s.subjects[1].sha256(), Some("cd".repeat(32).as_str()));
        }
    }

    #[test]
    fn subjects_are_indexed_by_every_digest_they_carry() {
        let base = |subject: Value| {
            json!({"_type": STATEMENT_V01, "subject": subject,
                   "predicateType": "chainloop.dev/attestation/v0.2"})
        };
        let s = parse(base(json!([
            {"name": "git", "digest": {"sha1": "7c".repeat(20)}},
            {"name": "x", "digest": {"sha256": "ab".repeat(32), "dirHash": "whatever"}}
        ])))
        .unwrap();
        assert_eq!(s.predicate_type, "chainloop.dev/attestation/v0.2");
        let ids: Vec<String> = s.subjects.iter().flat_map(|s| s.artifact_ids()).collect();
        assert_eq!(
            ids,
            [
                format!("sha1:{}", "7c".repeat(20)),
                format!("sha256:{}", "ab".repeat(32))
            ]
        );
        let e = parse(base(json!([{"name": "x", "digest": {"dirHash": "00"}}]))).unwrap_err();
        assert_eq!(e.check, "subject");
        assert!(
            e.reason
                .contains("subject[0]: has no digest threadlog can index"),
            "{}",
            e.reason
        );
        let e = parse(base(json!([{"digest": {"sha256": "AB".repeat(32)}}]))).unwrap_err();
        assert!(e.reason.contains("lowercase"), "{}", e.reason);
        let e = parse(base(json!([{"digest": {"sha1": "no commits found"}}]))).unwrap_err();
        assert!(e.reason.contains("subject[0]: sha1"), "{}", e.reason);
        assert_eq!(parse(base(json!([]))).unwrap_err().check, "subject");
        let mut v = base(json!([{"digest": {"sha256": "ab".repeat(32)}}]));
        v["_type"] = json!("https://in-toto.io/Statement/v2");
        assert_eq!(parse(v).unwrap_err().check, "statement");
        assert_eq!(parse_statement(b"[1]").unwrap_err().check, "statement");
    }

    #[test]
    fn link_metadata_is_about_its_products() {
        let s = parse(json!({
            "_type": "link", "name": "package", "command": ["tar", "czf", "a.tgz", "src"],
            "materials": {"src/a.py": {"sha256": "ab".repeat(32)}},
            "products": {"a.tgz": {"sha256": "cd".repeat(32)}},
            "byproducts": {"return-value": 0}, "environment": {}
        }))
        .unwrap();
        assert_eq!(s.statement_type, LINK);
        assert_eq!(s.predicate_type, LINK_PREDICATE);
        assert_eq!(s.subjects.len(), 1);
        assert_eq!(s.subjects[0].name.as_deref(), Some("a.tgz"));
        let p = s.predicate.unwrap();
        assert_eq!(p["name"], "package");
        assert!(p.get("products").is_none() && p.get("_type").is_none());
        let e = parse(json!({"_type": "link", "name": "test", "products": {}})).unwrap_err();
        assert_eq!(e.check, "subject");
        assert!(e.reason.contains("products is empty"), "{}", e.reason);
    }
}
