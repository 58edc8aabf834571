//! Opening a log: binds a store to its origin and signing key, once and for all.
//!
//! On first start the store records the origin and verifier key and gets a signed
//! checkpoint of the empty tree. On every later start the configuration must agree with
//! what the store remembers; a server with another origin or key refuses to start, so a
//! log can never silently split into two histories.

use crate::merkle::EMPTY_ROOT;
use crate::note::{self, Checkpoint};
use crate::sequencer::format_time;
use crate::signer::Signer;
use crate::store::{AppendBatch, LogMeta, Store, StoreError, StoredCheckpoint};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the database belongs to the log with origin {stored:?}, but the configured origin is \
         {configured:?}; set THREADLOG_ORIGIN={stored} or point DATABASE_URL at that log's database"
    )]
    OriginMismatch { stored: String, configured: String },
    #[error(
        "the database's log is signed by {stored}, but the configured signer has verifier key \
         {configured}; configure the log's own key (keys change only by rotation)"
    )]
    KeyMismatch { stored: String, configured: String },
    #[error(
        "origin {0:?} is not usable as a key name: it must be non-empty, without spaces or '+'"
    )]
    BadOrigin(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the empty checkpoint failed: {0}")]
    Signing(String),
}

/// The origin a store remembers, if any: lets an operator omit THREADLOG_ORIGIN.
pub async fn stored_origin(store: &dyn Store) -> Result<Option<String>, StoreError> {
    Ok(store.meta().await?.map(|m| m.origin))
}

/// Checks (or on first start records) the log identity, and makes sure an empty log has
/// its size-0 checkpoint. Returns the latest checkpoint.
pub async fn open(
    store: &dyn Store,
    signer: &dyn Signer,
    origin: &str,
) -> Result<StoredCheckpoint, OpenError> {
    if origin.is_empty() || origin.chars().any(char::is_whitespace) || origin.contains('+') {
        return Err(OpenError::BadOrigin(origin.to_string()));
    }
    let configured = signer.verifier_key().to_string();
    let meta = match store.meta().await? {
        Some(meta) => meta,
        None => {
            let mine = LogMeta {
                origin: origin.to_string(),
                verifier_key: configured.clone(),
            };
            match store.init_meta(&mine).await {
                Ok(()) => mine,
                // Another server sharing the database recorded its identity first; ours
                // must agree with it like on any later start.
                Err(StoreError::Conflict(_)) => store.meta().await?.ok_or_else(|| {
                    StoreError::Corrupt("the identity row vanished after a conflict".into())
                })?,
                Err(e) => return Err(e.into()),
            }
        }
    };
    if meta.origin != origin {
        return Err(OpenError::OriginMismatch {
            stored: meta.origin,
            configured: origin.into(),
        });
    }
    if meta.verifier_key != configured {
        return Err(OpenError::KeyMismatch {
            stored: meta.verifier_key,
            configured,
        });
    }
    if let Some(cp) = store.latest_checkpoint().await? {
        return Ok(cp);
    }
    let cp = Checkpoint {
        origin: origin.to_string(),
        tree_size: 0,
        root_hash: EMPTY_ROOT.0,
        extensions: vec![],
    };
    let note =
        note::sign_checkpoint(&cp, &[signer]).map_err(|e| OpenError::Signing(e.to_string()))?;
    let checkpoint = StoredCheckpoint {
        tree_size: 0,
        root_hash: EMPTY_ROOT,
        note,
        created_at: format_time(&chrono::Utc::now()),
    };
    let mut tx = store.begin_append().await?;
    let size = tx.frontier().await?.tree_size;
    if size == 0 && store.checkpoint(0).await?.is_none() {
        tx.write(&AppendBatch {
            entries: vec![],
            tiles: vec![],
            checkpoint: checkpoint.clone(),
        })
        .await?;
        tx.commit().await?;
    }
    Ok(store.latest_checkpoint().await?.unwrap_or(checkpoint))
}
