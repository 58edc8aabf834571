//! Loading a dump into an empty store: one transaction, checkpoint by checkpoint, each
//! verified (signature, then the root rebuilt from the leaves) before it is written.
//! Signatures are checked against the keys in force at each checkpoint, followed from
//! the manifest's first key through the key entries; the manifest's key history is
//! accepted only if it is exactly what those entries prove, and the store records the
//! last key as the log's current one. A
//! dump that breaks anywhere leaves the store as empty as it was, and the error says
//! where it broke. After the commit the store is verified once more, as an operator's
//! `threadlog verify --database` would.

use super::*;
use crate::audit::{self, KeyChain, StoreSource};
use crate::entry;
use crate::merkle::{self, Hash, Rebuilder, EMPTY_ROOT};
use crate::note::{self, VerifierKey};
use crate::store::{
    AppendBatch, AppendTx, EntryThread, LogMeta, NewEntry, Store, StoreError, StoredCheckpoint,
    StoredEntry,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub entries: u64,
    pub checkpoints: u64,
    pub blobs: u64,
    /// The verification of the store after the import.
    pub verified: audit::Report,
}

/// A dump file read line by line, hashed as it goes.
struct Reader {
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

    fn next<T: serde::de::DeserializeOwned>(&mut self) -> Result<Option<T>, DumpError> {
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

    fn at(&self) -> String {
        format!("{} line {}", self.name, self.line)
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
    // The manifest names the first key; every later one must be proven by the key
    // entries (see `audit::KeyChain`), and the listed history must be exactly theirs.
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
    let mut chain = KeyChain::new(key.clone());
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
    if let Some(meta) = store.meta().await? {
        return Err(DumpError::NotEmpty(meta.origin));
    }

    let mut entries = Reader::open(dir, ENTRIES)?;
    let mut checkpoints = Reader::open(dir, CHECKPOINTS)?;
    let mut tx = store.begin_append().await?;
    match tx
        .init_meta(&LogMeta {
            origin: m.origin.clone(),
            verifier_key: key.to_string(),
        })
        .await
    {
        Err(StoreError::Conflict(_)) => {
            return Err(DumpError::NotEmpty(
                store.meta().await?.map(|m| m.origin).unwrap_or_default(),
            ))
        }
        other => other?,
    }

    let mut blobs_seen = std::collections::HashSet::new();
    let mut tree = Rebuilder::new();
    let mut root = EMPTY_ROOT;
    let mut last: Option<u64> = None;
    let mut checkpoint_count = 0u64;
    while let Some(line) = checkpoints.next::<CheckpointLine>()? {
        let at = checkpoints.at();
        // Signatures are checked once the entries below it are read: they say which
        // keys may sign it.
        let cp = note::peek_checkpoint(&line.note).map_err(|e| {
            broken(
                format!("checkpoint {} ({at})", line.tree_size),
                e.to_string(),
            )
        })?;
        if cp.tree_size != line.tree_size || last.is_some_and(|l| l >= cp.tree_size) {
            return Err(broken(
                at,
                format!(
                    "a checkpoint of size {} out of order (after {last:?})",
                    cp.tree_size
                ),
            ));
        }
        if cp.tree_size > m.tree_size {
            return Err(broken(at, "a checkpoint beyond the manifest's tree size"));
        }
        let from = tree.size();
        let mut new = Vec::new();
        let mut hashes = Vec::new();
        while from + (new.len() as u64) < cp.tree_size {
            let index = from + new.len() as u64;
            let e: EntryLine = entries.next()?.ok_or_else(|| {
                broken(
                    format!("entry {index}"),
                    format!("missing, but checkpoint {} covers it", cp.tree_size),
                )
            })?;
            let here = || format!("entry {index} ({})", entries.at());
            if e.index != index {
                return Err(broken(here(), format!("says index {}", e.index)));
            }
            let leaf = B64
                .decode(&e.leaf)
                .map_err(|err| broken(here(), format!("leaf: {err}")))?;
            let hash = merkle::leaf_hash(&leaf);
            if hash.to_base64() != e.leaf_hash {
                return Err(broken(
                    here(),
                    "the leaf bytes and the exported leaf hash disagree: one was altered",
                ));
            }
            let d = entry::derive(&leaf).map_err(|err| broken(here(), err.to_string()))?;
            if d.envelope.integrated_at != line.created_at {
                return Err(broken(
                    here(),
                    format!(
                        "integrated at {}, but the checkpoint covering it ({}) was made at {}: \
                         a checkpoint is missing or altered",
                        d.envelope.integrated_at, cp.tree_size, line.created_at
                    ),
                ));
            }
            chain
                .observe(index, &leaf)
                .map_err(|err| broken(here(), err.to_string()))?;
            let corrects = match &d.thread.corrects {
                None => None,
                Some(id) => Some(corrected_index(tx.as_mut(), &new, id).await?.ok_or_else(
                    || {
                        broken(
                            here(),
                            format!("corrects event_id {id:?}, which is not logged before it"),
                        )
                    },
                )?),
            };
            let blob = match &d.document {
                Some(doc) if blobs_seen.insert(doc.sha256) => {
                    Some(read_blob(dir, doc).map_err(|reason| broken(here(), reason))?)
                }
                _ => None,
            };
            hashes.push(hash);
            new.push(NewEntry {
                entry: StoredEntry {
                    index,
                    kind: d.envelope.kind.as_str().into(),
                    integrated_at: d.envelope.integrated_at,
                    leaf,
                },
                subjects: d.envelope.subjects,
                dedup_key: d.dedup_key,
                content_sha256: d.content_sha256,
                thread: EntryThread {
                    edges: d.thread.edges,
                    corrects,
                },
                blob,
            });
        }
        let mut tiles = Vec::new();
        if !hashes.is_empty() {
            let step = tree
                .push(&hashes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            root = step.root;
            tiles = step.completed;
            tiles.extend(tree.edge().clone().into_inner());
        }
        chain
            .check_checkpoint(cp.tree_size, &line.note)
            .map_err(|e| broken(format!("checkpoint {} ({at})", cp.tree_size), e.to_string()))?;
        if root != Hash(cp.root_hash) {
            return Err(broken(
                format!("checkpoint {} ({at})", cp.tree_size),
                format!(
                    "entries {from}..{} do not rebuild to its signed root",
                    cp.tree_size
                ),
            ));
        }
        tx.write(&AppendBatch {
            entries: new,
            tiles,
            checkpoint: StoredCheckpoint {
                tree_size: cp.tree_size,
                root_hash: root,
                note: line.note,
                created_at: line.created_at,
            },
        })
        .await?;
        last = Some(cp.tree_size);
        checkpoint_count += 1;
        progress(tree.size(), m.tree_size);
    }
    if last != Some(m.tree_size) {
        return Err(broken(
            CHECKPOINTS,
            format!(
                "ends at tree size {last:?}, but the manifest's checkpoint is at {}",
                m.tree_size
            ),
        ));
    }
    entries.finish(&m.entries)?;
    checkpoints.finish(&m.checkpoints)?;
    check_blob_count(dir, &m, blobs_seen.len() as u64)?;
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
    // The log's current key is the last one its key entries introduced.
    if chain.current() != &key {
        tx.rotate_key(key.as_str(), chain.current().as_str())
            .await?;
    }
    tx.commit().await?;

    let verified = audit::verify(&StoreSource::new(store), &key, None, &|_, _| {})
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    if !verified.ok {
        return Err(StoreError::Corrupt(format!(
            "the imported log does not verify: {:?}",
            verified.failure
        ))
        .into());
    }
    Ok(ImportReport {
        origin: m.origin,
        tree_size: m.tree_size,
        root_hash: m.root_hash,
        entries: m.tree_size,
        checkpoints: checkpoint_count,
        blobs: blobs_seen.len() as u64,
        verified,
    })
}

/// The document a leaf binds, from `blobs/`, checked against what the leaf says.
fn read_blob(dir: &Path, doc: &entry::DocumentRef) -> Result<entry::Blob, String> {
    let name = hex::encode(doc.sha256);
    let path = dir.join(BLOBS).join(&name);
    let data = std::fs::read(&path)
        .map_err(|e| format!("the document {name} it binds cannot be read from {BLOBS}/: {e}"))?;
    if data.len() as u64 != doc.size {
        return Err(format!(
            "{BLOBS}/{name} holds {} bytes, the leaf says {}",
            data.len(),
            doc.size
        ));
    }
    entry::Blob::checked(data.into(), doc.media_type.clone(), &doc.sha256)
        .map_err(|e| format!("{BLOBS}/{name} was altered: {e}"))
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
