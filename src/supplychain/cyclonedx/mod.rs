//! CycloneDX 1.4, 1.5 and 1.6 documents, JSON or XML: validation against the official
//! schema of the spec version a document declares (`schemas/cyclonedx/`: JSON Schema with
//! format checks, XSD), and the facts an `sbom` leaf records. A document that fails
//! validation yields every violation found (up to [`MAX_VIOLATIONS`]) with where it is and
//! why; nothing about it may be logged.
//!
//! Spec: <https://cyclonedx.org/specification/overview/>. The `cyclonedx-bom` crate is not
//! used to validate: it checks its own rules rather than the schemas and drops unknown
//! fields.

mod components;
mod json;
mod xml;

pub use components::{components, Component};
pub use json::schema as json_schema;

/// More violations than this are counted, not listed.
pub const MAX_VIOLATIONS: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Xml,
}

impl Encoding {
    /// The encoding a request's `Content-Type` declares; `None` for anything else.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/vnd.cyclonedx+json" | "application/json" => Some(Encoding::Json),
            "application/vnd.cyclonedx+xml" | "application/xml" | "text/xml" => Some(Encoding::Xml),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::Xml => "xml",
        }
    }

    /// The CycloneDX media type of a document of `version`, as stored and served.
    pub fn media_type(&self, version: SpecVersion) -> String {
        format!(
            "application/vnd.cyclonedx+{}; version={}",
            self.as_str(),
            version.as_str()
        )
    }
}

/// The spec versions threadlog validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecVersion {
    V1_4,
    V1_5,
    V1_6,
}

pub const SUPPORTED: &str = "1.4, 1.5 and 1.6";

impl SpecVersion {
    pub fn parse(s: &str) -> Result<SpecVersion, CycloneDxError> {
        match s {
            "1.4" => Ok(SpecVersion::V1_4),
            "1.5" => Ok(SpecVersion::V1_5),
            "1.6" => Ok(SpecVersion::V1_6),
            other => Err(CycloneDxError::UnsupportedVersion(other.to_string())),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            SpecVersion::V1_4 => "1.4",
            SpecVersion::V1_5 => "1.5",
            SpecVersion::V1_6 => "1.6",
        }
    }
}

/// One place where a document breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// A JSON Pointer into a JSON document (`/components/3/hashes/0/alg`); for an XML
    /// document an XPath to the element or attribute with its line
    /// (`/bom/components/component[3]/@type (line 12)`), or only `line N, column C` where
    /// no element is known (a document that is not well-formed).
    pub path: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CycloneDxError {
    /// Not parseable as JSON or XML at all.
    #[error("the document is not well-formed {enc} ({path}: {reason})", enc = .1, path = .0.path, reason = .0.reason)]
    Malformed(Violation, &'static str),
    /// XML that declares a DTD or entities, or uses XInclude: refused before parsing.
    #[error("the document was refused unparsed ({path}: {reason})", path = .0.path, reason = .0.reason)]
    Unsafe(Violation),
    #[error("CycloneDX spec version {0:?} is not supported; threadlog validates {SUPPORTED}")]
    UnsupportedVersion(String),
    /// Well-formed, but not a CycloneDX document of a supported version per its schema.
    #[error("the document does not validate against the CycloneDX {version} schema: {count} violation(s)")]
    Invalid {
        version: String,
        count: usize,
        violations: Vec<Violation>,
    },
}

impl CycloneDxError {
    /// Where and why, for the client.
    pub fn violations(&self) -> Vec<Violation> {
        match self {
            CycloneDxError::Malformed(v, _) | CycloneDxError::Unsafe(v) => vec![v.clone()],
            CycloneDxError::UnsupportedVersion(_) => Vec::new(),
            CycloneDxError::Invalid { violations, .. } => violations.clone(),
        }
    }
}

/// What validation read from a CycloneDX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomFacts {
    /// `json` or `xml`.
    pub encoding: &'static str,
    pub spec_version: String,
    pub serial_number: Option<String>,
    /// Every component, nested ones included; the metadata's own component excluded.
    pub components: u64,
}

/// A document that validated against its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub version: SpecVersion,
    pub encoding: Encoding,
    pub facts: SbomFacts,
}

impl Validated {
    pub fn media_type(&self) -> String {
        self.encoding.media_type(self.version)
    }
}

/// Validates `bytes` as a CycloneDX document in `encoding` against the official schema
/// of the spec version it declares. CPU-bound (a large document takes tens of
/// milliseconds): run it off the async executor.
pub fn validate(bytes: &[u8], encoding: Encoding) -> Result<Validated, CycloneDxError> {
    match encoding {
        Encoding::Json => json::validate(bytes),
        Encoding::Xml => xml::validate(bytes),
    }
}

fn invalid(version: SpecVersion, mut violations: Vec<Violation>, total: usize) -> CycloneDxError {
    if total > violations.len() {
        violations.push(Violation {
            path: String::new(),
            reason: format!("… and {} more", total - violations.len()),
        });
    }
    CycloneDxError::Invalid {
        version: version.as_str().into(),
        count: total,
        violations,
    }
}
