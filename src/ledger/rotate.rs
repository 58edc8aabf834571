//! Key rotation: the only way a log changes its signing key.
//!
//! One append transaction, under the log lock:
//! 1. the stored current key must be the old signer's (else another rotation won);
//! 2. a `key` entry `{"event","previous_key":OLD,"verifier_key":NEW}` is appended;
//! 3. that batch's checkpoint is signed by BOTH keys (the old key vouches for the new one,
//!    the new one proves it is held), each signature verified before anything is written;
//! 4. the stored current key moves from OLD to NEW (`AppendTx::rotate_key`);
//! 5. commit. Either all of it is durable or none.
//!
//! Later checkpoints are signed by NEW alone: servers still configured with OLD see the
//! new key in the append frontier and refuse to append (and to start), so no checkpoint
//! after the rotation carries OLD alone. Auditors follow the key entries (see
//! `audit::KeyChain`), so the key they pinned at the start of the log stays enough.
//!
//! Also lists the keys a store's key entries record (`logged_keys`), for `/v1/keys`,
//! export and operator defaults: this reads, it does not verify (verification does).

use crate::entry::{self, KeyChange, KeyEvent, PreparedEntry};
use crate::merkle::{self, TileId, TileSet};
use crate::note::{self, Checkpoint, VerifierKey};
use crate::signer::Signer;
use crate::store::{
    AppendBatch, AppendTx, EntryQuery, NewEntry, Store, StoreError, StoredCheckpoint, StoredEntry,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("the store holds no log; create it with `threadlog init`")]
    NoLog,
    #[error(
        "the log's current key is {stored}, but the given current signer has verifier key \
         {configured}; pass the key that signs the log now (THREADLOG_SIGNER or --signer)"
    )]
    NotCurrent { stored: String, configured: String },
    #[error(
        "the log already had the key {key} (from tree size {from_tree_size}), or one with \
         its key ID; a key is introduced once"
    )]
    AlreadyIntroduced { key: String, from_tree_size: u64 },
    #[error("the new key cannot be used: {0}")]
    BadNewKey(String),
    #[error("signing the rotation checkpoint failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a rotation wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Rotation {
    pub event: KeyEvent,
    pub previous_key: String,
    pub verifier_key: String,
    /// The index of the key entry.
    pub entry_index: u64,
    /// The tree size of the checkpoint signed by both keys; NEW alone signs after it.
    pub tree_size: u64,
    pub integrated_at: String,
    /// The checkpoint note with both signatures.
    pub checkpoint: String,
}

/// Rotates the log in `store` from `old` (its current key) to `new`.
pub async fn rotate(
    store: &dyn Store,
    old: &dyn Signer,
    new: &dyn Signer,
    event: KeyEvent,
) -> Result<Rotation, RotateError> {
    let meta = store.meta().await?.ok_or(RotateError::NoLog)?;
    let (old_key, new_key) = (old.verifier_key().clone(), new.verifier_key().clone());
    let change = KeyChange {
        event,
        previous_key: old_key.to_string(),
        verifier_key: new_key.to_string(),
    };
    let prepared = change
        .prepare()
        .map_err(|e| RotateError::BadNewKey(e.to_string()))?;
    check_new_key(store, &meta.origin, &new_key).await?;

    let mut tx = store.begin_append().await?;
    let frontier = tx.frontier().await?;
    check_current(frontier.verifier_key.as_deref(), &old_key)?;
    check_not_logged(tx.as_mut(), &prepared.dedup_key, &new_key).await?;

    let now = not_before(frontier.created_at.as_deref());
    let integrated_at = crate::time::format(&now);
    let leaf = prepared
        .leaf(now)
        .map_err(|e| RotateError::BadNewKey(e.to_string()))?
        .into_bytes();
    let size = frontier.tree_size;
    let appended = append_leaf(size, frontier.edge, &leaf)?;
    let signed = sign_by_both(&meta.origin, &appended, old, new)?;
    let tree_size = appended.tree_size;

    tx.write(&AppendBatch {
        entries: vec![key_entry(&prepared, size, &integrated_at, leaf)],
        tiles: appended.tiles,
        checkpoint: StoredCheckpoint {
            tree_size,
            root_hash: appended.root,
            note: signed.clone(),
            created_at: integrated_at.clone(),
        },
    })
    .await?;
    move_key(store, tx.as_mut(), &old_key, &new_key).await?;
    tx.commit().await?;
    Ok(Rotation {
        event,
        previous_key: old_key.to_string(),
        verifier_key: new_key.to_string(),
        entry_index: size,
        tree_size,
        integrated_at,
        checkpoint: signed,
    })
}

/// Refuses a new key not named for the log's origin, or one the log had before (its first
/// one included): auditors tell keys apart by key ID, and a returning key would make old
/// signatures count anew.
async fn check_new_key(
    store: &dyn Store,
    origin: &str,
    new_key: &VerifierKey,
) -> Result<(), RotateError> {
    if new_key.name() != origin {
        return Err(RotateError::BadNewKey(format!(
            "it is named {:?}, but the log's origin is {:?}",
            new_key.name(),
            origin
        )));
    }
    if let Some(k) = logged_keys(store).await?.into_iter().find(|k| {
        k.verifier_key
            .parse::<VerifierKey>()
            .is_ok_and(|v| v.key_id() == new_key.key_id())
    }) {
        return Err(RotateError::AlreadyIntroduced {
            key: k.verifier_key,
            from_tree_size: k.from_tree_size,
        });
    }
    Ok(())
}

