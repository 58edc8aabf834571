//! Opening a log: binds a store to its origin and signing key, once and for all.
//!
//! On first start the store records the origin and verifier key and gets a signed
//! checkpoint of the empty tree. On every later start the configuration must agree with
//! what the store remembers; a server with another origin or key refuses to start, so a
//! log can never silently split into two histories. The key changes only by rotation
//! (`rotate`), which logs the change and moves the stored key in one transaction.

mod rotate;

pub use rotate::{logged_keys, rotate, LoggedKey, RotateError, Rotation};

use crate::merkle::EMPTY_ROOT;
use crate::note::{self, Checkpoint};
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
        "the log's key was rotated from the configured key {configured} to {stored}; restart \
         with the new key (THREADLOG_SIGNER)"
    )]
    RotatedAway { stored: String, configured: String },
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

/// Checks (or on first start records) the log identity. Returns the latest checkpoint.
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
        None => create(store, signer, origin).await?,
    };
    if meta.origin != origin {
        return Err(OpenError::OriginMismatch {
            stored: meta.origin,
            configured: origin.into(),
        });
    }
    if meta.verifier_key != configured {
        let history = logged_keys(store).await?;
        if history.iter().any(|k| k.verifier_key == configured) {
            return Err(OpenError::RotatedAway {
                stored: meta.verifier_key,
                configured,
            });
        }
        return Err(OpenError::KeyMismatch {
            stored: meta.verifier_key,
            configured,
        });
    }
    Ok(store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| StoreError::Corrupt("the log has an identity but no checkpoint".into()))?)
}

/// First start: the identity and the signed checkpoint of the empty tree, in one
/// transaction. Returns the identity now recorded: ours, or that of another server that
/// shares the database and got there first.
async fn create(
    store: &dyn Store,
    signer: &dyn Signer,
    origin: &str,
) -> Result<LogMeta, OpenError> {
    let cp = Checkpoint {
        origin: origin.to_string(),
        tree_size: 0,
        root_hash: EMPTY_ROOT.0,
        extensions: vec![],
    };
    let note =
        note::sign_checkpoint(&cp, &[signer]).map_err(|e| OpenError::Signing(e.to_string()))?;
    let mine = LogMeta {
        origin: origin.to_string(),
        verifier_key: signer.verifier_key().to_string(),
    };
    let mut tx = store.begin_append().await?;
    match tx.init_meta(&mine).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            return Ok(store.meta().await?.ok_or_else(|| {
                StoreError::Corrupt("the identity row vanished after a conflict".into())
            })?);
        }
        Err(e) => return Err(e.into()),
    }
    tx.write(&AppendBatch {
        entries: vec![],
        tiles: vec![],
        checkpoint: StoredCheckpoint {
            tree_size: 0,
            root_hash: EMPTY_ROOT,
            note,
            created_at: crate::time::now(),
        },
    })
    .await?;
    tx.commit().await?;
    Ok(mine)
}
