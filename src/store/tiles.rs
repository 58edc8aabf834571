//! Loading the tiles a proof needs, with a bounded cache of full tiles.
//! Full tiles never change, so caching them is always safe; edge tiles grow and are
//! always read from the store, except after the sequencer halted on a corrupt store: then
//! the edge it last signed, held in memory, is served instead of the stored one, so proofs
//! of the last good checkpoint stay correct. The cache is bounded so memory does not grow
//! with the log.

use super::{Store, StoreError};
use crate::merkle::{TileId, TileSet, TILE_WIDTH};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

pub struct TileCache {
    full: Mutex<LruCache<TileId, Arc<Vec<u8>>>>,
    pinned: Mutex<Option<TileSet>>,
}

impl TileCache {
    /// A cache of at most `capacity` full tiles (8 KiB each).
    pub fn new(capacity: usize) -> Self {
        TileCache {
            full: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN),
            )),
            pinned: Mutex::new(None),
        }
    }

    /// Serves `edge` (the edge tiles of the last tree the sequencer signed) instead of
    /// the stored tiles with the same ids, from now on.
    pub fn pin_edge(&self, edge: TileSet) {
        *self.pinned.lock().unwrap_or_else(|p| p.into_inner()) = Some(edge);
    }

    /// Adds tiles known to be current (e.g. just committed) to `set` and the cache.
    pub fn remember(&self, id: TileId, data: &[u8]) {
        if data.len() as u64 == TILE_WIDTH * 32 {
            self.lock().put(id, Arc::new(data.to_vec()));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<TileId, Arc<Vec<u8>>>> {
        // A panic while holding the lock leaves the cache valid (entries are immutable).
        self.full.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads `ids` into `set` (skipping those already there), from the cache or the store.
    pub async fn load(
        &self,
        store: &dyn Store,
        ids: &[TileId],
        set: &mut TileSet,
    ) -> Result<(), StoreError> {
        let mut missing = Vec::new();
        {
            let pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
            let mut cache = self.lock();
            for id in ids {
                if set.contains(id) {
                    continue;
                }
                if let Some(data) = pinned.as_ref().and_then(|p| p.get(id)) {
                    set.insert(*id, data.to_vec());
                    continue;
                }
                match cache.get(id) {
                    Some(data) => set.insert(*id, data.as_ref().clone()),
                    None => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let loaded = store.read_tiles(&missing).await?;
        for (id, data) in missing.into_iter().zip(loaded) {
            let data = data.ok_or_else(|| {
                StoreError::Corrupt(format!("tile {}/{} is missing", id.level, id.index))
            })?;
            self.remember(id, &data);
            set.insert(id, data);
        }
        Ok(())
    }
}
