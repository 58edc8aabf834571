//! Dependency failures: a signer and a store that fail on demand, a full queue and a clock
//! that goes backwards. Nothing unacknowledged may appear, nothing acknowledged may be
//! lost, and the log recovers by itself.

use crate::common;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use common::event;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;
use threadlog::api::auth::{new_token, token_hash, AuthState};
use threadlog::api::AppState;
use threadlog::audit::{self, StoreSource};
use threadlog::merkle::TileId;
use threadlog::note::{NoteError, NoteSigner, VerifierKey};
use threadlog::sequencer::{Sequencer, SequencerConfig};
use threadlog::signer::{FileSigner, KeyLocation, Signer, SignerError, SignerHealth};
use threadlog::store::*;

mod sequencer;
mod signer;
mod store;

pub(super) struct FlakySigner {
    inner: FileSigner,
    /// Signs with the same name and key id but another key.
    impostor: FileSigner,
    fail: AtomicBool,
    /// What the signer returns instead of a good signature: see [`Lie`].
    lie: AtomicU8,
    delay_ms: AtomicU64,
}

/// How a signer that does not fail outright can still be wrong.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub(super) enum Lie {
    Truthful = 0,
    /// The right signature with one bit flipped.
    Garbled = 1,
    /// A valid Ed25519 signature by another key.
    OtherKey = 2,
    /// Not a signature at all.
    Truncated = 3,
}

impl NoteSigner for FlakySigner {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn key_id(&self) -> u32 {
        self.inner.key_id()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, NoteError> {
        std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        if self.fail.load(Ordering::SeqCst) {
            return Err(NoteError::Signing("token removed".into()));
        }
        let lie = self.lie.load(Ordering::SeqCst);
        if lie == Lie::OtherKey as u8 {
            return self.impostor.sign(msg);
        }
        let mut sig = self.inner.sign(msg)?;
        if lie == Lie::Garbled as u8 {
            sig[17] ^= 0x20;
        } else if lie == Lie::Truncated as u8 {
            sig.truncate(31);
        }
        Ok(sig)
    }
}

impl Signer for FlakySigner {
    fn kind(&self) -> &'static str {
        "file"
    }
    fn verifier_key(&self) -> &VerifierKey {
        self.inner.verifier_key()
    }
    fn location(&self) -> KeyLocation {
        self.inner.location()
    }
    fn probe(&self) -> Result<(), SignerError> {
        threadlog::signer::probe_note(self, self.inner.verifier_key())
    }
    fn last_signature_at(&self) -> Option<std::time::SystemTime> {
        self.inner.last_signature_at()
    }
}

/// A store whose append transactions fail at commit while `fail` is set.
pub(super) struct FlakyStore {
    inner: Arc<dyn Store>,
    fail: Arc<AtomicBool>,
}

pub(super) struct FlakyTx {
    inner: Box<dyn AppendTx>,
    fail: Arc<AtomicBool>,
}

#[async_trait]
impl AppendTx for FlakyTx {
    async fn frontier(&mut self) -> Result<Frontier, StoreError> {
        self.inner.frontier().await
    }
    async fn find_dedup(&mut self, keys: &[&str]) -> Result<Vec<(String, DedupHit)>, StoreError> {
        self.inner.find_dedup(keys).await
    }
    async fn init_meta(&mut self, meta: &LogMeta) -> Result<(), StoreError> {
        self.inner.init_meta(meta).await
    }
    async fn rotate_key(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        self.inner.rotate_key(from, to).await
    }
    async fn write(&mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        self.inner.write(batch).await
    }
    async fn thread_backlog(&mut self) -> Result<Backlog, StoreError> {
        self.inner.thread_backlog().await
    }
    async fn backfill_thread(
        &mut self,
        rows: &[(u64, EntryThread)],
        from: u64,
        to: u64,
    ) -> Result<(), StoreError> {
        self.inner.backfill_thread(rows, from, to).await
    }
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("disk I/O error".into()));
        }
        self.inner.commit().await
    }
}