/// Under the log lock: the stored current key must still be the old signer's.
fn check_current(stored: Option<&str>, old_key: &VerifierKey) -> Result<(), RotateError> {
    let stored = stored.unwrap_or_default();
    if stored != old_key.as_str() {
        return Err(RotateError::NotCurrent {
            stored: stored.to_string(),
            configured: old_key.to_string(),
        });
    }
    Ok(())
}

/// Under the log lock: refuses a key whose entry another rotation logged meanwhile.
async fn check_not_logged(
    tx: &mut dyn AppendTx,
    dedup_key: &str,
    new_key: &VerifierKey,
) -> Result<(), RotateError> {
    if let Some((_, hit)) = tx.find_dedup(&[dedup_key]).await?.into_iter().next() {
        return Err(RotateError::AlreadyIntroduced {
            key: new_key.to_string(),
            from_tree_size: hit.index + 1,
        });
    }
    Ok(())
}

/// Now, or the last batch's time if that is later: integration times never go
/// backwards, whichever server wrote the last batch.
fn not_before(floor: Option<&str>) -> DateTime<Utc> {
    let floor = floor
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    floor.map_or(Utc::now(), |f| f.max(Utc::now()))
}

/// The tree with the key entry's leaf appended to the frontier's.
fn append_leaf(
    size: u64,
    frontier_edge: Vec<(TileId, Vec<u8>)>,
    leaf: &[u8],
) -> Result<merkle::Appended, StoreError> {
    let hash = merkle::leaf_hash(leaf);
    let mut edge = TileSet::new();
    for (id, data) in frontier_edge {
        edge.insert(id, data);
    }
    merkle::append(size, edge, &[hash]).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The rotation checkpoint, signed by both keys: the old one vouches for the new one, the
/// new one proves it is held.
fn sign_by_both(
    origin: &str,
    appended: &merkle::Appended,
    old: &dyn Signer,
    new: &dyn Signer,
) -> Result<String, RotateError> {
    let cp = Checkpoint {
        origin: origin.to_string(),
        tree_size: appended.tree_size,
        root_hash: appended.root.0,
        extensions: Vec::new(),
    };
    let signed =
        note::sign_checkpoint(&cp, &[old, new]).map_err(|e| RotateError::Signing(e.to_string()))?;
    // Each key must verify on its own: an auditor holding only one of them relies on it.
    for key in [old.verifier_key(), new.verifier_key()] {
        note::open_checkpoint(&signed, std::slice::from_ref(key), origin).map_err(|e| {
            RotateError::Signing(format!("the signature of {key} does not verify: {e}"))
        })?;
    }
    Ok(signed)
}

/// The key entry to write at `index`.
fn key_entry(prepared: &PreparedEntry, index: u64, integrated_at: &str, leaf: Vec<u8>) -> NewEntry {
    NewEntry {
        entry: StoredEntry {
            index,
            kind: entry::Kind::Key.as_str().to_string(),
            integrated_at: integrated_at.to_string(),
            leaf,
        },
        subjects: prepared.subjects.clone(),
        dedup_key: Some(prepared.dedup_key.clone()),
        content_sha256: prepared.content_sha256,
        thread: Default::default(),
        blob: None,
    }
}

/// Moves the stored current key from the old to the new; if another rotation moved it
/// first, says which key the log has now.
async fn move_key(
    store: &dyn Store,
    tx: &mut dyn AppendTx,
    old_key: &VerifierKey,
    new_key: &VerifierKey,
) -> Result<(), RotateError> {
    match tx.rotate_key(old_key.as_str(), new_key.as_str()).await {
        Err(StoreError::Conflict(_)) => Err(RotateError::NotCurrent {
            stored: store
                .meta()
                .await?
                .map(|m| m.verifier_key)
                .unwrap_or_default(),
            configured: old_key.to_string(),
        }),
        other => Ok(other?),
    }
}

/// A key as the log's key entries record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedKey {
    pub verifier_key: String,
    /// The first tree size whose checkpoint it signs.
    pub from_tree_size: u64,
    /// The key entry that introduced it; `None` for the log's first key.
    pub entry_index: Option<u64>,
    pub integrated_at: Option<String>,
    pub event: Option<KeyEvent>,
}

/// The log's keys, oldest first, as its key entries record them. Unverified: the first
/// key is the first key entry's `previous_key` (or the stored key when there is none).
pub async fn logged_keys(store: &dyn Store) -> Result<Vec<LoggedKey>, StoreError> {
    let meta = store
        .meta()
        .await?
        .ok_or_else(|| StoreError::Corrupt("the store holds no log".into()))?;
    let mut rotations = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .entries(&EntryQuery {
                kind: Some(entry::Kind::Key.as_str().into()),
                after,
                limit: 1000,
                ..EntryQuery::default()
            })
            .await?;
        let done = page.len() < 1000;
        for e in page {
            after = Some(e.index);
            let change = entry::parse_leaf(&e.leaf)
                .and_then(|env| KeyChange::from_envelope(&env))
                .map_err(|err| StoreError::Corrupt(format!("key entry {}: {err}", e.index)))?;
            rotations.push((e, change));
        }
        if done {
            break;
        }
    }
    let first = rotations
        .first()
        .map_or(meta.verifier_key.clone(), |(_, c)| c.previous_key.clone());
    let mut keys = vec![LoggedKey {
        verifier_key: first,
        from_tree_size: 0,
        entry_index: None,
        integrated_at: None,
        event: None,
    }];
    keys.extend(rotations.into_iter().map(|(e, c)| LoggedKey {
        verifier_key: c.verifier_key,
        from_tree_size: e.index + 1,
        entry_index: Some(e.index),
        integrated_at: Some(e.integrated_at),
        event: Some(c.event),
    }));
    Ok(keys)
}
