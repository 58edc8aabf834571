//! Writing a dump, streaming page by page (memory stays bounded whatever the log size),
//! as of the latest checkpoint when the export starts: a server may keep appending.

use super::*;
use crate::merkle;
use crate::store::{EntryQuery, Store};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

const PAGE: u32 = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub out: String,
    #[serde(flatten)]
    pub log: DumpSummary,
}

/// Writes each bound document once into `blobs/`.
struct BlobWriter {
    dir: std::path::PathBuf,
    seen: std::collections::HashSet<[u8; 32]>,
    bytes: u64,
}

impl BlobWriter {
    async fn push(
        &mut self,
        store: &dyn Store,
        e: &crate::store::StoredEntry,
    ) -> Result<(), DumpError> {
        // Only these kinds bind documents; events are not parsed again.
        if e.kind != "sbom" && e.kind != "attestation" {
            return Ok(());
        }
        let env = crate::entry::parse_leaf(&e.leaf).map_err(|err| {
            crate::store::StoreError::Corrupt(format!("entry {}: {err}", e.index))
        })?;
        let Some(doc) = crate::entry::document_ref(env.body.as_ref()).map_err(|err| {
            crate::store::StoreError::Corrupt(format!("entry {}: {err}", e.index))
        })?
        else {
            return Ok(());
        };
        if !self.seen.insert(doc.sha256) {
            return Ok(());
        }
        let blob = store.blob(&doc.sha256).await?.ok_or_else(|| {
            crate::store::StoreError::Corrupt(format!(
                "entry {} binds document {} that the store does not hold",
                e.index,
                hex::encode(doc.sha256)
            ))
        })?;
        if self.seen.len() == 1 {
            std::fs::create_dir(&self.dir).map_err(|err| io_err(&self.dir, err))?;
        }
        let path = self.dir.join(hex::encode(doc.sha256));
        let mut f = File::create(&path).map_err(|err| io_err(&path, err))?;
        f.write_all(&blob.data).map_err(|err| io_err(&path, err))?;
        f.sync_all().map_err(|err| io_err(&path, err))?;
        self.bytes += blob.data.len() as u64;
        Ok(())
    }

    fn finish(self) -> Result<Option<BlobsRecord>, DumpError> {
        if self.seen.is_empty() {
            return Ok(None);
        }
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(&self.dir, e))?;
        Ok(Some(BlobsRecord {
            dir: BLOBS.into(),
            count: self.seen.len() as u64,
            bytes: self.bytes,
        }))
    }
}

struct JsonLines {
    path: std::path::PathBuf,
    w: BufWriter<Hashed<File>>,
    lines: u64,
}

impl JsonLines {
    fn create(dir: &Path, name: &str) -> Result<Self, DumpError> {
        let path = dir.join(name);
        let f = File::create(&path).map_err(|e| io_err(&path, e))?;
        Ok(JsonLines {
            w: BufWriter::new(Hashed::new(f)),
            path,
            lines: 0,
        })
    }

    fn push(&mut self, v: &impl Serialize) -> Result<(), DumpError> {
        serde_json::to_writer(&mut self.w, v).map_err(|e| io_err(&self.path, e))?;
        self.w.write_all(b"\n").map_err(|e| io_err(&self.path, e))?;
        self.lines += 1;
        Ok(())
    }

    /// Flushes and syncs the file; returns its manifest record.
    fn finish(self) -> Result<FileRecord, DumpError> {
        let path = self.path;
        let hashed = self.w.into_inner().map_err(|e| io_err(&path, e))?;
        hashed.inner.sync_all().map_err(|e| io_err(&path, e))?;
        Ok(FileRecord {
            file: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            lines: self.lines,
            sha256: hashed.hex(),
        })
    }
}

