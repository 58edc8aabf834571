//! What operators do to a log and its files: creating it (`init`, `serve --init`), the
//! modes of what it writes to disk, key and PIN files others can read, the token
//! lifecycle (create with expiry, list, revoke, seen at once by every server) and
//! `verify --database`, which must not change a byte of what it audits.

use crate::common;

use common::proc::{self, Serve, BIN};
use common::{event, TestServer};
use serde_json::Value;
use sqlx::Connection;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use threadlog::api::auth::{new_token, token_hash};

mod at_rest;
mod tokens;
mod verify_database;

pub(super) const ORIGIN: &str = "ops.example/log";

pub(super) fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    tokio::task::block_in_place(|| proc::cli(args, env))
}

pub(super) fn serve(args: &[&str], env: &[(&str, &str)]) -> Result<Serve, String> {
    tokio::task::block_in_place(|| Serve::try_start_args(args, env))
}

pub(super) async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A 401 answer's JSON body: the `unauthorized` code and its message.
pub(super) fn unauthorized(status: u16, body: &str) -> String {
    assert_eq!(status, 401, "{body}");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"], "unauthorized", "{v}");
    v["message"].as_str().unwrap().to_string()
}

pub(super) async fn append(url: &str, producer: &str, id: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/events"))
        .bearer_auth(producer)
        .json(&event(id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}
