//! Any changed byte of a bundle, and every change to its graph, is caught and named.

use super::*;

/// Alters one byte of a copy of the bundle file; returns the failure.
async fn tampered(dir: &Path, bytes: &[u8], at: usize, key: &str) -> Value {
    let mut copy = bytes.to_vec();
    copy[at] = match copy[at] {
        b'A' => b'B',
        b'0' => b'1',
        _ => b'A',
    };
    assert_ne!(copy[at], bytes[at]);
    let path = dir.join(format!("tampered-{at}.json"));
    std::fs::write(&path, &copy).unwrap();
    let (code, v, output) = verify_file(&path, key).await;
    assert_eq!(code, 1, "a change at byte {at} was not caught: {output}");
    v["failure"].clone()
}

/// Where a string value sits in the file.
fn find(bytes: &[u8], needle: &str) -> usize {
    let text = std::str::from_utf8(bytes).unwrap();
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle} not in the bundle"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_changed_byte_is_caught_and_named() {
    let s = TestServer::start().await;
    let plant = Plant::generate(PlantSpec::small());
    post_plant(&s, &plant).await;
    let out = s.dir.path().join("b.json");
    let (code, _, output) = export(&s, part(45), &out, &[]).await;
    assert_eq!(code, 0, "{output}");
    let bytes = std::fs::read(&out).unwrap();
    let b: Bundle = serde_json::from_slice(&bytes).unwrap();
    let key = s.verifier_key.to_string();
    let dir = s.dir.path();

    // A byte of any entry's leaf, or of its proof: that entry is named.
    for e in b.entries.iter().step_by(3) {
        let leaf_at = find(&bytes, &e.leaf) + e.leaf.len() / 2;
        let f = tampered(dir, &bytes, leaf_at, &key).await;
        assert_eq!(f["at"], format!("entry {}", e.index), "{f}");
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("not in the signed tree"),
            "{f}"
        );
        if let Some(h) = e.inclusion_proof.first() {
            let f = tampered(dir, &bytes, find(&bytes, h) + 5, &key).await;
            assert_eq!(f["at"], format!("entry {}", e.index), "{f}");
        }
    }
    // The checkpoint's signature or its root.
    let sig = b.checkpoint.lines().last().unwrap();
    let f = tampered(dir, &bytes, find(&bytes, sig) + sig.len() - 10, &key).await;
    assert_eq!(f["at"], "checkpoint", "{f}");
    // An edge claiming an entry that does not state it.
    let mut edited: Value = serde_json::from_slice(&bytes).unwrap();
    let from = edited["thread"]["edges"][0]["from"].clone();
    let unrelated = b
        .entries
        .iter()
        .find(|e| {
            let leaf: Value = serde_json::from_slice(&B64.decode(&e.leaf).unwrap()).unwrap();
            !leaf["subjects"].as_array().unwrap().contains(&from)
        })
        .unwrap();
    let first = Value::from(unrelated.index);
    edited["thread"]["edges"][0]["entry"] = first.clone();
    let path = dir.join("edge.json");
    std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (code, v, _) = verify_file(&path, &key).await;
    assert_eq!(code, 1);
    let at = v["failure"]["at"].as_str().unwrap();
    assert!(
        at.starts_with("edge 0 ") && at.ends_with(&format!("entry {first})")),
        "{v}"
    );
    // A correction the entries do not state.
    let mut edited: Value = serde_json::from_slice(&bytes).unwrap();
    let c = edited["thread"]["corrections"][0].clone();
    assert!(c.is_object(), "part 45's print was corrected");
    edited["thread"]["corrections"][0]["corrects"] = first;
    std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (code, v, _) = verify_file(&path, &key).await;
    assert_eq!(code, 1);
    assert!(
        v["failure"]["at"]
            .as_str()
            .unwrap()
            .starts_with("correction (entry "),
        "{v}"
    );
    // A cut file is no bundle.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let (code, v, _) = verify_file(&path, &key).await;
    assert_eq!(code, 1);
    assert_eq!(v["failure"]["at"], "bundle");
    s.stop().await;
}

/// Writes an edited copy of a bundle and verifies it with the CLI: it must fail (exit 1);
/// returns the failure.
async fn edited(dir: &Path, name: &str, b: &Value, key: &str) -> Value {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec(b).unwrap()).unwrap();
    let (code, v, output) = verify_file(&path, key).await;
    assert_eq!(code, 1, "{name} was not caught: {output}");
    assert_eq!(v["ok"], false, "{v}");
    v["failure"].clone()
}