#[async_trait]
impl Store for FlakyStore {
    async fn begin_append(&self) -> Result<Box<dyn AppendTx>, StoreError> {
        Ok(Box::new(FlakyTx {
            inner: self.inner.begin_append().await?,
            fail: self.fail.clone(),
        }))
    }
    async fn meta(&self) -> Result<Option<LogMeta>, StoreError> {
        self.inner.meta().await
    }
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.latest_checkpoint().await
    }
    async fn checkpoint(&self, tree_size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.checkpoint(tree_size).await
    }
    async fn checkpoints(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.inner.checkpoints(after, limit).await
    }
    async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.inner.read_tiles(ids).await
    }
    async fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        self.inner.entry(index).await
    }
    async fn entries(&self, q: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError> {
        self.inner.entries(q).await
    }
    async fn find_dedup(&self, key: &str) -> Result<Option<DedupHit>, StoreError> {
        self.inner.find_dedup(key).await
    }
    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<LoggedEdge>, StoreError> {
        self.inner.edges(q).await
    }
    async fn corrections(
        &self,
        indexes: &[u64],
        below: u64,
    ) -> Result<Vec<Correction>, StoreError> {
        self.inner.corrections(indexes, below).await
    }
    async fn thread_backlog(&self) -> Result<Backlog, StoreError> {
        self.inner.thread_backlog().await
    }
    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<StoredBlob>, StoreError> {
        self.inner.blob(sha256).await
    }
    async fn insert_token(
        &self,
        name: &str,
        role: &str,
        token_sha256: &[u8; 32],
        expires_at: Option<&str>,
    ) -> Result<(), StoreError> {
        self.inner
            .insert_token(name, role, token_sha256, expires_at)
            .await
    }
    async fn token(&self, token_sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.inner.token(token_sha256).await
    }
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.inner.tokens().await
    }
    async fn revoke_tokens(&self, name: &str, at: &str) -> Result<u64, StoreError> {
        self.inner.revoke_tokens(name, at).await
    }
    async fn touch_token(&self, token_sha256: &[u8; 32], at: &str) -> Result<(), StoreError> {
        self.inner.touch_token(token_sha256, at).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn probe_commit(&self) -> Result<(), StoreError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("disk I/O error".into()));
        }
        self.inner.probe_commit().await
    }
}

pub(super) struct Rig {
    _dir: tempfile::TempDir,
    url: String,
    token: String,
    store: Arc<dyn Store>,
    signer: Arc<FlakySigner>,
    store_fails: Arc<AtomicBool>,
    key: VerifierKey,
    client: reqwest::Client,
}

pub(super) async fn rig(config: SequencerConfig) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let inner: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap(),
    );
    let store_fails = Arc::new(AtomicBool::new(false));
    let store: Arc<dyn Store> = Arc::new(FlakyStore {
        inner,
        fail: store_fails.clone(),
    });
    let (file, _) =
        FileSigner::open_or_create(&dir.path().join("k"), "faults.example/log").unwrap();
    let (impostor, _) =
        FileSigner::open_or_create(&dir.path().join("other"), "faults.example/log").unwrap();
    let signer = Arc::new(FlakySigner {
        inner: file,
        impostor,
        fail: AtomicBool::new(false),
        lie: AtomicU8::new(Lie::Truthful as u8),
        delay_ms: AtomicU64::new(0),
    });
    threadlog::ledger::open(store.as_ref(), signer.as_ref(), "faults.example/log")
        .await
        .unwrap();
    let tiles = Arc::new(TileCache::new(16));
    let sequencer = Sequencer::start(
        store.clone(),
        signer.clone(),
        "faults.example/log".into(),
        tiles.clone(),
        config,
    )
    .await;
    let token = new_token();
    store
        .insert_token("line-1", "producer", &token_hash(&token), None)
        .await
        .unwrap();
    let state = AppState {
        store: store.clone(),
        reads: store.clone(),
        sequencer,
        tiles,
        origin: "faults.example/log".into(),
        verifier_key: signer.verifier_key().clone(),
        // No probe caching here, so readiness follows the signer at once.
        signer: Arc::new(SignerHealth::new(signer.clone(), Duration::ZERO)),
        tokens: Arc::new(AuthState::default()),
        body_limit: 1 << 20,
        document_limit: 1 << 20,
        trust_policy: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(threadlog::api::serve(
        listener,
        state,
        std::future::pending(),
    ));
    Rig {
        _dir: dir,
        url,
        token,
        key: signer.verifier_key().clone(),
        store,
        signer,
        store_fails,
        client: reqwest::Client::new(),
    }
}

impl Rig {
    /// `/readyz`: the status and the reason given.
    async fn ready(&self) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}/readyz", self.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        (status, body["reason"].as_str().unwrap_or_default().into())
    }

    async fn post(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}/v1/events", self.url))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A post's status and JSON body.
    async fn answer(&self, body: &Value) -> (u16, Value) {
        let resp = self.post(body).await;
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn size(&self) -> u64 {
        self.store
            .latest_checkpoint()
            .await
            .unwrap()
            .unwrap()
            .tree_size
    }

    async fn audit_ok(&self) {
        let r = audit::verify(
            &StoreSource::new(self.store.clone()),
            &self.key,
            None,
            &|_, _| {},
        )
        .await
        .unwrap();
        assert!(r.ok, "{r:?}");
    }
}
