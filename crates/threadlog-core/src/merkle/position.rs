//! Leaf indices and tree sizes as they arrive from outside (URLs, JSON, command lines):
//! the one place their range is checked. Every tree this log can hold has fewer than
//! 2^63 leaves, because stores keep indices in signed 64-bit SQL integers; a number at or
//! above that is malformed input, never a position to look up. Pure: no I/O.

use std::fmt;
use std::str::FromStr;

/// The largest tree size, and one more than the largest leaf index, a log can hold.
pub const MAX_TREE_SIZE: u64 = i64::MAX as u64;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PositionError {
    #[error("{what} {value:?} is not a non-negative integer")]
    NotANumber { what: &'static str, value: String },
    #[error("{what} {value} is beyond the largest tree a log can hold ({MAX_TREE_SIZE} leaves)")]
    OutOfRange { what: &'static str, value: String },
}

fn parse(what: &'static str, s: &str, max: u64) -> Result<u64, PositionError> {
    // `u64::from_str` takes a leading `+`; a position is digits only.
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits {
        return Err(PositionError::NotANumber {
            what,
            value: s.chars().take(64).collect(),
        });
    }
    let v: u64 = s.parse().map_err(|_| PositionError::OutOfRange {
        what,
        value: s.chars().take(64).collect(),
    })?;
    check(what, v, max)
}

fn check(what: &'static str, value: u64, max: u64) -> Result<u64, PositionError> {
    if value > max {
        return Err(PositionError::OutOfRange {
            what,
            value: value.to_string(),
        });
    }
    Ok(value)
}

/// Reads a position from a JSON number or from text (query strings and paths arrive as
/// text), so every form of outside input gets the same checks and messages.
struct PositionVisitor(&'static str, u64);

impl serde::de::Visitor<'_> for PositionVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} (a non-negative integer)", self.0)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        check(self.0, v, self.1).map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(PositionError::NotANumber {
                what: self.0,
                value: v.to_string(),
            })),
        }
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
        // serde_json reads an integer beyond u64 as a float.
        let e = if v >= 0.0 && v.fract() == 0.0 {
            PositionError::OutOfRange {
                what: self.0,
                value: format!("{v}"),
            }
        } else {
            PositionError::NotANumber {
                what: self.0,
                value: v.to_string(),
            }
        };
        Err(E::custom(e))
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<u64, E> {
        parse(self.0, s, self.1).map_err(E::custom)
    }
}

macro_rules! position {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u64);

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(PositionVisitor($what, $max)).map($name)
            }
        }

        impl $name {
            pub const fn get(self) -> u64 {
                self.0
            }
        }

        impl TryFrom<u64> for $name {
            type Error = PositionError;
            fn try_from(v: u64) -> Result<Self, PositionError> {
                check($what, v, $max).map($name)
            }
        }

        impl From<$name> for u64 {
            fn from(v: $name) -> u64 {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = PositionError;
            fn from_str(s: &str) -> Result<Self, PositionError> {
                parse($what, s, $max).map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

position!(
    /// The index of a leaf: below [`MAX_TREE_SIZE`]. Whether the tree has reached it is
    /// for the store to say.
    LeafIndex,
    "index",
    MAX_TREE_SIZE - 1
);

position!(
    /// A number of leaves: at most [`MAX_TREE_SIZE`].
    TreeSize,
    "tree size",
    MAX_TREE_SIZE
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!("0".parse::<LeafIndex>().unwrap().get(), 0);
        assert_eq!(
            "9223372036854775807".parse::<TreeSize>().unwrap().get(),
            MAX_TREE_SIZE
        );
        for s in [
            "9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
        ] {
            assert!(matches!(
                s.parse::<TreeSize>(),
                Err(PositionError::OutOfRange { .. })
            ));
        }
        assert!(matches!(
            "9223372036854775807".parse::<LeafIndex>(),
            Err(PositionError::OutOfRange { .. })
        ));
        for s in ["-1", "abc", "", "+1", "1.0"] {
            assert!(matches!(
                s.parse::<LeafIndex>(),
                Err(PositionError::NotANumber { .. })
            ));
        }
        let v: Result<TreeSize, _> = serde_json::from_str("9223372036854775808");
        assert!(v
            .unwrap_err()
            .to_string()
            .contains("beyond the largest tree"));
    }
}
