//! A bundle proves a serial's history offline, following key rotations from the first key.

use super::*;

both!(a_bundle_proves_a_serials_history_offline);
async fn a_bundle_proves_a_serials_history_offline(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    post_plant(&s, &plant).await;
    let t = &plant.truth;
    let a = 4;
    let out = s.dir.path().join("asm-4.bundle.json");
    let (code, v, output) = export(&s, assembly(a), &out, &[]).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(v["subject"], assembly(a));

    // Offline: the file and the pinned key, nothing else.
    let key = s.verifier_key.to_string();
    let (code, report, output) = verify_file(&out, &key).await;
    assert_eq!(code, 0, "{output}");
    assert_eq!(report["ok"], true);
    let bytes = std::fs::read(&out).unwrap();
    let b: Bundle = serde_json::from_slice(&bytes).unwrap();
    let r = bundle::verify(&bytes, &s.verifier_key).unwrap();
    assert_eq!(report["report"]["entries"], r.entries);
    assert_eq!(r.tree_size, plant.events.len() as u64);

    // It holds the assembly's own history and every entry its thread names, and its
    // thread is the server's answer at the same tree size.
    let indexes: Vec<u64> = b.entries.iter().map(|e| e.index).collect();
    for i in [t.assembly_event[a], t.ship_event[a].unwrap()] {
        assert!(indexes.contains(&i), "{i} missing from {indexes:?}");
    }
    let p = t.assembly_parts[a][0];
    assert!(indexes.contains(&t.print_event[p]));
    let (_, answer) = s
        .get_json(&format!(
            "/v1/thread/{}?tree_size={}",
            assembly(a),
            b.tree_size
        ))
        .await;
    assert_eq!(b.thread, answer);
    for e in b.thread["edges"].as_array().unwrap() {
        assert!(indexes.contains(&e["entry"].as_u64().unwrap()));
    }
    // Each leaf is the log's exact bytes.
    let e = &b.entries[0];
    let stored = s.store.entry(e.index).await.unwrap().unwrap();
    assert_eq!(B64.decode(&e.leaf).unwrap(), stored.leaf);

    // Refusals: an existing file, a key of another log, no key.
    let (code, _, output) = export(&s, assembly(a), &out, &[]).await;
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("exists"), "{output}");
    for (origin, at) in [
        ("other.example/log", "key"),
        (s.origin.as_str(), "checkpoint"),
    ] {
        let (other, _) = threadlog::signer::FileSigner::open_or_create(
            &s.dir.path().join(format!("other-{at}.key")),
            origin,
        )
        .unwrap();
        let other = threadlog::signer::Signer::verifier_key(&other).to_string();
        let (code, v, output) = verify_file(&out, &other).await;
        assert_eq!(code, 1, "{output}");
        assert_eq!(v["failure"]["at"], at, "{v}");
    }
    let (code, _, output) = cli(vec![
        "verify".into(),
        "--bundle".into(),
        out.display().to_string(),
    ])
    .await;
    assert_eq!(code, 2, "{output}");
    assert!(output.contains("--key"), "{output}");
    s.stop().await;
}

#[tokio::test]
async fn a_bundle_follows_key_rotations_from_the_first_key() {
    let s = TestServer::start().await;
    let plant = Plant::generate(PlantSpec::small());
    post_plant(&s, &plant).await;
    let size = plant.events.len() as u64;
    let first = s.verifier_key.clone();
    let (old, _) =
        threadlog::signer::FileSigner::open_or_create(&s.dir.path().join("log.key"), &s.origin)
            .unwrap();
    let (new, _) =
        threadlog::signer::FileSigner::open_or_create(&s.dir.path().join("new.key"), &s.origin)
            .unwrap();
    let rotation = threadlog::ledger::rotate(
        s.store.as_ref(),
        &old,
        &new,
        threadlog::entry::KeyEvent::Rotated,
    )
    .await
    .unwrap();
    assert_eq!(rotation.entry_index, size);

    let tiles = TileCache::new(64);
    let opts = BundleOptions {
        direction: Direction::Backward,
        ..BundleOptions::default()
    };
    let b = build_bundle(s.store.as_ref(), &tiles, &assembly(4), &opts)
        .await
        .unwrap();
    assert_eq!(b.tree_size, size + 1);
    assert_eq!(b.key_history.len(), 1);
    let bytes = serde_json::to_vec(&b).unwrap();
    let r = bundle::verify(&bytes, &first).unwrap();
    assert_eq!(r.key_handovers, 1);
    assert_eq!(r.verifier_key, rotation.verifier_key);
    // Pinning the new key needs no handover.
    let new_key: threadlog::note::VerifierKey = rotation.verifier_key.parse().unwrap();
    assert_eq!(bundle::verify(&bytes, &new_key).unwrap().key_handovers, 0);
    // An altered key entry breaks the handover, and says which.
    let mut broken = b.clone();
    let mut leaf = B64.decode(&broken.key_history[0].entry.leaf).unwrap();
    let n = leaf.len() - 3;
    leaf[n] ^= 1;
    broken.key_history[0].entry.leaf = B64.encode(&leaf);
    let f = bundle::verify(&serde_json::to_vec(&broken).unwrap(), &first).unwrap_err();
    assert_eq!(f.at, format!("key handover 0 (entry {size})"), "{f}");
    // A bundle at the size before the rotation is the first key's alone.
    let before = BundleOptions {
        tree_size: Some(size),
        ..opts
    };
    let b = build_bundle(s.store.as_ref(), &tiles, &assembly(4), &before)
        .await
        .unwrap();
    assert!(b.key_history.is_empty());
    let bytes = serde_json::to_vec(&b).unwrap();
    assert!(bundle::verify(&bytes, &first).is_ok());
    assert_eq!(
        bundle::verify(&bytes, &new_key).unwrap_err().at,
        "checkpoint"
    );
    s.stop().await;
}
