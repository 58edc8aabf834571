//! Key rotation end to end with the real binary: a chain of keys A → B → C verified by an
//! auditor who pinned only A (from the database and over HTTP), exactly two signatures on
//! each rotation's checkpoint and one on the others, servers with a rotated-away key
//! refusing to start and to append, a key swapped behind the log's back caught at its
//! first checkpoint, and a rotated log moved through export and import.

use crate::common;

use common::proc::{cli, token, Serve};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use threadlog::audit::{self, StoreSource};
use threadlog::note::VerifierKey;
use threadlog::store::{SqliteStore, Store};

mod chain;
mod history;
mod hsm;
mod under_load;

pub(super) const ORIGIN: &str = "rotation.example/log";

pub(super) fn env_for(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("THREADLOG_DATA_DIR", dir.display().to_string()),
        ("THREADLOG_ORIGIN", ORIGIN.to_string()),
    ]
}

pub(super) fn with<'a>(
    base: &'a [(&'static str, String)],
    extra: &'a [(&'static str, String)],
) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .chain(extra.iter())
        .map(|(k, v)| (*k, v.as_str()))
        .collect()
}

pub(super) async fn append(
    client: &reqwest::Client,
    url: &str,
    producer: &str,
    prefix: &str,
    n: usize,
) -> (u16, Value) {
    let batch: Vec<Value> = (0..n)
        .map(|i| common::event(&format!("{prefix}-{i}")))
        .collect();
    let resp = client
        .post(format!("{url}/v1/events"))
        .bearer_auth(producer)
        .json(&Value::Array(batch))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub(super) async fn open_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&format!("sqlite://{}", dir.join("threadlog.db").display()))
            .await
            .unwrap(),
    )
}

/// Signature lines of a signed note.
/// `threadlog import` of the dump at `out` into a new SQLite file: the CLI's answer and
/// the new database's URL; the temporary directory lives as long as the returned guard.
pub(super) fn import_fresh(out: &Path) -> ((i32, Value, String), String, tempfile::TempDir) {
    let target = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", target.path().join("t.db").display());
    let args = [
        "import",
        "--database-url",
        &db,
        "--from",
        out.to_str().unwrap(),
    ];
    (cli(&args, &[]), db, target)
}

/// `threadlog keys init` of a new key labelled `label` on the SoftHSM token `rotation`.
pub(super) fn keys_init(env: &[(&str, &str)], label: &str) -> Value {
    let args = [
        "keys",
        "init",
        "--pkcs11-module",
        common::softhsm::MODULE,
        "--token-label",
        "rotation",
        "--label",
        label,
    ];
    let (code, init, text) = cli(&args, env);
    assert_eq!(code, 0, "{text}");
    init
}

pub(super) fn signatures(note: &str) -> usize {
    note.lines().filter(|l| l.starts_with("\u{2014} ")).count()
}

pub(super) fn rotate(env: &[(&str, &str)], signer: Option<&str>, new: &str, retire: bool) -> Value {
    let mut args = vec!["keys", "rotate", "--new-signer", new];
    if let Some(s) = signer {
        args.extend(["--signer", s]);
    }
    if retire {
        args.push("--retire");
    }
    let (code, out, text) = cli(&args, env);
    assert_eq!(code, 0, "{text}");
    out
}

pub(super) fn verify_url(url: &str, key: &str, auditor: &str) -> (i32, Value, String) {
    cli(
        &["verify", "--url", url, "--key", key, "--no-state"],
        &[("THREADLOG_TOKEN", auditor)],
    )
}
