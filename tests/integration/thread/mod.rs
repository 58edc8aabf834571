//! The digital thread over HTTP, on SQLite and on PostgreSQL with the same cases: the
//! edges appends create, corrections, the back-fill of an older log, traces and recall
//! impact over a generated plant with known answers.

use crate::common;

use common::plant::*;
use common::TestServer;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

mod dot;
mod edges;
mod recall;
mod trace;
mod upgrade;

/// Every edge in the store as (from, to, kind, entry, at, label), sorted.
pub(super) type EdgeRow = (String, String, String, i64, i64, Option<String>);

pub(super) const ALL_EDGES: &str =
    "SELECT s.name AS src, d.name AS dst, e.kind, e.idx, e.at, e.label \
     FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst \
     ORDER BY e.idx, s.name, d.name, e.kind";

pub(super) async fn all_edges(url: &str) -> Vec<EdgeRow> {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let rows = sqlx::query_as(ALL_EDGES).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let rows = sqlx::query_as(ALL_EDGES).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// Runs statements on the server's database behind its back.
pub(super) async fn execute(url: &str, statements: &[&str]) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        for s in statements {
            sqlx::query(s).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
}

pub(super) fn print(id: &str, spool: &str, part: &str) -> Value {
    json!({
        "event_id": id,
        "event_type": "part_printed",
        "effective_time": "2026-11-24T08:15:00Z",
        "hierarchy_scope": {"site": "plant-1", "area": "additive"},
        "source": "mes.plant-1",
        "job_order_id": "WO-1",
        "equipment": [{"id": "printer-07", "role": "printer"}],
        "material": [
            {"definition": "PA12-CF", "lot": "FIL-1", "sublot": spool, "use": "consumed"},
            {"definition": "bracket-A", "serial": part, "use": "produced"}
        ]
    })
}

/// Posts the plant phase by phase; returns the tree size after each phase (each a
/// checkpointed size).
pub(super) async fn post_plant(s: &TestServer, plant: &Plant) -> [u64; 3] {
    let mut sizes = [0; 3];
    let mut at = 0;
    for (i, n) in plant.phases.iter().enumerate() {
        for chunk in plant.events[at..at + n].chunks(500) {
            let (status, r) = s.post_events(&Value::Array(chunk.to_vec())).await;
            assert_eq!(status, 201, "{r}");
        }
        at += n;
        sizes[i] = s.tree_size().await;
        assert_eq!(sizes[i], at as u64);
    }
    sizes
}

pub(super) fn ids(v: &Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|n| n["id"].as_str().or(n["node"].as_str()).unwrap().to_string())
        .collect()
}

pub(super) fn set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

/// The parts a lot's spools fed, as first recorded (corrected records included).
pub(super) fn parts_recorded_from(plant: &Plant, l: usize) -> Vec<usize> {
    let t = &plant.truth;
    let wrong: Vec<usize> = t
        .spool_errors
        .iter()
        .filter(|e| e.1 == l)
        .map(|e| e.0)
        .collect();
    let moved: Vec<usize> = t.spool_errors.iter().map(|e| e.0).collect();
    (0..t.part_spool.len())
        .filter(|p| (t.part_spool[*p].0 == l) || wrong.contains(p))
        .chain(
            // A part recorded from another lot and corrected to this one.
            moved.iter().copied().filter(|p| t.part_spool[*p].0 == l),
        )
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
