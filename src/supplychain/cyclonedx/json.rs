//! JSON documents: the official JSON Schemas (draft-07) with format checks on, their
//! sibling schemas registered under their `$id` URLs so that no reference is fetched.

use super::SbomFacts;
use super::{invalid, CycloneDxError, Encoding, SpecVersion, Validated, Violation, MAX_VIOLATIONS};
use jsonschema::{Draft, Registry, Resource, Validator};
use serde_json::Value;
use std::sync::OnceLock;

const BOM_1_4: &str = include_str!("../../../schemas/cyclonedx/bom-1.4.schema.json");
const BOM_1_5: &str = include_str!("../../../schemas/cyclonedx/bom-1.5.schema.json");
const BOM_1_6: &str = include_str!("../../../schemas/cyclonedx/bom-1.6.schema.json");
const SPDX: &str = include_str!("../../../schemas/cyclonedx/spdx.schema.json");
const JSF: &str = include_str!("../../../schemas/cyclonedx/jsf-0.82.schema.json");

/// The official JSON Schema of a spec version, as bundled: its file name and text.
pub fn schema(version: SpecVersion) -> (&'static str, &'static str) {
    match version {
        SpecVersion::V1_4 => ("bom-1.4.schema.json", BOM_1_4),
        SpecVersion::V1_5 => ("bom-1.5.schema.json", BOM_1_5),
        SpecVersion::V1_6 => ("bom-1.6.schema.json", BOM_1_6),
    }
}

/// Compiled once per version, on first use; compiling takes a few milliseconds.
fn validator(version: SpecVersion) -> &'static Validator {
    static CELLS: [OnceLock<Validator>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let cell = &CELLS[version as usize];
    cell.get_or_init(|| compile(schema(version).1).expect("the bundled CycloneDX schemas compile"))
}

fn compile(text: &str) -> Result<Validator, String> {
    let parse = |t: &str| serde_json::from_str::<Value>(t).map_err(|e| e.to_string());
    let schema = parse(text)?;
    let spdx = parse(SPDX)?;
    let jsf = parse(JSF)?;
    let registry = Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            Resource::from_contents(spdx),
        )
        .and_then(|r| {
            r.add(
                "http://cyclonedx.org/schema/jsf-0.82.schema.json",
                Resource::from_contents(jsf),
            )
        })
        .and_then(|r| r.prepare())
        .map_err(|e| e.to_string())?;
    jsonschema::options()
        .with_draft(Draft::Draft7)
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&schema)
        .map_err(|e| e.to_string())
}

fn malformed(e: &serde_json::Error) -> CycloneDxError {
    CycloneDxError::Malformed(
        Violation {
            path: format!("line {}, column {}", e.line(), e.column()),
            reason: e.to_string(),
        },
        "JSON",
    )
}

pub(super) fn validate(bytes: &[u8]) -> Result<Validated, CycloneDxError> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| malformed(&e))?;
    let declared = doc.get("specVersion");
    let version = match declared {
        Some(Value::String(v)) => SpecVersion::parse(v)?,
        // Without a readable specVersion there is no schema to pick; say what is missing
        // as the schema would.
        _ => {
            return Err(CycloneDxError::Invalid {
                version: "any".into(),
                count: 1,
                violations: vec![Violation {
                    path: "/specVersion".into(),
                    reason:
                        "a string naming the CycloneDX spec version (1.4, 1.5 or 1.6) is required"
                            .into(),
                }],
            })
        }
    };
    let v = validator(version);
    let mut violations = Vec::new();
    let mut total = 0;
    for e in v.iter_errors(&doc) {
        total += 1;
        if violations.len() < MAX_VIOLATIONS {
            violations.push(Violation {
                path: e.instance_path().as_str().to_string(),
                reason: e.to_string(),
            });
        }
    }
    if total > 0 {
        return Err(invalid(version, violations, total));
    }
    Ok(Validated {
        version,
        encoding: Encoding::Json,
        facts: SbomFacts {
            encoding: "json",
            spec_version: version.as_str().into(),
            serial_number: doc
                .get("serialNumber")
                .and_then(Value::as_str)
                .map(str::to_string),
            components: count(doc.get("components")),
        },
    })
}

/// Components, nested ones included.
fn count(list: Option<&Value>) -> u64 {
    list.and_then(Value::as_array).map_or(0, |items| {
        items.iter().map(|c| 1 + count(c.get("components"))).sum()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(doc: &Value) -> Result<Validated, CycloneDxError> {
        validate(&serde_json::to_vec(doc).unwrap())
    }

    #[test]
    fn every_supported_schema_compiles_offline() {
        for v in [SpecVersion::V1_4, SpecVersion::V1_5, SpecVersion::V1_6] {
            compile(match v {
                SpecVersion::V1_4 => BOM_1_4,
                SpecVersion::V1_5 => BOM_1_5,
                SpecVersion::V1_6 => BOM_1_6,
            })
            .unwrap();
        }
    }

    #[test]
    fn a_minimal_document_validates_and_counts_nested_components() {
        let ok = check(&json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "components": [
                {"type": "library", "name": "a", "components": [{"type": "library", "name": "b"}]},
                {"type": "library", "name": "c"}
            ]
        }))
        .unwrap();
        assert_eq!(ok.facts.components, 3);
        assert_eq!(ok.version, SpecVersion::V1_5);
    }

    #[test]
    fn formats_are_checked() {
        let err = check(&json!({
            "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
            "metadata": {"timestamp": "yesterday"}
        }))
        .unwrap_err();
        let v = err.violations();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].path, "/metadata/timestamp");
        assert!(v[0].reason.contains("date-time"), "{}", v[0].reason);
    }

    #[test]
    fn references_into_the_spdx_schema_resolve() {
        let doc = |id: &str| {
            json!({"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1,
                "components": [{"type": "library", "name": "a",
                    "licenses": [{"license": {"id": id}}]}]})
        };
        assert!(check(&doc("Apache-2.0")).is_ok());
        let v = check(&doc("Not-A-License")).unwrap_err().violations();
        assert_eq!(v[0].path, "/components/0/licenses/0/license/id", "{v:?}");
    }

    #[test]
    fn versions_outside_1_4_to_1_6_are_refused_by_name() {
        for v in ["1.3", "1.7", "2.0"] {
            let doc = json!({"bomFormat": "CycloneDX", "specVersion": v, "version": 1});
            assert_eq!(
                check(&doc).unwrap_err(),
                CycloneDxError::UnsupportedVersion(v.into())
            );
        }
        assert!(matches!(
            check(&json!({"bomFormat": "CycloneDX"})).unwrap_err(),
            CycloneDxError::Invalid { .. }
        ));
        assert!(matches!(
            validate(b"{\"bomFormat\": ").unwrap_err(),
            CycloneDxError::Malformed(..)
        ));
    }
}
