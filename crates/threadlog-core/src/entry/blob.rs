//! Content-addressed documents: the exact bytes a client uploaded (an SBOM, a DSSE
//! envelope), named by their SHA-256. A leaf binds a blob through its body's `document`
//! member, `{"sha256": "<hex>", "media_type": "...", "size": N}`; the store keeps the bytes
//! once, in the transaction of the first entry that binds them. Pure: hashing only.

use super::EntryError;
use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Uploaded bytes with their digest, computed once when the blob is made.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    sha256: [u8; 32],
    media_type: String,
    data: Bytes,
}

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blob")
            .field("sha256", &hex::encode(self.sha256))
            .field("media_type", &self.media_type)
            .field("size", &self.data.len())
            .finish()
    }
}

impl Blob {
    pub fn new(data: Bytes, media_type: impl Into<String>) -> Self {
        Blob {
            sha256: Sha256::digest(&data).into(),
            media_type: media_type.into(),
            data,
        }
    }

    /// A blob read back (e.g. from a dump) that must have the digest a leaf binds.
    pub fn checked(
        data: Bytes,
        media_type: impl Into<String>,
        sha256: &[u8; 32],
    ) -> Result<Self, String> {
        let b = Blob::new(data, media_type);
        if &b.sha256 != sha256 {
            return Err(format!(
                "its SHA-256 is {}, not the {} the leaf binds",
                hex::encode(b.sha256),
                hex::encode(sha256)
            ));
        }
        Ok(b)
    }

    pub fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }
    pub fn media_type(&self) -> &str {
        &self.media_type
    }
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// The `document` member a leaf's body carries to bind this blob.
    pub fn reference(&self) -> Value {
        json!({
            "sha256": hex::encode(self.sha256),
            "media_type": self.media_type,
            "size": self.data.len(),
        })
    }
}

/// What a leaf says about the blob it binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    pub sha256: [u8; 32],
    pub media_type: String,
    pub size: u64,
}

/// The blob a body binds, if any; a `document` member of the wrong shape is a bad leaf.
pub fn document_ref(body: Option<&Value>) -> Result<Option<DocumentRef>, EntryError> {
    let Some(doc) = body.and_then(|b| b.get("document")) else {
        return Ok(None);
    };
    let bad = |what: &str| EntryError::BadLeaf(format!("document.{what} is missing or malformed"));
    let sha256 = doc
        .get("sha256")
        .and_then(Value::as_str)
        .and_then(parse_hex_digest)
        .ok_or_else(|| bad("sha256"))?;
    let media_type = doc
        .get("media_type")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("media_type"))?
        .to_string();
    let size = doc
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("size"))?;
    Ok(Some(DocumentRef {
        sha256,
        media_type,
        size,
    }))
}

/// 64 lowercase hex digits as a digest.
pub fn parse_hex_digest(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    hex::decode(s).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_named_by_the_sha256_of_its_exact_bytes() {
        let b = Blob::new(Bytes::from_static(b"abc"), "text/plain");
        assert_eq!(
            hex::encode(b.sha256()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let r = document_ref(Some(&json!({ "document": b.reference() })))
            .unwrap()
            .unwrap();
        assert_eq!(&r.sha256, b.sha256());
        assert_eq!(r.size, 3);
        assert!(Blob::checked(Bytes::from_static(b"abd"), "text/plain", b.sha256()).is_err());
        assert!(Blob::checked(Bytes::from_static(b"abc"), "text/plain", b.sha256()).is_ok());
    }

    #[test]
    fn digests_must_be_lowercase_hex_of_32_bytes() {
        assert!(parse_hex_digest(&"A".repeat(64)).is_none());
        assert!(parse_hex_digest(&"a".repeat(63)).is_none());
        assert!(parse_hex_digest(&"a".repeat(64)).is_some());
        assert!(document_ref(Some(&json!({"document": {"sha256": "x"}}))).is_err());
        assert_eq!(document_ref(Some(&json!({"a": 1}))).unwrap(), None);
    }
}
