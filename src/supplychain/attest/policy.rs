//! The trust policy (`attestations/README.md` documents the format): who may sign
//! attestations, which predicate types are accepted, and per-subject rules. Parsed and
//! checked once from TOML text; reading the file is the caller's work (no I/O here).

use super::intoto::Subject;
use super::keys::PublicKey;
use super::policy_toml;
use super::predicate::PredicateSchema;
use regex::Regex;
use sha2::{Digest, Sha256};

/// The only policy format version so far.
pub const POLICY_VERSION: u32 = 1;

/// What is wrong with a policy, named by its TOML path, e.g. `signers[2].public_key`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("trust policy: {path}: {reason}")]
pub struct PolicyError {
    pub path: String,
    pub reason: String,
}

pub(super) fn err(path: impl Into<String>, reason: impl Into<String>) -> PolicyError {
    PolicyError {
        path: path.into(),
        reason: reason.into(),
    }
}

/// A key allowed to sign attestations.
#[derive(Debug, Clone)]
pub struct AllowedSigner {
    /// Matched against a DSSE signature's `keyid`.
    pub id: String,
    pub name: String,
    pub key: PublicKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedPredicate {
    pub predicate_type: String,
    /// Also accept `<type>/<anything>` (versioned forms such as `https://spdx.dev/Document/v2.3`).
    pub prefix: bool,
    /// The operator's schema file for this type's predicates, as written in the policy
    /// (relative to the policy file); it replaces a built-in schema.
    pub schema_file: Option<String>,
    /// That schema, once attached with [`TrustPolicy::with_predicate_schema`].
    pub schema: Option<PredicateSchema>,
}

impl AcceptedPredicate {
    pub(super) fn accepts(&self, t: &str) -> bool {
        t == self.predicate_type
            || (self.prefix
                && t.strip_prefix(self.predicate_type.as_str())
                    .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1))
    }
}

/// Requirements on attestations about matching subjects. A rule narrows what the policy
/// accepts; it never admits what the signers and predicates do not.
#[derive(Debug, Clone)]
pub struct SubjectRule {
    pub name: String,
    /// Matches the whole subject name.
    pub subject_name: Option<Regex>,
    /// `sha256:<hex>`.
    pub subject_digest: Option<String>,
    /// At least one of these signer ids must have a verified signature.
    pub signers: Option<Vec<String>>,
    /// The predicate type must be one of these (exactly).
    pub predicates: Option<Vec<String>>,
}

impl SubjectRule {
    pub fn matches(&self, subject: &Subject) -> bool {
        let name_ok = match &self.subject_name {
            Some(re) => subject.name.as_deref().is_some_and(|n| re.is_match(n)),
            None => true,
        };
        let digest_ok = match &self.subject_digest {
            Some(d) => d.strip_prefix("sha256:") == subject.sha256(),
            None => true,
        };
        name_ok && digest_ok
    }
}

/// Sigstore bundles: the trusted root's path (read by the caller, then attached with
/// [`TrustPolicy::with_trusted_root`]) and the Fulcio identities allowed to sign.
#[derive(Debug, Clone, Default)]
pub struct SigstorePolicy {
    pub trusted_root: Option<String>,
    pub identities: Vec<SigstoreIdentity>,
    pub root: Option<std::sync::Arc<super::sigstore::TrustedRoot>>,
}

#[derive(Debug, Clone)]
pub struct SigstoreIdentity {
    pub name: String,
    pub issuer: Matcher,
    pub subject: Matcher,
}

/// Exact string or whole-string regular expression (cosign's `--certificate-identity`
/// and `--certificate-identity-regexp`).
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub struct TrustPolicy {
    pub signers: Vec<AllowedSigner>,
    pub predicates: Vec<AcceptedPredicate>,
    pub rules: Vec<SubjectRule>,
    pub sigstore: SigstorePolicy,
    /// Refuse statements with a subject that carries no SHA-256 digest (by default a
    /// subject is indexed by whatever digests it carries, a SHA-1 commit for one).
    pub require_sha256: bool,
    /// SHA-256 of the policy text, recorded with every attestation verified under it.
    pub sha256: [u8; 32],
}

