//! A full disk under the embedded store: appends answer 503 and `/readyz` is not ready
//! while the store cannot commit; once space returns, both recover by themselves, with
//! nothing acknowledged lost and nothing logged twice.
//!
//! The log lives on a size-limited tmpfs mounted for the test (root only, as on CI).

use crate::common;

use common::{event, TestServer};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc_geteuid() } != 0 {
            eprintln!("skipped: mounting a size-limited filesystem needs root");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "mount tmpfs: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the filesystem is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0x5a_u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling the disk: {e}"),
            }
        }
        // Smaller writes take the last partial block.
        while f.write(&[0x5a]).map(|n| n > 0).unwrap_or(false) {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

async fn ready(s: &TestServer) -> (u16, Value) {
    let r = s
        .client
        .get(format!("{}/readyz", s.url))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Polls until `/readyz` answers `want`, failing after a generous bound.
async fn wait_ready(s: &TestServer, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = ready(s).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz stayed {status} ({body}), want {want}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A batch of `n` events.
fn batch(prefix: &str, n: usize) -> Value {
    Value::Array((0..n).map(|i| event(&format!("{prefix}-{i}"))).collect())
}

async fn server_on(disk: &SmallDisk) -> TestServer {
    TestServer::start_with(tempfile::tempdir_in(disk.path()).unwrap(), |c| c).await
}

/// Posts until the store reports it cannot commit; returns the status and body seen.
async fn append_until_full(s: &TestServer, prefix: &str) -> (u16, Value) {
    for round in 0..10_000 {
        let (status, body) = s
            .post_events(&batch(&format!("{prefix}-{round}"), 20))
            .await;
        if status != 201 {
            return (status, body);
        }
    }
    panic!("the disk never filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_the_server_unready_and_it_recovers_when_space_returns() {
    let Some(disk) = SmallDisk::mount("6m") else {
        return;
    };
    let s = server_on(&disk).await;
    assert_eq!(s.post_events(&batch("before", 5)).await.0, 201);
    let filler = disk.fill();

    let (status, body) = append_until_full(&s, "full").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable", "{body}");
    let size_when_full = s.tree_size().await;

    let body = wait_ready(&s, 503).await;
    let reason = body["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("cannot commit"), "{body}");
    // Reads still work while writes cannot.
    assert_eq!(s.get_json("/v1/log").await.0, 200);
    // Still full: still refused, and the tree does not move.
    let (status, body) = s.post_events(&batch("still-full", 20)).await;
    assert_eq!((status, body["error"].as_str()), (503, Some("unavailable")));
    assert_eq!(s.tree_size().await, size_when_full);

    std::fs::remove_file(filler).unwrap();
    // Nobody appends: the server finds out by itself that it can commit again.
    wait_ready(&s, 200).await;
    let (status, body) = s.post_events(&batch("after", 5)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(s.tree_size().await, size_when_full + 5);
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    drop(s.stop().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_a_full_disk_loses_and_duplicates_nothing() {
    let Some(disk) = SmallDisk::mount("6m") else {
        return;
    };
    let s = std::sync::Arc::new(server_on(&disk).await);
    // Four producers append distinct events until told to stop, retrying each refused
    // batch with the same event ids, as a client must.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut producers = Vec::new();
    for p in 0..4 {
        let (s, stop) = (s.clone(), stop.clone());
        producers.push(tokio::spawn(async move {
            let mut acked: BTreeMap<String, u64> = BTreeMap::new();
            let mut refused = 0u32;
            let mut round = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = batch(&format!("p{p}-{round}"), 10);
                loop {
                    let (status, answer) = s.post_events(&body).await;
                    match status {
                        201 => {
                            let events = body.as_array().unwrap();
                            let receipts = answer.as_array().unwrap();
                            assert_eq!(events.len(), receipts.len());
                            for (e, r) in events.iter().zip(receipts) {
                                let id = e["event_id"].as_str().unwrap().to_string();
                                acked.insert(id, r["index"].as_u64().unwrap());
                            }
                            break;
                        }
                        503 => {
                            refused += 1;
                            assert_eq!(answer["error"], "unavailable", "{answer}");
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => panic!("unexpected {other}: {answer}"),
                    }
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                }
                round += 1;
            }
            (acked, refused)
        }));
    }
    // Let the log grow, fill the disk under the load, hold it full, then free it.
    while s.tree_size().await < 200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let filler = disk.fill();
    wait_ready(&s, 503).await;
    let size_when_full = s.tree_size().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.tree_size().await, size_when_full, "appends while full");
    std::fs::remove_file(filler).unwrap();
    wait_ready(&s, 200).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while s.tree_size().await < size_when_full + 100 {
        assert!(Instant::now() < deadline, "appends did not resume");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acked = BTreeMap::new();
    let mut refused = 0;
    for p in producers {
        let (a, r) = p.await.unwrap();
        refused += r;
        acked.extend(a);
    }
    assert!(refused > 0, "the load never saw the full disk");

    // Every acknowledged event is at its receipt's index, and no event is there twice.
    let s = std::sync::Arc::into_inner(s).expect("producers are done");
    let size = s.tree_size().await;
    let mut seen = HashSet::new();
    let mut next: Option<u64> = None;
    loop {
        let query = next.map_or(String::new(), |n| format!("&after={n}"));
        let (status, page) = s.get_json(&format!("/v1/entries?limit=1000{query}")).await;
        assert_eq!(status, 200, "{page}");
        for e in page["entries"].as_array().unwrap() {
            let index = e["index"].as_u64().unwrap();
            let id = e["entry"]["body"]["event_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no event id in {e}"))
                .to_string();
            assert!(seen.insert(id.clone()), "{id} logged twice");
            if let Some(at) = acked.get(&id) {
                assert_eq!(*at, index, "{id} moved");
            }
        }
        match page["next"].as_u64() {
            Some(n) => next = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, size);
    for id in acked.keys() {
        assert!(seen.contains(id), "acknowledged {id} is not in the log");
    }
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    drop(s.stop().await);
}
