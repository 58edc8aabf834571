//! Group commit: many pending append requests become one database transaction and one
//! signed checkpoint.
//!
//! Handlers submit validated entries and await receipts. A single task drains the bounded
//! queue (up to `max_batch` entries) and commits them in one batch:
//!
//! 1. **Lock** — `Store::begin_append` opens a transaction holding the log lock.
//!    A crash from here to step 7 leaves nothing: the transaction never commits.
//! 2. **Read frontier** — the latest checkpoint's tree size, time and edge tiles, as
//!    of the lock (other servers may have appended since this one last did), checked
//!    against the edge of the last tree this server signed, held in memory (see
//!    [`guard`]): a stored hash that changed, a rollback, or a newer tree that is not
//!    proved consistent with it halts appends.
//! 3. **Resolve duplicates** — keys already logged (or repeated in this batch) with the
//!    same content get the first entry's receipt; with other content the request fails
//!    with a conflict and none of its entries are written.
//! 4. **Build leaves** — canonical envelopes stamped with one `integrated_at`, never
//!    earlier than the previous batch's.
//! 5. **Integrate** — the pure `merkle::append` gives changed tiles and the new root,
//!    and a consistency proof from those tiles must show the new tree extends the last
//!    signed one before anything is signed.
//! 6. **Sign** — one checkpoint signature for the batch, then verified with the
//!    verifier key before anything is written.
//! 7. **Write and commit** — leaves, subjects, idempotency keys, tiles and checkpoint in
//!    the one transaction; `commit` is the durability point.
//! 8. **Wake waiters** — inclusion proofs against the new checkpoint, each verified,
//!    are sent as receipts. Nothing is acknowledged before step 7 succeeded.
//!
//! Failures are *batch-only* (database unavailable, signer failing: every waiter gets an
//! error, nothing was written, clients retry with the same idempotency keys) or *fatal*
//! (stored tiles disagree with the tree: the sequencer halts and refuses appends until an
//! operator has run `threadlog verify` and restarted it; reads and proofs of the last
//! good checkpoint are still served). The same checks run at start-up, before the first
//! write is accepted. A full queue is refused at once, never buffered.
//!
//! A store that cannot commit (a full disk, a lost database) marks the sequencer
//! unable to commit until a commit succeeds again; meanwhile a probe retries a no-op
//! write every [`PROBE_INTERVAL`], so readiness comes back by itself when the store does,
//! even while no client is appending.

mod guard;
mod receipts;
mod resolve;

use crate::entry::PreparedEntry;
use crate::merkle::{self, Hash, TileSet};
use crate::note::{self, Checkpoint, VerifierKey};
use crate::signer::Signer;
use crate::store::{
    AppendBatch, DedupHit, EntryThread, NewEntry, Store, StoreError, StoredCheckpoint, StoredEntry,
    TileCache,
};
use chrono::{DateTime, Utc};
use guard::{LogKey, SignedTree};
use receipts::Provers;
use resolve::{resolve, Slot};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Proof that an entry is in the signed tree; enough to verify offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub index: u64,
    pub leaf_hash: Hash,
    pub integrated_at: String,
    /// The signed checkpoint note the proof is against.
    pub checkpoint: String,
    pub tree_size: u64,
    pub inclusion_proof: Vec<Hash>,
    /// True when the entry was logged before and nothing was appended now.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    #[error("the append queue is full")]
    Overloaded,
    #[error("{key} was already logged at index {index} with different content")]
    Conflict { key: String, index: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("appends are halted: {0}")]
    Halted(String),
    #[error("the sequencer has stopped")]
    Stopped,
    /// A correction names an event that is not logged before it; `position` is the
    /// correction's place in its request.
    #[error(
        "event {position} of the request corrects event_id {event_id:?}, which is not logged \
         before it; a correction must follow the event it corrects"
    )]
    UnknownCorrected { position: usize, event_id: String },
    /// The log's stored key is no longer this server's: another process rotated it.
    #[error("the log's key was rotated; restart with the new key ({current})")]
    KeyRotated { current: String },
}

pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Clone)]
pub struct SequencerConfig {
    /// Requests that may wait in the queue before new ones are refused.
    pub queue_depth: usize,
    /// Most entries committed in one batch.
    pub max_batch: usize,
    /// How long to wait for more requests after the first, to fill a batch.
    pub linger: Duration,
    pub clock: Clock,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        SequencerConfig {
            queue_depth: 1024,
            max_batch: 4096,
            linger: Duration::ZERO,
            clock: Arc::new(Utc::now),
        }
    }
}

/// Counters exposed on `/metrics`.
#[derive(Default)]
pub struct SequencerMetrics {
    pub entries_appended: AtomicU64,
    pub duplicates: AtomicU64,
    pub batches_committed: AtomicU64,
    pub batches_failed: AtomicU64,
    pub overloaded: AtomicU64,
    pub tree_size: AtomicU64,
}

struct Request {
    entries: Vec<PreparedEntry>,
    reply: Reply,
}

/// How often a store that failed to commit is probed until it commits again.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Why the store could not commit at its last attempt, if it could not.
type CommitFailure = Arc<Mutex<Option<String>>>;

#[derive(Clone)]
pub struct Sequencer {
    queue: mpsc::Sender<Request>,
    halted: Arc<Mutex<Option<String>>>,
    commit_failure: CommitFailure,
    pub metrics: Arc<SequencerMetrics>,
}

struct Worker {
    store: Arc<dyn Store>,
    signer: Arc<dyn Signer>,
    verifier: VerifierKey,
    origin: String,
    tiles: Arc<TileCache>,
    config: SequencerConfig,
    halted: Arc<Mutex<Option<String>>>,
    commit_failure: CommitFailure,
    metrics: Arc<SequencerMetrics>,
    last_time: Option<DateTime<Utc>>,
    /// The last tree this sequencer signed or proved signed; `None` until the store
    /// could be read.
    signed: Option<SignedTree>,
}

impl Sequencer {
    /// Checks the stored tree against its latest signed checkpoint, then starts the
    /// sequencer task, which runs until every `Sequencer` handle is dropped. A store that
    /// fails the check starts the sequencer halted; one that cannot be read now is
    /// checked again before the first batch.
    pub async fn start(
        store: Arc<dyn Store>,
        signer: Arc<dyn Signer>,
        origin: String,
        tiles: Arc<TileCache>,
        config: SequencerConfig,
    ) -> Self {
        let (queue, rx) = mpsc::channel(config.queue_depth.max(1));
        let halted = Arc::new(Mutex::new(None));
        let commit_failure = CommitFailure::default();
        let metrics = Arc::new(SequencerMetrics::default());
        tokio::spawn(probe_while_failing(
            Arc::downgrade(&commit_failure),
            store.clone(),
        ));
        let mut worker = Worker {
            store,
            verifier: signer.verifier_key().clone(),
            signer,
            origin,
            tiles,
            config,
            halted: halted.clone(),
            commit_failure: commit_failure.clone(),
            metrics: metrics.clone(),
            last_time: None,
            signed: None,
        };
        worker.check_at_start().await;
        tokio::spawn(worker.run(rx));
        Sequencer {
            queue,
            halted,
            commit_failure,
            metrics,
        }
    }

    /// Appends entries (all or none) and returns one receipt per entry, in order.
    pub async fn submit(
        &self,
        entries: Vec<PreparedEntry>,
    ) -> Result<Vec<Receipt>, SequencerError> {
        if let Some(reason) = self.halted() {
            return Err(SequencerError::Halted(reason));
        }
        let (reply, rx) = oneshot::channel();
        self.queue
            .try_send(Request { entries, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
                    SequencerError::Overloaded
                }
                mpsc::error::TrySendError::Closed(_) => SequencerError::Stopped,
            })?;
        rx.await.map_err(|_| SequencerError::Stopped)?
    }

    /// Why appends are halted, if they are.
    pub fn halted(&self) -> Option<String> {
        read(&self.halted)
    }

    /// Why the store could not commit at the last attempt, until a commit or the probe
    /// succeeds again.
    pub fn cannot_commit(&self) -> Option<String> {
        read(&self.commit_failure)
    }
}

