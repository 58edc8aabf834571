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

mod commit;
mod guard;
mod receipts;
mod resolve;

use crate::entry::PreparedEntry;
use crate::merkle::Hash;
use crate::note::VerifierKey;
use crate::signer::Signer;
use crate::store::{Store, StoreError, TileCache};
use chrono::{DateTime, Utc};
use commit::Committed;
use guard::{LogKey, SignedTree};
use receipts::Provers;
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
