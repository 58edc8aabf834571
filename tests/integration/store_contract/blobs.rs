//! The store contract for blobs kept with their entries.

use super::*;

fn with_blob(mut e: NewEntry, data: &'static [u8], media_type: &str) -> NewEntry {
    e.blob = Some(threadlog::entry::Blob::new(
        bytes::Bytes::from_static(data),
        media_type,
    ));
    e
}

/// Documents are written with the entry that binds them, once per digest, and never
/// rewritten.
async fn blob_contract(store: Arc<dyn Store>) {
    let a = with_blob(
        entry(0, 1, "sbom", &[], "a"),
        b"{\"doc\":\"a\"}",
        "application/json",
    );
    let sha_a = *a.blob.as_ref().unwrap().sha256();
    write(store.as_ref(), vec![a.clone()], vec![], 1, false).await;
    assert_eq!(
        store.blob(&sha_a).await.unwrap(),
        None,
        "rolled back with its entry"
    );
    write(store.as_ref(), vec![a], vec![], 1, true).await;
    let b1 = with_blob(entry(1, 3, "sbom", &[], "b1"), b"<bom/>", "application/xml");
    let b2 = with_blob(entry(2, 3, "sbom", &[], "b2"), b"<bom/>", "application/xml");
    let again = with_blob(
        entry(3, 4, "sbom", &[], "a2"),
        b"{\"doc\":\"a\"}",
        "text/plain",
    );
    let sha_b = *b1.blob.as_ref().unwrap().sha256();
    write(store.as_ref(), vec![b1, b2], vec![], 3, true).await;
    write(store.as_ref(), vec![again], vec![], 4, true).await;
    assert_eq!(
        store.blob(&sha_a).await.unwrap(),
        Some(StoredBlob {
            media_type: "application/json".into(),
            index: 0,
            data: b"{\"doc\":\"a\"}".to_vec(),
        }),
        "the first binding's row, unchanged"
    );
    let b = store.blob(&sha_b).await.unwrap().unwrap();
    assert_eq!((b.index, b.data.as_slice()), (1, &b"<bom/>"[..]));
    assert_eq!(store.blob(&[0; 32]).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_store_keeps_blobs_per_the_contract() {
    let (_dir, store) = sqlite().await;
    blob_contract(store).await;
}

#[tokio::test]
async fn postgres_store_keeps_blobs_per_the_contract() {
    blob_contract(postgres().await).await;
}
