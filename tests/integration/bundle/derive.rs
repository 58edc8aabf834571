//! The server and the offline verifier derive the same thread.

use super::*;

/// The server's answer and the verifier's derivation are one function of the same
/// entries: for traces with corrections, repeated edges and depth cuts, in each
/// direction, a bundle's thread is the server's answer and verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_and_the_verifier_derive_the_same_thread() {
    let s = TestServer::start().await;
    let plant = Plant::generate(PlantSpec::small());
    post_plant(&s, &plant).await;
    let tiles = TileCache::new(64);
    let (mut corrected, mut truncated, mut repeated) = (0, 0, 0);
    for (node, direction, depth) in [
        (part(45), Direction::Both, 2),
        (part(45), Direction::Both, 10),
        (assembly(4), Direction::Backward, 1),
        (assembly(4), Direction::Both, 3),
        (lot(0), Direction::Forward, 2),
        (lot(1), Direction::Forward, 4),
        (printer(1), Direction::Forward, 1),
    ] {
        let opts = BundleOptions {
            direction,
            depth,
            ..BundleOptions::default()
        };
        let b = build_bundle(s.store.as_ref(), &tiles, &node, &opts)
            .await
            .unwrap();
        let (status, answer) = s
            .get_json(&format!(
                "/v1/thread/{node}?direction={}&depth={depth}&tree_size={}",
                direction.as_str(),
                b.tree_size
            ))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(b.thread, answer, "{node} {direction:?} {depth}");
        let r = bundle::verify(&serde_json::to_vec(&b).unwrap(), &s.verifier_key)
            .unwrap_or_else(|f| panic!("{node} {direction:?} {depth}: {f}"));
        assert_eq!(r.edges, answer["edges"].as_array().unwrap().len());
        corrected += usize::from(!answer["corrections"].as_array().unwrap().is_empty());
        truncated += usize::from(answer["truncated"] == true);
        repeated += usize::from(
            answer["edges"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e.get("also_stated_by").is_some()),
        );
        // The pure derivation over the bundle's leaves is the answer's graph.
        let leaves: Vec<(u64, Value)> = b
            .entries
            .iter()
            .map(|e| {
                (
                    e.index,
                    serde_json::from_slice(&B64.decode(&e.leaf).unwrap()).unwrap(),
                )
            })
            .collect();
        let refs: Vec<(u64, &Value)> = leaves.iter().map(|(i, v)| (*i, v)).collect();
        let q = threadlog::thread::graph::Query {
            node: &node,
            direction,
            depth,
            max_nodes: usize::try_from(answer["max_nodes"].as_u64().unwrap()).unwrap(),
            below: b.tree_size,
        };
        let g = threadlog::thread::graph::derive(&refs, &q).unwrap();
        assert_eq!(serde_json::to_value(&g.edges).unwrap(), answer["edges"]);
        assert_eq!(serde_json::to_value(&g.nodes).unwrap(), answer["nodes"]);
    }
    assert!(
        corrected > 0 && truncated > 0 && repeated > 0,
        "{corrected} {truncated} {repeated}"
    );

    // A node bound is part of the question: cut by it, the answer still verifies.
    let (status, answer) = s
        .get_json(&format!(
            "/v1/thread/{}?direction=forward&max_nodes=3",
            lot(0)
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["truncation"],
        serde_json::json!(["node limit of 3 reached"])
    );
    s.stop().await;
}
