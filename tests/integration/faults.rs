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

struct FlakySigner {
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
enum Lie {
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
struct FlakyStore {
    inner: Arc<dyn Store>,
    fail: Arc<AtomicBool>,
}

struct FlakyTx {
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

struct Rig {
    _dir: tempfile::TempDir,
    url: String,
    token: String,
    store: Arc<dyn Store>,
    signer: Arc<FlakySigner>,
    store_fails: Arc<AtomicBool>,
    key: VerifierKey,
    client: reqwest::Client,
}

async fn rig(config: SequencerConfig) -> Rig {
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

#[tokio::test]
async fn a_failing_signer_gets_503_appends_nothing_and_recovers() {
    let r = rig(SequencerConfig::default()).await;
    assert_eq!(r.post(&event("a")).await.status(), 201);
    r.signer.fail.store(true, Ordering::SeqCst);
    let resp = r.post(&event("b")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    assert!(
        !body["message"].as_str().unwrap().contains("token removed"),
        "no internal detail: {body}"
    );
    assert_eq!(r.size().await, 1);
    let (status, reason) = r.ready().await;
    assert_eq!(status, 503);
    assert!(reason.contains("signer file"), "{reason}");
    assert!(reason.contains("token removed"), "{reason}");
    r.signer.fail.store(false, Ordering::SeqCst);
    assert_eq!(r.ready().await.0, 200);
    let resp = r.post(&event("b")).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(r.size().await, 2);
    r.audit_ok().await;
}

#[tokio::test]
async fn a_failing_commit_gets_503_and_the_retry_lands_once() {
    let r = rig(SequencerConfig::default()).await;
    r.store_fails.store(true, Ordering::SeqCst);
    let batch = Value::Array((0..10).map(|i| event(&format!("c{i}"))).collect());
    let resp = r.post(&batch).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unavailable", "{body}");
    assert_eq!(r.size().await, 0);
    let (status, reason) = r.ready().await;
    assert_eq!(status, 503);
    assert!(reason.contains("cannot commit"), "{reason}");
    r.store_fails.store(false, Ordering::SeqCst);
    // Nothing is posted: the server's own probe finds the store writable again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while r.ready().await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = r.post(&batch).await;
    assert_eq!(resp.status(), 201);
    let receipts: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(receipts.len(), 10);
    assert_eq!(r.size().await, 10);
    // The client's retry of the same batch is idempotent.
    assert_eq!(r.post(&batch).await.status(), 200);
    assert_eq!(r.size().await, 10);
    r.audit_ok().await;
}

#[tokio::test]
async fn a_full_queue_is_refused_at_once_with_retry_after() {
    let r = rig(SequencerConfig {
        queue_depth: 1,
        max_batch: 1,
        ..SequencerConfig::default()
    })
    .await;
    r.signer.delay_ms.store(150, Ordering::SeqCst);
    let mut tasks = vec![];
    for i in 0..8 {
        let (client, url, token) = (r.client.clone(), r.url.clone(), r.token.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(format!("{url}/v1/events"))
                .bearer_auth(token)
                .json(&event(&format!("q{i}")))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let retry_after = resp.headers().get("retry-after").is_some();
            let body: Value = resp.json().await.unwrap();
            (status, retry_after, body["error"].clone())
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, _, _) => ok += 1,
            (503, true, code) if code == "overloaded" => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "some requests must be refused");
    assert!(ok > 0, "some requests must pass");
    assert_eq!(r.size().await, ok);
    r.audit_ok().await;
}

#[tokio::test]
async fn integration_time_never_goes_backwards() {
    let start = DateTime::parse_from_rfc3339("2099-01-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let clock = Arc::new(move || {
        start - chrono::Duration::seconds(c.fetch_add(1, Ordering::SeqCst) as i64)
    });
    let r = rig(SequencerConfig {
        clock,
        ..SequencerConfig::default()
    })
    .await;
    let mut times = vec![];
    for i in 0..3 {
        let receipt: Value = r.post(&event(&format!("t{i}"))).await.json().await.unwrap();
        times.push(receipt["integrated_at"].as_str().unwrap().to_string());
    }
    assert_eq!(times[0], "2099-01-01T12:00:00.000000Z");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    r.audit_ok().await;
}

#[tokio::test]
async fn a_signer_that_lies_is_caught_before_anything_is_committed() {
    let r = rig(SequencerConfig::default()).await;
    assert_eq!(r.post(&event("a")).await.status(), 201);
    for (i, lie) in [Lie::Garbled, Lie::OtherKey, Lie::Truncated]
        .into_iter()
        .enumerate()
    {
        r.signer.lie.store(lie as u8, Ordering::SeqCst);
        let resp = r.post(&event(&format!("lie{i}"))).await;
        assert_eq!(resp.status(), 503, "{lie:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unavailable", "{lie:?}: {body}");
        assert_eq!(r.size().await, 1, "{lie:?}: nothing committed");
        r.audit_ok().await;
    }
    r.signer.lie.store(Lie::Truthful as u8, Ordering::SeqCst);
    assert_eq!(r.post(&event("lie0")).await.status(), 201);
    assert_eq!(r.size().await, 2);
    r.audit_ok().await;
}

#[tokio::test]
async fn a_conflict_inside_a_group_commit_fails_only_its_own_request() {
    // The batch closes when all five requests are in, so they share one commit.
    let r = rig(SequencerConfig {
        max_batch: 5,
        linger: Duration::from_secs(60),
        ..SequencerConfig::default()
    })
    .await;
    // Five entries in one request fill a batch at once.
    let first: Vec<Value> = ["x", "f1", "f2", "f3", "f4"]
        .iter()
        .map(|id| event(id))
        .collect();
    let logged = r.post(&Value::Array(first)).await;
    assert_eq!(logged.status(), 201);
    let receipts: Vec<Value> = logged.json().await.unwrap();
    let x_index = receipts[0]["index"].as_u64().unwrap();
    let next = receipts[4]["index"].as_u64().unwrap() + 1;
    let mut changed_x = event("x");
    changed_x["job_order_id"] = "WO-9999".into();
    let mut changed_y = event("y");
    changed_y["job_order_id"] = "WO-9999".into();
    let bodies = [event("a"), changed_x, event("b"), event("y"), changed_y];
    let (a, xc, b, y, yc) = tokio::join!(
        r.answer(&bodies[0]),
        r.answer(&bodies[1]),
        r.answer(&bodies[2]),
        r.answer(&bodies[3]),
        r.answer(&bodies[4])
    );
    let answers = [a, xc, b, y, yc];
    let (accepted, refused): (Vec<_>, Vec<_>) = answers.iter().partition(|(s, _)| *s == 201);
    assert_eq!(refused.len(), 2, "{answers:?}");
    for (status, body) in &refused {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"], "conflict", "{body}");
    }
    assert!(
        refused.iter().any(|(_, b)| b["message"]
            .as_str()
            .unwrap()
            .contains(&format!("index {x_index}"))),
        "the conflict with the logged event names its index: {refused:?}"
    );
    let mut indexes: Vec<u64> = accepted
        .iter()
        .map(|(_, b)| b["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![next, next + 1, next + 2]);
    let checkpoints: std::collections::BTreeSet<&str> = accepted
        .iter()
        .map(|(_, b)| b["checkpoint"].as_str().unwrap())
        .collect();
    assert_eq!(checkpoints.len(), 1, "one commit, one checkpoint");
    assert_eq!(r.size().await, next + 3);
    r.audit_ok().await;
}
