//! Test harness: a real server on a real socket over a real SQLite file, tokens per role,
//! and an auditor's full verification after each scenario.
#![allow(dead_code)]

pub mod pg;
pub mod plant;
pub mod proc;
pub mod softhsm;

use std::path::PathBuf;
use std::sync::Arc;
use threadlog::api::auth::{new_token, token_hash};
use threadlog::audit::{self, Report, StoreSource};
use threadlog::config::{ServeConfig, StoreArgs};
use threadlog::merkle::Hash;
use threadlog::note::VerifierKey;
use threadlog::store::Store;

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub url: String,
    /// The database the server uses (SQLite file or PostgreSQL database).
    pub database_url: String,
    pub store: Arc<dyn Store>,
    pub verifier_key: VerifierKey,
    pub origin: String,
    pub producer: String,
    pub auditor: String,
    pub admin: String,
    pub ci: String,
    pub client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn config(data_dir: PathBuf) -> ServeConfig {
    ServeConfig {
        store: StoreArgs {
            data_dir,
            database_url: None,
        },
        read_database_url: None,
        listen: "127.0.0.1:0".parse().unwrap(),
        origin: Some("test.example/log".into()),
        signer: None,
        max_body_bytes: 1024 * 1024,
        max_document_bytes: 4 * 1024 * 1024,
        queue_depth: 256,
        max_batch: 4096,
        batch_linger_ms: 0,
        tile_cache: 64,
        trust_policy: None,
        init: true,
        http: Default::default(),
    }
}

