//! Re-derives a saved JSON report from a log source an auditor does not trust: the
//! report's checkpoint must be signed by one of the log's keys and be the root of the
//! source's first `tree_size` leaves, every inclusion proof must hold against it, and
//! every figure recomputed from the source's control results must equal the saved one.
//! Must not trust anything the report says without one of those checks.

use super::{build, LoggedResult, Report};
use crate::audit::{Source, SourceError};
use crate::controls::Framework;
use crate::entry::parse_leaf;
use crate::merkle::{self, Hash, Rebuilder};
use crate::note::{self, VerifierKey};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

const PAGE: u32 = 1000;

/// What differs between the saved report and the log; empty when the report holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Recheck {
    pub ok: bool,
    pub tree_size: u64,
    pub results_considered: usize,
    pub proofs_checked: usize,
    /// The first differences found, each naming the report field (a JSON path).
    pub problems: Vec<String>,
}

/// Recomputes `saved` from `source`; `known` are the log's verifier keys (the chain a
/// full verification followed), `origin` the log's origin.
pub async fn recheck(
    source: &dyn Source,
    known: &[VerifierKey],
    origin: &str,
    saved: &Report,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Recheck, SourceError> {
    let n = saved.checkpoint.tree_size;
    let mut out = Recheck {
        ok: false,
        tree_size: n,
        results_considered: 0,
        proofs_checked: 0,
        problems: Vec::new(),
    };
    let Some(framework) = saved.framework() else {
        out.problems.push(format!(
            "framework: unknown framework {:?}",
            saved.framework
        ));
        return Ok(out);
    };
    // Entries whose leaf hash or subjects the report relies on.
    let cited = saved.proof_indexes();
    let digests = saved.digest_entries();
    let wanted: HashSet<u64> = cited.iter().copied().collect();
    let log = match checked_log(source, known, origin, saved, framework, &wanted, progress).await? {
        Ok(log) => log,
        Err(problem) => {
            out.problems.push(problem);
            return Ok(out);
        }
    };
    if saved.checkpoint.as_of != log.as_of {
        out.problems.push(format!(
            "checkpoint.as_of: the log says {:?}, the report {:?}",
            log.as_of, saved.checkpoint.as_of
        ));
    }
    for (digest, entry) in &digests {
        if !log.subjects.get(entry).is_some_and(|s| s.contains(digest)) {
            out.problems.push(format!(
                "evidence: entry {entry} does not name {digest} below tree size {n}"
            ));
        }
    }
    let trend = check_trend(source, saved, &mut out.problems).await?;

    let mut rebuilt = build(
        framework,
        saved.checkpoint.clone(),
        &log.results,
        &trend,
        &digests,
    );
    let proofs = check_proofs(saved, &cited, &log, &mut out);
    rebuilt.attach_proofs(&proofs);
    out.results_considered = rebuilt.results_considered;
    let (a, b) = (
        serde_json::to_value(saved).unwrap_or(Value::Null),
        serde_json::to_value(&rebuilt).unwrap_or(Value::Null),
    );
    differences(&a, &b, "", &mut out.problems);
    out.ok = out.problems.is_empty();
    Ok(out)
}

/// What the report relies on from the log's first `tree_size` entries.
struct LogRead {
    /// The root those entries rebuild.
    root: Hash,
    /// Leaf hashes and subjects of the entries the report cites.
    leaf_hashes: HashMap<u64, Hash>,
    subjects: HashMap<u64, Vec<String>>,
    /// The control results of the report's framework, in log order.
    results: Vec<LoggedResult>,
    /// The integration time of the last entry.
    as_of: Option<String>,
}

/// The log's first `tree_size` entries as the report needs them, once the saved
/// checkpoint is shown to be the log's and to be their root; the inner `Err` is a
/// problem with the report, not with reading.
async fn checked_log(
    source: &dyn Source,
    known: &[VerifierKey],
    origin: &str,
    saved: &Report,
    framework: Framework,
    wanted: &HashSet<u64>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Result<LogRead, String>, SourceError> {
    let n = saved.checkpoint.tree_size;
    let root = match checkpoint_root(source, known, origin, saved).await? {
        Ok(root) => root,
        Err(problem) => return Ok(Err(problem)),
    };
    let log = match read_log(source, n, framework, wanted, progress).await? {
        Ok(log) => log,
        Err(problem) => return Ok(Err(problem)),
    };
    if log.root != root {
        return Ok(Err(format!(
            "checkpoint.root_hash: the log's first {n} entries have root {}, the checkpoint \
             says {}",
            log.root.to_base64(),
            root.to_base64()
        )));
    }
    Ok(Ok(log))
}

/// Reads the first `n` entries page by page, rebuilding their root; the inner `Err` is a
/// problem with the log the report is checked against (too short, or a malformed entry).
async fn read_log(
    source: &dyn Source,
    n: u64,
    framework: Framework,
    wanted: &HashSet<u64>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Result<LogRead, String>, SourceError> {
    let mut log = LogRead {
        root: merkle::EMPTY_ROOT,
        leaf_hashes: HashMap::new(),
        subjects: HashMap::new(),
        results: Vec::new(),
        as_of: None,
    };
    let mut tree = Rebuilder::new();
    let mut next = 0u64;
    while next < n {
        let limit = PAGE.min(u32::try_from(n - next).unwrap_or(PAGE));
        let page = source.entries(next, limit).await?;
        if page.is_empty() {
            return Ok(Err(format!(
                "checkpoint: the log ends at {next} entries, the report is at tree size {n}"
            )));
        }
        let mut hashes = Vec::with_capacity(page.len());
        for (index, leaf) in &page {
            if *index != next {
                return Err(SourceError::Malformed(format!(
                    "asked for entry {next}, got {index}"
                )));
            }
            let h = merkle::leaf_hash(leaf);
            hashes.push(h);
            if let Err(problem) = log.add(*index, leaf, h, n, framework, wanted) {
                return Ok(Err(problem));
            }
            next += 1;
        }
        log.root = tree
            .push(&hashes)
            .map_err(|e| SourceError::Malformed(e.to_string()))?
            .root;
        progress(next, n);
    }
    Ok(Ok(log))
}

impl LogRead {
    /// Takes from entry `index` (leaf hash `h`) what the report relies on; `Err`: the
    /// entry, or the control result it carries, is malformed.
    fn add(
        &mut self,
        index: u64,
        leaf: &[u8],
        h: Hash,
        n: u64,
        framework: Framework,
        wanted: &HashSet<u64>,
    ) -> Result<(), String> {
        let envelope = parse_leaf(leaf).map_err(|e| format!("entry {index}: {e}"))?;
        if wanted.contains(&index) {
            self.leaf_hashes.insert(index, h);
            self.subjects.insert(index, envelope.subjects.clone());
        }
        if index + 1 == n {
            self.as_of = Some(envelope.integrated_at.clone());
        }
        match LoggedResult::from_envelope(index, &envelope) {
            Ok(Some(r)) if r.framework == framework => self.results.push(r),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        Ok(())
    }
}

/// The trend's tree sizes, which must ascend to the report's checkpoint, each one where
/// the log issued a checkpoint.
async fn check_trend(
    source: &dyn Source,
    saved: &Report,
    problems: &mut Vec<String>,
) -> Result<Vec<u64>, SourceError> {
    let n = saved.checkpoint.tree_size;
    let trend: Vec<u64> = saved.trend.iter().map(|t| t.tree_size).collect();
    if trend.windows(2).any(|w| w[0] >= w[1]) || trend.last() != Some(&n) {
        problems.push("trend: sizes must ascend and end at the report's checkpoint".to_string());
    }
    for size in trend.iter().filter(|s| **s != n) {
        if source.checkpoint(*size).await?.is_none() {
            problems.push(format!(
                "trend: no checkpoint was issued at tree size {size}"
            ));
        }
    }
    Ok(trend)
}

/// Checks the saved inclusion proof of each cited entry against the checkpoint; returns
/// those that hold, by entry, and counts them in `out`.
fn check_proofs(
    saved: &Report,
    cited: &[u64],
    log: &LogRead,
    out: &mut Recheck,
) -> HashMap<u64, Vec<String>> {
    let n = saved.checkpoint.tree_size;
    let mut proofs = HashMap::new();
    for index in cited {
        let (Some(proof), Some(leaf)) = (saved_proof(saved, *index), log.leaf_hashes.get(index))
        else {
            out.problems.push(format!(
                "evidence: entry {index} is cited but not below tree size {n}"
            ));
            continue;
        };
        let hashes: Result<Vec<Hash>, _> = proof.iter().map(|h| Hash::from_base64(h)).collect();
        match hashes.map(|h| merkle::verify_inclusion(&h, *index, n, leaf, &log.root)) {
            Ok(Ok(())) => {
                out.proofs_checked += 1;
                proofs.insert(*index, proof.clone());
            }
            _ => out.problems.push(format!(
                "inclusion proof of entry {index} does not hold against the checkpoint"
            )),
        }
    }
    proofs
}

/// The first inclusion proof the saved report gives for entry `index`, as a deciding
/// result's or as evidence.
fn saved_proof(saved: &Report, index: u64) -> Option<&Vec<String>> {
    saved
        .requirements
        .iter()
        .flat_map(|r| {
            r.results
                .iter()
                .filter(|x| x.index == index)
                .map(|x| &x.inclusion_proof)
                .chain(
                    r.evidence
                        .iter()
                        .filter(|e| e.entry == index)
                        .map(|e| &e.inclusion_proof),
                )
        })
        .next()
}

/// Opens the saved checkpoint with the log's keys and checks the source issued the same
/// one; the inner `Err` is a problem with the report, not with reading.
async fn checkpoint_root(
    source: &dyn Source,
    known: &[VerifierKey],
    origin: &str,
    saved: &Report,
) -> Result<Result<Hash, String>, SourceError> {
    let n = saved.checkpoint.tree_size;
    let cp = match note::open_checkpoint(&saved.checkpoint.note, known, origin) {
        Ok((cp, _)) => cp,
        Err(e) => return Ok(Err(format!("checkpoint.note: {e}"))),
    };
    if cp.tree_size != n {
        return Ok(Err(format!(
            "checkpoint.tree_size: the note is for tree size {}, the report says {n}",
            cp.tree_size
        )));
    }
    let root = Hash(cp.root_hash);
    if root.to_base64() != saved.checkpoint.root_hash {
        return Ok(Err(
            "checkpoint.root_hash: not the signed note's root".into()
        ));
    }
    if n > 0 && source.checkpoint(n).await?.as_deref() != Some(saved.checkpoint.note.as_str()) {
        return Ok(Err(format!(
            "checkpoint.note: the log issued another checkpoint at tree size {n}, or none"
        )));
    }
    Ok(Ok(root))
}

/// Names where two JSON values differ (at most a screenful).
fn differences(saved: &Value, log: &Value, path: &str, out: &mut Vec<String>) {
    const MAX: usize = 20;
    if out.len() >= MAX || saved == log {
        return;
    }
    match (saved, log) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let (x, y) = (
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                );
                differences(x, y, &format!("{path}.{k}"), out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => out.push(format!(
            "{}: the report says {saved}, the log gives {log}",
            path.trim_start_matches('.')
        )),
    }
}
