//! Moving a log between stores: SQLite → PostgreSQL → SQLite through `threadlog export`
//! and `threadlog import` keeps every index, leaf byte, checkpoint and tile, the moved
//! log verifies and keeps deduplicating; a damaged dump is refused, saying where, and
//! leaves the target store empty.

use crate::common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{event, proc, TestServer};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use threadlog::dump::{self, DumpError};
use threadlog::merkle::{self, TileId, TILE_WIDTH};
use threadlog::store::{self, EntryQuery, SqliteStore, Store};

/// A log of 10 batches of 40 events: 11 checkpoints, one full leaf tile.
async fn build(s: &TestServer) {
    for b in 0..10 {
        let batch: Vec<Value> = (0..40).map(|i| event(&format!("b{b}-e{i}"))).collect();
        let (status, _) = s.post_events(&Value::Array(batch)).await;
        assert_eq!(status, 201);
    }
}

async fn sqlite_at(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&format!("sqlite://{}", dir.join("t.db").display()))
            .await
            .unwrap(),
    )
}

/// Everything a log consists of, read back from a store.
async fn contents(
    store: &dyn Store,
) -> (
    Vec<threadlog::store::StoredEntry>,
    Vec<threadlog::store::StoredCheckpoint>,
    Vec<Option<Vec<u8>>>,
) {
    let entries = store
        .entries(&EntryQuery {
            limit: 100_000,
            ..EntryQuery::default()
        })
        .await
        .unwrap();
    let checkpoints = store.checkpoints(None, 10_000).await.unwrap();
    let size = checkpoints.last().unwrap().tree_size;
    let mut ids: Vec<TileId> = (0..size / TILE_WIDTH)
        .map(|index| TileId { level: 0, index })
        .collect();
    ids.extend(merkle::edge_tiles(size).into_iter().map(|(id, _)| id));
    let tiles = store.read_tiles(&ids).await.unwrap();
    (entries, checkpoints, tiles)
}

fn sbom_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/sbom/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Three SBOM entries binding two documents (one of them twice, for two images).
async fn add_sboms(s: &TestServer) -> Vec<[u8; 32]> {
    let mut digests = Vec::new();
    for (img, name, ct) in [
        (1u8, "py-env-1.5.json", "application/vnd.cyclonedx+json"),
        (2, "py-env-1.6.xml", "application/vnd.cyclonedx+xml"),
        (3, "py-env-1.5.json", "application/vnd.cyclonedx+json"),
    ] {
        let doc = sbom_fixture(name);
        let path = format!("/v1/sboms?subject=sha256:{}", hex::encode([img; 32]));
        let (status, r) = s.post_bytes(&path, &s.ci, ct, doc.clone()).await;
        assert_eq!(status, 201, "{r}");
        digests.push(<[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(
            &doc,
        )));
    }
    digests.sort();
    digests.dedup();
    digests
}

