//! Loading a dump into an empty store: one transaction, checkpoint by checkpoint, each
//! verified (signature, then the root rebuilt from the leaves) before it is written.
//! Signatures are checked against the keys in force at each checkpoint, followed from
//! the manifest's first key through the key entries; the manifest's key history is
//! accepted only if it is exactly what those entries prove, and the store records the
//! last key as the log's current one. A
//! dump that breaks anywhere leaves the store as empty as it was, and the error says
//! where it broke. After the commit the store is verified once more, as an operator's
//! `threadlog verify --database` would.

use super::load::Load;
use super::*;
use crate::audit::{self, KeyChain, StoreSource};
use crate::entry;
use crate::merkle::{Hash, Rebuilder, EMPTY_ROOT};
use crate::note::{self, VerifierKey};
use crate::store::{AppendTx, LogMeta, NewEntry, Store, StoreError};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    #[serde(flatten)]
    pub log: DumpSummary,
    /// The verification of the store after the import.
    pub verified: audit::Report,
}

/// A dump file read line by line, hashed as it goes.
pub(super) struct Reader {
    name: &'static str,
    path: PathBuf,
    r: BufReader<Hashed<File>>,
    buf: String,
    line: u64,
}

impl Reader {
    fn open(dir: &Path, name: &'static str) -> Result<Self, DumpError> {
        let path = dir.join(name);
        let f = File::open(&path).map_err(|e| io_err(&path, e))?;
        Ok(Reader {
            name,
            r: BufReader::new(Hashed::new(f)),
            path,
            buf: String::new(),
            line: 0,
        })
    }

