//! Step 3 of the commit protocol: telling new entries from resubmissions and conflicts.

use super::SequencerError;
use crate::entry::PreparedEntry;
use crate::store::DedupHit;
use std::collections::HashMap;

/// Where an entry of a request ended up.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    /// Position in this batch's new entries.
    New(usize),
    Existing(u64),
}

/// An entry to append: its request, its position there, and the index of the entry it
/// corrects, if it is a correction.
#[derive(Clone, Copy)]
pub(crate) struct NewRef {
    pub(crate) request: usize,
    pub(crate) pos: usize,
    pub(crate) corrects: Option<u64>,
}

/// Step 3 for one request: the slot of each entry, or the conflict that fails it.
/// `new` collects the entries to append. A correction must name an event logged
/// before it (earlier in the log, the batch or the request), else the request fails.
pub(crate) fn resolve(
    request: usize,
    entries: &[PreparedEntry],
    known: &HashMap<String, DedupHit>,
    in_batch: &mut HashMap<String, (usize, [u8; 32])>,
    new: &mut Vec<NewRef>,
    size: u64,
) -> Result<Vec<Slot>, SequencerError> {
    let mut slots = Vec::with_capacity(entries.len());
    let mut local: HashMap<String, (usize, [u8; 32])> = HashMap::new();
    let mut added = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let key = e.dedup_key.as_str();
        if let Some(hit) = known.get(key) {
            if hit.content_sha256 != e.content_sha256 {
                return Err(SequencerError::Conflict {
                    key: key.into(),
                    index: hit.index,
                });
            }
            slots.push(Slot::Existing(hit.index));
        } else if let Some(&(pos, digest)) = in_batch.get(key).or_else(|| local.get(key)) {
            if digest != e.content_sha256 {
                return Err(SequencerError::Conflict {
                    key: key.into(),
                    index: size + pos as u64,
                });
            }
            slots.push(Slot::New(pos));
        } else {
            let corrects = match &e.thread.corrects {
                None => None,
                Some(id) => {
                    let target = crate::entry::event_key(id);
                    let found = known.get(&target).map(|h| h.index).or_else(|| {
                        in_batch
                            .get(&target)
                            .or_else(|| local.get(&target))
                            .map(|(pos, _)| size + *pos as u64)
                    });
                    Some(found.ok_or_else(|| SequencerError::UnknownCorrected {
                        position: i,
                        event_id: id.clone(),
                    })?)
                }
            };
            let pos = new.len() + added.len();
            local.insert(key.to_string(), (pos, e.content_sha256));
            added.push(NewRef {
                request,
                pos: i,
                corrects,
            });
            slots.push(Slot::New(pos));
        }
    }
    in_batch.extend(local);
    new.extend(added);
    Ok(slots)
}