fn env(db: &str) -> Vec<(&str, &str)> {
    vec![("DATABASE_URL", db)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_every_byte() {
    let s = TestServer::start().await;
    build(&s).await;
    let docs = add_sboms(&s).await;
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("from-sqlite");
    let first_s = first.to_string_lossy().into_owned();
    let source_db = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());

    // SQLite → PostgreSQL, through the CLI, while the source server keeps running.
    let (code, v, out) =
        tokio::task::block_in_place(|| proc::cli(&["export", "--out", &first_s], &env(&source_db)));
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["tree_size"], 403);
    assert_eq!(v["checkpoints"], 14);
    assert_eq!(v["blobs"], 2);
    let pg = common::pg::fresh_database().await;
    let (code, v, out) =
        tokio::task::block_in_place(|| proc::cli(&["import", "--from", &first_s], &env(&pg)));
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["verified"]["ok"], true, "{v}");
    assert_eq!(v["verified"]["checkpoints_checked"], 14);
    assert_eq!(v["blobs"], 2);

    let original = contents(s.store.as_ref()).await;
    let moved_store = store::open(&pg).await.unwrap();
    let moved = contents(moved_store.as_ref()).await;
    assert_eq!(original.0, moved.0, "entries");
    assert_eq!(original.1, moved.1, "checkpoints");
    assert_eq!(original.2, moved.2, "tiles");
    assert!(original.2.iter().all(Option::is_some));
    for d in &docs {
        let blob = moved_store.blob(d).await.unwrap().expect("document moved");
        assert_eq!(Some(blob), s.store.blob(d).await.unwrap());
    }
    let by_subject = EntryQuery {
        subject: Some("lot:FIL-2026-118".into()),
        limit: 1000,
        ..EntryQuery::default()
    };
    assert_eq!(
        s.store.entries(&by_subject).await.unwrap().len(),
        moved_store.entries(&by_subject).await.unwrap().len()
    );
    let (code, _, out) = tokio::task::block_in_place(|| {
        proc::cli(&["verify", "--database", &pg, "--no-state"], &[])
    });
    assert_eq!(code, 0, "{out}");

    // PostgreSQL → a new SQLite file: the dump files come out byte for byte the same.
    let second = work.path().join("from-postgres");
    let second_s = second.to_string_lossy().into_owned();
    let (code, _, out) =
        tokio::task::block_in_place(|| proc::cli(&["export", "--out", &second_s], &env(&pg)));
    assert_eq!(code, 0, "{out}");
    let blob_files: Vec<String> = docs
        .iter()
        .map(|d| format!("{}/{}", dump::BLOBS, hex::encode(d)))
        .collect();
    for f in [dump::ENTRIES, dump::CHECKPOINTS]
        .into_iter()
        .chain(blob_files.iter().map(String::as_str))
    {
        assert_eq!(
            std::fs::read(first.join(f)).unwrap(),
            std::fs::read(second.join(f)).unwrap(),
            "{f}"
        );
    }
    let back = tempfile::tempdir().unwrap();
    let back_store = sqlite_at(back.path()).await;
    dump::import(&second, back_store.clone(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(contents(back_store.as_ref()).await, original);
    for d in &docs {
        assert_eq!(
            back_store.blob(d).await.unwrap(),
            s.store.blob(d).await.unwrap()
        );
    }

    // A server on the moved log: same key and origin, and resubmissions are still
    // recognised as the entries they duplicate.
    let key = format!("file:{}", s.dir.path().join("log.key").display());
    let index_of = |r: &Value| r[0]["index"].as_u64();
    let (_, first_receipt) = s.post_events(&json!([event("b3-e7")])).await;
    let moved = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.store.database_url = Some(pg.clone());
        c.signer = Some(key);
        c
    })
    .await;
    let (status, receipt) = moved.post_events(&json!([event("b3-e7")])).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt[0]["leaf_hash"], first_receipt[0]["leaf_hash"]);
    assert_eq!(index_of(&receipt), index_of(&first_receipt));
    let (status, _) = moved.post_events(&json!([event("after-the-move")])).await;
    assert_eq!(status, 201);
    assert!(moved.audit().await.ok);
}

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

/// A copy of the whole dump directory, blobs included.
fn copy_dump(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [dump::MANIFEST, dump::ENTRIES, dump::CHECKPOINTS] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::create_dir(dir.path().join(dump::BLOBS)).unwrap();
    for f in std::fs::read_dir(src.join(dump::BLOBS)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(dump::BLOBS).join(f.file_name())).unwrap();
    }
    dir
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
    assert_eq!(report.blobs, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_dump_and_restore_is_a_valid_backup() {
    let pg = tokio::task::spawn_blocking(|| common::pg::Cluster::start(false))
        .await
        .unwrap();
    common::pg::create_database(&pg.url("postgres"), "plant").await;
    let url = pg.url("plant");
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.store.database_url = Some(url);
        c
    })
    .await;
    build(&s).await;
    let file = pg.path("plant.dump");
    tokio::task::block_in_place(|| pg.tool("pg_dump", &["-Fc", "-d", "plant", "-f", &file]));
    common::pg::create_database(&pg.url("postgres"), "restored").await;
    tokio::task::block_in_place(|| pg.tool("pg_restore", &["-d", "restored", &file]));

    let restored = pg.url("restored");
    let key = s.verifier_key.to_string();
    let (code, v, out) = tokio::task::block_in_place(|| {
        proc::cli(
            &[
                "verify",
                "--database",
                &restored,
                "--key",
                &key,
                "--no-state",
            ],
            &[],
        )
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["tree_size"], 400);
    let restored = store::open(&restored).await.unwrap();
    assert_eq!(
        contents(restored.as_ref()).await,
        contents(s.store.as_ref()).await
    );
}

