//! Following a log's signing keys: from the one key an auditor pins, through the logged
//! `key` entries in index order, to the key that signs today.
//!
//! Owns the rules a checkpoint must meet given the entries before it:
//! - a key entry must name the current key as `previous_key`, and introduce a key the
//!   log never had (told apart by key ID);
//! - the checkpoint at the tree size just past a key entry (the one its rotation wrote)
//!   must carry signatures of both the old and the new key: the old key vouches for the
//!   new one, and the new one proves it is held;
//! - every other checkpoint must be signed by the current key, and by no retired key.
//!
//! A checkpoint signed only by a key the log never introduced therefore fails, whatever
//! the store's meta row says. Used by verification, dump import and the key history of
//! `/v1/keys`; it reads nothing itself and trusts nothing but the first key.

use crate::entry::{self, KeyChange, KeyEvent, Kind};
use crate::note::{self, Checkpoint, VerifierKey};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("key entry {index}: {reason}")]
    Entry { index: u64, reason: String },
    #[error("checkpoint at tree size {tree_size}: {reason}")]
    Checkpoint { tree_size: u64, reason: String },
}

/// One key of the log and where it took over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyEpoch {
    pub verifier_key: String,
    /// The first tree size whose checkpoint this key signs.
    pub from_tree_size: u64,
    /// The key entry that introduced it; `None` for the first key.
    pub entry_index: Option<u64>,
    /// When that entry was integrated.
    pub integrated_at: Option<String>,
    pub event: Option<KeyEvent>,
}

/// A rotation whose dual-signed checkpoint has not been checked yet.
#[derive(Debug, Clone)]
struct Pending {
    tree_size: u64,
    old: VerifierKey,
}

#[derive(Debug, Clone)]
pub struct KeyChain {
    origin: String,
    current: VerifierKey,
    /// Every key the log introduced, the first included.
    introduced: Vec<VerifierKey>,
    retired: Vec<VerifierKey>,
    history: Vec<KeyEpoch>,
    pending: Option<Pending>,
}

/// Canonical leaves spell the kind exactly so; a leaf without these bytes is no key entry
/// and need not be parsed (verification reads every leaf of the log).
const KEY_KIND: &[u8] = br#","kind":"key","#;

impl KeyChain {
    /// Starts from the pinned key; its name is the log's origin.
    pub fn new(first: VerifierKey) -> Self {
        KeyChain {
            origin: first.name().to_string(),
            history: vec![KeyEpoch {
                verifier_key: first.to_string(),
                from_tree_size: 0,
                entry_index: None,
                integrated_at: None,
                event: None,
            }],
            introduced: vec![first.clone()],
            retired: Vec::new(),
            current: first,
            pending: None,
        }
    }

    pub fn current(&self) -> &VerifierKey {
        &self.current
    }

    /// Every key, oldest first.
    pub fn history(&self) -> &[KeyEpoch] {
        &self.history
    }

