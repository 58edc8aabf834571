//! Evidence bundles: built from a log on either backend, written by `threadlog export
//! --subject`, checked offline by `threadlog verify --bundle` with the `merkle` and
//! `note` code only; every altered byte is caught and the failure names what it hit.

use crate::common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::plant::*;
use common::{proc, TestServer};
use serde_json::Value;
use std::path::Path;
use threadlog::bundle::{self, Bundle};
use threadlog::store::TileCache;
use threadlog::thread::{build_bundle, BundleOptions, Direction};

mod derive;
mod offline;
mod tamper;

pub(super) async fn post_plant(s: &TestServer, plant: &Plant) {
    for chunk in plant.events.chunks(500) {
        let (status, r) = s.post_events(&Value::Array(chunk.to_vec())).await;
        assert_eq!(status, 201, "{r}");
    }
}

/// Runs the CLI off the runtime's workers.
pub(super) async fn cli(args: Vec<String>) -> (i32, Value, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        proc::cli(&args, &[])
    })
    .await
    .unwrap()
}

/// Exports `subject`'s bundle from the server's database to `out`, with `extra` options.
pub(super) async fn export(
    s: &TestServer,
    subject: String,
    out: &Path,
    extra: &[&str],
) -> (i32, Value, String) {
    let mut args = vec![
        "export".to_string(),
        "--database-url".into(),
        s.database_url.clone(),
        "--subject".into(),
        subject,
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    args.extend(["--out".into(), out.display().to_string()]);
    cli(args).await
}

pub(super) async fn verify_file(path: &Path, key: &str) -> (i32, Value, String) {
    cli(vec![
        "verify".into(),
        "--bundle".into(),
        path.display().to_string(),
        "--key".into(),
        key.into(),
    ])
    .await
}
