//! Assembling a running log from configuration: data directory, store, signer, identity
//! check and sequencer. `main` and the tests share this one startup path.

use crate::api::{auth::TokenCache, AppState};
use crate::config::{ServeConfig, DEFAULT_ORIGIN};
use crate::ledger::{self, OpenError};
use crate::sequencer::{Sequencer, SequencerConfig};
use crate::signer::{FileSigner, Pkcs11Signer, Signer, SignerError, SignerHealth, PROBE_MAX_AGE};
use crate::store::{self, StoreError, TileCache};
use crate::supplychain::attest::TrustPolicy;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(
        "THREADLOG_SIGNER={0:?} is not supported; use file:PATH or \
         pkcs11:module=PATH;token=LABEL;key=KEYLABEL"
    )]
    SignerSpec(String),
    #[error("THREADLOG_TRUST_POLICY {path}: {reason}")]
    TrustPolicy { path: String, reason: String },
}

/// What start-up printed and built.
pub struct Started {
    pub state: AppState,
    /// True when the key file was created by this start.
    pub key_created: bool,
    pub tree_size: u64,
    /// `file` or `pkcs11`, and where the key lives (never secret material).
    pub signer_kind: &'static str,
    pub signer_location: String,
}

fn open_signer(cfg: &ServeConfig, origin: &str) -> Result<(Arc<dyn Signer>, bool), StartError> {
    let spec = cfg
        .signer
        .clone()
        .unwrap_or_else(|| format!("file:{}", cfg.store.data_dir.join("log.key").display()));
    open_signer_spec(&spec, origin)
}

/// Opens the signer a `THREADLOG_SIGNER` value names, for `serve` and `keys rotate`: a
/// `file:` key is created if missing (returned `true`), a `pkcs11:` key must exist.
pub fn open_signer_spec(spec: &str, origin: &str) -> Result<(Arc<dyn Signer>, bool), StartError> {
    if spec.starts_with("pkcs11:") {
        let signer = Pkcs11Signer::from_spec(spec, origin).map_err(SignerError::from)?;
        return Ok((Arc::new(signer), false));
    }
    let path = spec
        .strip_prefix("file:")
        .ok_or_else(|| StartError::SignerSpec(spec.to_string()))?;
    let (signer, created) = FileSigner::open_or_create(&PathBuf::from(path), origin)?;
    Ok((Arc::new(signer), created))
}

/// Gives entries logged before the thread existed their edges, in the background: the
/// server serves meanwhile, and thread queries answer 503 until it is done. Retries
/// while the database is unavailable.
fn spawn_backfill(store: Arc<dyn store::Store>) {
    tokio::spawn(async move {
        loop {
            match crate::thread::backfill(store.as_ref(), &|done, end| {
                tracing::info!(done, end, "thread back-fill");
            })
            .await
            {
                Ok(_) => return,
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, "thread back-fill waits for the database");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "thread back-fill stopped; run threadlog verify");
                    return;
                }
            }
        }
    });
}

/// Reads and checks the trust policy file, if one is configured, the Sigstore trusted
/// root and the predicate schema files it names (relative paths are relative to the
/// policy file).
pub fn load_trust_policy(path: &Path) -> Result<TrustPolicy, StartError> {
    let fail = |reason: String| StartError::TrustPolicy {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut policy = TrustPolicy::from_toml(&text).map_err(|e| fail(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let read = |field: String, file: &str| {
        let file = dir.join(file);
        std::fs::read(&file).map_err(|e| {
            fail(format!(
                "trust policy: {field}: cannot read {}: {e}",
                file.display()
            ))
        })
    };
    let schemas: Vec<(usize, String)> = policy
        .predicates
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.schema_file.clone().map(|f| (i, f)))
        .collect();
    for (i, file) in schemas {
        let bytes = read(format!("predicates[{i}].schema"), &file)?;
        policy = policy
            .with_predicate_schema(i, &bytes)
            .map_err(|e| fail(e.to_string()))?;
    }
    if let Some(root) = policy.sigstore.trusted_root.clone() {
        let bytes = read("sigstore.trusted_root".into(), &root)?;
        policy = policy
            .with_trusted_root(&bytes)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(policy)
}

/// Opens everything `serve` needs; refuses to start on any disagreement.
pub async fn start(cfg: &ServeConfig) -> Result<Started, StartError> {
    // Before anything is opened or created: a bad policy is a configuration error.
    let trust_policy = cfg
        .trust_policy
        .as_deref()
        .map(load_trust_policy)
        .transpose()?
        .map(Arc::new);
    std::fs::create_dir_all(&cfg.store.data_dir).map_err(|e| StartError::DataDir {
        path: cfg.store.data_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let store = store::open(&cfg.store.url()).await?;
    let origin = match (&cfg.origin, ledger::stored_origin(store.as_ref()).await?) {
        (Some(o), _) => o.clone(),
        (None, Some(stored)) => stored,
        (None, None) => DEFAULT_ORIGIN.to_string(),
    };
    let (signer, key_created) = open_signer(cfg, &origin)?;
    let latest = ledger::open(store.as_ref(), signer.as_ref(), &origin).await?;
    let tiles = Arc::new(TileCache::new(cfg.tile_cache));
    let sequencer = Sequencer::start(
        store.clone(),
        signer.clone(),
        origin.clone(),
        tiles.clone(),
        SequencerConfig {
            queue_depth: cfg.queue_depth,
            max_batch: cfg.max_batch,
            linger: Duration::from_millis(cfg.batch_linger_ms),
            ..SequencerConfig::default()
        },
    )
    .await;
    sequencer
        .metrics
        .tree_size
        .store(latest.tree_size, std::sync::atomic::Ordering::Relaxed);
    spawn_backfill(store.clone());
    let reads = match &cfg.read_database_url {
        Some(url) => store::open_reader(url).await?,
        None => store.clone(),
    };
    Ok(Started {
        state: AppState {
            store,
            reads,
            sequencer,
            tiles,
            origin,
            verifier_key: signer.verifier_key().clone(),
            signer: Arc::new(SignerHealth::new(signer.clone(), PROBE_MAX_AGE)),
            tokens: Arc::new(TokenCache::default()),
            body_limit: cfg.max_body_bytes,
            document_limit: cfg.max_document_bytes,
            trust_policy,
        },
        key_created,
        tree_size: latest.tree_size,
        signer_kind: signer.kind(),
        signer_location: signer.location().to_string(),
    })
}