    /// The tree size of a checkpoint that must still be checked with both keys of a
    /// rotation before any later entry is read.
    pub fn pending_checkpoint(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.tree_size)
    }

    /// Reads entry `index`; returns true if it was a key entry (then the next thing to
    /// check is the checkpoint at `index + 1`). Entries must come in index order.
    pub fn observe(&mut self, index: u64, leaf: &[u8]) -> Result<bool, ChainError> {
        if let Some(p) = &self.pending {
            if index >= p.tree_size {
                return Err(ChainError::Checkpoint {
                    tree_size: p.tree_size,
                    reason: format!(
                        "no checkpoint checked at tree size {}, the one that must carry \
                         the signatures of both keys of key entry {}",
                        p.tree_size,
                        p.tree_size - 1
                    ),
                });
            }
        }
        if !leaf.windows(KEY_KIND.len()).any(|w| w == KEY_KIND) {
            return Ok(false);
        }
        let bad = |reason: String| ChainError::Entry { index, reason };
        let Ok(envelope) = entry::parse_leaf(leaf) else {
            // Not an envelope at all: not this module's concern (the leaf hash still is).
            return Ok(false);
        };
        if envelope.kind != Kind::Key {
            return Ok(false);
        }
        let change = KeyChange::from_envelope(&envelope).map_err(|e| bad(e.to_string()))?;
        let (old, new) = change.keys().map_err(|e| bad(e.to_string()))?;
        if old != self.current {
            return Err(bad(format!(
                "its previous_key is {old}, but the log's key at that point is {}",
                self.current
            )));
        }
        if new.name() != self.origin {
            return Err(bad(format!(
                "the new key is named {:?}, not after the log {:?}",
                new.name(),
                self.origin
            )));
        }
        if self.introduced.iter().any(|k| k.key_id() == new.key_id()) {
            return Err(bad(format!(
                "the new key {new} has the key ID of a key the log already had"
            )));
        }
        if change.event == KeyEvent::Retired {
            self.retired.push(old.clone());
        }
        self.history.push(KeyEpoch {
            verifier_key: new.to_string(),
            from_tree_size: index + 1,
            entry_index: Some(index),
            integrated_at: Some(envelope.integrated_at),
            event: Some(change.event),
        });
        self.introduced.push(new.clone());
        self.current = new;
        self.pending = Some(Pending {
            tree_size: index + 1,
            old,
        });
        Ok(true)
    }

    /// Checks the signatures of the checkpoint `note` issued at `tree_size`, given every
    /// entry below `tree_size` was observed. Returns its (signed) body.
    pub fn check_checkpoint(
        &mut self,
        tree_size: u64,
        note: &str,
    ) -> Result<Checkpoint, ChainError> {
        let bad = |reason: String| ChainError::Checkpoint { tree_size, reason };
        let pending = self
            .pending
            .as_ref()
            .filter(|p| p.tree_size == tree_size)
            .map(|p| p.old.clone());
        let mut known = vec![self.current.clone()];
        known.extend(pending.iter().cloned());
        known.extend(
            self.retired
                .iter()
                .filter(|k| Some(*k) != pending.as_ref())
                .cloned(),
        );
        let (cp, signed_by) = note::open_checkpoint(note, &known, &self.origin).map_err(|e| {
            bad(match e {
                note::NoteError::NoKnownSignature => format!(
                    "not signed by the log's current key {} (no key the log introduced signed it)",
                    self.current
                ),
                other => other.to_string(),
            })
        })?;
        if cp.tree_size != tree_size {
            return Err(bad(format!(
                "the checkpoint says tree size {}",
                cp.tree_size
            )));
        }
        let signed = |k: &VerifierKey| signed_by.iter().any(|r| r.id == k.key_id());
        if !signed(&self.current) {
            return Err(bad(format!(
                "not signed by the log's current key {}",
                self.current
            )));
        }
        if let Some(old) = &pending {
            if !signed(old) {
                return Err(bad(format!(
                    "the first checkpoint after key entry {} is not signed by the previous \
                     key {old}, so nothing vouches for the new key",
                    tree_size - 1
                )));
            }
            self.pending = None;
        }
        if let Some(r) = self
            .retired
            .iter()
            .find(|k| Some(*k) != pending.as_ref() && signed(k))
        {
            return Err(bad(format!("signed by the retired key {r}")));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::KeyChange;
    use crate::note::{Ed25519Signer, NoteSigner};
    use chrono::{DateTime, Utc};

    fn keys(n: u8) -> Vec<Ed25519Signer> {
        (1..=n)
            .map(|seed| {
                let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
                Ed25519Signer::new("o", key).unwrap()
            })
            .collect()
    }

    fn vk(s: &Ed25519Signer) -> VerifierKey {
        s.verifier_key().clone()
    }

    fn key_leaf(event: KeyEvent, old: &Ed25519Signer, new: &Ed25519Signer) -> Vec<u8> {
        KeyChange {
            event,
            previous_key: vk(old).to_string(),
            verifier_key: vk(new).to_string(),
        }
        .prepare()
        .unwrap()
        .leaf(DateTime::<Utc>::UNIX_EPOCH)
        .unwrap()
        .into_bytes()
    }

    fn cp(size: u64, by: &[&Ed25519Signer]) -> String {
        let signers: Vec<&dyn NoteSigner> = by.iter().map(|s| *s as &dyn NoteSigner).collect();
        note::sign_checkpoint(
            &Checkpoint {
                origin: "o".into(),
                tree_size: size,
                root_hash: [size as u8; 32],
                extensions: vec![],
            },
            &signers,
        )
        .unwrap()
    }

    const EVENT: &[u8] = br#"{"body":{"event_id":"e"},"integrated_at":"x","kind":"event","subjects":[],"submitter":"mes"}"#;

    #[test]
    fn a_chain_of_rotations_is_followed_from_the_first_key() {
        let k = keys(3);
        let (a, b, c) = (&k[0], &k[1], &k[2]);
        let mut chain = KeyChain::new(vk(a));
        chain.check_checkpoint(0, &cp(0, &[a])).unwrap();
        assert!(!chain.observe(0, EVENT).unwrap());
        chain.check_checkpoint(1, &cp(1, &[a])).unwrap();
        assert!(chain
            .observe(1, &key_leaf(KeyEvent::Rotated, a, b))
            .unwrap());
        assert_eq!(chain.pending_checkpoint(), Some(2));
        chain.check_checkpoint(2, &cp(2, &[a, b])).unwrap();
        assert_eq!(chain.pending_checkpoint(), None);
        chain.observe(2, EVENT).unwrap();
        chain.check_checkpoint(3, &cp(3, &[b])).unwrap();
        assert!(chain
            .observe(3, &key_leaf(KeyEvent::Retired, b, c))
            .unwrap());
        chain.check_checkpoint(4, &cp(4, &[b, c])).unwrap();
        chain.check_checkpoint(5, &cp(5, &[c])).unwrap();
        assert_eq!(chain.current(), &vk(c));
        let froms: Vec<u64> = chain.history().iter().map(|e| e.from_tree_size).collect();
        assert_eq!(froms, vec![0, 2, 4]);
        // A signature of a rotated (not retired) key beside the current one is harmless;
        // one of the retired key is not.
        chain.check_checkpoint(6, &cp(6, &[c, a])).unwrap();
        let err = chain.check_checkpoint(7, &cp(7, &[c, b])).unwrap_err();
        assert!(err.to_string().contains("retired"), "{err}");
    }

    #[test]
    fn a_rotation_must_be_signed_by_both_keys_before_reading_on() {
        let k = keys(2);
        let (a, b) = (&k[0], &k[1]);
        for by in [vec![b], vec![a]] {
            let mut chain = KeyChain::new(vk(a));
            chain
                .observe(0, &key_leaf(KeyEvent::Rotated, a, b))
                .unwrap();
            let err = chain.check_checkpoint(1, &cp(1, &by)).unwrap_err();
            assert!(
                matches!(err, ChainError::Checkpoint { tree_size: 1, .. }),
                "{err}"
            );
        }
        let mut chain = KeyChain::new(vk(a));
        chain
            .observe(0, &key_leaf(KeyEvent::Rotated, a, b))
            .unwrap();
        assert!(matches!(
            chain.observe(1, EVENT),
            Err(ChainError::Checkpoint { tree_size: 1, .. })
        ));
    }

    #[test]
    fn key_entries_and_checkpoints_outside_the_chain_fail() {
        let k = keys(3);
        let (a, b, x) = (&k[0], &k[1], &k[2]);
        // previous_key is not the current key.
        let mut chain = KeyChain::new(vk(a));
        let err = chain
            .observe(4, &key_leaf(KeyEvent::Rotated, x, b))
            .unwrap_err();
        assert_eq!(
            err,
            ChainError::Entry {
                index: 4,
                reason: format!(
                    "its previous_key is {}, but the log's key at that point is {}",
                    vk(x),
                    vk(a)
                )
            }
        );
        // A key never introduced signs.
        let mut chain = KeyChain::new(vk(a));
        let err = chain.check_checkpoint(9, &cp(9, &[x])).unwrap_err();
        assert!(
            matches!(err, ChainError::Checkpoint { tree_size: 9, .. }),
            "{err}"
        );
        // A key cannot come back.
        let mut chain = KeyChain::new(vk(a));
        chain
            .observe(0, &key_leaf(KeyEvent::Rotated, a, b))
            .unwrap();
        chain.check_checkpoint(1, &cp(1, &[a, b])).unwrap();
        assert!(chain
            .observe(1, &key_leaf(KeyEvent::Rotated, b, a))
            .is_err());
    }
}
