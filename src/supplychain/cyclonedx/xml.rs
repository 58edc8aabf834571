//! XML documents: the official XSDs, through libxml2 (the `libxml` crate). No Rust crate
//! validates full XSD 1.0, so this is the one part of validation in C.
//!
//! Offline and closed: an uploaded document that declares a DTD or an entity, or uses
//! XInclude, is refused by a scan of its raw bytes ([`refuse_unsafe`]) before libxml2 sees
//! any of it (CycloneDX needs none of these, and each is a way to make a parser read files,
//! the network or unbounded memory). Behind that, documents are parsed without entity
//! substitution, DTD loading or network, and a process-wide external-entity loader answers
//! the one import the XSDs make (`http://cyclonedx.org/schema/spdx`) from the bundled
//! `spdx.xsd` and refuses every other URL or file. libxml2 objects are not `Send`: each
//! thread compiles its own schemas once.

use super::SbomFacts;
use super::{invalid, CycloneDxError, Encoding, SpecVersion, Validated, Violation, MAX_VIOLATIONS};
use libxml::bindings;
use libxml::parser::{Parser, ParserOptions};
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use libxml::tree::{Document, Node, NodeType};
use std::cell::RefCell;
use std::ffi::CStr;
use std::os::raw::c_char;
use std::sync::Once;

const BOM_1_4: &str = include_str!("../../../schemas/cyclonedx/bom-1.4.xsd");
const BOM_1_5: &str = include_str!("../../../schemas/cyclonedx/bom-1.5.xsd");
const BOM_1_6: &str = include_str!("../../../schemas/cyclonedx/bom-1.6.xsd");
/// NUL-terminated for libxml2's string input.
const SPDX_XSD: &str = concat!(include_str!("../../../schemas/cyclonedx/spdx.xsd"), "\0");
const SPDX_URL: &[u8] = b"http://cyclonedx.org/schema/spdx";

const NS_PREFIX: &str = "http://cyclonedx.org/schema/bom/";

/// Serves the bundled `spdx.xsd` for its import URL and nothing else.
unsafe extern "C" fn offline_loader(
    url: *const c_char,
    _id: *const c_char,
    ctxt: bindings::xmlParserCtxtPtr,
) -> bindings::xmlParserInputPtr {
    // SAFETY: libxml2 passes a NUL-terminated URL or null.
    if !url.is_null() && unsafe { CStr::from_ptr(url) }.to_bytes() == SPDX_URL {
        // SAFETY: the buffer is static and NUL-terminated; libxml2 copies it.
        return unsafe { bindings::xmlNewStringInputStream(ctxt, SPDX_XSD.as_ptr()) };
    }
    std::ptr::null_mut()
}

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: called once, before any parsing in this process by this module.
        unsafe {
            bindings::xmlInitParser();
            bindings::xmlSetExternalEntityLoader(Some(offline_loader));
        }
    });
}

thread_local! {
    static SCHEMAS: RefCell<[Option<SchemaValidationContext>; 3]> =
        const { RefCell::new([None, None, None]) };
}