/// Exports the log in `store` into the new directory `out`.
pub async fn export(
    store: &dyn Store,
    out: &Path,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<ExportReport, DumpError> {
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| io_err(out, e))?
            .next()
            .is_some()
    {
        return Err(DumpError::OutExists(out.display().to_string()));
    }
    std::fs::create_dir_all(out).map_err(|e| io_err(out, e))?;
    let meta = store.meta().await?.ok_or(DumpError::NoLog)?;
    let latest = store.latest_checkpoint().await?.ok_or(DumpError::NoLog)?;
    let size = latest.tree_size;

    let (entries, blobs) = write_entries(store, out, size, progress).await?;
    let checkpoints = write_checkpoints(store, out, size).await?;
    let keys = keys_up_to(store, size).await?;
    let manifest = Manifest {
        format: FORMAT.into(),
        origin: meta.origin.clone(),
        // The key in force at `size` (a rotation committed after `latest` is not in it).
        verifier_key: keys
            .last()
            .map_or(meta.verifier_key.clone(), |k| k.verifier_key.clone()),
        keys,
        tree_size: size,
        root_hash: latest.root_hash.to_base64(),
        checkpoint: latest.note,
        entries: entries.finish()?,
        checkpoints: checkpoints.finish()?,
        blobs: blobs.finish()?,
        exported_at: crate::time::now(),
    };
    write_manifest(out, &manifest)?;
    Ok(ExportReport {
        out: out.display().to_string(),
        log: DumpSummary {
            origin: manifest.origin,
            tree_size: size,
            root_hash: manifest.root_hash,
            entries: manifest.entries.lines,
            checkpoints: manifest.checkpoints.lines,
            blobs: manifest.blobs.as_ref().map_or(0, |b| b.count),
        },
    })
}

/// Writes every entry below `size` and the documents they bind; the files are left
/// open for the manifest to finish.
async fn write_entries(
    store: &dyn Store,
    out: &Path,
    size: u64,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<(JsonLines, BlobWriter), DumpError> {
    let mut entries = JsonLines::create(out, ENTRIES)?;
    let mut blobs = BlobWriter {
        dir: out.join(BLOBS),
        seen: Default::default(),
        bytes: 0,
    };
    let mut after = None;
    let mut next = 0u64;
    while next < size {
        let page = store
            .entries(&EntryQuery {
                after,
                below: Some(size),
                limit: PAGE,
                ..EntryQuery::default()
            })
            .await?;
        if page.is_empty() {
            return Err(crate::store::StoreError::Corrupt(format!(
                "entry {next} is missing below tree size {size}"
            ))
            .into());
        }
        for e in page {
            if e.index != next {
                return Err(crate::store::StoreError::Corrupt(format!(
                    "entry {next} is missing (the store skipped to {})",
                    e.index
                ))
                .into());
            }
            entries.push(&EntryLine {
                index: e.index,
                leaf_hash: merkle::leaf_hash(&e.leaf).to_base64(),
                leaf: B64.encode(&e.leaf),
            })?;
            blobs.push(store, &e).await?;
            after = Some(e.index);
            next += 1;
        }
        progress(next, size);
    }
    Ok((entries, blobs))
}

/// Writes every stored checkpoint up to `size`; the file is left open for the manifest
/// to finish.
async fn write_checkpoints(
    store: &dyn Store,
    out: &Path,
    size: u64,
) -> Result<JsonLines, DumpError> {
    let mut checkpoints = JsonLines::create(out, CHECKPOINTS)?;
    let mut after = None;
    'pages: loop {
        let page = store.checkpoints(after, PAGE).await?;
        let last_page = page.len() < PAGE as usize;
        for cp in page {
            if cp.tree_size > size {
                break 'pages;
            }
            after = Some(cp.tree_size);
            checkpoints.push(&CheckpointLine {
                tree_size: cp.tree_size,
                created_at: cp.created_at,
                note: cp.note,
            })?;
        }
        if last_page {
            break;
        }
    }
    Ok(checkpoints)
}

/// Each key and the tree size it signs from, as the key entries up to `size` record
/// them; import accepts this list only if the entries prove it.
async fn keys_up_to(store: &dyn Store, size: u64) -> Result<Vec<KeyRecord>, DumpError> {
    Ok(crate::ledger::logged_keys(store)
        .await?
        .into_iter()
        .filter(|k| k.from_tree_size <= size)
        .map(|k| KeyRecord {
            verifier_key: k.verifier_key,
            from_tree_size: k.from_tree_size,
        })
        .collect())
}

/// The manifest goes last and whole: a dump without one is unfinished.
fn write_manifest(out: &Path, manifest: &Manifest) -> Result<(), DumpError> {
    let tmp = out.join(format!("{MANIFEST}.tmp"));
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| io_err(&tmp, e))?;
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(&bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, out.join(MANIFEST)).map_err(|e| io_err(out, e))?;
    File::open(out)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(out, e))
}
