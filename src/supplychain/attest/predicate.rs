//! Predicate schemas: the JSON Schema an accepted statement's predicate must satisfy.
//! Built in for the predicates threadlog reads (SLSA provenance v1 and v0.2, cosign
//! vulnerability scans, and CycloneDX BOMs, which are checked against the official
//! CycloneDX schema of their declared spec version); an operator may add or replace one per
//! accepted predicate type in the trust policy. Predicate types without a schema (SPDX
//! documents, custom types) are accepted as any JSON object.
//!
//! Pure: a schema's text and a predicate in, violations out; no file is read here.

use super::{fail, AttestationError, Check};
use crate::supplychain::cyclonedx::{self, Encoding};
use jsonschema::Validator;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

const SLSA_V1: &str = include_str!("../../../attestations/schemas/slsa-provenance-v1.schema.json");
const SLSA_V02: &str =
    include_str!("../../../attestations/schemas/slsa-provenance-v0.2.schema.json");
const VULN_V1: &str = include_str!("../../../attestations/schemas/cosign-vuln-v1.schema.json");

/// Violations listed in a refusal; the rest are counted.
const SHOWN: usize = 10;

/// A compiled predicate schema and where it came from.
#[derive(Clone)]
pub struct PredicateSchema {
    /// `builtin:<file>` or the policy's `schema` path.
    pub name: String,
    /// SHA-256 of the schema text, recorded with every predicate checked against it.
    pub sha256: [u8; 32],
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Json(Arc<Validator>),
    CycloneDx,
}

impl std::fmt::Debug for PredicateSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PredicateSchema")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PredicateSchema {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.sha256 == other.sha256
    }
}

impl Eq for PredicateSchema {}

impl PredicateSchema {
    /// Compiles a JSON Schema (its `$schema` picks the draft; 2020-12 when absent) with
    /// format checks on. References outside the document are not fetched.
    pub fn compile(name: &str, text: &[u8]) -> Result<Self, String> {
        let schema: Value =
            serde_json::from_slice(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| format!("not a usable JSON Schema: {e}"))?;
        Ok(PredicateSchema {
            name: name.to_string(),
            sha256: Sha256::digest(text).into(),
            kind: Kind::Json(Arc::new(validator)),
        })
    }

    /// The built-in schema for a predicate type, if threadlog has one.
    pub fn builtin(predicate_type: &str) -> Option<PredicateSchema> {
        static SCHEMAS: OnceLock<[PredicateSchema; 4]> = OnceLock::new();
        let [slsa_v1, slsa_v02, vuln, bom] = SCHEMAS.get_or_init(|| {
            let c = |file: &str, text: &str| {
                PredicateSchema::compile(&format!("builtin:{file}"), text.as_bytes())
                    .expect("the bundled predicate schemas compile")
            };
            [
                c("slsa-provenance-v1.schema.json", SLSA_V1),
                c("slsa-provenance-v0.2.schema.json", SLSA_V02),
                c("cosign-vuln-v1.schema.json", VULN_V1),
                // Name and digest are those of the spec version's schema, known per check.
                PredicateSchema {
                    name: "builtin:cyclonedx".into(),
                    sha256: [0; 32],
                    kind: Kind::CycloneDx,
                },
            ]
        });
        let is_bom = predicate_type == "https://cyclonedx.org/bom"
            || predicate_type
                .strip_prefix("https://cyclonedx.org/bom/")
                .is_some_and(|v| !v.is_empty());
        match predicate_type {
            "https://slsa.dev/provenance/v1" => Some(slsa_v1.clone()),
            "https://slsa.dev/provenance/v0.2" => Some(slsa_v02.clone()),
            "https://cosign.sigstore.dev/attestation/vuln/v1" => Some(vuln.clone()),
            _ if is_bom => Some(bom.clone()),
            _ => None,
        }
    }

