//! The attributes of a `pkcs11:` spec as written: split at `;` (and, for RFC 7512
//! URIs, after `?` at `&`), named, their synonyms merged, each given at most once, and
//! percent-decoded. What the values mean is `spec`'s.

use super::spec::SpecError;

/// A spec's attributes, each the name as written and the raw value; synonyms (`key` and
/// `object`, `module` and `module-path`) share a field, so either may be given once.
#[derive(Default)]
pub(super) struct Attrs<'s> {
    pub(super) module: Option<(&'s str, &'s str)>,
    pub(super) label: Option<(&'s str, &'s str)>,
    pub(super) slot: Option<(&'s str, &'s str)>,
    pub(super) key: Option<(&'s str, &'s str)>,
    pub(super) id: Option<(&'s str, &'s str)>,
    pub(super) pin_value: Option<(&'s str, &'s str)>,
    pub(super) pin_source: Option<(&'s str, &'s str)>,
    pub(super) kind: Option<(&'s str, &'s str)>,
}

impl<'s> Attrs<'s> {
    /// Reads the `;`-separated path attributes and the `&`-separated query ones (after
    /// `?`), refusing unknown, empty and repeated ones.
    pub(super) fn read(rest: &'s str) -> Result<Self, SpecError> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let parts = path
            .split(';')
            .map(|p| (p, false))
            .chain(query.split('&').map(|p| (p, true)))
            .filter(|(p, _)| !p.is_empty());
        let mut attrs = Attrs::default();
        for (part, in_query) in parts {
            let (name, value) = part.split_once('=').ok_or_else(|| SpecError::Field {
                field: part.to_string(),
                problem: "must be name=value".into(),
            })?;
            if value.is_empty() {
                return Err(SpecError::Field {
                    field: name.to_string(),
                    problem: "is empty".into(),
                });
            }
            if attrs
                .field(name, in_query)?
                .replace((name, value))
                .is_some()
            {
                return Err(SpecError::Field {
                    field: name.to_string(),
                    problem: "is given twice".into(),
                });
            }
        }
        Ok(attrs)
    }

    /// The field attribute `name` sets; RFC 7512 puts the module and the PIN in the query.
    fn field(
        &mut self,
        name: &str,
        in_query: bool,
    ) -> Result<&mut Option<(&'s str, &'s str)>, SpecError> {
        Ok(match (name, in_query) {
            ("module", false) | ("module-path", true) => &mut self.module,
            ("token", false) => &mut self.label,
            ("slot", false) | ("slot-id", false) => &mut self.slot,
            ("key", false) | ("object", false) => &mut self.key,
            ("id", false) => &mut self.id,
            ("type", false) => &mut self.kind,
            ("pin-value", true) => &mut self.pin_value,
            ("pin-source", true) => &mut self.pin_source,
            (other, _) => {
                return Err(SpecError::Field {
                    field: other.to_string(),
                    problem: "is not known; use module=, token= or slot=, and key= \
                              (or an RFC 7512 URI with token=, slot-id=, object=, id=, \
                              type=private and module-path=, pin-source= or pin-value=)"
                        .into(),
                })
            }
        })
    }
}

/// An attribute's value, percent-decoded as UTF-8 text.
pub(super) fn text(attr: Option<(&str, &str)>) -> Result<Option<String>, SpecError> {
    attr.map(|(n, v)| percent_decode_text(n, v)).transpose()
}

/// Strict RFC 3986 percent-decoding: every `%` starts an escape of two hex digits.
pub(super) fn percent_decode(field: &str, value: &str) -> Result<Vec<u8>, SpecError> {
    let bad = || SpecError::Encoding(format!("{field}={value}"));
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or_else(bad)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn percent_decode_text(field: &str, value: &str) -> Result<String, SpecError> {
    String::from_utf8(percent_decode(field, value)?).map_err(|_| SpecError::Field {
        field: field.to_string(),
        problem: "is not UTF-8 once decoded".into(),
    })
}
