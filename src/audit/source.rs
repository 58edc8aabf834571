//! Where verification reads the log from: a store directly, or a server over HTTP.

use crate::merkle::{self, Hash, TileId, TileSet};
use crate::store::{EntryQuery, Store, StoreError, TileCache};
use async_trait::async_trait;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("reading the log failed: {0}")]
    Read(String),
    /// A request to a server failed or was refused; the client's error stays the
    /// source, so the cause (refused, timed out, certificate) reaches the operator.
    #[error("reading the log failed: {0}")]
    Http(#[source] threadlog_client::ClientError),
    #[error("the log answered something malformed: {0}")]
    Malformed(String),
}

impl From<StoreError> for SourceError {
    fn from(e: StoreError) -> Self {
        SourceError::Read(e.to_string())
    }
}

/// Read access to a log, trusted for nothing: everything is checked by the caller.
#[async_trait]
pub trait Source: Send + Sync {
    /// The latest signed checkpoint note.
    async fn latest_checkpoint(&self) -> Result<String, SourceError>;
    /// Up to `limit` entries from index `start`, as (index, exact leaf bytes).
    async fn entries(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, SourceError>;
    /// Up to `limit` checkpoints with a size above `after`, ascending, if this source
    /// keeps them all (a store does; a server is asked only for the latest).
    async fn checkpoints(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<(u64, String)>, SourceError>;
    /// Whether [`Source::checkpoints`] lists every stored checkpoint (a store), so a
    /// checkpoint missing from the list is missing from the log.
    fn lists_checkpoints(&self) -> bool;
    /// The checkpoint issued at exactly `tree_size`, if one was.
    async fn checkpoint(&self, tree_size: u64) -> Result<Option<String>, SourceError>;
    /// Stored tiles, if this source exposes them.
    async fn tiles(&self, ids: &[TileId]) -> Result<Option<Vec<Option<Vec<u8>>>>, SourceError>;
    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, SourceError>;
    async fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, SourceError>;
    /// The stored document with this SHA-256 (exact bytes), if the log holds it.
    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, SourceError>;
}

/// A store read directly, as an operator does with `threadlog verify --database`.
pub struct StoreSource {
    store: Arc<dyn Store>,
    cache: TileCache,
}

impl StoreSource {
    pub fn new(store: Arc<dyn Store>) -> Self {
        StoreSource {
            store,
            cache: TileCache::new(64),
        }
    }

    async fn tile_set(&self, ids: &[TileId]) -> Result<TileSet, SourceError> {
        let mut set = TileSet::new();
        self.cache.load(self.store.as_ref(), ids, &mut set).await?;
        Ok(set)
    }
}

fn proof_err(e: merkle::ProofError) -> SourceError {
    SourceError::Malformed(e.to_string())
}

#[async_trait]
impl Source for StoreSource {
    async fn latest_checkpoint(&self) -> Result<String, SourceError> {
        self.store
            .latest_checkpoint()
            .await?
            .map(|c| c.note)
            .ok_or_else(|| SourceError::Malformed("the store has no checkpoint".into()))
    }

    async fn entries(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, SourceError> {
        let q = EntryQuery {
            after: start.checked_sub(1),
            limit,
            ..EntryQuery::default()
        };
        Ok(self
            .store
            .entries(&q)
            .await?
            .into_iter()
            .map(|e| (e.index, e.leaf))
            .collect())
    }

    async fn checkpoints(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<(u64, String)>, SourceError> {
        Ok(self
            .store
            .checkpoints(after, limit)
            .await?
            .into_iter()
            .map(|c| (c.tree_size, c.note))
            .collect())
    }

    fn lists_checkpoints(&self) -> bool {
        true
    }

    async fn checkpoint(&self, tree_size: u64) -> Result<Option<String>, SourceError> {
        Ok(self.store.checkpoint(tree_size).await?.map(|c| c.note))
    }

    async fn tiles(&self, ids: &[TileId]) -> Result<Option<Vec<Option<Vec<u8>>>>, SourceError> {
        Ok(Some(self.store.read_tiles(ids).await?))
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, SourceError> {
        let ids = merkle::needed_tiles_for_consistency(first, second).map_err(proof_err)?;
        merkle::consistency_proof(&self.tile_set(&ids).await?, first, second).map_err(proof_err)
    }

    async fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, SourceError> {
        let ids = merkle::needed_tiles_for_inclusion(index, tree_size).map_err(proof_err)?;
        merkle::inclusion_proof(&self.tile_set(&ids).await?, index, tree_size).map_err(proof_err)
    }

    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(self.store.blob(sha256).await?.map(|b| b.data))
    }
}
