//! Traces over a generated plant: what went into a serial and where a lot went, bounded,
//! pinned to a checkpoint and drawn.

use super::*;

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

both!(traces_answer_what_went_in_and_where_it_went);
async fn traces_answer_what_went_in_and_where_it_went(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;

    let a = 4;
    backward_from_an_assembly(&s, &plant, sizes, a).await;
    forward_from_a_lot(&s, &plant).await;
    both_directions(&s, &plant, a).await;
    s.stop().await;
}

/// The edges of a trace `v` from `from` to `to` of a kind.
fn edge(v: &Value, from: &str, to: &str, kind: &str) -> Vec<Value> {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
        .cloned()
        .collect()
}

/// Backward from assembly `a`, pinned to the checkpoint at `sizes[2]`, each edge naming
/// the entry that created it.
async fn backward_from_an_assembly(s: &TestServer, plant: &Plant, sizes: [u64; 3], a: usize) {
    let t = &plant.truth;
    // Backward from a shipped assembly: its parts, their spools, lots and supplier lots,
    // printers, programs, firmware, work orders, and the assembly's own actors.
    let (status, v) = s
        .get_json(&format!(
            "/v1/thread/{}?direction=backward&depth=10",
            assembly(a)
        ))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(ids(&v, "nodes"), upstream_of_assembly(plant, a));
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
}

/// Forward from a filament lot, with a recording error and its correction each naming the
/// other.
async fn forward_from_a_lot(s: &TestServer, plant: &Plant) {
    let t = &plant.truth;
    // Forward from a filament lot: its spools, the parts printed from them, the
    // assemblies they went into and the customers those went to.
    let l = 1;
    let (status, v) = s
        .get_json(&format!("/v1/thread/{}?direction=forward&depth=10", lot(l)))
        .await;
    assert_eq!(status, 200, "{v}");
    let mut want = set([lot(l)]);
    want.extend((0..plant.spec.spools_per_lot).map(|k| spool(l, k)));
    for p in parts_recorded_from(plant, l) {
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
}

/// Both directions from assembly `a`: the union of the two.
async fn both_directions(s: &TestServer, plant: &Plant, a: usize) {
    let t = &plant.truth;
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
}

both!(traces_are_bounded_pinned_to_a_checkpoint_and_drawn);
async fn traces_are_bounded_pinned_to_a_checkpoint_and_drawn(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;

    pinned_to_earlier_checkpoints(&s, sizes).await;
    bounded_and_cyclic(&s, &plant).await;
    drawn_in_graphviz(&s, &plant, sizes).await;
    wrong_requests_and_callers(&s).await;
    refused_while_indexing(&s).await;
    s.stop().await;
}

/// The path of a trace of `node` with the query `q`.
fn path(node: &str, q: &str) -> String {
    format!("/v1/thread/{node}?{q}")
}

/// Answers at earlier checkpoints count only the entries below them, and are the same
/// each time.
async fn pinned_to_earlier_checkpoints(s: &TestServer, sizes: [u64; 3]) {
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
}

/// Depth and node count are bounded and the answer says so; a cycle ends in the visited
/// set.
async fn bounded_and_cyclic(s: &TestServer, plant: &Plant) {
    let t = &plant.truth;
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
}

/// Graphviz output, with the checkpoint in a header and in comments.
async fn drawn_in_graphviz(s: &TestServer, plant: &Plant, sizes: [u64; 3]) {
    let t = &plant.truth;
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
}

/// Wrong requests say what is wrong; producers are refused, admins answered, and a
/// request without a token is unauthorized.
async fn wrong_requests_and_callers(s: &TestServer) {
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
}

/// While older entries wait for their edges, answers that need them are refused.
async fn refused_while_indexing(s: &TestServer) {
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
}
