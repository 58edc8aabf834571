//! A damaged dump, or one with an altered, missing or stray document, is refused saying
//! where.

use super::*;

/// Imports `dir` into a new SQLite store; the error, and proof the store stayed empty.
async fn refused(dir: &Path) -> DumpError {
    let target = tempfile::tempdir().unwrap();
    let store = sqlite_at(target.path()).await;
    let err = dump::import(dir, store.clone(), &|_, _| {})
        .await
        .expect_err("a damaged dump is refused");
    assert_eq!(store.meta().await.unwrap(), None, "nothing was imported");
    assert!(store.latest_checkpoint().await.unwrap().is_none());
    err
}

/// A copy of the dump with `f` applied to the lines of one of its files.
fn damaged(src: &Path, file: &str, f: impl FnOnce(&mut Vec<String>)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [dump::MANIFEST, dump::ENTRIES, dump::CHECKPOINTS] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let path = dir.path().join(file);
    let mut lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    f(&mut lines);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    dir
}

fn edit_entry(lines: &mut [String], index: usize, rehash: bool) {
    let mut v: Value = serde_json::from_str(&lines[index]).unwrap();
    let leaf = B64.decode(v["leaf"].as_str().unwrap()).unwrap();
    let text = String::from_utf8(leaf).unwrap().replacen("SN-", "SX-", 1);
    v["leaf"] = B64.encode(text.as_bytes()).into();
    if rehash {
        v["leaf_hash"] = merkle::leaf_hash(text.as_bytes()).to_base64().into();
    }
    lines[index] = v.to_string();
}

fn at(e: DumpError) -> String {
    match e {
        DumpError::Broken { at, reason } => format!("{at}: {reason}"),
        other => panic!("expected a verification failure, got {other}"),
    }
}

#[tokio::test]
async fn a_damaged_dump_is_refused_saying_where() {
    let s = TestServer::start().await;
    build(&s).await;
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("dump");
    dump::export(s.store.as_ref(), &good, &|_, _| {})
        .await
        .unwrap();

    // One changed leaf byte: the entry is named.
    let d = damaged(&good, dump::ENTRIES, |l| edit_entry(l, 57, false));
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("entry 57 "), "{msg}");

    // Leaf and its listed hash changed together: the signed root of the checkpoint
    // covering it (entries 40..80) no longer matches.
    let d = damaged(&good, dump::ENTRIES, |l| edit_entry(l, 57, true));
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("checkpoint 80 "), "{msg}");
    assert!(msg.contains("entries 40..80"), "{msg}");

    // A forged signature on one checkpoint.
    let d = damaged(&good, dump::CHECKPOINTS, |l| {
        let mut v: Value = serde_json::from_str(&l[3]).unwrap();
        let note = v["note"].as_str().unwrap().replacen("\n— ", "\n— x", 1);
        v["note"] = note.into();
        l[3] = v.to_string();
    });
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("checkpoint 120 "), "{msg}");

    // A checkpoint left out: the next one would cover entries of another batch, whose
    // time is not its own.
    let d = damaged(&good, dump::CHECKPOINTS, |l| {
        l.remove(5);
    });
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("entry 160 "), "{msg}");

    // A change that alters no value still makes the file differ from the manifest.
    let d = damaged(&good, dump::ENTRIES, |l| {
        l[10] = l[10].replacen("{\"index\"", "{ \"index\"", 1);
    });
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("entries.jsonl: "), "{msg}");

    // Entries cut short.
    let d = damaged(&good, dump::ENTRIES, |l| {
        l.truncate(390);
    });
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("entry 390"), "{msg}");

    // A manifest claiming more than was signed.
    let d = damaged(&good, dump::MANIFEST, |l| {
        for line in l.iter_mut() {
            if line.contains("\"tree_size\": 400") {
                *line = line.replace("400", "401");
            }
        }
    });
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("manifest.json"), "{msg}");

    // And a store that already holds a log is never overwritten.
    let err = dump::import(&good, s.store.clone(), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, DumpError::NotEmpty(_)), "{err}");
}

#[tokio::test]
async fn a_dump_with_an_altered_missing_or_stray_document_is_refused() {
    let s = TestServer::start().await;
    s.post_events(&json!([event("e-0")])).await;
    let docs = add_sboms(&s).await;
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("dump");
    dump::export(s.store.as_ref(), &good, &|_, _| {})
        .await
        .unwrap();
    let json_doc = hex::encode(
        docs.iter()
            .find(|d| {
                sbom_fixture("py-env-1.5.json")
                    == std::fs::read(good.join(dump::BLOBS).join(hex::encode(d))).unwrap()
            })
            .unwrap(),
    );

    // One byte of a document changed: the entry that first binds it is named.
    let d = copy_dump(&good);
    let path = d.path().join(dump::BLOBS).join(&json_doc);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("entry 1 "), "{msg}");
    assert!(msg.contains("was altered"), "{msg}");

    // A document missing.
    let d = copy_dump(&good);
    std::fs::remove_file(d.path().join(dump::BLOBS).join(&json_doc)).unwrap();
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("entry 1 "), "{msg}");

    // A file no leaf binds would be served as if the log vouched for it.
    let d = copy_dump(&good);
    std::fs::write(
        d.path().join(dump::BLOBS).join(hex::encode([9u8; 32])),
        b"x",
    )
    .unwrap();
    let msg = at(refused(d.path()).await);
    assert!(msg.starts_with("blobs: "), "{msg}");
    assert!(
        msg.contains("bind 2 documents, but blobs/ holds 3 files"),
        "{msg}"
    );

    // The intact dump imports.
    let target = tempfile::tempdir().unwrap();
    let report = dump::import(&good, sqlite_at(target.path()).await, &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.log.blobs, 2);
}