impl TrustPolicy {
    /// Parses and checks a policy; the first problem found is returned.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let file = policy_toml::read(text)?;
        if file.version != POLICY_VERSION {
            return Err(err(
                "version",
                format!(
                    "{} is not supported; expected {POLICY_VERSION}",
                    file.version
                ),
            ));
        }
        let signers = policy_toml::signers(file.signers)?;
        let predicates = policy_toml::predicates(file.predicates)?;
        if predicates.is_empty() {
            return Err(err(
                "predicates",
                "at least one accepted predicate type is required",
            ));
        }
        let sigstore = policy_toml::sigstore_policy(file.sigstore.unwrap_or_default())?;
        if signers.is_empty() && sigstore.identities.is_empty() {
            return Err(err(
                "signers",
                "no signer is allowed: list at least one key (or Sigstore identity)",
            ));
        }
        let rules = policy_toml::rules(file.rules, &signers, &predicates, &sigstore)?;
        Ok(TrustPolicy {
            signers,
            predicates,
            rules,
            sigstore,
            require_sha256: file.require_sha256,
            sha256: Sha256::digest(text.as_bytes()).into(),
        })
    }

    /// Attaches the Sigstore trusted root the policy names, from the file's bytes.
    pub fn with_trusted_root(mut self, bytes: &[u8]) -> Result<Self, PolicyError> {
        let root = super::sigstore::TrustedRoot::from_json(bytes)
            .map_err(|e| err("sigstore.trusted_root", e))?;
        self.sigstore.root = Some(std::sync::Arc::new(root));
        Ok(self)
    }

    /// Attaches the schema file named by `predicates[index].schema`, from its bytes.
    pub fn with_predicate_schema(
        mut self,
        index: usize,
        bytes: &[u8],
    ) -> Result<Self, PolicyError> {
        let at = format!("predicates[{index}].schema");
        let p = self
            .predicates
            .get_mut(index)
            .ok_or_else(|| err(at.clone(), "no such predicate entry"))?;
        let name = p
            .schema_file
            .clone()
            .ok_or_else(|| err(at.clone(), "this entry names no schema file"))?;
        p.schema = Some(PredicateSchema::compile(&name, bytes).map_err(|e| err(at, e))?);
        Ok(self)
    }

    /// Whether statements of this predicate type are accepted.
    pub fn accepts_predicate(&self, t: &str) -> bool {
        self.predicates.iter().any(|p| p.accepts(t))
    }

    /// The schema a predicate of type `t` must satisfy: that of the first accepting entry
    /// naming one, else threadlog's built-in schema for the type, if any.
    pub fn predicate_schema(&self, t: &str) -> Option<PredicateSchema> {
        self.predicates
            .iter()
            .filter(|p| p.accepts(t))
            .find_map(|p| p.schema.clone())
            .or_else(|| PredicateSchema::builtin(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
        MCowBQYDK2VwAyEA3p97PJthwOsBbefPaVP3DoHTjN2yj1T/c6Z3vkUhHSA=\n\
        -----END PUBLIC KEY-----\n";

    fn policy(extra: &str) -> String {
        format!(
            "version = 1\n[[signers]]\nid = \"k1\"\nname = \"release\"\n\
             public_key = \"\"\"\n{ED_PEM}\"\"\"\n\
             [[predicates]]\ntype = \"https://slsa.dev/provenance/v1\"\n\
             [[predicates]]\ntype = \"https://spdx.dev/Document\"\nmatch = \"prefix\"\n{extra}"
        )
    }

    #[test]
    fn the_example_policy_is_valid() {
        let text = include_str!("../../../attestations/policy.example.toml");
        let p = TrustPolicy::from_toml(text).unwrap();
        assert!(p.accepts_predicate("https://slsa.dev/provenance/v1"));
        assert!(!p.rules.is_empty());
    }

    #[test]
    fn predicate_types_match_exactly_or_by_versioned_prefix() {
        let p = TrustPolicy::from_toml(&policy("")).unwrap();
        assert!(p.accepts_predicate("https://slsa.dev/provenance/v1"));
        assert!(!p.accepts_predicate("https://slsa.dev/provenance/v1/x"));
        assert!(!p.accepts_predicate("https://slsa.dev/provenance/v0.2"));
        assert!(p.accepts_predicate("https://spdx.dev/Document"));
        assert!(p.accepts_predicate("https://spdx.dev/Document/v2.3"));
        assert!(!p.accepts_predicate("https://spdx.dev/DocumentX"));
        assert!(!p.accepts_predicate("https://spdx.dev/Document/"));
    }

    #[test]
    fn predicate_types_are_opaque_strings_and_sha256_may_be_required() {
        let p = TrustPolicy::from_toml(&policy(
            "[[predicates]]\ntype = \"chainloop.dev/attestation/v0.2\"\n",
        ))
        .unwrap();
        assert!(p.accepts_predicate("chainloop.dev/attestation/v0.2"));
        assert!(!p.accepts_predicate("chainloop.dev/attestation/v0.1"));
        assert!(!p.require_sha256);
        let p = TrustPolicy::from_toml(&format!("require_sha256 = true\n{}", policy(""))).unwrap();
        assert!(p.require_sha256);
    }

    #[test]
    fn rules_match_whole_names_and_digests() {
        let p = TrustPolicy::from_toml(&policy(
            "[[rules]]\nname = \"r\"\nsubject_name = 'registry\\.example/app'\nsigners = [\"k1\"]\n",
        ))
        .unwrap();
        let r = &p.rules[0];
        let s = |name: Option<&str>| Subject {
            name: name.map(String::from),
            ..Subject::sha256_only("00".repeat(32))
        };
        assert!(r.matches(&s(Some("registry.example/app"))));
        assert!(!r.matches(&s(Some("registry.example/app2"))));
        assert!(!r.matches(&s(Some("xregistry.example/app"))));
        assert!(!r.matches(&s(None)));
    }

    #[test]
    fn invalid_policies_name_the_offending_field() {
        let cases = [
            ("version = 2", "version"),
            ("version = 1\n[[predicates]]\ntype = \"https://x.example/p\"", "signers"),
            (
                &policy("[[rules]]\nname = \"r\"\nsubject_name = '('\nsigners = [\"k1\"]\n"),
                "rules[0].subject_name",
            ),
            (
                &policy("[[rules]]\nname = \"r\"\nsubject_digest = 'sha256:00'\nsigners = [\"k1\"]\n"),
                "rules[0].subject_digest",
            ),
            (
                &policy("[[rules]]\nname = \"r\"\nsubject_name = 'a'\nsigners = [\"k2\"]\n"),
                "rules[0].signers[0]",
            ),
            (
                &policy("[[rules]]\nname = \"r\"\nsubject_name = 'a'\npredicates = [\"https://x.example/p\"]\n"),
                "rules[0].predicates[0]",
            ),
            (&policy("[[rules]]\nname = \"r\"\nsubject_name = 'a'\n"), "rules[0].signers"),
            (
                &policy("[[predicates]]\ntype = \" \"\n"),
                "predicates[2].type",
            ),
            (
                &policy("[[sigstore.identities]]\nname = \"gh\"\nissuer = \"https://i\"\n"),
                "sigstore.identities[0].subject",
            ),
            (&policy("colour = \"blue\"\n"), "line"),
        ];
        for (text, path) in cases {
            let e = TrustPolicy::from_toml(text).unwrap_err();
            assert!(e.path.starts_with(path), "{text}\n=> {e}");
        }
        let twice = policy("").replacen("[[predicates]]", &format!(
            "[[signers]]\nid = \"k1\"\nname = \"again\"\npublic_key = \"\"\"\n{ED_PEM}\"\"\"\n[[predicates]]"
        ), 1);
        assert_eq!(
            TrustPolicy::from_toml(&twice).unwrap_err().path,
            "signers[1].id"
        );
        let bad_key = policy("").replace("MCowBQYDK2VwAyEA", "MCowBQYDK2VwAyEB");
        assert_eq!(
            TrustPolicy::from_toml(&bad_key).unwrap_err().path,
            "signers[0].public_key"
        );
    }
}