    pub(super) fn next<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, DumpError> {
        self.buf.clear();
        let n = self
            .r
            .read_line(&mut self.buf)
            .map_err(|e| io_err(&self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        serde_json::from_str(&self.buf)
            .map(Some)
            .map_err(|e| broken(self.at(), e.to_string()))
    }

    pub(super) fn at(&self) -> String {
        format!("{} line {}", self.name, self.line)
    }

    /// Where entry `index` stands, for errors about it.
    pub(super) fn entry_at(&self, index: u64) -> String {
        format!("entry {index} ({})", self.at())
    }

    /// Reads to the end and checks line count and digest against the manifest.
    fn finish(mut self, record: &FileRecord) -> Result<(), DumpError> {
        let mut rest = Vec::new();
        self.r
            .read_to_end(&mut rest)
            .map_err(|e| io_err(&self.path, e))?;
        if !rest.is_empty() {
            return Err(broken(
                format!("{} after line {}", self.name, self.line),
                "data beyond what the checkpoints cover",
            ));
        }
        let digest = self.r.get_ref().hex();
        if self.line != record.lines || digest != record.sha256 {
            return Err(broken(
                self.name,
                format!(
                    "{} lines with SHA-256 {digest}, but the manifest lists {} lines with {}",
                    self.line, record.lines, record.sha256
                ),
            ));
        }
        Ok(())
    }
}

fn read_manifest(dir: &Path) -> Result<Manifest, DumpError> {
    let path = dir.join(MANIFEST);
    let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
    let m: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| broken(MANIFEST, e.to_string()))?;
    if m.format != FORMAT {
        return Err(broken(
            MANIFEST,
            format!("format {:?}; this version reads {FORMAT:?}", m.format),
        ));
    }
    Ok(m)
}

/// The index of the event a correction names: among the entries read but not yet
/// written, else among those written in the import's transaction.
pub(crate) async fn corrected_index(
    tx: &mut dyn AppendTx,
    pending: &[NewEntry],
    event_id: &str,
) -> Result<Option<u64>, StoreError> {
    let key = entry::event_key(event_id);
    if let Some(e) = pending
        .iter()
        .rev()
        .find(|e| e.dedup_key.as_deref() == Some(key.as_str()))
    {
        return Ok(Some(e.entry.index));
    }
    Ok(tx.find_dedup(&[&key]).await?.first().map(|(_, h)| h.index))
}

/// Imports the dump in `dir` into `store`, which must hold no log.
pub async fn import(
    dir: &Path,
    store: Arc<dyn Store>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ImportReport, DumpError> {
    let m = read_manifest(dir)?;
    let key = check_manifest(&m)?;
    if let Some(meta) = store.meta().await? {
        return Err(DumpError::NotEmpty(meta.origin));
    }

    let entries = Reader::open(dir, ENTRIES)?;
    let mut checkpoints = Reader::open(dir, CHECKPOINTS)?;
    let mut tx = store.begin_append().await?;
    init_meta(store.as_ref(), tx.as_mut(), &m.origin, &key).await?;
    let mut load = Load {
        dir,
        entries,
        chain: KeyChain::new(key.clone()),
        tree: Rebuilder::new(),
        root: EMPTY_ROOT,
        blobs_seen: HashSet::new(),
    };
    let checkpoint_count = load
        .checkpoints(tx.as_mut(), &mut checkpoints, &m, progress)
        .await?;
    load.entries.finish(&m.entries)?;
    checkpoints.finish(&m.checkpoints)?;
    check_blob_count(dir, &m, load.blobs_seen.len() as u64)?;
    check_key_history(&mut load.chain, &m)?;
    // The log's current key is the last one its key entries introduced.
    if load.chain.current() != &key {
        tx.rotate_key(key.as_str(), load.chain.current().as_str())
            .await?;
    }
    tx.commit().await?;

    let verified = verify_imported(store, &key).await?;
    Ok(ImportReport {
        log: DumpSummary {
            origin: m.origin,
            tree_size: m.tree_size,
            root_hash: m.root_hash,
            entries: m.tree_size,
            checkpoints: checkpoint_count,
            blobs: load.blobs_seen.len() as u64,
        },
        verified,
    })
}

/// Checks the manifest against itself and returns its first key. The manifest names the
/// first key; every later one must be proven by the key entries (see `audit::KeyChain`),
/// and the listed history must be exactly theirs.
fn check_manifest(m: &Manifest) -> Result<VerifierKey, DumpError> {
    let first_record = m
        .keys
        .first()
        .filter(|k| k.from_tree_size == 0)
        .ok_or_else(|| {
            broken(
                MANIFEST,
                "the key history must start with a key from tree size 0",
            )
        })?;
    let key: VerifierKey = first_record
        .verifier_key
        .parse()
        .map_err(|e| broken(MANIFEST, format!("first verifier key: {e}")))?;
    if key.name() != m.origin {
        return Err(broken(
            MANIFEST,
            format!(
                "the verifier key is named {:?}, not the origin {:?}",
                key.name(),
                m.origin
            ),
        ));
    }
    if m.keys.last().map(|k| &k.verifier_key) != Some(&m.verifier_key) {
        return Err(broken(
            MANIFEST,
            "verifier_key is not the last key of the key history",
        ));
    }
    let latest = note::peek_checkpoint(&m.checkpoint)
        .map_err(|e| broken(format!("{MANIFEST} checkpoint"), e.to_string()))?;
    if latest.origin != m.origin
        || latest.tree_size != m.tree_size
        || Hash(latest.root_hash).to_base64() != m.root_hash
    {
        return Err(broken(
            MANIFEST,
            "origin, tree_size or root_hash differ from the checkpoint",
        ));
    }
    Ok(key)
}

/// Records the log's identity in the import's transaction; a log created meanwhile makes
/// the store not empty.
async fn init_meta(
    store: &dyn Store,
    tx: &mut dyn AppendTx,
    origin: &str,
    key: &VerifierKey,
) -> Result<(), DumpError> {
    let meta = LogMeta {
        origin: origin.to_string(),
        verifier_key: key.to_string(),
    };
    match tx.init_meta(&meta).await {
        Err(StoreError::Conflict(_)) => Err(DumpError::NotEmpty(
            store.meta().await?.map(|m| m.origin).unwrap_or_default(),
        )),
        other => Ok(other?),
    }
}

/// The manifest's checkpoint must verify with the keys the entries proved, and its key
/// history must be exactly theirs.
fn check_key_history(chain: &mut KeyChain, m: &Manifest) -> Result<(), DumpError> {
    chain
        .check_checkpoint(m.tree_size, &m.checkpoint)
        .map_err(|e| broken(format!("{MANIFEST} checkpoint"), e.to_string()))?;
    let proven: Vec<KeyRecord> = chain
        .history()
        .iter()
        .map(|k| KeyRecord {
            verifier_key: k.verifier_key.clone(),
            from_tree_size: k.from_tree_size,
        })
        .collect();
    if proven != m.keys {
        return Err(broken(
            MANIFEST,
            format!(
                "the key history lists {} keys, but the key entries prove {}: {}",
                m.keys.len(),
                proven.len(),
                proven
                    .iter()
                    .map(|k| format!("{} from {}", k.verifier_key, k.from_tree_size))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// Verifies the committed store, as an operator's `threadlog verify --database` would.
async fn verify_imported(
    store: Arc<dyn Store>,
    key: &VerifierKey,
) -> Result<audit::Report, DumpError> {
    let verified = audit::verify(&StoreSource::new(store), key, None, &|_, _| {})
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    if !verified.ok {
        return Err(StoreError::Corrupt(format!(
            "the imported log does not verify: {:?}",
            verified.failure
        ))
        .into());
    }
    Ok(verified)
}

/// Every file in `blobs/` must be a document some leaf binds, and the manifest must
/// count them: an unbound file would be served as if the log vouched for it.
fn check_blob_count(dir: &Path, m: &Manifest, bound: u64) -> Result<(), DumpError> {
    let path = dir.join(BLOBS);
    let files = match std::fs::read_dir(&path) {
        Ok(rd) => rd.count() as u64,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_err(&path, e)),
    };
    let listed = m.blobs.as_ref().map_or(0, |b| b.count);
    if files != bound || listed != bound {
        return Err(broken(
            BLOBS,
            format!(
                "the leaves bind {bound} documents, but {BLOBS}/ holds {files} files and the \
                 manifest lists {listed}"
            ),
        ));
    }
    Ok(())
}
