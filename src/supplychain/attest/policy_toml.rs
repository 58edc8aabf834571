//! The trust policy's TOML form: the file's shape, and its checks section by section into
//! the policy's signers, predicates, Sigstore identities and rules. Each refusal names the
//! TOML path of the offending field.

use super::keys::{PublicKey, RsaPadding};
use super::policy::{
    err, AcceptedPredicate, AllowedSigner, Matcher, PolicyError, SigstoreIdentity, SigstorePolicy,
    SubjectRule,
};
use regex::Regex;
use serde::Deserialize;

/// Reads the policy file; a syntax or shape error is named by its line.
pub(super) fn read(text: &str) -> Result<PolicyFile, PolicyError> {
    toml::from_str(text).map_err(|e| {
        let reason = e.message().to_string();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!("line {line}")
            })
            .unwrap_or_else(|| "file".into());
        err(at, reason)
    })
}

/// The allowed signers, each with a usable key and an id listed once.
pub(super) fn signers(file: Vec<SignerFile>) -> Result<Vec<AllowedSigner>, PolicyError> {
    let mut signers: Vec<AllowedSigner> = Vec::new();
    for (i, s) in file.into_iter().enumerate() {
        let at = |f: &str| format!("signers[{i}].{f}");
        if s.id.trim().is_empty() || s.id.chars().any(char::is_whitespace) {
            return Err(err(at("id"), "must be non-empty, without whitespace"));
        }
        if signers.iter().any(|o| o.id == s.id) {
            return Err(err(at("id"), format!("{:?} is listed twice", s.id)));
        }
        if s.name.trim().is_empty() {
            return Err(err(at("name"), "must be non-empty"));
        }
        let padding = match s.rsa_padding.as_deref() {
            None | Some("any") => RsaPadding::Either,
            Some("pss") => RsaPadding::Pss,
            Some("pkcs1v15") => RsaPadding::Pkcs1v15,
            Some(o) => {
                return Err(err(
                    at("rsa_padding"),
                    format!("{o:?}; expected pss, pkcs1v15 or any"),
                ))
            }
        };
        let key =
            PublicKey::from_pem(&s.public_key, padding).map_err(|e| err(at("public_key"), e))?;
        if s.rsa_padding.is_some() && !matches!(key, PublicKey::Rsa(..)) {
            return Err(err(at("rsa_padding"), "only for RSA keys"));
        }
        signers.push(AllowedSigner {
            id: s.id,
            name: s.name,
            key,
        });
    }
    Ok(signers)
}

/// The accepted predicate types, each matched exactly or as a versioned prefix.
pub(super) fn predicates(file: Vec<PredicateFile>) -> Result<Vec<AcceptedPredicate>, PolicyError> {
    let mut predicates = Vec::new();
    for (i, p) in file.into_iter().enumerate() {
        let at = |f: &str| format!("predicates[{i}].{f}");
        // Compared as opaque strings: real producers use types that are not URIs
        // (Chainloop's `chainloop.dev/attestation/v0.2`).
        if p.predicate_type.trim().is_empty() {
            return Err(err(at("type"), "must be non-empty"));
        }
        let prefix = match p.match_.as_deref() {
            None | Some("exact") => false,
            Some("prefix") => true,
            Some(o) => return Err(err(at("match"), format!("{o:?}; expected exact or prefix"))),
        };
        if p.schema.as_deref().is_some_and(|f| f.trim().is_empty()) {
            return Err(err(at("schema"), "must name a JSON Schema file"));
        }
        predicates.push(AcceptedPredicate {
            predicate_type: p.predicate_type,
            prefix,
            schema_file: p.schema,
            schema: None,
        });
    }
    Ok(predicates)
}