/// `edge N (FROM -> TO, KIND, entry I)` of an edge as the bundle states it.
fn edge_at(k: usize, e: &Value) -> String {
    format!(
        "edge {k} ({} -> {}, {}, entry {})",
        e["from"].as_str().unwrap(),
        e["to"].as_str().unwrap(),
        e["kind"].as_str().unwrap(),
        e["entry"]
    )
}

/// Every change to the thread answer a verifier could be handed is caught: the graph is
/// derived again from the proved leaves and must be exactly the bundle's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_to_the_graph_is_caught_and_named() {
    let s = TestServer::start().await;
    let plant = Plant::generate(PlantSpec::small());
    post_plant(&s, &plant).await;
    // Part 45's print was corrected; at depth 2 the walk is cut short.
    let out = s.dir.path().join("graph.json");
    let (code, _, output) = export(&s, part(45), &out, &["--depth", "2"]).await;
    assert_eq!(code, 0, "{output}");
    let key = s.verifier_key.to_string();
    let (code, _, output) = verify_file(&out, &key).await;
    assert_eq!(code, 0, "the untampered bundle: {output}");
    let original: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let t = &original["thread"];
    assert_eq!(t["truncated"], true, "{t}");
    assert!(!t["corrections"].as_array().unwrap().is_empty(), "{t}");
    let edges = t["edges"].as_array().unwrap().clone();
    assert!(edges.len() > 3, "{t}");
    let dir = s.dir.path();

    edge_edits_are_named(dir, &original, &edges, &key).await;
    node_edits_are_named(dir, &original, &key).await;
    correction_and_entry_edits_are_named(dir, &original, &edges, &key).await;
    s.stop().await;
}

/// Edits to the edges of `original`: a kind, a time, a direction, an edge no entry
/// creates. Each failure names the edge and what is wrong with it.
async fn edge_edits_are_named(dir: &Path, original: &Value, edges: &[Value], key: &str) {
    let t = &original["thread"];
    // Each edit, and what the failure must name.
    // A kind no edge between the same two nodes has.
    let e0 = edges[0].clone();
    let other_kind = ["material", "genealogy", "contains", "equipment", "customer"]
        .into_iter()
        .find(|k| {
            !edges
                .iter()
                .any(|e| e["from"] == e0["from"] && e["to"] == e0["to"] && e["kind"] == *k)
        })
        .unwrap();
    let mut b = original.clone();
    b["thread"]["edges"][0]["kind"] = Value::from(other_kind);
    let f = edited(dir, "kind", &b, key).await;
    assert_eq!(f["at"], edge_at(0, &b["thread"]["edges"][0]), "{f}");
    assert!(f["reason"].as_str().unwrap().contains("kind"), "{f}");

    let mut b = original.clone();
    b["thread"]["edges"][1]["effective_time"] = "2001-01-01T00:00:00.000000Z".into();
    let f = edited(dir, "time", &b, key).await;
    assert_eq!(f["at"], edge_at(1, &edges[1]), "{f}");
    assert!(
        f["reason"].as_str().unwrap().contains("effective_time"),
        "{f}"
    );

    let mut b = original.clone();
    let last = edges.len() - 1;
    let e = &mut b["thread"]["edges"][last];
    let (from, to) = (e["from"].clone(), e["to"].clone());
    e["from"] = to;
    e["to"] = from;
    let swapped = e.clone();
    let f = edited(dir, "direction", &b, key).await;
    assert_eq!(f["at"], edge_at(last, &swapped), "{f}");
    assert!(
        f["reason"].as_str().unwrap().contains("other way round"),
        "{f}"
    );

    // An edge no entry creates, between nodes the answer has, stated by a real entry.
    let mut b = original.clone();
    let mut extra = edges[last].clone();
    extra["to"] = t["node"].clone();
    extra["from"] = t["nodes"].as_array().unwrap().last().unwrap()["id"].clone();
    extra["kind"] = "genealogy".into();
    b["thread"]["edges"]
        .as_array_mut()
        .unwrap()
        .push(extra.clone());
    let f = edited(dir, "extra-edge", &b, key).await;
    assert_eq!(f["at"], edge_at(edges.len(), &extra), "{f}");
    assert!(f["reason"].as_str().unwrap().contains("no entry"), "{f}");
}

