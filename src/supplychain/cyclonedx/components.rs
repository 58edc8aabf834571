//! The components of a validated document, flattened (nested ones included), in the
//! shape `diff` compares: identity, version, hashes and licenses.

use super::xml::{children, parse_stored};
use super::{CycloneDxError, Encoding};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// `ALG:content`, e.g. `SHA-256:9f86…`.
    pub hashes: BTreeSet<String>,
    /// SPDX ids, license names, or expressions.
    pub licenses: BTreeSet<String>,
}

/// Every component of a document that validated as `encoding` before.
pub fn components(bytes: &[u8], encoding: Encoding) -> Result<Vec<Component>, CycloneDxError> {
    let mut out = Vec::new();
    match encoding {
        Encoding::Json => {
            let doc: Value = serde_json::from_slice(bytes).map_err(|e| {
                CycloneDxError::Malformed(
                    super::Violation {
                        path: format!("line {}", e.line()),
                        reason: e.to_string(),
                    },
                    "JSON",
                )
            })?;
            json_components(doc.get("components"), &mut out);
        }
        Encoding::Xml => {
            let doc = parse_stored(bytes)?;
            if let Some(root) = doc.get_root_element() {
                xml_components(&root, &mut out);
            }
        }
    }
    Ok(out)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

fn json_components(list: Option<&Value>, out: &mut Vec<Component>) {
    for c in list.and_then(Value::as_array).into_iter().flatten() {
        let hashes = c
            .get("hashes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| {
                Some(format!(
                    "{}:{}",
                    h.get("alg")?.as_str()?,
                    h.get("content")?.as_str()?
                ))
            })
            .collect();
        let licenses = c
            .get("licenses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| {
                text(l.get("expression"))
                    .or_else(|| text(l.get("license").and_then(|x| x.get("id"))))
                    .or_else(|| text(l.get("license").and_then(|x| x.get("name"))))
            })
            .collect();
        out.push(Component {
            name: text(c.get("name")).unwrap_or_default(),
            group: text(c.get("group")),
            version: text(c.get("version")),
            purl: text(c.get("purl")),
            bom_ref: text(c.get("bom-ref")),
            hashes,
            licenses,
        });
        json_components(c.get("components"), out);
    }
}

fn child_text(node: &libxml::tree::Node, name: &str) -> Option<String> {
    children(node, name)
        .next()
        .map(|n| n.get_content().trim().to_string())
}

fn xml_components(parent: &libxml::tree::Node, out: &mut Vec<Component>) {
    for list in children(parent, "components") {
        for c in children(&list, "component") {
            let hashes = children(&c, "hashes")
                .flat_map(|hs| children(&hs, "hash").collect::<Vec<_>>())
                .map(|h| {
                    format!(
                        "{}:{}",
                        h.get_attribute("alg").unwrap_or_default(),
                        h.get_content().trim()
                    )
                })
                .collect();
            let mut licenses = BTreeSet::new();
            for ls in children(&c, "licenses") {
                for l in ls.get_child_elements() {
                    let v = match l.get_name().as_str() {
                        "expression" => Some(l.get_content().trim().to_string()),
                        "license" => child_text(&l, "id").or_else(|| child_text(&l, "name")),
                        _ => None,
                    };
                    licenses.extend(v);
                }
            }
            out.push(Component {
                name: child_text(&c, "name").unwrap_or_default(),
                group: child_text(&c, "group"),
                version: child_text(&c, "version"),
                purl: child_text(&c, "purl"),
                bom_ref: c.get_attribute("bom-ref"),
                hashes,
                licenses,
            });
            xml_components(&c, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_xml_read_the_same_component() {
        let json = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[
            {"type":"library","bom-ref":"r1","name":"serde","version":"1.0.1","purl":"pkg:cargo/serde@1.0.1",
             "hashes":[{"alg":"SHA-256","content":"ab"}],"licenses":[{"expression":"MIT OR Apache-2.0"}]}]}"#;
        let xml = br#"<bom xmlns="http://cyclonedx.org/schema/bom/1.5" version="1"><components>
            <component type="library" bom-ref="r1"><name>serde</name><version>1.0.1</version>
            <hashes><hash alg="SHA-256">ab</hash></hashes>
            <licenses><expression>MIT OR Apache-2.0</expression></licenses>
            <purl>pkg:cargo/serde@1.0.1</purl></component></components></bom>"#;
        let a = components(json, Encoding::Json).unwrap();
        let b = components(xml, Encoding::Xml).unwrap();
        assert_eq!(a, b);
        assert_eq!(a[0].hashes.iter().next().unwrap(), "SHA-256:ab");
    }
}