/// The subject rules; the signers and predicate types a rule names must be ones the
/// policy lists.
pub(super) fn rules(
    file: Vec<RuleFile>,
    signers: &[AllowedSigner],
    predicates: &[AcceptedPredicate],
    sigstore: &SigstorePolicy,
) -> Result<Vec<SubjectRule>, PolicyError> {
    let mut rules = Vec::new();
    for (i, r) in file.into_iter().enumerate() {
        let at = |f: &str| format!("rules[{i}].{f}");
        if r.name.trim().is_empty() {
            return Err(err(at("name"), "must be non-empty"));
        }
        if r.subject_name.is_none() && r.subject_digest.is_none() {
            return Err(err(
                at("subject_name"),
                "a rule needs subject_name, subject_digest or both",
            ));
        }
        let subject_name = r
            .subject_name
            .as_deref()
            .map(|p| whole(p).map_err(|e| err(at("subject_name"), e)))
            .transpose()?;
        if let Some(d) = &r.subject_digest {
            if !d.strip_prefix("sha256:").is_some_and(super::is_sha256_hex) {
                return Err(err(
                    at("subject_digest"),
                    "expected sha256:<64 lowercase hex>",
                ));
            }
        }
        if r.signers.is_none() && r.predicates.is_none() {
            return Err(err(
                at("signers"),
                "a rule needs signers, predicates or both",
            ));
        }
        rule_references(i, &r, signers, predicates, sigstore)?;
        rules.push(SubjectRule {
            name: r.name,
            subject_name,
            subject_digest: r.subject_digest,
            signers: r.signers,
            predicates: r.predicates,
        });
    }
    Ok(rules)
}

/// Rule `i`'s signers are listed signer ids or Sigstore identity names, and its predicate
/// types are accepted ones: a rule cannot admit what the policy does not.
fn rule_references(
    i: usize,
    r: &RuleFile,
    signers: &[AllowedSigner],
    predicates: &[AcceptedPredicate],
    sigstore: &SigstorePolicy,
) -> Result<(), PolicyError> {
    for (j, id) in r.signers.iter().flatten().enumerate() {
        if !signers.iter().any(|s| &s.id == id)
            && !sigstore.identities.iter().any(|s| &s.name == id)
        {
            return Err(err(
                format!("rules[{i}].signers[{j}]"),
                format!(
                    "{id:?} is neither the id of a listed signer nor the name of a \
                     Sigstore identity"
                ),
            ));
        }
    }
    for (j, t) in r.predicates.iter().flatten().enumerate() {
        if !predicates.iter().any(|p| p.accepts(t)) {
            return Err(err(
                format!("rules[{i}].predicates[{j}]"),
                format!("{t:?} is not an accepted predicate type"),
            ));
        }
    }
    Ok(())
}

/// A pattern that must match the whole string.
fn whole(pattern: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| format!("not a regular expression: {e}"))
}

pub(super) fn sigstore_policy(f: SigstoreFile) -> Result<SigstorePolicy, PolicyError> {
    let mut identities = Vec::new();
    for (i, id) in f.identities.into_iter().enumerate() {
        let at = |f: &str| format!("sigstore.identities[{i}].{f}");
        let matcher = |exact: Option<String>, re: Option<String>, field: &str| match (exact, re) {
            (Some(e), None) => Ok(Matcher::Exact(e)),
            (None, Some(r)) => whole(&r)
                .map(Matcher::Regex)
                .map_err(|e| err(at(&format!("{field}_regex")), e)),
            _ => Err(err(
                at(field),
                format!("exactly one of {field} and {field}_regex is required"),
            )),
        };
        identities.push(SigstoreIdentity {
            issuer: matcher(id.issuer, id.issuer_regex, "issuer")?,
            subject: matcher(id.subject, id.subject_regex, "subject")?,
            name: id.name,
        });
    }
    if !identities.is_empty() && f.trusted_root.is_none() {
        return Err(err(
            "sigstore.trusted_root",
            "identities are listed, so the trusted root to verify their certificates against \
             is required",
        ));
    }
    Ok(SigstorePolicy {
        trusted_root: f.trusted_root,
        identities,
        root: None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub(super) version: u32,
    #[serde(default)]
    pub(super) require_sha256: bool,
    #[serde(default)]
    pub(super) signers: Vec<SignerFile>,
    #[serde(default)]
    pub(super) predicates: Vec<PredicateFile>,
    #[serde(default)]
    pub(super) rules: Vec<RuleFile>,
    pub(super) sigstore: Option<SigstoreFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignerFile {
    id: String,
    name: String,
    public_key: String,
    rsa_padding: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PredicateFile {
    #[serde(rename = "type")]
    predicate_type: String,
    #[allow(dead_code)] // documentation for the operator
    name: Option<String>,
    #[serde(rename = "match")]
    match_: Option<String>,
    schema: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RuleFile {
    name: String,
    subject_name: Option<String>,
    subject_digest: Option<String>,
    signers: Option<Vec<String>>,
    predicates: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SigstoreFile {
    trusted_root: Option<String>,
    #[serde(default)]
    identities: Vec<IdentityFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFile {
    name: String,
    issuer: Option<String>,
    issuer_regex: Option<String>,
    subject: Option<String>,
    subject_regex: Option<String>,
}