/// Edits to the nodes of `original`: dropped, invented, moved to another depth, and the
/// truncation claimed away.
async fn node_edits_are_named(dir: &Path, original: &Value, key: &str) {
    let t = &original["thread"];
    let nodes = t["nodes"].as_array().unwrap();
    let mut b = original.clone();
    let dropped = nodes[nodes.len() / 2]["id"].as_str().unwrap().to_string();
    b["thread"]["nodes"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["id"] != dropped.as_str());
    let f = edited(dir, "node-dropped", &b, key).await;
    assert_eq!(f["at"], format!("node {dropped}"), "{f}");
    assert!(
        f["reason"].as_str().unwrap().contains("leaves it out"),
        "{f}"
    );

    let mut b = original.clone();
    b["thread"]["nodes"].as_array_mut().unwrap().push(
        serde_json::json!({"id": "lot:INVENTED", "type": "lot", "depth": 1, "side": "upstream"}),
    );
    let f = edited(dir, "node-invented", &b, key).await;
    assert_eq!(f["at"], "node lot:INVENTED", "{f}");

    // A node moved to another depth or side.
    let mut b = original.clone();
    b["thread"]["nodes"][1]["depth"] = 7.into();
    let f = edited(dir, "node-depth", &b, key).await;
    assert_eq!(
        f["at"],
        format!("node {}", nodes[1]["id"].as_str().unwrap()),
        "{f}"
    );
    assert!(f["reason"].as_str().unwrap().contains("depth"), "{f}");

    let mut b = original.clone();
    b["thread"]["truncated"] = false.into();
    let f = edited(dir, "truncated", &b, key).await;
    assert_eq!(f["at"], "truncated", "{f}");
    let mut b = original.clone();
    b["thread"]["truncated"] = false.into();
    b["thread"].as_object_mut().unwrap().remove("truncation");
    let f = edited(dir, "not-truncated", &b, key).await;
    assert_eq!(f["at"], "truncated", "{f}");
}

/// Edits to the corrections, to an edge's correction mark, to the question's depth, and an
/// entry the answer is derived from dropped.
async fn correction_and_entry_edits_are_named(
    dir: &Path,
    original: &Value,
    edges: &[Value],
    key: &str,
) {
    let t = &original["thread"];
    let last = edges.len() - 1;
    // A correction pointing at another entry, one dropped, and an edge's own mark.
    let c = t["corrections"][0].clone();
    let mut b = original.clone();
    b["thread"]["corrections"][0]["corrects"] = (c["corrects"].as_u64().unwrap() + 1).into();
    let f = edited(dir, "correction", &b, key).await;
    assert_eq!(
        f["at"],
        format!(
            "correction (entry {} corrects {})",
            c["entry"],
            c["corrects"].as_u64().unwrap() + 1
        ),
        "{f}"
    );
    let mut b = original.clone();
    b["thread"]["corrections"].as_array_mut().unwrap().remove(0);
    let f = edited(dir, "correction-dropped", &b, key).await;
    assert!(
        f["at"].as_str().unwrap().starts_with("correction (entry "),
        "{f}"
    );
    let (k, marked) = edges
        .iter()
        .enumerate()
        .find(|(_, e)| e.get("corrected_by").is_some() || e.get("corrects").is_some())
        .expect("an edge of a corrected entry");
    let mut b = original.clone();
    let e = b["thread"]["edges"][k].as_object_mut().unwrap();
    e.remove("corrected_by");
    e.remove("corrects");
    let f = edited(dir, "edge-correction-mark", &b, key).await;
    assert_eq!(f["at"], edge_at(k, marked), "{f}");

    // The question itself: a deeper walk than the entries were gathered for.
    let mut b = original.clone();
    b["thread"]["depth"] = 3.into();
    let f = edited(dir, "depth", &b, key).await;
    assert!(f["at"] != "bundle", "{f}");

    // Dropping an entry the answer is derived from is caught too.
    let stating = edges[last]["entry"].as_u64().unwrap();
    let mut b = original.clone();
    b["entries"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["index"] != stating);
    let f = edited(dir, "entry-dropped", &b, key).await;
    assert!(f["at"].as_str().unwrap().starts_with("edge "), "{f}");
}
