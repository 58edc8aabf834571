//! Evidence bundles: built from a log on either backend, written by `threadlog export
//! --subject`, checked offline by `threadlog verify --bundle` with the `merkle` and
//! `note` code only; every altered byte is caught and the failure names what it hit.

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::plant::*;
use common::{proc, TestServer};
use serde_json::Value;
use std::path::Path;
use threadlog::bundle::{self, Bundle};
use threadlog::store::TileCache;
use threadlog::thread::{build_bundle, BundleOptions, Direction};

macro_rules! both {
    ($name:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(TestServer::start().await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(TestServer::start_pg().await).await
            }
        }
    };
}

async fn post_plant(s: &TestServer, plant: &Plant) {
    for chunk in plant.events.chunks(500) {
        let (status, r) = s.post_events(&Value::Array(chunk.to_vec())).await;
        assert_eq!(status, 201, "{r}");
    }
}

/// Runs the CLI off the runtime's workers.
async fn cli(args: Vec<String>) -> (i32, Value, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        proc::cli(&args, &[])
    })
    .await
    .unwrap()
}

async fn verify_file(path: &Path, key: &str) -> (i32, Value, String) {
    cli(vec![
        "verify".into(),
        "--bundle".into(),
        path.display().to_string(),
        "--key".into(),
        key.into(),
    ])
    .await
}

both!(a_bundle_proves_a_serials_history_offline);
async fn a_bundle_proves_a_serials_history_offline(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    post_plant(&s, &plant).await;
    let t = &plant.truth;
    let a = 4;
    let out = s.dir.path().join("asm-4.bundle.json");
    let (code, v, output) = cli(vec![
        "export".into(),
        "--database-url".into(),
        s.database_url.clone(),
        "--subject".into(),
        assembly(a),
        "--out".into(),
        out.display().to_string(),
    ])
    .await;
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
    let (code, _, output) = cli(vec![
        "export".into(),
        "--database-url".into(),
        s.database_url.clone(),
        "--subject".into(),
        assembly(a),
        "--out".into(),
        out.display().to_string(),
    ])
    .await;
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
    let (code, _, output) = cli(vec![
        "export".into(),
        "--database-url".into(),
        s.database_url.clone(),
        "--subject".into(),
        part(45),
        "--out".into(),
        out.display().to_string(),
    ])
    .await;
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
