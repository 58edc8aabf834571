//! Giving entries logged before the thread existed their edges: in chunks, each in one
//! append transaction (so it holds the log lock and never races another server's
//! back-fill), derived from the stored leaves exactly as the sequencer derives them.

use crate::entry;
use crate::store::{Backlog, EntryQuery, EntryThread, Store, StoreError};
use std::collections::HashMap;

/// Entries per transaction: short enough that appends wait at most a moment.
const CHUNK: u64 = 2000;

/// Back-fills until nothing is left; returns the final state. `progress(done, end)`
/// follows it. Safe to run in several processes at once and to interrupt.
pub async fn backfill(
    store: &dyn Store,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Backlog, StoreError> {
    loop {
        let mut tx = store.begin_append().await?;
        let backlog = tx.thread_backlog().await?;
        if backlog.done() {
            return Ok(backlog);
        }
        let to = (backlog.next + CHUNK).min(backlog.end);
        // Entries below the back-log's end are immutable and committed: read them
        // outside the transaction, through the readers.
        let entries = store
            .entries(&EntryQuery {
                after: backlog.next.checked_sub(1),
                below: Some(to),
                limit: CHUNK as u32,
                ..EntryQuery::default()
            })
            .await?;
        if entries.len() as u64 != to - backlog.next {
            return Err(StoreError::Corrupt(format!(
                "entries {}..{to} should all exist, {} do",
                backlog.next,
                entries.len()
            )));
        }
        let mut rows: Vec<(u64, EntryThread)> = Vec::new();
        let mut keys: HashMap<String, u64> = HashMap::new();
        for e in &entries {
            let d = match entry::derive(&e.leaf) {
                Ok(d) => d,
                Err(err) => {
                    // `threadlog verify` names such an entry; the thread skips it.
                    tracing::error!(index = e.index, error = %err, "unreadable leaf has no edges");
                    continue;
                }
            };
            let corrects = match &d.thread.corrects {
                None => None,
                Some(id) => {
                    let key = entry::event_key(id);
                    let found = match keys.get(&key) {
                        Some(i) => Some(*i),
                        None => tx.find_dedup(&[&key]).await?.first().map(|(_, h)| h.index),
                    };
                    found.filter(|i| *i < e.index)
                }
            };
            if let Some(k) = d.dedup_key {
                keys.entry(k).or_insert(e.index);
            }
            if !d.thread.edges.is_empty() || corrects.is_some() {
                rows.push((
                    e.index,
                    EntryThread {
                        edges: d.thread.edges,
                        corrects,
                    },
                ));
            }
        }
        match tx.backfill_thread(&rows, backlog.next, to).await {
            // Another process did this chunk; look again.
            Err(StoreError::Conflict(_)) => continue,
            other => other?,
        }
        tx.commit().await?;
        progress(to, backlog.end);
    }
}
