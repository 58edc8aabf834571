//! Field-by-field checks over JSON objects that name the exact path of what is wrong.

use super::{EntryError, MAX_BATCH};
use serde_json::{Map, Value};

/// A request body of one object or an array of 1 to [`MAX_BATCH`]: each item goes to
/// `each` with its path (`""` alone, `[i]` in an array), and one bad item rejects the
/// whole body. `empty` is the error for an empty array, worded for the kind.
pub fn batch<T>(
    body: &[u8],
    empty: EntryError,
    mut each: impl FnMut(Value, &str) -> Result<T, EntryError>,
) -> Result<Vec<T>, EntryError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| EntryError::Malformed(e.to_string()))?;
    match v {
        Value::Array(items) if items.is_empty() => Err(empty),
        Value::Array(items) if items.len() > MAX_BATCH => {
            Err(EntryError::BatchTooLarge(items.len()))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| each(item, &format!("[{i}]")))
            .collect(),
        single => Ok(vec![each(single, "")?]),
    }
}

const MAX_TEXT: usize = 256;

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A JSON object being validated, with the path that leads to it.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl<'a> Obj<'a> {
    pub fn new(v: &'a Value, path: &str) -> Result<Self, EntryError> {
        match v {
            Value::Object(map) => Ok(Obj {
                map,
                path: path.to_string(),
            }),
            other => Err(EntryError::Invalid {
                path: if path.is_empty() {
                    "$".into()
                } else {
                    path.into()
                },
                reason: format!("expected an object, got {}", type_name(other)),
            }),
        }
    }

    pub fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn err(&self, key: &str, reason: impl Into<String>) -> EntryError {
        EntryError::Invalid {
            path: self.path(key),
            reason: reason.into(),
        }
    }

    pub fn deny_unknown(&self, allowed: &[&str]) -> Result<(), EntryError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                k,
                format!("unknown field; allowed fields are: {}", allowed.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, key: &str, max: usize) -> Result<Option<&'a str>, EntryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => {
                Err(self.err(key, "must not be empty"))
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                Err(self.err(key, format!("longer than {max} characters")))
            }
            Some(Value::String(s)) if s.chars().any(char::is_control) => {
                Err(self.err(key, "contains control characters"))
            }
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => {
                Err(self.err(key, format!("expected a string, got {}", type_name(other))))
            }
        }
    }

    pub fn req_str(&self, key: &str, max: usize) -> Result<&'a str, EntryError> {
        self.opt_str(key, max)?
            .ok_or_else(|| self.err(key, "missing required field"))
    }

    pub fn opt_text(&self, key: &str) -> Result<Option<&'a str>, EntryError> {
        self.opt_str(key, MAX_TEXT)
    }

    pub fn req_text(&self, key: &str) -> Result<&'a str, EntryError> {
        self.req_str(key, MAX_TEXT)
    }

    pub fn opt_number(&self, key: &str) -> Result<Option<f64>, EntryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| self.err(key, "not a finite number")),
            Some(other) => {
                Err(self.err(key, format!("expected a number, got {}", type_name(other))))
            }
        }
    }

    pub fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, EntryError> {
        self.get(key)
            .map(|v| Obj::new(v, &self.path(key)))
            .transpose()
    }

    pub fn req_obj(&self, key: &str) -> Result<Obj<'a>, EntryError> {
        self.opt_obj(key)?
            .ok_or_else(|| self.err(key, "missing required field"))
    }

    /// The elements of an optional array, each with its path.
    pub fn opt_array(&self, key: &str) -> Result<Vec<(String, &'a Value)>, EntryError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}[{i}]", self.path(key)), v))
                .collect()),
            Some(other) => {
                Err(self.err(key, format!("expected an array, got {}", type_name(other))))
            }
        }
    }

    /// Exactly one of `keys` is present; returns it and its value.
    pub fn one_of(&self, keys: &[&'a str]) -> Result<(&'a str, &'a str), EntryError> {
        let mut found = None;
        for k in keys {
            if let Some(v) = self.opt_text(k)? {
                if found.is_some() {
                    return Err(self.err(k, format!("give exactly one of: {}", keys.join(", "))));
                }
                found = Some((*k, v));
            }
        }
        found.ok_or_else(|| EntryError::Invalid {
            path: self.path.clone(),
            reason: format!("one of {} is required", keys.join(", ")),
        })
    }
}

/// `sha256:` followed by 64 lowercase hex digits.
pub fn check_digest(o: &Obj, key: &str, value: &str) -> Result<(), EntryError> {
    let ok = value.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(o.err(
            key,
            format!("{value:?} is not a digest of the form sha256:<64 lowercase hex digits>"),
        ))
    }
}
