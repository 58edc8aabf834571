//! Assembling a running log from configuration: data directory, store, signer, identity
//! check and sequencer. `main` and the tests share this one startup path.

use crate::api::{auth::AuthState, AppState};
use crate::config::{ServeConfig, StoreArgs, DEFAULT_ORIGIN};
use crate::ledger::{self, OpenError};
use crate::sequencer::{Sequencer, SequencerConfig};
use crate::signer::{FileSigner, Pkcs11Signer, Signer, SignerError, SignerHealth, PROBE_MAX_AGE};
use crate::store::{self, StoreError, StoredCheckpoint, TileCache};
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
        "THREADLOG_SIGNER={0:?} is not supported; use file:PATH, \
         pkcs11:module=PATH;token=LABEL;key=KEYLABEL or an RFC 7512 URI \
         pkcs11:token=LABEL;object=KEYLABEL?module-path=PATH"
    )]
    SignerSpec(String),
    #[error("THREADLOG_TRUST_POLICY {path}: {reason}")]
    TrustPolicy { path: String, reason: String },
    #[error(
        "{database} holds no log; create it with `threadlog init` (with the same \
         --data-dir or --database-url), or start with `threadlog serve --init`"
    )]
    NoLog { database: String },
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

/// A log opened and checked against the identity its database records.
pub struct OpenedLog {
    pub store: Arc<dyn store::Store>,
    pub origin: String,
    pub signer: Arc<dyn Signer>,
    /// True when the key file was created by this call.
    pub key_created: bool,
    /// True when the log (identity and first checkpoint) was created by this call.
    pub created: bool,
    pub latest: StoredCheckpoint,
}

/// Opens the store, the signer and the log identity for `serve` and `threadlog init`.
/// Only with `create` may a log be begun: otherwise a database without one (or a SQLite
/// file that does not exist, which is then not created) is refused, so a mistyped data
/// directory never becomes a new, empty log.
pub async fn open_log(
    args: &StoreArgs,
    origin: Option<&str>,
    signer: Option<&str>,
    create: bool,
) -> Result<OpenedLog, StartError> {
    let url = args.url();
    let no_log = || StartError::NoLog {
        database: store::redact(&url),
    };
    if !create && store::sqlite_file(&url)?.is_some_and(|f| !f.exists()) {
        return Err(no_log());
    }
    let data_dir = || {
        store::create_data_dir(&args.data_dir).map_err(|e| StartError::DataDir {
            path: args.data_dir.display().to_string(),
            reason: e.to_string(),
        })
    };
    if create {
        data_dir()?;
    }
    let store = store::open(&url).await?;
    let meta = store.meta().await?;
    if meta.is_none() && !create {
        return Err(no_log());
    }
    // The default key file's home; it exists already unless the database is elsewhere.
    data_dir()?;
    let origin = match (origin, &meta) {
        (Some(o), _) => o.to_string(),
        (None, Some(stored)) => stored.origin.clone(),
        (None, None) => DEFAULT_ORIGIN.to_string(),
    };
    let spec = signer
        .map(str::to_string)
        .unwrap_or_else(|| format!("file:{}", args.data_dir.join("log.key").display()));
    let (signer, key_created) = open_signer_spec(&spec, &origin)?;
    let latest = ledger::open(store.as_ref(), signer.as_ref(), &origin).await?;
    Ok(OpenedLog {
        store,
        origin,
        signer,
        key_created,
        created: meta.is_none(),
        latest,
    })
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
    let OpenedLog {
        store,
        origin,
        signer,
        key_created,
        latest,
        ..
    } = open_log(
        &cfg.store,
        cfg.origin.as_deref(),
        cfg.signer.as_deref(),
        cfg.init,
    )
    .await?;
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
            tokens: Arc::new(AuthState::default()),
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
