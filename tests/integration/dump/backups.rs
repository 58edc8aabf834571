//! Backups: pg_dump and restore is a valid backup, and a dump from an earlier build imports
//! to the same tree.

use super::*;

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
