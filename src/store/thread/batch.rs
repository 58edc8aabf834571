//! The rows a batch adds to the thread once its nodes are interned, the same on both
//! backends: edges keyed by node ids, in primary-key order, and corrections.

use super::{to_sql, EntryThread, StoreError};

/// One edge row: source node id, entry index, destination node id, kind, time, label.
pub(super) type EdgeRow<'a> = (i64, i64, i64, &'a str, i64, Option<&'a str>);

/// The edge rows of some entries, node names replaced by the ids `id` gives, sorted by
/// primary key so that it fills page by page.
pub(super) fn edge_rows<'a>(
    rows: &[(i64, &'a EntryThread)],
    id: impl Fn(&str) -> Option<i64>,
) -> Result<Vec<EdgeRow<'a>>, StoreError> {
    let id =
        |n: &str| id(n).ok_or_else(|| StoreError::Corrupt(format!("node {n:?} was not interned")));
    let mut edges = Vec::new();
    for &(idx, t) in rows {
        for e in &t.edges {
            edges.push((
                id(&e.from)?,
                idx,
                id(&e.to)?,
                e.kind.as_str(),
                e.at,
                e.label.as_deref(),
            ));
        }
    }
    edges.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3));
    Ok(edges)
}

/// The corrections of some entries: the corrected index and the correcting one.
pub(super) fn correction_rows(rows: &[(i64, &EntryThread)]) -> Result<Vec<(i64, i64)>, StoreError> {
    rows.iter()
        .filter_map(|(idx, t)| t.corrects.map(|c| to_sql(c).map(|c| (c, *idx))))
        .collect()
}
