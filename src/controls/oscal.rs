//! Reading the two OSCAL catalogs, whose shapes differ: the Rev. 2 conversion keeps the
//! requirement text in the title and objectives one level under an `assessment-objective`
//! part with `sp800-171a` labels; the Rev. 3 catalog prefixes ids, marks withdrawn
//! controls, and keeps objectives and parameters on the requirement.

use super::{Catalog, Family, Framework, Objective, Requirement};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("catalog: {0}")]
pub struct CatalogError(String);

fn err(s: impl Into<String>) -> CatalogError {
    CatalogError(s.into())
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, CatalogError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| err(format!("{key} missing in {}", short(v))))
}

fn short(v: &Value) -> String {
    v.get("id")
        .and_then(Value::as_str)
        .unwrap_or("an element")
        .to_string()
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn groups(json: &str) -> Result<Vec<Value>, CatalogError> {
    let v: Value = serde_json::from_str(json).map_err(|e| err(e.to_string()))?;
    Ok(array(&v["catalog"], "groups").to_vec())
}

/// The label prop of class `sp800-171a`, e.g. `3.1.1[a]`.
fn label_171a(v: &Value) -> Option<String> {
    array(v, "props")
        .iter()
        .find(|p| p["name"] == "label" && p["class"] == "sp800-171a")
        .and_then(|p| p["value"].as_str())
        .map(|s| s.trim().to_string())
}

pub fn rev2(json: &str) -> Result<Catalog, CatalogError> {
    let mut families = Vec::new();
    let mut requirements = Vec::new();
    for g in groups(json)? {
        let family = str_of(&g, "id")?.trim().to_string();
        families.push(Family {
            id: family.clone(),
            title: str_of(&g, "title")?.trim().to_string(),
        });
        for c in array(&g, "controls") {
            // Some ids carry spaces (" 3.2.1 ") in this conversion.
            let id = str_of(c, "id")?.trim().to_string();
            let mut objectives = Vec::new();
            for part in array(c, "parts")
                .iter()
                .filter(|p| p["name"] == "assessment-objective")
            {
                for o in array(part, "parts") {
                    let oid = label_171a(o).ok_or_else(|| err(format!("objective of {id}")))?;
                    objectives.push(Objective {
                        id: oid,
                        prose: o["prose"].as_str().unwrap_or_default().trim().to_string(),
                    });
                }
            }
            requirements.push(Requirement {
                id,
                family: family.clone(),
                title: str_of(c, "title")?.trim().to_string(),
                objectives,
                parameters: Vec::new(),
            });
        }
    }
    Ok(Catalog {
        framework: Framework::Rev2,
        families,
        requirements,
    })
}

fn collect_objectives(parts: &[Value], out: &mut Vec<Objective>) {
    for p in parts {
        if p["name"] == "assessment-objective" {
            if let Some(id) = p["id"].as_str() {
                out.push(Objective {
                    id: id
                        .trim_start_matches("assessment-objective_")
                        .trim_start_matches("DS-")
                        .to_string(),
                    prose: p["prose"].as_str().unwrap_or_default().trim().to_string(),
                });
            }
        }
        collect_objectives(array(p, "parts"), out);
    }
}

fn collect_parameters(c: &Value, out: &mut Vec<String>) {
    for p in array(c, "params") {
        if let Some(id) = p["id"].as_str() {
            out.push(id.to_string());
        }
    }
    for child in array(c, "controls") {
        collect_parameters(child, out);
    }
}

pub fn rev3(json: &str) -> Result<Catalog, CatalogError> {
    const PREFIX: &str = "SP_800_171_";
    let mut groups = groups(json)?;
    // The catalog lists families out of numeric order.
    groups.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut families = Vec::new();
    let mut requirements = Vec::new();
    for g in groups {
        let family = str_of(&g, "id")?.trim_start_matches(PREFIX).to_string();
        families.push(Family {
            id: family.clone(),
            title: str_of(&g, "title")?.to_string(),
        });
        let mut controls: Vec<&Value> = array(&g, "controls").iter().collect();
        controls.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        for c in controls {
            let withdrawn = array(c, "props")
                .iter()
                .any(|p| p["name"] == "status" && p["value"] == "withdrawn");
            if withdrawn {
                continue;
            }
            let mut objectives = Vec::new();
            collect_objectives(array(c, "parts"), &mut objectives);
            let mut parameters = Vec::new();
            collect_parameters(c, &mut parameters);
            requirements.push(Requirement {
                id: str_of(c, "id")?.trim_start_matches(PREFIX).to_string(),
                family: family.clone(),
                title: str_of(c, "title")?.to_string(),
                objectives,
                parameters,
            });
        }
    }
    Ok(Catalog {
        framework: Framework::Rev3,
        families,
        requirements,
    })
}
