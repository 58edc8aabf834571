//! `key` entries: the log's own record of a signing-key change.
//!
//! Owns the body `{"event":"rotated"|"retired","previous_key":OLD,"verifier_key":NEW}`
//! (verifier keys in note format), the submitter `threadlog` and the idempotency key
//! `key:<NEW>`. Clients never submit these: only a rotation writes one, in the same
//! transaction that moves the log's current key from OLD to NEW.
//!
//! Both events hand the log from OLD to NEW. `rotated` leaves OLD merely unused;
//! `retired` also declares OLD retired, so a signature by it on any later checkpoint is
//! a verification failure (a retired key that still signs is a leaked key).
//!
//! Pure like the rest of `entry`: building and parsing only. Following a chain of
//! key entries and checking checkpoints against it is `audit`'s job.

use super::envelope::{Envelope, Kind, PreparedEntry};
use super::EntryError;
use crate::note::VerifierKey;
use serde::{Deserialize, Serialize};

/// Who submits key entries: the log itself.
pub const SUBMITTER: &str = "threadlog";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEvent {
    /// NEW signs from now on; OLD is no longer used by the log.
    Rotated,
    /// As `Rotated`, and OLD is retired: it must never sign a checkpoint again.
    Retired,
}

impl KeyEvent {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyEvent::Rotated => "rotated",
            KeyEvent::Retired => "retired",
        }
    }
}

/// The body of a `key` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    pub event: KeyEvent,
    /// The key that signed the log before this entry.
    pub previous_key: String,
    /// The key that signs the log after this entry.
    pub verifier_key: String,
}

/// The idempotency key of the entry introducing `verifier_key`: a key is introduced once.
pub fn dedup_key(verifier_key: &str) -> String {
    format!("key:{verifier_key}")
}

fn invalid(path: &str, reason: impl Into<String>) -> EntryError {
    EntryError::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}

impl KeyChange {
    /// Checks the two keys: both parse, both are named after the same log, and they are
    /// told apart by their key IDs (a note signature names its key only by name and ID).
    pub fn keys(&self) -> Result<(VerifierKey, VerifierKey), EntryError> {
        let old: VerifierKey = self
            .previous_key
            .parse()
            .map_err(|e| invalid("body.previous_key", format!("{e}")))?;
        let new: VerifierKey = self
            .verifier_key
            .parse()
            .map_err(|e| invalid("body.verifier_key", format!("{e}")))?;
        if old.name() != new.name() {
            return Err(invalid(
                "body.verifier_key",
                format!(
                    "the new key is named {:?}, the previous one {:?}: a log's keys share its origin",
                    new.name(),
                    old.name()
                ),
            ));
        }
        if old.key_id() == new.key_id() {
            return Err(invalid(
                "body.verifier_key",
                "the new key has the previous key's key ID, so signatures could not tell them apart",
            ));
        }
        Ok((old, new))
    }

    /// The entry to append for this change.
    pub fn prepare(&self) -> Result<PreparedEntry, EntryError> {
        self.keys()?;
        let body =
            serde_json::to_value(self).map_err(|e| invalid("body", format!("not JSON: {e}")))?;
        PreparedEntry::new(
            Kind::Key,
            SUBMITTER,
            Vec::new(),
            body,
            dedup_key(&self.verifier_key),
        )
    }

    /// Reads the change a logged `key` envelope records, checking it as `prepare` would.
    pub fn from_envelope(env: &Envelope) -> Result<Self, EntryError> {
        if env.kind != Kind::Key {
            return Err(EntryError::BadLeaf(format!(
                "a {} entry is not a key entry",
                env.kind.as_str()
            )));
        }
        if env.submitter != SUBMITTER {
            return Err(EntryError::BadLeaf(format!(
                "a key entry submitted by {:?}; only {SUBMITTER:?} writes them",
                env.submitter
            )));
        }
        let body = env
            .body
            .clone()
            .ok_or_else(|| EntryError::BadLeaf("a key entry without an inline body".into()))?;
        let change: KeyChange = serde_json::from_value(body)
            .map_err(|e| EntryError::BadLeaf(format!("key entry body: {e}")))?;
        change
            .keys()
            .map_err(|e| EntryError::BadLeaf(format!("key entry body: {e}")))?;
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{derive, parse_leaf};
    use chrono::{DateTime, Utc};

    fn key(seed: u8, name: &str) -> String {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        VerifierKey::from_ed25519(name, sk.verifying_key().as_bytes())
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_key_entry_round_trips_and_derives_its_idempotency_key() {
        let change = KeyChange {
            event: KeyEvent::Retired,
            previous_key: key(1, "plant.example/log"),
            verifier_key: key(2, "plant.example/log"),
        };
        let prepared = change.prepare().unwrap();
        assert_eq!(prepared.dedup_key, format!("key:{}", change.verifier_key));
        let leaf = prepared.leaf(DateTime::<Utc>::UNIX_EPOCH).unwrap();
        let env = parse_leaf(leaf.as_bytes()).unwrap();
        assert_eq!(env.kind, Kind::Key);
        assert_eq!(env.submitter, "threadlog");
        assert_eq!(env.body.as_ref().unwrap()["event"], "retired");
        assert_eq!(KeyChange::from_envelope(&env).unwrap(), change);
        let d = derive(leaf.as_bytes()).unwrap();
        assert_eq!(d.dedup_key.as_deref(), Some(prepared.dedup_key.as_str()));
        assert_eq!(d.content_sha256, prepared.content_sha256);
    }

    #[test]
    fn bad_key_changes_are_refused() {
        let a = key(1, "plant.example/log");
        let same = KeyChange {
            event: KeyEvent::Rotated,
            previous_key: a.clone(),
            verifier_key: a.clone(),
        };
        assert!(same.prepare().is_err(), "a key cannot replace itself");
        let other_log = KeyChange {
            event: KeyEvent::Rotated,
            previous_key: a.clone(),
            verifier_key: key(2, "other.example/log"),
        };
        assert!(other_log.prepare().is_err());
        let garbage = KeyChange {
            event: KeyEvent::Rotated,
            previous_key: a,
            verifier_key: "not a key".into(),
        };
        assert!(garbage.prepare().is_err());
    }

    #[test]
    fn only_the_log_writes_key_entries() {
        let change = KeyChange {
            event: KeyEvent::Rotated,
            previous_key: key(1, "o"),
            verifier_key: key(2, "o"),
        };
        let leaf = change
            .prepare()
            .unwrap()
            .leaf(DateTime::<Utc>::UNIX_EPOCH)
            .unwrap();
        let mut env = parse_leaf(leaf.as_bytes()).unwrap();
        env.submitter = "mes".into();
        assert!(KeyChange::from_envelope(&env).is_err());
    }
}