fn compile(version: SpecVersion) -> Result<SchemaValidationContext, String> {
    let text = match version {
        SpecVersion::V1_4 => BOM_1_4,
        SpecVersion::V1_5 => BOM_1_5,
        SpecVersion::V1_6 => BOM_1_6,
    };
    let mut parser = SchemaParserContext::from_buffer(text);
    SchemaValidationContext::from_parser(&mut parser).map_err(|errors| {
        errors
            .iter()
            .filter_map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn with_schema<T>(
    version: SpecVersion,
    f: impl FnOnce(&mut SchemaValidationContext) -> T,
) -> Result<T, String> {
    SCHEMAS.with(|cell| {
        let mut slots = cell.borrow_mut();
        let slot = &mut slots[version as usize];
        if slot.is_none() {
            *slot = Some(compile(version)?);
        }
        Ok(f(slot.as_mut().expect("compiled above")))
    })
}

fn last_error() -> Violation {
    // SAFETY: libxml2 keeps the last error per thread; it stays valid until the next call.
    let e = unsafe { bindings::xmlGetLastError() };
    if e.is_null() {
        return Violation {
            path: String::new(),
            reason: "not well-formed XML".into(),
        };
    }
    // SAFETY: non-null, points to libxml2's thread-local error record.
    let e = unsafe { &*e };
    let reason = if e.message.is_null() {
        "not well-formed XML".to_string()
    } else {
        // SAFETY: a NUL-terminated message owned by the error record.
        unsafe { CStr::from_ptr(e.message) }
            .to_string_lossy()
            .trim()
            .to_string()
    };
    Violation {
        path: format!("line {}, column {}", e.line, e.int2),
        reason,
    }
}

/// What a CycloneDX document never needs and a hostile one uses: a DTD (and with it
/// internal or external entities, parameter entities, billion laughs) or XInclude.
const FORBIDDEN: [(&[u8], &str); 4] = [
    (b"<!doctype", "a DOCTYPE declaration"),
    (b"<!entity", "an entity declaration"),
    (b"http://www.w3.org/2001/xinclude", "the XInclude namespace"),
    (b"<xi:include", "an XInclude element"),
];

/// Refuses, from the raw bytes and before any parsing, a document that declares a DTD or
/// an entity or uses XInclude, or that is not UTF-8 (in UTF-16 or another declared
/// encoding those markers would hide from a byte scan).
fn refuse_unsafe(bytes: &[u8]) -> Result<(), CycloneDxError> {
    let refuse = |at: usize, what: &str| {
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        CycloneDxError::Unsafe(Violation {
            path: format!("line {line}"),
            reason: format!(
                "{what} is not accepted: CycloneDX documents need no DTD, entities or \
                 XInclude, so threadlog refuses them unparsed"
            ),
        })
    };
    if bytes.starts_with(&[0xfe, 0xff]) || bytes.starts_with(&[0xff, 0xfe]) {
        return Err(refuse(0, "a UTF-16 document"));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(refuse(at, "a NUL byte (a document not in UTF-8)"));
    }
    let lower = bytes.to_ascii_lowercase();
    for (needle, what) in FORBIDDEN {
        if let Some(at) = lower.windows(needle.len()).position(|w| w == needle) {
            return Err(refuse(at, what));
        }
    }
    if let Some(enc) = declared_encoding(&lower) {
        if !matches!(enc, b"utf-8" | b"utf8" | b"us-ascii" | b"ascii") {
            return Err(refuse(
                0,
                &format!(
                    "the declared encoding {:?} (only UTF-8 is read)",
                    String::from_utf8_lossy(enc)
                ),
            ));
        }
    }
    Ok(())
}

/// The `encoding` of the XML declaration `<?xml … encoding="…"?>`, lowercased input.
fn declared_encoding(lower: &[u8]) -> Option<&[u8]> {
    let start = lower.strip_prefix(b"\xef\xbb\xbf").unwrap_or(lower);
    let decl = start.strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = &decl[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let rest = &decl[at + 8..];
    let q = rest.iter().position(|&b| b == b'"' || b == b'\'')?;
    let quote = rest[q];
    let value = &rest[q + 1..];
    let close = value.iter().position(|&b| b == quote)?;
    Some(&value[..close])
}

fn parse(bytes: &[u8]) -> Result<Document, CycloneDxError> {
    refuse_unsafe(bytes)?;
    init();
    // SAFETY: resets this thread's error record so a stale error is never reported.
    unsafe { bindings::xmlResetLastError() };
    // Entity substitution (NOENT), DTD loading (DTDLOAD/DTDATTR) and huge documents stay
    // off, their libxml2 defaults; the network is forbidden outright.
    let opts = ParserOptions {
        recover: false,
        no_net: true,
        no_error: true,
        no_warning: true,
        ..ParserOptions::default()
    };
    Parser::default()
        .parse_string_with_options(bytes, opts)
        .map_err(|_| CycloneDxError::Malformed(last_error(), "XML"))
}

/// The spec version a root element's namespace declares.
fn declared_version(root: &Node) -> Result<SpecVersion, CycloneDxError> {
    let ns = root
        .get_namespace()
        .map(|n| n.get_href())
        .unwrap_or_default();
    let not_bom = || CycloneDxError::Invalid {
        version: "any".into(),
        count: 1,
        violations: vec![Violation {
            path: "/".into(),
            reason: format!(
                "the root element must be <bom> in the namespace {NS_PREFIX}<version>, \
                 not <{}> in {ns:?}",
                root.get_name()
            ),
        }],
    };
    if root.get_name() != "bom" {
        return Err(not_bom());
    }
    match ns.strip_prefix(NS_PREFIX) {
        Some(v) => SpecVersion::parse(v),
        None => Err(not_bom()),
    }
}

pub(super) fn validate(bytes: &[u8]) -> Result<Validated, CycloneDxError> {
    let doc = parse(bytes)?;
    let root = doc.get_root_element().ok_or_else(|| {
        CycloneDxError::Malformed(
            Violation {
                path: "line 1".into(),
                reason: "no root element".into(),
            },
            "XML",
        )
    })?;
    let version = declared_version(&root)?;
    let outcome = with_schema(version, |schema| {
        let outcome = schema.validate_document(&doc);
        // Warnings on a valid document would otherwise pile up in this thread's context.
        schema.drain_errors();
        outcome
    })
    // The bundled schemas always compile; failing to is a broken build.
    .expect("the bundled CycloneDX XSDs compile");
    if let Err(errors) = outcome {
        let total = errors.len().max(1);
        let violations = errors
            .iter()
            .take(MAX_VIOLATIONS)
            .map(|e| {
                let reason = e.message.as_deref().unwrap_or("invalid").trim().to_string();
                let at = match (e.line, e.col) {
                    (Some(l), Some(c)) if c > 0 => format!("line {l}, column {c}"),
                    (Some(l), _) => format!("line {l}"),
                    _ => String::new(),
                };
                let path = match e.line.and_then(|l| element_path(&root, l, &reason)) {
                    Some(xpath) if at.is_empty() => xpath,
                    Some(xpath) => format!("{xpath} ({at})"),
                    None => at,
                };
                Violation { path, reason }
            })
            .collect();
        return Err(invalid(version, violations, total));
    }
    Ok(Validated {
        version,
        encoding: Encoding::Xml,
        facts: SbomFacts {
            encoding: "xml",
            spec_version: version.as_str().into(),
            serial_number: root.get_attribute("serialNumber"),
            components: count(&root),
        },
    })
}

/// The quoted name after `label` in a libxml2 schema message, without its `{namespace}`:
/// `Element '{ns}component', attribute 'type': …` gives `component` and `type`.
fn quoted<'a>(message: &'a str, label: &str) -> Option<&'a str> {
    let rest = &message[message.find(label)? + label.len()..];
    let name = &rest[..rest.find('\'')?];
    Some(name.rsplit_once('}').map_or(name, |(_, local)| local))
}

/// An XPath to the element a schema message names, found by its name and line:
/// `/bom/components/component[3]/@type`. Positions are given where siblings share the
/// name. None when the message names no element or none is on that line.
fn element_path(root: &Node, line: i32, message: &str) -> Option<String> {
    let name = quoted(message, "Element '")?;
    let node = find_element(root, name, i64::from(line))?;
    let mut segments = Vec::new();
    let mut cur = Some(node);
    while let Some(n) = cur.filter(|n| n.get_type() == Some(NodeType::ElementNode)) {
        let same =
            |s: &Node| s.get_type() == Some(NodeType::ElementNode) && s.get_name() == n.get_name();
        let before = std::iter::successors(n.get_prev_sibling(), Node::get_prev_sibling)
            .filter(same)
            .count();
        let after = std::iter::successors(n.get_next_sibling(), Node::get_next_sibling)
            .filter(same)
            .count();
        segments.push(if before + after > 0 {
            format!("{}[{}]", n.get_name(), before + 1)
        } else {
            n.get_name()
        });
        cur = n.get_parent();
    }
    segments.reverse();
    let mut path = format!("/{}", segments.join("/"));
    if let Some(attr) = quoted(message, "attribute '") {
        path.push_str("/@");
        path.push_str(attr);
    }
    Some(path)
}

/// The first element in document order named `name` that starts on `line`.
fn find_element(node: &Node, name: &str, line: i64) -> Option<Node> {
    // SAFETY: the node belongs to a live document borrowed for this call.
    let on_line = unsafe { bindings::xmlGetLineNo(node.node_ptr()) } == line;
    if on_line && node.get_name() == name {
        return Some(node.clone());
    }
    node.get_child_elements()
        .iter()
        .find_map(|c| find_element(c, name, line))
}

/// Children of `node` named `name` in the document's namespace.
pub(super) fn children<'a>(node: &'a Node, name: &'a str) -> impl Iterator<Item = Node> + 'a {
    node.get_child_elements()
        .into_iter()
        .filter(move |c| c.get_name() == name)
}

/// Components under `<components>`, nested ones included.
fn count(parent: &Node) -> u64 {
    children(parent, "components")
        .flat_map(|list| children(&list, "component").collect::<Vec<_>>())
        .map(|c| 1 + count(&c))
        .sum()
}

/// Parses a document that validated before (a stored blob) for reading its components.
pub(super) fn parse_stored(bytes: &[u8]) -> Result<Document, CycloneDxError> {
    parse(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = "http://cyclonedx.org/schema/bom/1.5";

    #[test]
    fn every_supported_xsd_compiles_offline() {
        init();
        for v in [SpecVersion::V1_4, SpecVersion::V1_5, SpecVersion::V1_6] {
            compile(v).unwrap();
        }
    }

    #[test]
    fn a_minimal_document_validates_and_counts_components() {
        let doc = format!(
            r#"<?xml version="1.0"?><bom xmlns="{NS}" version="1" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79">
<components><component type="library"><name>a</name><components><component type="library"><name>b</name></component></components></component></components></bom>"#
        );
        let ok = validate(doc.as_bytes()).unwrap();
        assert_eq!(ok.facts.components, 2);
        assert_eq!(
            ok.facts.serial_number.as_deref(),
            Some("urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79")
        );
    }

    #[test]
    fn violations_name_the_line() {
        let doc = format!(
            "<bom xmlns=\"{NS}\" version=\"1\">\n<components>\n<component type=\"gadget\"><name>a</name></component>\n</components></bom>"
        );
        let v = validate(doc.as_bytes()).unwrap_err().violations();
        assert_eq!(
            v[0].path, "/bom/components/component/@type (line 3)",
            "{v:?}"
        );
        assert!(v[0].reason.contains("gadget"), "{v:?}");
    }

    #[test]
    fn violations_name_the_element_among_its_siblings() {
        let doc = format!(
            "<bom xmlns=\"{NS}\" version=\"1\">\n<components>\n\
             <component type=\"library\"><name>a</name></component>\n\
             <component type=\"library\"><name>b</name><hashes><hash alg=\"SHA-256\">zz</hash></hashes></component>\n\
             <component type=\"library\"><nome>c</nome></component>\n\
             </components></bom>"
        );
        let v = validate(doc.as_bytes()).unwrap_err().violations();
        let mut paths: Vec<&str> = v.iter().map(|v| v.path.as_str()).collect();
        // libxml2 may report a facet and the type it belongs to for the same element.
        paths.dedup();
        assert_eq!(
            paths,
            [
                "/bom/components/component[2]/hashes/hash (line 4)",
                "/bom/components/component[3]/nome (line 5)",
            ],
            "{v:?}"
        );
    }

    #[test]
    fn dtds_entities_and_xinclude_are_refused_before_parsing() {
        let bom = format!("<bom xmlns=\"{NS}\" version=\"1\"/>");
        let cases = [
            (
                format!("<?xml version=\"1.0\"?>\n<!DOCTYPE bom [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n{bom}"),
                "line 2",
                "DOCTYPE",
            ),
            (format!("<!doctype bom>{bom}"), "line 1", "DOCTYPE"),
            (format!("{bom}<!ENTITY x \"y\">"), "line 1", "entity"),
            (
                format!("<bom xmlns=\"{NS}\" xmlns:xi=\"http://www.w3.org/2001/XInclude\"/>"),
                "line 1",
                "XInclude namespace",
            ),
            (format!("<bom xmlns=\"{NS}\"><xi:include href=\"/etc/passwd\"/></bom>"), "line 1", "XInclude element"),
            (
                format!("<?xml version=\"1.0\" encoding=\"UTF-7\"?>{bom}"),
                "line 1",
                "\"utf-7\"",
            ),
        ];
        for (doc, line, what) in cases {
            match validate(doc.as_bytes()).unwrap_err() {
                CycloneDxError::Unsafe(v) => {
                    assert_eq!(v.path, line, "{doc}");
                    assert!(v.reason.contains(what), "{doc}: {}", v.reason);
                }
                other => panic!("{doc}: {other:?}"),
            }
        }
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(bom.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert!(matches!(
            validate(&utf16).unwrap_err(),
            CycloneDxError::Unsafe(_)
        ));
        // A stored document is read through the same gate.
        assert!(matches!(
            parse_stored(b"<!DOCTYPE x><x/>"),
            Err(CycloneDxError::Unsafe(_))
        ));
        assert_eq!(
            declared_encoding(b"<?xml version='1.0' encoding='utf-8'?><a/>"),
            Some(&b"utf-8"[..])
        );
    }

    #[test]
    fn other_versions_and_roots_are_refused() {
        let v13 = "<bom xmlns=\"http://cyclonedx.org/schema/bom/1.3\" version=\"1\"/>";
        assert_eq!(
            validate(v13.as_bytes()).unwrap_err(),
            CycloneDxError::UnsupportedVersion("1.3".into())
        );
        assert!(matches!(
            validate(b"<sbom/>").unwrap_err(),
            CycloneDxError::Invalid { .. }
        ));
        assert!(matches!(
            validate(b"<bom xmlns=").unwrap_err(),
            CycloneDxError::Malformed(..)
        ));
    }
}
