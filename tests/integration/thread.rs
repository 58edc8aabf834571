//! The digital thread over HTTP, on SQLite and on PostgreSQL with the same cases: the
//! edges appends create, corrections, the back-fill of an older log, traces and recall
//! impact over a generated plant with known answers.

use crate::common;

use common::plant::*;
use common::TestServer;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Every edge in the store as (from, to, kind, entry, at, label), sorted.
type EdgeRow = (String, String, String, i64, i64, Option<String>);

const ALL_EDGES: &str = "SELECT s.name AS src, d.name AS dst, e.kind, e.idx, e.at, e.label \
     FROM edges e JOIN nodes s ON s.id = e.src JOIN nodes d ON d.id = e.dst \
     ORDER BY e.idx, s.name, d.name, e.kind";

async fn all_edges(url: &str) -> Vec<EdgeRow> {
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
async fn execute(url: &str, statements: &[&str]) {
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

fn print(id: &str, spool: &str, part: &str) -> Value {
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

both!(corrections_must_follow_the_event_they_correct);
async fn corrections_must_follow_the_event_they_correct(s: TestServer) {
    let (status, first) = s.post_events(&print("p-1", "FIL-1-S1", "P-1")).await;
    assert_eq!(status, 201, "{first}");

    let mut fix = print("p-1-fix", "FIL-1-S2", "P-1");
    fix["event_type"] = json!("correction");
    fix["corrects"] = json!({"event_id": "p-9", "reason": "wrong spool scanned"});
    let (status, err) = s.post_events(&fix).await;
    assert_eq!(status, 422, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("\"p-9\"") && message.contains("must follow"),
        "{message}"
    );

    fix["corrects"] = json!({"event_id": "p-1", "reason": "wrong spool scanned"});
    let (status, r) = s.post_events(&fix).await;
    assert_eq!(status, 201, "{r}");
    let (status, again) = s.post_events(&fix).await;
    assert_eq!(
        status, 200,
        "a resubmitted correction is a duplicate: {again}"
    );

    // An event and its correction in one request: the correction follows it.
    let mut later = print("p-2-fix", "FIL-1-S2", "P-2");
    later["corrects"] = json!({"event_id": "p-2"});
    let (status, rs) = s
        .post_events(&json!([print("p-2", "FIL-1-S1", "P-2"), later]))
        .await;
    assert_eq!(status, 201, "{rs}");
    // ...but not before it.
    let mut early = print("p-3-fix", "FIL-1-S2", "P-3");
    early["corrects"] = json!({"event_id": "p-3"});
    let (status, err) = s
        .post_events(&json!([early, print("p-3", "FIL-1-S1", "P-3")]))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["message"].as_str().unwrap().starts_with("event 0 "));

    let c = s.store.corrections(&[0, 2], 4).await.unwrap();
    let pairs: Vec<(u64, u64)> = c.iter().map(|c| (c.corrected, c.by)).collect();
    assert_eq!(pairs, vec![(0, 1), (2, 3)]);
    assert_eq!(
        rs[1]["index"], 3,
        "the correction's receipt is for the entry after the event"
    );

    // Both the corrected edge and its correction are there: nothing is replaced.
    let edges = all_edges(&s.database_url).await;
    let into_p1: Vec<(&str, i64)> = edges
        .iter()
        .filter(|e| e.1 == "serial:P-1" && e.2 == "material")
        .map(|e| (e.0.as_str(), e.3))
        .collect();
    assert_eq!(
        into_p1,
        vec![("sublot:FIL-1-S1", 0), ("sublot:FIL-1-S2", 1)]
    );
    assert!(s.audit().await.ok);
    s.stop().await;
}

both!(an_older_log_gets_the_same_edges_afterwards);
async fn an_older_log_gets_the_same_edges_afterwards(s: TestServer) {
    let mut events: Vec<Value> = (0..300)
        .map(|i| {
            print(
                &format!("p-{i}"),
                &format!("FIL-1-S{}", i % 4),
                &format!("P-{i}"),
            )
        })
        .collect();
    events[250]["corrects"] = json!({"event_id": "p-7"});
    events[250]["event_type"] = json!("correction");
    assert_eq!(s.post_events(&Value::Array(events)).await.0, 201);
    let mut ship = print("ship-1", "FIL-1-S0", "P-0");
    ship["material"] = json!([{"definition": "bracket-A", "serial": "P-0", "use": "consumed"}]);
    ship["customer"] = json!({"id": "ACME", "order": "PO-1"});
    assert_eq!(s.post_events(&ship).await.0, 201);
    let written = all_edges(&s.database_url).await;
    // Four edges per print (contains, material, equipment, work order); three for the
    // shipment (equipment, work order, customer).
    assert_eq!(written.len(), 300 * 4 + 3);

    // As if the log had been written before the thread existed: no rows, a back-log.
    execute(
        &s.database_url,
        &[
            "DELETE FROM edges",
            "DELETE FROM corrections",
            "DELETE FROM nodes",
            "UPDATE thread_backfill SET next_idx = 0, end_idx = 301",
        ],
    )
    .await;
    let backlog = s.store.thread_backlog().await.unwrap();
    assert_eq!((backlog.next, backlog.end), (0, 301));

    let seen = std::sync::Mutex::new(Vec::new());
    let done = threadlog::thread::backfill(s.store.as_ref(), &|d, e| {
        seen.lock().unwrap().push((d, e));
    })
    .await
    .unwrap();
    assert!(done.done());
    assert_eq!(seen.into_inner().unwrap().last(), Some(&(301, 301)));
    assert_eq!(all_edges(&s.database_url).await, written);
    let c = s.store.corrections(&[7], 301).await.unwrap();
    assert_eq!((c[0].corrected, c[0].by), (7, 250));
    // Running it again finds nothing to do.
    threadlog::thread::backfill(s.store.as_ref(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(all_edges(&s.database_url).await, written);
    s.stop().await;
}

both!(a_moved_log_keeps_its_edges);
async fn a_moved_log_keeps_its_edges(s: TestServer) {
    let mut events: Vec<Value> = (0..40)
        .map(|i| {
            print(
                &format!("p-{i}"),
                &format!("FIL-1-S{}", i % 4),
                &format!("P-{i}"),
            )
        })
        .collect();
    events[30]["corrects"] = json!({"event_id": "p-3"});
    assert_eq!(s.post_events(&Value::Array(events)).await.0, 201);
    let mut fix = print("p-5-fix", "FIL-1-S3", "P-5");
    fix["corrects"] = json!({"event_id": "p-5"});
    assert_eq!(s.post_events(&fix).await.0, 201);
    let written = all_edges(&s.database_url).await;

    let out = s.dir.path().join("dump");
    threadlog::dump::export(s.store.as_ref(), &out, &|_, _| {})
        .await
        .unwrap();
    let target = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", target.path().join("moved.db").display());
    let moved = threadlog::store::open(&url).await.unwrap();
    threadlog::dump::import(&out, moved.clone(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(all_edges(&url).await, written);
    let pairs: Vec<(u64, u64)> = moved
        .corrections(&[3, 5], 100)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.corrected, c.by))
        .collect();
    assert_eq!(pairs, vec![(3, 30), (5, 40)]);
    s.stop().await;
}

/// Posts the plant phase by phase; returns the tree size after each phase (each a
/// checkpointed size).
async fn post_plant(s: &TestServer, plant: &Plant) -> [u64; 3] {
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

fn ids(v: &Value, key: &str) -> BTreeSet<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|n| n["id"].as_str().or(n["node"].as_str()).unwrap().to_string())
        .collect()
}

fn set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

/// What the plant says is upstream of assembly `a`.
fn upstream_of_assembly(plant: &Plant, a: usize) -> BTreeSet<String> {
    let t = &plant.truth;
    let mut want = set([
        assembly(a),
        t.assembly_fastener_lot[a].clone(),
        t.assembly_work_order[a].clone(),
        "equipment:press-1".into(),
        "equipment:tester-1".into(),
        TESTER_FIRMWARE.into(),
    ]);
    if t.shipped[a].is_some() {
        want.insert("equipment:dock-1".into());
    }
    for &p in &t.assembly_parts[a] {
        let (l, sp) = &t.part_spool[p];
        want.extend([
            part(p),
            sp.clone(),
            lot(*l),
            t.supplier_lot[*l].clone(),
            printer(t.part_printer[p]),
            program(t.part_program[p]),
            firmware(t.part_firmware[p]),
            t.part_work_order[p].clone(),
            "equipment:cmm-1".into(),
        ]);
    }
    want
}

/// The parts a lot's spools fed, as first recorded (corrected records included).
fn parts_recorded_from(plant: &Plant, l: usize) -> Vec<usize> {
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

both!(traces_answer_what_went_in_and_where_it_went);
async fn traces_answer_what_went_in_and_where_it_went(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;
    let t = &plant.truth;

    // Backward from a shipped assembly: its parts, their spools, lots and supplier lots,
    // printers, programs, firmware, work orders, and the assembly's own actors.
    let a = 4;
    let (status, v) = s
        .get_json(&format!(
            "/v1/thread/{}?direction=backward&depth=10",
            assembly(a)
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(ids(&v, "nodes"), upstream_of_assembly(&plant, a));
    assert_eq!(v["truncated"], false);
    assert_eq!(v["checkpoint"]["tree_size"], sizes[2]);
    let (cp, _) = threadlog::note::open_checkpoint(
        v["checkpoint"]["note"].as_str().unwrap(),
        std::slice::from_ref(&s.verifier_key),
        &s.origin,
    )
    .unwrap();
    assert_eq!(cp.tree_size, sizes[2]);
    assert_eq!(
        threadlog::merkle::Hash(cp.root_hash).to_base64(),
        v["checkpoint"]["root_hash"].as_str().unwrap()
    );
    // Every edge names the entry that created it.
    let p = t.assembly_parts[a][0];
    let edge = |v: &Value, from: &str, to: &str, kind: &str| -> Vec<Value> {
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
            .cloned()
            .collect()
    };
    let e = edge(&v, &part(p), &assembly(a), "material");
    assert_eq!(e.len(), 1, "{v}");
    assert_eq!(e[0]["entry"], t.assembly_event[a]);
    assert_eq!(
        edge(&v, &printer(t.part_printer[p]), &part(p), "equipment")[0]["label"],
        "printer"
    );
    assert_eq!(
        edge(&v, &t.assembly_fastener_lot[a], &assembly(a), "genealogy")[0]["label"],
        "fastener"
    );
    // Every print from a spool says it belongs to its lot: one edge, the first entry
    // saying so (the spool's label), and how many others say it too.
    let (l0, sp) = &t.part_spool[p];
    let c = edge(&v, &lot(*l0), sp, "contains");
    assert_eq!(c.len(), 1);
    assert!(c[0]["entry"].as_u64().unwrap() < plant.spec.filament_lots as u64 * 5);
    assert!(c[0]["also_stated_by"].as_u64().unwrap() >= 1, "{}", c[0]);

    // Forward from a filament lot: its spools, the parts printed from them, the
    // assemblies they went into and the customers those went to.
    let l = 1;
    let (status, v) = s
        .get_json(&format!("/v1/thread/{}?direction=forward&depth=10", lot(l)))
        .await;
    assert_eq!(status, 200, "{v}");
    let mut want = set([lot(l)]);
    want.extend((0..plant.spec.spools_per_lot).map(|k| spool(l, k)));
    for p in parts_recorded_from(&plant, l) {
        want.insert(part(p));
        for a in plant.assemblies_of(p) {
            want.insert(assembly(a));
            if let Some((c, _)) = &t.shipped[a] {
                want.insert(c.clone());
            }
        }
    }
    assert_eq!(ids(&v, "nodes"), want);

    // A recording error and its correction are both there, each naming the other.
    let (p, _, wrong_spool, wrong_at, fix_at) = t
        .spool_errors
        .iter()
        .find(|e| e.1 == l)
        .cloned()
        .expect("a part of lot 2 first recorded from lot 1");
    let e = edge(&v, &wrong_spool, &part(p), "material");
    assert_eq!(e[0]["entry"], wrong_at);
    assert_eq!(e[0]["corrected_by"], json!([fix_at]));
    let (status, v) = s
        .get_json(&format!("/v1/thread/{}?direction=backward", part(p)))
        .await;
    assert_eq!(status, 200);
    let right = edge(&v, &t.part_spool[p].1, &part(p), "material");
    assert_eq!(right[0]["entry"], fix_at);
    assert_eq!(right[0]["corrects"], wrong_at);
    assert!(v["corrections"]
        .as_array()
        .unwrap()
        .contains(&json!({"entry": fix_at, "corrects": wrong_at})));
    assert!(ids(&v, "nodes").contains(&wrong_spool), "both are shown");

    // Both directions: the union of the two.
    let (_, up) = s
        .get_json(&format!("/v1/thread/{}?direction=backward", assembly(a)))
        .await;
    let (_, down) = s
        .get_json(&format!("/v1/thread/{}?direction=forward", assembly(a)))
        .await;
    let (_, both) = s.get_json(&format!("/v1/thread/{}", assembly(a))).await;
    assert_eq!(both["direction"], "both");
    let mut union = ids(&up, "nodes");
    union.extend(ids(&down, "nodes"));
    assert_eq!(ids(&both, "nodes"), union);
    assert_eq!(
        ids(&down, "nodes"),
        set([assembly(a), t.shipped[a].clone().unwrap().0])
    );
    s.stop().await;
}

both!(traces_are_bounded_pinned_to_a_checkpoint_and_drawn);
async fn traces_are_bounded_pinned_to_a_checkpoint_and_drawn(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;
    let t = &plant.truth;
    let path = |node: &str, q: &str| format!("/v1/thread/{node}?{q}");

    // An answer at an earlier checkpoint counts only the entries below it.
    let forward = |size: u64| path(&lot(0), &format!("direction=forward&tree_size={size}"));
    let (_, v) = s.get_json(&forward(sizes[0])).await;
    assert_eq!(v["checkpoint"]["tree_size"], sizes[0]);
    let nodes = ids(&v, "nodes");
    assert!(nodes.contains(&part(0)) && !nodes.contains(&assembly(0)));
    assert!(v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["entry"].as_u64().unwrap() < sizes[0]));
    let (_, v) = s.get_json(&forward(sizes[1])).await;
    let nodes = ids(&v, "nodes");
    assert!(nodes.contains(&assembly(0)));
    assert!(!nodes.iter().any(|n| n.starts_with("customer:")));
    // The same question at the same size gives the same answer.
    let (_, again) = s.get_json(&forward(sizes[1])).await;
    assert_eq!(v, again);
    let (status, _) = s.get_json(&forward(5)).await;
    assert_eq!(status, 404, "no checkpoint at 5");

    // Bounded depth and node count, and the answer says so.
    let (_, v) = s
        .get_json(&path(&lot(0), "direction=forward&depth=1"))
        .await;
    assert_eq!(v["truncated"], true);
    assert_eq!(v["truncation"], json!(["depth limit of 1 reached"]));
    let mut want = set([lot(0)]);
    want.extend((0..plant.spec.spools_per_lot).map(|k| spool(0, k)));
    assert_eq!(ids(&v, "nodes"), want);
    let (_, v) = s
        .get_json(&path(&lot(0), "direction=forward&max_nodes=3"))
        .await;
    assert_eq!(v["truncated"], true);
    assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(v["truncation"], json!(["node limit of 3 reached"]));

    // A cycle (an assembly taken apart and rebuilt) ends in the visited set.
    let (a, p) = t.rework.unwrap();
    let (status, v) = s
        .get_json(&path(&assembly(a), "direction=both&depth=64"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["truncated"], false);
    let has = |from: &str, to: &str| {
        v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["from"] == from && e["to"] == to && e["kind"] == "material")
    };
    assert!(has(&part(p), &assembly(a)) && has(&assembly(a), &part(p)));

    // Graphviz, with the checkpoint in a header and in comments.
    let (status, dot) = s
        .get(
            &path(&assembly(4), "direction=backward&format=dot"),
            &s.auditor,
        )
        .await;
    assert_eq!(status, 200);
    assert!(dot.starts_with(&format!("// threadlog thread of {}", assembly(4))));
    assert!(dot.contains(&format!("// computed at tree size {}", sizes[2])));
    assert!(dot.contains("digraph thread {"));
    assert!(dot.contains(&format!(
        "\"{}\" -> \"{}\" [label=\"material #{}\"]",
        part(t.assembly_parts[4][0]),
        assembly(4),
        t.assembly_event[4]
    )));
    let r = s
        .client
        .get(format!("{}{}", s.url, path(&assembly(4), "format=dot")))
        .bearer_auth(&s.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "text/vnd.graphviz; charset=utf-8"
    );
    assert_eq!(
        r.headers()["x-threadlog-tree-size"],
        sizes[2].to_string().as_str()
    );

    // Wrong requests say what is wrong.
    for (q, status, needle) in [
        (path("batch:1", ""), 400, "not a node id"),
        (
            path(&lot(0), "direction=up"),
            400,
            "backward, forward or both",
        ),
        (path(&lot(0), "depth=0"), 400, "depth"),
        (path(&lot(0), "depth=65"), 400, "depth"),
        (path(&lot(0), "max_nodes=0"), 400, "max_nodes"),
        (path(&lot(0), "format=svg"), 400, "json or dot"),
        (path(&lot(0), "colour=red"), 400, "unknown field"),
        (path("serial:NOPE", ""), 404, "appears in no entry"),
    ] {
        let (got, body) = s.get(&q, &s.auditor).await;
        assert_eq!(got, status, "{q}: {body}");
        assert!(body.contains(needle), "{q}: {body}");
    }
    let (status, _) = s.get(&path(&lot(0), ""), &s.producer).await;
    assert_eq!(status, 403);
    let (status, _) = s.get(&path(&lot(0), ""), &s.admin).await;
    assert_eq!(status, 200);
    let r = s
        .client
        .get(format!("{}{}", s.url, path(&lot(0), "")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // While older entries wait for their edges, answers that need them are refused.
    execute(
        &s.database_url,
        &["UPDATE thread_backfill SET next_idx = 10, end_idx = 20"],
    )
    .await;
    let (status, body) = s.get(&path(&lot(0), ""), &s.auditor).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("\"indexing\"") && body.contains("10 of 20"),
        "{body}"
    );
    execute(
        &s.database_url,
        &["UPDATE thread_backfill SET next_idx = 20"],
    )
    .await;
    let (status, _) = s.get(&path(&lot(0), ""), &s.auditor).await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// What the plant says is finished downstream of some parts: the assemblies they went
/// into (with the part of the rework loop, which is finished with its assembly), or the
/// parts themselves when they went into nothing (scrapped, left over).
fn finished_from(plant: &Plant, parts: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in parts {
        let into = plant.assemblies_of(p);
        if into.is_empty() {
            out.insert(part(p));
        }
        for a in into {
            out.insert(assembly(a));
            if let Some((ra, rp)) = plant.truth.rework {
                if ra == a {
                    out.insert(part(rp));
                }
            }
        }
    }
    out
}

async fn recall(s: &TestServer, body: Value) -> Value {
    let (status, v) = s
        .post_raw("/v1/thread/recall-impact", &s.auditor, body.to_string())
        .await;
    assert_eq!(status, 200, "{body}: {v}");
    v
}

fn results(v: &Value) -> BTreeSet<String> {
    ids(v, "finished")
}

/// Each result's path runs from its suspect to it, edge to edge.
fn check_paths(v: &Value) {
    for r in v["finished"].as_array().unwrap() {
        let path = r["path"].as_array().unwrap();
        let mut at = r["suspect"].as_str().unwrap();
        for e in path {
            assert_eq!(e["from"].as_str().unwrap(), at, "{r}");
            at = e["to"].as_str().unwrap();
        }
        assert_eq!(at, r["node"].as_str().unwrap(), "{r}");
        let corrected = path.iter().any(|e| e.get("corrected_by").is_some());
        assert_eq!(r["via_corrected"].as_bool().unwrap(), corrected, "{r}");
    }
}

both!(recall_impact_finds_every_finished_serial_downstream);
async fn recall_impact_finds_every_finished_serial_downstream(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;
    let t = &plant.truth;

    // A bad filament lot: every assembly made with its parts, and its parts that went
    // into nothing; per work order and customer.
    let l = 1;
    let v = recall(&s, json!({"suspects": [{"node": lot(l)}]})).await;
    assert_eq!(v["checkpoint"]["tree_size"], sizes[2]);
    let want = finished_from(&plant, parts_recorded_from(&plant, l));
    assert_eq!(results(&v), want);
    assert_eq!(v["counts"]["finished"], want.len());
    assert_eq!(v["truncated"], false);
    check_paths(&v);
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_customer: BTreeMap<String, usize> = BTreeMap::new();
    for n in &want {
        let (wo, shipped) = match n.strip_prefix("serial:ASM-") {
            Some(a) => {
                let a: usize = a.parse().unwrap();
                (t.assembly_work_order[a].clone(), t.shipped[a].clone())
            }
            None => {
                let p: usize = n["serial:PRT-".len()..].parse().unwrap();
                (t.part_work_order[p].clone(), None)
            }
        };
        *per_order.entry(wo).or_default() += 1;
        if let Some((c, _)) = shipped {
            *per_customer.entry(c).or_default() += 1;
        }
    }
    let got: BTreeMap<String, usize> = v["work_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["work_order"].as_str().unwrap().to_string(),
                w["finished"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, per_order);
    let got: BTreeMap<String, usize> = v["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["customer"].as_str().unwrap().to_string(),
                c["finished"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, per_customer);
    // A shipped result names its customer and order, and the entry that says so.
    let shipped = v["finished"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| !r["customers"].as_array().unwrap().is_empty())
        .unwrap();
    let a: usize = shipped["node"].as_str().unwrap()["serial:ASM-".len()..]
        .parse()
        .unwrap();
    let (c, order) = t.shipped[a].clone().unwrap();
    assert_eq!(
        shipped["customers"],
        json!([{"customer": c, "order": order, "entry": t.ship_event[a]}])
    );

    // Results reached only through a record a later entry corrected are marked.
    let wrong: Vec<usize> = t
        .spool_errors
        .iter()
        .filter(|e| e.1 == l)
        .map(|e| e.0)
        .collect();
    let clean: Vec<usize> = (0..t.part_spool.len())
        .filter(|p| t.part_spool[*p].0 == l)
        .collect();
    let only_corrected: BTreeSet<String> = finished_from(&plant, wrong.clone())
        .difference(&finished_from(&plant, clean))
        .cloned()
        .collect();
    assert!(!only_corrected.is_empty());
    let flagged: BTreeSet<String> = v["finished"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["via_corrected"] == true)
        .map(|r| r["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(flagged, only_corrected);
    assert_eq!(v["counts"]["via_corrected"], only_corrected.len());
    // The lot the correction names reaches the same parts without a corrected edge.
    let v = recall(&s, json!({"suspects": [{"node": lot(l + 1)}]})).await;
    for n in &only_corrected {
        let r = v["finished"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["node"] == n.as_str())
            .unwrap_or_else(|| panic!("{n} missing from the recall of lot {}", l + 1));
        assert_eq!(r["via_corrected"], false, "{r}");
    }

    // A printer during a time window: only what it printed then.
    let (i, from, until) = (2, 40, 120);
    let v = recall(
        &s,
        json!({"suspects": [{"node": printer(i), "from": t.part_time[from], "until": t.part_time[until]}]}),
    )
    .await;
    let printed = (from..until).filter(|p| t.part_printer[*p] == i);
    let want = finished_from(&plant, printed);
    assert!(want.len() > 5, "{want:?}");
    assert_eq!(results(&v), want);
    check_paths(&v);
    for r in v["finished"].as_array().unwrap() {
        assert_eq!(r["path"][0]["kind"], "equipment");
    }

    // A firmware image: everything printed under it.
    let v = recall(&s, json!({"suspects": [{"node": firmware(0)}]})).await;
    let under = (0..t.part_firmware.len()).filter(|p| t.part_firmware[*p] == 0);
    let want = finished_from(&plant, under);
    assert!(want.len() > 30, "{want:?}");
    assert_eq!(results(&v), want);
    // The tester's firmware reached every assembly.
    let v = recall(&s, json!({"suspects": [{"node": TESTER_FIRMWARE}]})).await;
    let all: BTreeSet<String> = (0..t.assembly_parts.len())
        .map(assembly)
        .chain(t.rework.map(|(_, p)| part(p)))
        .collect();
    assert_eq!(results(&v), all);

    // A serial: the assembly it went into, by the assembly's own entry.
    let a = 4;
    let p = t.assembly_parts[a][1];
    let v = recall(&s, json!({"suspects": [{"node": part(p)}]})).await;
    assert_eq!(results(&v), set([assembly(a)]));
    assert_eq!(v["finished"][0]["path"][0]["entry"], t.assembly_event[a]);
    // A finished serial implicates itself, with an empty path.
    let v = recall(&s, json!({"suspects": [{"node": assembly(a)}]})).await;
    assert_eq!(results(&v), set([assembly(a)]));
    assert_eq!(v["finished"][0]["path"], json!([]));
    // Several suspects: the union.
    let v = recall(
        &s,
        json!({"suspects": [{"node": lot(0)}, {"node": lot(1)}]}),
    )
    .await;
    let mut want = finished_from(&plant, parts_recorded_from(&plant, 0));
    want.extend(finished_from(&plant, parts_recorded_from(&plant, 1)));
    assert_eq!(results(&v), want);
    s.stop().await;
}

both!(recall_impact_is_bounded_pinned_and_checked);
async fn recall_impact_is_bounded_pinned_and_checked(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;

    // At the checkpoint before shipping nothing had reached a customer.
    let v = recall(
        &s,
        json!({"suspects": [{"node": lot(0)}], "tree_size": sizes[1]}),
    )
    .await;
    assert_eq!(v["checkpoint"]["tree_size"], sizes[1]);
    assert_eq!(v["customers"], json!([]));
    assert!(v["counts"]["finished"].as_u64().unwrap() > 0);

    // Bounds: depth, and how many results are listed (the counts cover all).
    let v = recall(&s, json!({"suspects": [{"node": lot(0)}], "depth": 1})).await;
    assert_eq!(v["truncated"], true);
    assert_eq!(v["truncation"], json!(["depth limit of 1 reached"]));
    assert_eq!(v["counts"]["finished"], 0);
    // A spool during a window it was not used in implicates nothing, itself included.
    let v = recall(
        &s,
        json!({"suspects": [{"node": spool(0, 0), "from": time(0), "until": time(1)}]}),
    )
    .await;
    assert_eq!(v["counts"]["finished"], 0, "{v}");
    let v = recall(&s, json!({"suspects": [{"node": lot(0)}], "limit": 2})).await;
    assert_eq!(v["listed"], 2);
    assert_eq!(v["finished"].as_array().unwrap().len(), 2);
    let total = v["counts"]["finished"].as_u64().unwrap();
    assert!(total > 2);
    assert_eq!(
        v["truncation"],
        json!([format!("2 of {total} finished results listed (limit)")])
    );

    for (body, needle) in [
        (json!({"suspects": []}), "1 to 100"),
        (
            json!({"suspects": [{"node": "batch:7"}]}),
            "suspects[0].node",
        ),
        (
            json!({"suspects": [{"node": printer(0), "from": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}]}),
            "before until",
        ),
        (
            json!({"suspects": [{"node": printer(0), "from": "yesterday"}]}),
            "suspects[0].from",
        ),
        (json!({"suspects": [{"node": lot(0)}], "depth": 0}), "depth"),
        (
            json!({"suspects": [{"node": lot(0)}], "colour": 1}),
            "unknown field",
        ),
        (json!({"suspect": lot(0)}), "expected"),
    ] {
        let (status, v) = s
            .post_raw("/v1/thread/recall-impact", &s.auditor, body.to_string())
            .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let body = json!({"suspects": [{"node": lot(0)}]}).to_string();
    let (status, _) = s
        .post_raw("/v1/thread/recall-impact", &s.producer, body.clone())
        .await;
    assert_eq!(status, 403);
    let r = s
        .client
        .post(format!("{}/v1/thread/recall-impact", s.url))
        .bearer_auth(&s.auditor)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    s.stop().await;
}

/// A database at the schema before the thread (migrations 0001 and 0002 only), holding
/// `events` written as the previous version wrote them: leaves, subjects, idempotency
/// keys and one checkpoint, no edges.
async fn old_database(url: &str, events: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for f in ["0001_log.sql", "0002_time_by_checkpoint.sql"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let time = "2026-11-24T12:00:00.000000Z";
    let t = chrono::DateTime::parse_from_rfc3339(time).unwrap().to_utc();
    let rows: Vec<(i64, Vec<u8>, Vec<String>, String)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = threadlog::entry::parse_event(e.clone(), "mes").unwrap();
            let leaf = p.leaf(t).unwrap().into_bytes();
            (i as i64, leaf, p.subjects.clone(), p.dedup_key.clone())
        })
        .collect();
    let size = rows.len() as i64;
    macro_rules! fill {
        ($pool:expr, $p:literal) => {{
            let pool = $pool;
            migrator.run(&pool).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            for (i, leaf, subjects, key) in &rows {
                sqlx::query(concat!(
                    "INSERT INTO entries (idx, kind, integrated_at, leaf) VALUES (",
                    $p,
                    "1, 'event', ",
                    $p,
                    "2, ",
                    $p,
                    "3)"
                ))
                .bind(i)
                .bind(time)
                .bind(leaf)
                .execute(&mut *tx)
                .await
                .unwrap();
                for s in subjects {
                    sqlx::query(concat!(
                        "INSERT INTO subjects (subject, idx) VALUES (",
                        $p,
                        "1, ",
                        $p,
                        "2)"
                    ))
                    .bind(s)
                    .bind(i)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                sqlx::query(concat!(
                    "INSERT INTO dedup (key, idx, content_sha256) VALUES (",
                    $p,
                    "1, ",
                    $p,
                    "2, ",
                    $p,
                    "3)"
                ))
                .bind(key)
                .bind(i)
                .bind(vec![0u8; 32])
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            sqlx::query(concat!(
                "INSERT INTO checkpoints (tree_size, root_hash, note, created_at) VALUES (",
                $p,
                "1, ",
                $p,
                "2, 'note', ",
                $p,
                "3)"
            ))
            .bind(size)
            .bind(vec![0u8; 32])
            .bind(time)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
            pool.close().await;
        }};
    }
    if backend == "sqlite" {
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        fill!(
            sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
                .await
                .unwrap(),
            "?"
        )
    } else {
        fill!(sqlx::PgPool::connect(url).await.unwrap(), "$")
    }
}

/// The upgrade path for real: the new migration on a database the previous version
/// wrote, then the back-fill.
async fn upgrade_backfills(url: String) {
    let plant = Plant::generate(PlantSpec::small());
    let events: Vec<Value> = plant.events[..plant.phases[0] + plant.phases[1]].to_vec();
    old_database(&url, &events).await;
    let store = threadlog::store::open(&url).await.unwrap();
    let backlog = store.thread_backlog().await.unwrap();
    assert_eq!(
        (backlog.next, backlog.end),
        (0, events.len() as u64),
        "the migration records what predates it"
    );
    assert!(all_edges(&url).await.is_empty());
    threadlog::thread::backfill(store.as_ref(), &|_, _| {})
        .await
        .unwrap();
    let mut want: Vec<EdgeRow> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let body = threadlog::entry::parse_event(e.clone(), "mes").unwrap();
        for x in body.thread.edges {
            want.push((
                x.from,
                x.to,
                x.kind.as_str().into(),
                i as i64,
                x.at,
                x.label,
            ));
        }
    }
    want.sort_by(|a, b| (a.3, &a.0, &a.1, &a.2).cmp(&(b.3, &b.0, &b.1, &b.2)));
    assert_eq!(all_edges(&url).await, want);
}

#[tokio::test]
async fn sqlite_upgrade_backfills_an_older_log() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_backfills(format!("sqlite://{}", dir.path().join("old.db").display())).await;
}

#[tokio::test]
async fn postgres_upgrade_backfills_an_older_log() {
    upgrade_backfills(common::pg::fresh_database().await).await;
}

/// Node ids and labels from uploaded events come back as DOT strings: quotes, markup and
/// entities cannot end a string, a statement or a comment.
#[tokio::test]
async fn uploaded_text_is_escaped_in_the_dot_output() {
    let s = TestServer::start().await;
    let hostile_lot = "FIL \"1\"<script>\\";
    let mut e = common::event("dot-1");
    e["material"][0]["lot"] = json!(hostile_lot);
    e["equipment"][0]["role"] = json!(common::HOSTILE);
    let (status, r) = s.post_events(&e).await;
    assert_eq!(status, 201, "{r}");
    let index = r["index"].as_u64().unwrap();
    let path = "/v1/thread/serial:SN-dot-1?direction=backward";
    let (status, answer) = s.get_json(path).await;
    assert_eq!(status, 200, "{answer}");
    let resp = s
        .client
        .get(format!("{}{path}&format=dot", s.url))
        .bearer_auth(&s.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let dot = resp.text().await.unwrap();
    assert!(!dot.contains("<script>"), "{dot}");
    let node = r#""lot:FIL \"1\"&lt;script&gt;\\""#;
    assert!(dot.contains(&format!("  {node} [shape=box3d];\n")), "{dot}");
    assert!(
        dot.contains(&format!(
            "  \"equipment:printer-07\" -> \"serial:SN-dot-1\" [label=\"equipment #{index} \
             (&lt;script&gt;alert(1)&lt;/script&gt; &amp; co | left)\"];\n"
        )),
        "{dot}"
    );
    // One line per statement: every node and edge, and nothing else inside the graph.
    let body: Vec<&str> = dot
        .split_once("digraph thread {\n")
        .unwrap()
        .1
        .lines()
        .collect();
    assert_eq!(body.last(), Some(&"}"), "{dot}");
    let statements = body.iter().filter(|l| l.starts_with("  \"")).count();
    assert_eq!(
        statements,
        answer["nodes"].as_array().unwrap().len() + answer["edges"].as_array().unwrap().len(),
        "{dot}"
    );
    assert_eq!(body.len(), statements + 4, "{dot}");
    assert!(
        dot.lines()
            .take_while(|l| !l.starts_with("digraph"))
            .all(|l| l.starts_with("//")),
        "{dot}"
    );
    s.stop().await;
}