fn read(flag: &Mutex<Option<String>>) -> Option<String> {
    flag.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn set(flag: &Mutex<Option<String>>, value: Option<String>) {
    *flag.lock().unwrap_or_else(|p| p.into_inner()) = value;
}

/// Retries a no-op commit while the last one failed, until the sequencer is dropped.
async fn probe_while_failing(
    failure: std::sync::Weak<Mutex<Option<String>>>,
    store: Arc<dyn Store>,
) {
    loop {
        tokio::time::sleep(PROBE_INTERVAL).await;
        let Some(failure) = failure.upgrade() else {
            return;
        };
        if read(&failure).is_none() {
            continue;
        }
        match store.probe_commit().await {
            Ok(()) => {
                tracing::info!("the store commits again");
                set(&failure, None);
            }
            Err(e) => set(&failure, Some(e.to_string())),
        }
    }
}

type Reply = oneshot::Sender<Result<Vec<Receipt>, SequencerError>>;

/// A committed batch, ready to be turned into receipts.
pub(crate) struct Committed {
    /// Per request: the slot of each entry, or the conflict that failed the request.
    pub(crate) outcomes: Vec<Result<Vec<Slot>, SequencerError>>,
    /// New entries with their leaf hashes, in index order.
    pub(crate) new_entries: Vec<(StoredEntry, Hash)>,
    pub(crate) checkpoint: StoredCheckpoint,
    pub(crate) tiles: TileSet,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Request>) {
        while let Some(first) = rx.recv().await {
            let mut count = first.entries.len();
            let mut batch = vec![first];
            let deadline = tokio::time::Instant::now() + self.config.linger;
            while count < self.config.max_batch {
                let next = match rx.try_recv() {
                    Ok(r) => Some(r),
                    Err(_) if self.config.linger.is_zero() => None,
                    Err(_) => tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .ok()
                        .flatten(),
                };
                match next {
                    Some(r) => {
                        count += r.entries.len();
                        batch.push(r);
                    }
                    None => break,
                }
            }
            self.process(batch).await;
        }
    }

    fn key(&self) -> LogKey<'_> {
        LogKey {
            verifier: &self.verifier,
            origin: &self.origin,
        }
    }

    async fn check_at_start(&mut self) {
        let result = async {
            let mut tx = self.store.begin_append().await?;
            let frontier = tx.frontier().await?;
            drop(tx);
            if frontier.verifier_key.as_deref() != Some(self.verifier.as_str()) {
                // Not this server's log to check: every append is refused as rotated.
                return Ok(None);
            }
            SignedTree::check_frontier(
                None,
                &frontier,
                self.store.as_ref(),
                &self.tiles,
                &self.key(),
            )
            .await
            .map(Some)
        }
        .await;
        match result {
            Ok(signed) => self.signed = signed,
            Err(StoreError::Corrupt(reason)) => self.halt(reason),
            Err(e) => tracing::warn!(error = %e, "start-up tree check deferred to the first batch"),
        }
    }

    /// Stops appends for good: logged at error level, `/readyz` reports it, and proofs
    /// keep using the edge this server signed rather than the stored one.
    fn halt(&self, reason: String) {
        tracing::error!(%reason, "store inconsistent; halting appends");
        if let Some(signed) = &self.signed {
            self.tiles.pin_edge(signed.edge.clone());
        }
        set(&self.halted, Some(reason));
    }

    fn halt_reason(&self) -> Option<String> {
        read(&self.halted)
    }

    async fn process(&mut self, batch: Vec<Request>) {
        if let Some(reason) = self.halt_reason() {
            for r in batch {
                let _ = r.reply.send(Err(SequencerError::Halted(reason.clone())));
            }
            return;
        }
        let (requests, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|r| (r.entries, r.reply)).unzip();
        let committed = match self.commit(&requests).await {
            Ok(c) => c,
            Err(e) => {
                self.metrics.batches_failed.fetch_add(1, Ordering::Relaxed);
                let e = match e {
                    SequencerError::Store(StoreError::Corrupt(reason)) => {
                        self.halt(reason.clone());
                        SequencerError::Halted(reason)
                    }
                    SequencerError::Store(StoreError::Unavailable(reason)) => {
                        tracing::warn!(%reason, "batch failed: the store cannot commit");
                        set(&self.commit_failure, Some(reason.clone()));
                        SequencerError::Store(StoreError::Unavailable(reason))
                    }
                    e => {
                        tracing::warn!(error = %e, "batch failed");
                        e
                    }
                };
                for r in replies {
                    let _ = r.send(Err(clone_err(&e)));
                }
                return;
            }
        };
        // Step 8 runs beside the next batch's commit: receipts need only what this
        // batch committed, and proving them must not hold up the log lock.
        let provers = Provers {
            store: self.store.clone(),
            tiles: self.tiles.clone(),
            metrics: self.metrics.clone(),
        };
        tokio::spawn(async move {
            match provers.receipts(&committed).await {
                Ok(per_request) => {
                    for (r, receipts) in replies.into_iter().zip(per_request) {
                        let _ = r.send(receipts);
                    }
                }
                Err(e) => {
                    // Durable but not provable this instant; a retry with the same keys
                    // returns the receipts.
                    tracing::error!(error = %e, "receipts failed after commit");
                    for r in replies {
                        let _ = r.send(Err(clone_err(&e)));
                    }
                }
            }
        });
    }

    /// Steps 1–7.
    async fn commit(
        &mut self,
        requests: &[Vec<PreparedEntry>],
    ) -> Result<Committed, SequencerError> {
        let mut tx = self.store.begin_append().await?;
        let frontier = tx.frontier().await?;
        // Checked under the log lock: once a rotation committed, this key signs no more.
        if frontier.verifier_key.as_deref() != Some(self.verifier.as_str()) {
            return Err(SequencerError::KeyRotated {
                current: frontier.verifier_key.unwrap_or_default(),
            });
        }
        let base = SignedTree::check_frontier(
            self.signed.as_ref(),
            &frontier,
            self.store.as_ref(),
            &self.tiles,
            &self.key(),
        )
        .await?;
        // Remembered even if this batch fails: it was proved to extend what we knew.
        self.signed = Some(base.clone());
        let size = base.size;
        // Another server may have appended since our last batch: its time is the floor.
        if let Some(t) = frontier.created_at.as_deref().and_then(crate::time::parse) {
            self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
        }
        // Corrected events are looked up with the entries' own keys, in the same query.
        let corrected: Vec<String> = requests
            .iter()
            .flatten()
            .filter_map(|e| e.thread.corrects.as_deref().map(crate::entry::event_key))
            .collect();
        let keys: Vec<&str> = requests
            .iter()
            .flatten()
            .map(|e| e.dedup_key.as_str())
            .chain(corrected.iter().map(String::as_str))
            .collect();
        let known: HashMap<String, DedupHit> = tx.find_dedup(&keys).await?.into_iter().collect();

        // Step 3.
        let mut in_batch = HashMap::new();
        let mut new_refs = Vec::new();
        let outcomes: Vec<_> = requests
            .iter()
            .enumerate()
            .map(|(no, entries)| resolve(no, entries, &known, &mut in_batch, &mut new_refs, size))
            .collect();

        if new_refs.is_empty() {
            // Only duplicates: nothing to write; answer against the latest checkpoint.
            drop(tx);
            let checkpoint =
                self.store.latest_checkpoint().await?.ok_or_else(|| {
                    StoreError::Corrupt("duplicates found in an empty log".into())
                })?;
            return Ok(Committed {
                outcomes,
                new_entries: Vec::new(),
                checkpoint,
                tiles: TileSet::new(),
            });
        }

        // Step 4.
        let clock = (self.config.clock)();
        let now = self.last_time.map_or(clock, |last| last.max(clock));
        let integrated_at = crate::time::format(&now);
        let mut entries = Vec::with_capacity(new_refs.len());
        let mut hashes = Vec::with_capacity(new_refs.len());
        for (i, r) in new_refs.iter().enumerate() {
            let e = &requests[r.request][r.pos];
            let leaf = e
                .leaf(now)
                .map_err(|err| {
                    StoreError::Corrupt(format!("leaf build failed after validation: {err}"))
                })?
                .into_bytes();
            hashes.push(merkle::leaf_hash(&leaf));
            entries.push(NewEntry {
                entry: StoredEntry {
                    index: size + i as u64,
                    kind: e.kind.as_str().to_string(),
                    integrated_at: integrated_at.clone(),
                    leaf,
                },
                subjects: e.subjects.clone(),
                dedup_key: Some(e.dedup_key.clone()),
                content_sha256: e.content_sha256,
                thread: EntryThread {
                    edges: e.thread.edges.clone(),
                    corrects: r.corrects,
                },
                blob: e.blob.clone(),
            });
        }

        // Step 5.
        let appended = merkle::append(size, base.edge.clone(), &hashes)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let next = base.extend(appended.tree_size, appended.root, &appended.tiles)?;

        // Step 6.
        let cp = Checkpoint {
            origin: self.origin.clone(),
            tree_size: appended.tree_size,
            root_hash: appended.root.0,
            extensions: Vec::new(),
        };
        let signer = self.signer.clone();
        let signed =
            tokio::task::spawn_blocking(move || note::sign_checkpoint(&cp, &[signer.as_ref()]))
                .await
                .map_err(|e| SequencerError::Signing(e.to_string()))?
                .map_err(|e| SequencerError::Signing(e.to_string()))?;
        note::open_checkpoint(&signed, std::slice::from_ref(&self.verifier), &self.origin)
            .map_err(|e| SequencerError::Signing(format!("new checkpoint does not verify: {e}")))?;

        // Step 7.
        let batch = AppendBatch {
            entries,
            tiles: appended.tiles,
            checkpoint: StoredCheckpoint {
                tree_size: appended.tree_size,
                root_hash: appended.root,
                note: signed,
                created_at: integrated_at,
            },
        };
        tx.write(&batch).await?;
        tx.commit().await?;
        set(&self.commit_failure, None);

        self.signed = Some(next);
        self.last_time = Some(now);
        self.metrics
            .batches_committed
            .fetch_add(1, Ordering::Relaxed);
        self.metrics
            .entries_appended
            .fetch_add(batch.entries.len() as u64, Ordering::Relaxed);
        self.metrics
            .tree_size
            .store(batch.checkpoint.tree_size, Ordering::Relaxed);
        let mut tiles = TileSet::new();
        for (id, data) in batch.tiles {
            self.tiles.remember(id, &data);
            tiles.insert(id, data);
        }
        Ok(Committed {
            outcomes,
            new_entries: batch
                .entries
                .into_iter()
                .map(|e| e.entry)
                .zip(hashes)
                .collect(),
            checkpoint: batch.checkpoint,
            tiles,
        })
    }
}

pub(crate) fn clone_err(e: &SequencerError) -> SequencerError {
    match e {
        SequencerError::Overloaded => SequencerError::Overloaded,
        SequencerError::Conflict { key, index } => SequencerError::Conflict {
            key: key.clone(),
            index: *index,
        },
        SequencerError::Store(s) => SequencerError::Store(match s {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
            StoreError::Conflict(m) => StoreError::Conflict(m.clone()),
            StoreError::Config(m) => StoreError::Config(m.clone()),
        }),
        SequencerError::Signing(m) => SequencerError::Signing(m.clone()),
        SequencerError::Halted(m) => SequencerError::Halted(m.clone()),
        SequencerError::Stopped => SequencerError::Stopped,
        SequencerError::KeyRotated { current } => SequencerError::KeyRotated {
            current: current.clone(),
        },
        SequencerError::UnknownCorrected { position, event_id } => {
            SequencerError::UnknownCorrected {
                position: *position,
                event_id: event_id.clone(),
            }
        }
    }
}
