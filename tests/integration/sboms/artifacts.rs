//! An artifact's page shows every entry about it, with proofs.

use super::*;

both!(an_artifact_shows_every_entry_about_it_with_proofs);
async fn an_artifact_shows_every_entry_about_it_with_proofs(s: TestServer) {
    let img = image(5);
    let purl = "pkg:cargo/threadlog@0.1.0";
    post_sbom(&s, &img, JSON, fixture("cargo-threadlog-1.5.json")).await;
    post_sbom(&s, purl, XML, fixture("cargo-threadlog-1.4.xml")).await;
    // A manufacturing event that ran this image.
    let mut ev = common::event("run-1");
    ev["software_refs"] = json!([{"digest": img, "kind": "image", "name": "print-controller"}]);
    let (status, _) = s.post_events(&ev).await;
    assert_eq!(status, 201);
    s.post_events(&common::event("unrelated")).await;

    let (status, a) = s.get_json(&format!("/v1/artifacts/{img}")).await;
    assert_eq!(status, 200, "{a}");
    let kinds: Vec<&str> = a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sbom", "event"]);
    let (cp, _) = note::open_checkpoint(
        a["checkpoint"].as_str().unwrap(),
        std::slice::from_ref(&s.verifier_key),
        &s.origin,
    )
    .unwrap();
    assert_eq!(a["tree_size"], cp.tree_size);
    for e in a["entries"].as_array().unwrap() {
        merkle::verify_inclusion(
            &common::hashes(&e["inclusion_proof"]),
            e["index"].as_u64().unwrap(),
            cp.tree_size,
            &Hash::from_base64(e["leaf_hash"].as_str().unwrap()).unwrap(),
            &Hash(cp.root_hash),
        )
        .unwrap();
    }

    // A package URL needs no escaping of its slashes.
    let (status, a) = s.get_json(&format!("/v1/artifacts/{purl}")).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"][0]["entry"]["body"]["encoding"], "xml");
    assert_eq!(a["entries"].as_array().unwrap().len(), 1);

    // The SBOM document is an artifact too, and nothing is known of others.
    let doc = digest(&fixture("cargo-threadlog-1.5.json"));
    let (_, a) = s.get_json(&format!("/v1/artifacts/{doc}")).await;
    assert_eq!(a["entries"][0]["index"], 0);
    let (status, a) = s.get_json(&format!("/v1/artifacts/{}", image(9))).await;
    assert_eq!(status, 200);
    assert!(a["entries"].as_array().unwrap().is_empty());
    assert_eq!(s.get_json("/v1/artifacts/lot:x").await.0, 400);
    assert_eq!(s.get(&format!("/v1/artifacts/{img}"), &s.ci).await.0, 403);
    s.stop().await;
}