impl TestServer {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_with(dir, |c| c).await
    }

    /// A server on a fresh PostgreSQL database.
    pub async fn start_pg() -> Self {
        let url = pg::fresh_database().await;
        Self::start_with(tempfile::tempdir().unwrap(), |mut c| {
            c.store.database_url = Some(url);
            c
        })
        .await
    }

    /// A server on SQLite, or on a fresh PostgreSQL database.
    pub async fn on(postgres: bool) -> Self {
        if postgres {
            Self::start_pg().await
        } else {
            Self::start().await
        }
    }

    pub async fn start_with(
        dir: tempfile::TempDir,
        tweak: impl FnOnce(ServeConfig) -> ServeConfig,
    ) -> Self {
        let cfg = tweak(config(dir.path().to_path_buf()));
        let database_url = cfg.store.url();
        let started = threadlog::server::start(&cfg).await.expect("server starts");
        let state = started.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let limits = cfg.http.clone();
        let task = tokio::spawn(async move {
            threadlog::api::serve_with(listener, state, limits, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        let store = started.state.store.clone();
        let mut tokens = Vec::new();
        for role in ["producer", "auditor", "admin", "ci"] {
            let t = new_token();
            store
                .insert_token(&format!("{role}-1"), role, &token_hash(&t), None)
                .await
                .unwrap();
            tokens.push(t);
        }
        TestServer {
            dir,
            url,
            database_url,
            store,
            verifier_key: started.state.verifier_key.clone(),
            origin: started.state.origin.clone(),
            producer: tokens[0].clone(),
            auditor: tokens[1].clone(),
            admin: tokens[2].clone(),
            ci: tokens[3].clone(),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        self.dir
    }

    pub async fn post_events(&self, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.post_raw("/v1/events", &self.producer, body.to_string())
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        body: String,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Posts raw bytes with a content type (e.g. an SBOM document).
    pub async fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A GET answered with its status, content type and exact body bytes.
    pub async fn get_bytes(&self, path: &str, token: &str) -> (u16, String, Vec<u8>) {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, resp.bytes().await.unwrap().to_vec())
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (s, body) = self.get(path, &self.auditor).await;
        (
            s,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Checks a receipt offline, as a client would: its checkpoint opens under this log's
    /// key and origin, and its inclusion proof (for the checkpoint's tree size) proves its
    /// leaf hash. Returns the entry's index.
    pub fn check_receipt(&self, r: &serde_json::Value) -> u64 {
        let receipt: threadlog::receipt::Receipt =
            serde_json::from_value(r.clone()).expect("a receipt in its wire form");
        let report = receipt
            .verify(&self.verifier_key, None)
            .expect("the receipt verifies with the log key alone");
        assert_eq!(report.origin, self.origin);
        report.index
    }

    /// The latest signed tree size, read as an auditor through the one HTTP client.
    pub async fn tree_size(&self) -> u64 {
        threadlog_client::Client::new(&self.url, Some(&self.auditor))
            .unwrap()
            .log_info()
            .await
            .unwrap()
            .tree_size
    }

    /// The auditor's full check of the store behind the server.
    pub async fn audit(&self) -> Report {
        audit::verify(
            &StoreSource::new(self.store.clone()),
            &self.verifier_key,
            None,
            &|_, _| {},
        )
        .await
        .unwrap()
    }
}

/// A realistic print-farm event.
pub fn event(id: &str) -> serde_json::Value {
    serde_json::json!({
        "event_id": id,
        "event_type": "part_printed",
        "effective_time": "2026-11-24T08:15:00Z",
        "hierarchy_scope": { "site": "plant-1", "area": "additive", "work_center": "printers", "unit": "p-07" },
        "source": "mes.plant-1",
        "job_order_id": "WO-1001",
        "equipment": [{ "id": "printer-07", "role": "printer" }],
        "material": [
            { "definition": "PA12-CF", "lot": "FIL-2026-118", "use": "consumed", "quantity": 41.5, "unit": "g" },
            { "definition": "bracket-A", "serial": format!("SN-{id}"), "use": "produced", "quantity": 1, "unit": "ea" }
        ],
        "program": { "name": "bracket-A.gcode", "digest": format!("sha256:{}", "ab".repeat(32)) }
    })
}

/// A small QC result event, for high-volume fault tests.
pub fn qc_event(id: &str) -> serde_json::Value {
    serde_json::json!({
        "event_id": id,
        "event_type": "qc_result",
        "effective_time": "2026-11-24T09:00:00Z",
        "hierarchy_scope": { "site": "plant-1" },
        "source": "qc-station-3",
        "material": [{ "definition": "bracket-A", "serial": id, "use": "produced" }],
        "quality": { "test_spec": "CMM-42", "result": "pass" }
    })
}

/// The `hashes` of a proof answer or `inclusion_proof` object.
pub fn hashes(v: &serde_json::Value) -> Vec<Hash> {
    v["hashes"]
        .as_array()
        .expect("a hashes array")
        .iter()
        .map(|h| Hash::from_base64(h.as_str().expect("a string")).expect("base64 of 32 bytes"))
        .collect()
}

/// Uploaded text meant to break out of every format it is shown in: markup, an entity and
/// a Markdown table cell. (Line breaks only get in through documents such as SBOMs: the
/// text fields of events and control results refuse control characters.)
pub const HOSTILE: &str = "<script>alert(1)</script> & co | left";

/// How many `|` of a Markdown table row separate cells (those not backslash-escaped).
pub fn cell_pipes(line: &str) -> usize {
    let b = line.as_bytes();
    (0..b.len())
        .filter(|&i| {
            b[i] == b'|' && b[..i].iter().rev().take_while(|c| **c == b'\\').count() % 2 == 0
        })
        .count()
}

/// Runs each scenario once per backend, as `NAME::sqlite` and `NAME::postgres`. A
/// scenario is `async fn NAME(s: TestServer)`; with `start = f;` its server comes from
/// `async fn f(postgres: bool) -> TestServer` of the same module instead.
#[allow(unused_macros)]
macro_rules! both {
    (start = $start:ident; $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::$start(false).await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::$start(true).await).await
            }
        }
    )*};
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::common::TestServer::on(false).await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::common::TestServer::on(true).await).await
            }
        }
    )*};
}