    /// Checks a statement's predicate (None when the statement has none); returns the
    /// name and SHA-256 of the schema text it satisfied (for CycloneDX, the official
    /// schema of the BOM's spec version).
    pub fn check(&self, predicate: Option<&Value>) -> Result<(String, [u8; 32]), AttestationError> {
        let refuse = |count: usize, shown: Vec<String>| {
            let more = if count > shown.len() {
                format!("; … and {} more", count - shown.len())
            } else {
                String::new()
            };
            fail(
                Check::Predicate,
                format!(
                    "the predicate does not satisfy the schema {} ({count} violation(s)): {}{more}",
                    self.name,
                    shown.join("; ")
                ),
            )
        };
        let Some(predicate) = predicate else {
            return Err(refuse(1, vec!["the statement has no predicate".into()]));
        };
        match &self.kind {
            Kind::Json(v) => {
                let mut shown = Vec::new();
                let mut count = 0;
                for e in v.iter_errors(predicate) {
                    count += 1;
                    if shown.len() < SHOWN {
                        shown.push(at(e.instance_path().as_str(), &e.to_string()));
                    }
                }
                if count > 0 {
                    return Err(refuse(count, shown));
                }
                Ok((self.name.clone(), self.sha256))
            }
            Kind::CycloneDx => {
                let bytes = serde_json::to_vec(predicate).expect("a JSON value serializes");
                let valid = cyclonedx::validate(&bytes, Encoding::Json).map_err(|e| {
                    let all = e.violations();
                    let mut shown: Vec<String> =
                        all.iter().map(|v| at(&v.path, &v.reason)).collect();
                    if shown.is_empty() {
                        shown.push(e.to_string());
                    }
                    let count = match &e {
                        cyclonedx::CycloneDxError::Invalid { count, .. } => *count,
                        _ => shown.len(),
                    };
                    shown.truncate(SHOWN);
                    refuse(count.max(shown.len()), shown)
                })?;
                let (file, text) = cyclonedx::json_schema(valid.version);
                Ok((format!("builtin:{file}"), Sha256::digest(text).into()))
            }
        }
    }
}