/// Tiles, as one digest: the golden dump records it beside its files.
fn tiles_digest(tiles: &[Option<Vec<u8>>]) -> String {
    let mut h = <sha2::Sha256 as sha2::Digest>::new();
    for t in tiles {
        let t = t.as_ref().expect("every tile of the tree is stored");
        sha2::Digest::update(&mut h, (t.len() as u64).to_be_bytes());
        sha2::Digest::update(&mut h, t);
    }
    hex::encode(sha2::Digest::finalize(h))
}

/// A dump an earlier build of threadlog wrote (`tests/golden/dump`, with `tiles.sha256`,
/// the digest of the tiles that log stored): today's import must rebuild the same tiles
/// and roots, and today's export must write the same files, byte for byte. So a change
/// inside the code cannot silently change the leaves, tiles or roots of a log.
/// `UPDATE_GOLDEN=1` writes a new one; only a deliberate format change may need that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_from_an_earlier_build_imports_to_the_same_tree() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/dump");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let s = TestServer::start().await;
        build(&s).await;
        add_sboms(&s).await;
        let _ = std::fs::remove_dir_all(&golden);
        dump::export(s.store.as_ref(), &golden, &|_, _| {})
            .await
            .unwrap();
        let (_, _, tiles) = contents(s.store.as_ref()).await;
        std::fs::write(golden.join("tiles.sha256"), tiles_digest(&tiles) + "\n").unwrap();
    }
    // The digest file is not part of the dump: the copy leaves it out.
    let source = copy_dump(&golden);
    let target = tempfile::tempdir().unwrap();
    let store = sqlite_at(target.path()).await;
    let report = dump::import(source.path(), store.clone(), &|_, _| {})
        .await
        .unwrap();
    assert!(report.verified.ok, "{:?}", report.verified.failure);

    let manifest: Value =
        serde_json::from_slice(&std::fs::read(golden.join(dump::MANIFEST)).unwrap()).unwrap();
    let (entries, checkpoints, tiles) = contents(store.as_ref()).await;
    assert_eq!(
        entries.len() as u64,
        manifest["tree_size"].as_u64().unwrap()
    );
    let latest = checkpoints.last().unwrap();
    assert_eq!(latest.note, manifest["checkpoint"]);
    assert_eq!(latest.root_hash.to_base64(), manifest["root_hash"]);
    assert_eq!(
        tiles_digest(&tiles),
        std::fs::read_to_string(golden.join("tiles.sha256"))
            .unwrap()
            .trim()
    );

    let again = tempfile::tempdir().unwrap();
    let out = again.path().join("dump");
    dump::export(store.as_ref(), &out, &|_, _| {})
        .await
        .unwrap();
    let mut files = vec![dump::ENTRIES.to_string(), dump::CHECKPOINTS.to_string()];
    for blob in std::fs::read_dir(golden.join(dump::BLOBS)).unwrap() {
        let name = blob.unwrap().file_name().to_string_lossy().into_owned();
        files.push(format!("{}/{name}", dump::BLOBS));
    }
    for f in &files {
        assert!(
            std::fs::read(golden.join(f)).unwrap() == std::fs::read(out.join(f)).unwrap(),
            "{f} differs from the dump an earlier build wrote"
        );
    }
}