/// A violation as `/predicate/<pointer>: reason`, so the path reads from the statement.
fn at(pointer: &str, reason: &str) -> String {
    if pointer.is_empty() || pointer.starts_with('/') {
        format!("/predicate{pointer}: {reason}")
    } else {
        format!("{pointer}: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slsa() -> Value {
        json!({
            "buildDefinition": {
                "buildType": "https://git.plant.example/ci/build-types/container@v1",
                "externalParameters": {"ref": "refs/tags/v1.0.0"},
                "resolvedDependencies": [
                    {"uri": "git+https://git.plant.example/mes/app", "digest": {"gitCommit": "8f14e45f"}}
                ]
            },
            "runDetails": {
                "builder": {"id": "https://git.plant.example/runners/release@v3"},
                "metadata": {"startedOn": "2026-11-30T10:00:00Z"}
            }
        })
    }

    fn refused(schema: &PredicateSchema, p: &Value) -> String {
        let e = schema.check(Some(p)).unwrap_err();
        assert_eq!(e.check, Check::Predicate);
        e.reason
    }

    #[test]
    fn builtin_schemas_compile_and_are_chosen_by_type() {
        let name = |t: &str| PredicateSchema::builtin(t).map(|s| s.name);
        assert_eq!(
            name("https://slsa.dev/provenance/v1").as_deref(),
            Some("builtin:slsa-provenance-v1.schema.json")
        );
        assert_eq!(
            name("https://slsa.dev/provenance/v0.2").as_deref(),
            Some("builtin:slsa-provenance-v0.2.schema.json")
        );
        assert_eq!(
            name("https://cyclonedx.org/bom/v1.6").as_deref(),
            Some("builtin:cyclonedx")
        );
        assert_eq!(name("https://cyclonedx.org/bom/"), None);
        assert_eq!(name("https://spdx.dev/Document"), None);
        assert_eq!(name("https://slsa.dev/provenance/v1/extra"), None);
    }

    #[test]
    fn slsa_v1_accepts_a_complete_predicate_and_names_each_fault() {
        let s = PredicateSchema::builtin("https://slsa.dev/provenance/v1").unwrap();
        s.check(Some(&slsa())).unwrap();

        let mut p = slsa();
        p["buildDefinition"]
            .as_object_mut()
            .unwrap()
            .remove("buildType");
        assert!(refused(&s, &p).contains("/predicate/buildDefinition: \"buildType\""));

        let mut p = slsa();
        p["runDetails"]["metadata"]["startedOn"] = json!("yesterday");
        assert!(refused(&s, &p).contains("/predicate/runDetails/metadata/startedOn"));

        let mut p = slsa();
        p["buildDefinition"]["resolvedDependencies"][0] =
            json!({"name": "no uri, digest or content"});
        assert!(refused(&s, &p).contains("/predicate/buildDefinition/resolvedDependencies/0"));

        let mut p = slsa();
        p["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"] = json!("not hex");
        assert!(refused(&s, &p).contains("resolvedDependencies/0/digest/sha256"));

        assert!(s
            .check(None)
            .unwrap_err()
            .reason
            .contains("the statement has no predicate"));
    }

    #[test]
    fn many_violations_are_counted_beyond_those_shown() {
        let s = PredicateSchema::builtin("https://slsa.dev/provenance/v1").unwrap();
        let mut p = slsa();
        p["buildDefinition"]["resolvedDependencies"] =
            json!((0..15).map(|_| json!({})).collect::<Vec<_>>());
        let r = refused(&s, &p);
        assert!(r.contains("(15 violation(s))"), "{r}");
        assert!(r.ends_with("… and 5 more"), "{r}");
    }

    #[test]
    fn cosign_vuln_needs_scanner_and_scan_times() {
        let s =
            PredicateSchema::builtin("https://cosign.sigstore.dev/attestation/vuln/v1").unwrap();
        let good = json!({
            "scanner": {"uri": "pkg:github/anchore/grype@0.86.1", "version": "0.86.1", "result": {}},
            "metadata": {"scanStartedOn": "2026-11-30T10:10:00Z", "scanFinishedOn": "2026-11-30T10:10:07Z"}
        });
        s.check(Some(&good)).unwrap();
        let mut bad = good.clone();
        bad["scanner"].as_object_mut().unwrap().remove("version");
        assert!(refused(&s, &bad).contains("/predicate/scanner"));
    }

    #[test]
    fn cyclonedx_predicates_meet_the_official_schema() {
        let s = PredicateSchema::builtin("https://cyclonedx.org/bom").unwrap();
        let bom = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                         "components": [{"type": "library", "name": "requests"}]});
        let (name, sha256) = s.check(Some(&bom)).unwrap();
        assert_eq!(name, "builtin:bom-1.5.schema.json");
        let text = cyclonedx::json_schema(crate::supplychain::cyclonedx::SpecVersion::V1_5).1;
        assert_eq!(sha256, <[u8; 32]>::from(Sha256::digest(text)));
        let mut bad = bom.clone();
        bad["components"][0]["type"] = json!("spaceship");
        assert!(refused(&s, &bad).contains("/predicate/components/0/type"));
    }

    #[test]
    fn an_operator_schema_compiles_or_says_why_not() {
        let s = PredicateSchema::compile(
            "schemas/torque.json",
            br#"{"type": "object", "required": ["newton_metres"]}"#,
        )
        .unwrap();
        s.check(Some(&json!({"newton_metres": 12}))).unwrap();
        assert!(refused(&s, &json!({})).contains("schemas/torque.json"));
        assert!(PredicateSchema::compile("x", b"{")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(PredicateSchema::compile("x", br#"{"type": 7}"#)
            .unwrap_err()
            .contains("not a usable JSON Schema"));
    }
}
