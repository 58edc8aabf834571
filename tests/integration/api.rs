//! The HTTP API over a real socket, on a real SQLite file and on a real PostgreSQL
//! database with the same cases: appends with receipts that verify offline,
//! idempotency, authorization, bad input, reads and proofs.

use crate::common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{event, TestServer};
use serde_json::{json, Value};
use threadlog::merkle::{self, Hash};
use threadlog::note;

both!(appended_events_get_receipts_that_verify_offline);
async fn appended_events_get_receipts_that_verify_offline(s: TestServer) {
    let (status, r) = s.post_events(&event("e-1")).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(s.check_receipt(&r), 0);

    let batch: Vec<Value> = (0..100).map(|i| event(&format!("b-{i}"))).collect();
    let (status, rs) = s.post_events(&Value::Array(batch)).await;
    assert_eq!(status, 201, "{rs}");
    let indexes: Vec<u64> = rs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s.check_receipt(r))
        .collect();
    assert_eq!(indexes, (1..=100).collect::<Vec<_>>());

    // The leaf served back hashes to the receipt's leaf hash, and parses to the event.
    let (status, e) = s.get_json("/v1/entries/42").await;
    assert_eq!(status, 200);
    let leaf = STANDARD.decode(e["leaf"].as_str().unwrap()).unwrap();
    assert_eq!(
        merkle::leaf_hash(&leaf).to_base64(),
        rs[41]["leaf_hash"].as_str().unwrap()
    );
    assert_eq!(e["entry"]["kind"], "event");
    assert_eq!(e["entry"]["body"]["event_id"], "b-41");
    assert_eq!(e["entry"]["submitter"], "producer-1");

    assert_eq!(s.tree_size().await, 101);
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.entries_checked, 101);
    s.stop().await;
}

both!(resubmission_is_idempotent_and_reuse_is_a_conflict);
async fn resubmission_is_idempotent_and_reuse_is_a_conflict(s: TestServer) {
    let (status, first) = s.post_events(&event("dup-1")).await;
    assert_eq!(status, 201);
    s.post_events(&event("other")).await;

    let (status, again) = s.post_events(&event("dup-1")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["index"], first["index"]);
    assert_eq!(again["leaf_hash"], first["leaf_hash"]);
    assert_eq!(again["integrated_at"], first["integrated_at"]);
    s.check_receipt(&again);

    // Key order does not matter: same content.
    let mut reordered = serde_json::Map::new();
    for (k, v) in event("dup-1").as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    let (status, _) = s.post_events(&Value::Object(reordered)).await;
    assert_eq!(status, 200);

    let mut changed = event("dup-1");
    changed["event_type"] = json!("qc_result");
    let (status, err) = s.post_events(&changed).await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"], "conflict");
    assert!(err["message"].as_str().unwrap().contains("dup-1"));

    // A batch repeating a key inside itself appends it once.
    let (status, rs) = s
        .post_events(&json!([event("in-batch"), event("in-batch")]))
        .await;
    assert_eq!(status, 201);
    assert_eq!(rs[0]["index"], rs[1]["index"]);
    assert_eq!(s.tree_size().await, 3);
    s.stop().await;
}

both!(every_route_but_probes_needs_the_right_role);
async fn every_route_but_probes_needs_the_right_role(s: TestServer) {
    let url = |p: &str| format!("{}{p}", s.url);
    for probe in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let r = s.client.get(url(probe)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{probe}");
    }
    for path in [
        "/v1/log",
        "/v1/checkpoint",
        "/v1/entries",
        "/v1/entries/0",
        "/v1/checkpoints/0",
        "/v1/compliance/report?framework=nist-800-171r2",
        "/v1/thread/lot:L-1",
    ] {
        let r = s.client.get(url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path} without token");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "unauthorized");
        let (status, _) = s.get(path, "tl_not-a-real-token").await;
        assert_eq!(status, 401, "{path} with unknown token");
        let (status, body) = s.get(path, &s.producer).await;
        assert_eq!(status, 403, "{path} as producer: {body}");
    }
    let (status, body) = s
        .post_raw("/v1/events", &s.auditor, event("x").to_string())
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body["message"].as_str().unwrap().contains("producer"));
    let (status, _) = s.get("/v1/log", &s.admin).await;
    assert_eq!(status, 200);
    assert_eq!(s.tree_size().await, 0);
    s.stop().await;
}

both!(bad_input_is_a_precise_4xx_and_appends_nothing);
async fn bad_input_is_a_precise_4xx_and_appends_nothing(s: TestServer) {
    let mut missing = event("m");
    missing.as_object_mut().unwrap().remove("effective_time");
    let mut bad_time = event("t");
    bad_time["effective_time"] = json!("yesterday");
    let mut wrong_type = event("w");
    wrong_type["source"] = json!(17);
    let mut batch: Vec<Value> = (0..5).map(|i| event(&format!("ok-{i}"))).collect();
    batch[3]["hierarchy_scope"] = json!({});
    let too_many: Vec<Value> = (0..1001).map(|i| event(&format!("n-{i}"))).collect();

    let cases: Vec<(String, u16, &str, &str)> = vec![
        (
            "{not json".into(),
            400,
            "bad_request",
            "key must be a string",
        ),
        (missing.to_string(), 422, "invalid", "effective_time"),
        (bad_time.to_string(), 422, "invalid", "effective_time"),
        (wrong_type.to_string(), 422, "invalid", "source"),
        (Value::Array(batch).to_string(), 422, "invalid", "[3]"),
        (Value::Array(too_many).to_string(), 413, "too_large", "1000"),
        ("[]".into(), 422, "invalid", "the array of events is empty"),
        (
            json!({"event_id": "x", "surprise": 1}).to_string(),
            422,
            "invalid",
            "surprise",
        ),
    ];
    for (body, status, code, needle) in cases {
        let (got, err) = s.post_raw("/v1/events", &s.producer, body.clone()).await;
        let short: String = body.chars().take(60).collect();
        assert_eq!(got, status, "{short}: {err}");
        assert_eq!(err["error"], code, "{short}: {err}");
        assert!(
            err["message"].as_str().unwrap().contains(needle),
            "{short}: {err}"
        );
    }
    let huge = json!({ "event_id": "big", "data": { "blob": "x".repeat(2 * 1024 * 1024) } });
    let (got, err) = s
        .post_raw("/v1/events", &s.producer, huge.to_string())
        .await;
    assert_eq!(got, 413, "{err}");
    assert_eq!(err["error"], "too_large", "{err}");
    let r = s
        .client
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&s.producer)
        .header("content-type", "text/plain")
        .body(event("ct").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"], "unsupported_media_type", "{err}");
    assert_eq!(s.tree_size().await, 0);
    s.stop().await;
}

both!(auditor_reads_checkpoints_pages_and_proofs);
async fn auditor_reads_checkpoints_pages_and_proofs(s: TestServer) {
    let mut sizes = vec![];
    for round in 0..5 {
        let batch: Vec<Value> = (0..(round * 7 + 3))
            .map(|i| event(&format!("r{round}-{i}")))
            .collect();
        let (status, rs) = s.post_events(&Value::Array(batch)).await;
        assert_eq!(status, 201);
        sizes.push(rs[0]["inclusion_proof"]["tree_size"].as_u64().unwrap());
    }
    let total = *sizes.last().unwrap();

    let (status, text) = s.get("/v1/checkpoint", &s.auditor).await;
    assert_eq!(status, 200);
    let (latest, _) =
        note::open_checkpoint(&text, std::slice::from_ref(&s.verifier_key), &s.origin).unwrap();
    assert_eq!(latest.tree_size, total);
    let (_, info) = s.get_json("/v1/log").await;
    assert_eq!(info["verifier_key"], s.verifier_key.to_string());
    assert_eq!(info["root_hash"], STANDARD.encode(latest.root_hash));

    let mut roots = std::collections::HashMap::new();
    for &size in &sizes {
        let (status, text) = s.get(&format!("/v1/checkpoints/{size}"), &s.auditor).await;
        assert_eq!(status, 200);
        let (cp, _) =
            note::open_checkpoint(&text, std::slice::from_ref(&s.verifier_key), &s.origin).unwrap();
        assert_eq!(cp.tree_size, size);
        roots.insert(size, Hash(cp.root_hash));
    }
    let (status, _) = s
        .get(&format!("/v1/checkpoints/{}", total + 1), &s.auditor)
        .await;
    assert_eq!(status, 404);

    // Consistency between every pair of checkpoints, and inclusion of every entry.
    for &a in &sizes {
        for &b in sizes.iter().filter(|&&b| b >= a) {
            let (status, p) = s
                .get_json(&format!("/v1/proofs/consistency?first={a}&second={b}"))
                .await;
            assert_eq!(status, 200, "{p}");
            let hashes: Vec<Hash> = common::hashes(&p);
            merkle::verify_consistency(&hashes, a, &roots[&a], b, &roots[&b]).unwrap();
        }
    }
    for i in 0..total {
        let (_, e) = s.get_json(&format!("/v1/entries/{i}")).await;
        let leaf = STANDARD.decode(e["leaf"].as_str().unwrap()).unwrap();
        let (status, p) = s
            .get_json(&format!("/v1/proofs/inclusion?index={i}&tree_size={total}"))
            .await;
        assert_eq!(status, 200);
        let hashes: Vec<Hash> = common::hashes(&p);
        merkle::verify_inclusion(&hashes, i, total, &merkle::leaf_hash(&leaf), &roots[&total])
            .unwrap();
    }
    let (status, _) = s
        .get_json(&format!(
            "/v1/proofs/inclusion?index={total}&tree_size={total}"
        ))
        .await;
    assert_eq!(status, 400);
    let (status, _) = s.get_json("/v1/proofs/inclusion?index=0&tree_size=2").await;
    assert_eq!(status, 404, "size 2 was never checkpointed");
    let (status, _) = s.get_json("/v1/proofs/inclusion?index=x&tree_size=2").await;
    assert_eq!(status, 400);

    // Pages: cursor walks everything once; filters narrow.
    let mut seen = vec![];
    let mut path = "/v1/entries?limit=7".to_string();
    loop {
        let (status, page) = s.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["index"].as_u64().unwrap()),
        );
        match page["next"].as_u64() {
            Some(n) => path = format!("/v1/entries?limit=7&after={n}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..total).collect::<Vec<_>>());
    let (_, page) = s.get_json("/v1/entries?subject=serial:SN-r2-4").await;
    let hits = page["entries"].as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["entry"]["body"]["event_id"], "r2-4");
    let (_, page) = s
        .get_json("/v1/entries?subject=lot:FIL-2026-118&kind=event&limit=1000")
        .await;
    assert_eq!(page["entries"].as_array().unwrap().len() as u64, total);
    let (_, page) = s.get_json("/v1/entries?kind=sbom").await;
    assert!(page["entries"].as_array().unwrap().is_empty());
    let (_, page) = s.get_json("/v1/entries?until=2000-01-01T00:00:00Z").await;
    assert!(page["entries"].as_array().unwrap().is_empty());
    let (_, page) = s
        .get_json("/v1/entries?since=2000-01-01T00:00:00Z&limit=3")
        .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    // Time bounds at a batch boundary split the log exactly where the times do.
    let (_, all) = s.get_json("/v1/entries?limit=1000").await;
    let times: Vec<(u64, String)> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let t = e["entry"]["integrated_at"].as_str().unwrap().to_string();
            (e["index"].as_u64().unwrap(), t)
        })
        .collect();
    let t = times[times.len() / 2].1.clone();
    let expect = |keep: &dyn Fn(&str) -> bool| -> Vec<u64> {
        times
            .iter()
            .filter(|(_, x)| keep(x))
            .map(|(i, _)| *i)
            .collect()
    };
    for (query, want) in [
        (format!("since={t}"), expect(&|x| x >= t.as_str())),
        (format!("until={t}"), expect(&|x| x < t.as_str())),
    ] {
        let (_, page) = s.get_json(&format!("/v1/entries?limit=1000&{query}")).await;
        let got: Vec<u64> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["index"].as_u64().unwrap())
            .collect();
        assert!(!got.is_empty() || want.is_empty());
        assert_eq!(got, want, "{query}");
    }
    for bad in [
        "/v1/entries?since=yesterday",
        "/v1/entries?limit=0",
        "/v1/entries?limit=5000",
        "/v1/entries?kind=nope",
        "/v1/entries?bogus=1",
    ] {
        let (status, body) = s.get_json(bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert!(s.audit().await.ok);
    s.stop().await;
}

#[tokio::test]
async fn restart_keeps_the_log_and_a_changed_origin_is_refused() {
    let s = TestServer::start().await;
    let (_, r) = s.post_events(&event("before-restart")).await;
    let key = s.verifier_key.clone();
    let dir = s.stop().await;
    let path = dir.path().to_path_buf();

    let s = TestServer::start_with(dir, |c| c).await;
    assert_eq!(s.verifier_key, key);
    assert_eq!(s.tree_size().await, 1);
    let (status, again) = s.post_events(&event("before-restart")).await;
    assert_eq!(status, 200);
    assert_eq!(again["index"], r["index"]);
    let dir = s.stop().await;

    let mut cfg = common::config(path.clone());
    cfg.origin = Some("another.example/log".into());
    let err = threadlog::server::start(&cfg)
        .await
        .err()
        .expect("refuses another origin")
        .to_string();
    assert!(err.contains("test.example/log"), "{err}");

    let mut cfg = common::config(path.clone());
    cfg.signer = Some(format!("file:{}", path.join("other.key").display()));
    let err = threadlog::server::start(&cfg)
        .await
        .err()
        .expect("refuses another key")
        .to_string();
    assert!(err.contains("verifier key"), "{err}");
    drop(dir);
}

both!(keys_status_is_for_admins_and_probes_the_file_key);
async fn keys_status_is_for_admins_and_probes_the_file_key(s: TestServer) {
    let (status, _) = s.get("/v1/keys", "").await;
    assert_eq!(status, 401);
    for token in [&s.auditor, &s.producer] {
        let (status, body) = s.get("/v1/keys", token).await;
        assert_eq!(status, 403, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"].as_str().unwrap().contains("admin"),
            "{body}"
        );
    }
    let (status, body) = s.get("/v1/keys", &s.admin).await;
    assert_eq!(status, 200, "{body}");
    let keys: Value = serde_json::from_str(&body).unwrap();
    let key = s.verifier_key.to_string();
    assert_eq!(keys["kind"], "file", "{keys}");
    assert_eq!(keys["location"]["kind"], "file", "{keys}");
    let path = keys["location"]["path"].as_str().unwrap();
    assert!(path.ends_with("log.key"), "{keys}");
    assert_eq!(keys["verifier_key"], key);
    assert_eq!(
        keys["key_id"],
        format!("{:08x}", s.verifier_key.key_id()),
        "{keys}"
    );
    assert_eq!(keys["answering"], true, "{keys}");
    assert!(keys["probe_error"].is_null(), "{keys}");
    let history = keys["history"].as_array().unwrap();
    assert_eq!(history.len(), 1, "{keys}");
    assert_eq!(history[0]["verifier_key"], key);
    assert_eq!(history[0]["introduced_at_tree_size"], 0);
    assert_eq!(history[0]["current"], true);
    let time = |field: &Value| {
        chrono::DateTime::parse_from_rfc3339(field.as_str().expect("a time")).expect("RFC 3339")
    };
    // The probe signed with this key: after the key was introduced, and not in the future.
    let last = time(&keys["last_signature_at"]);
    assert!(last >= time(&history[0]["introduced_at"]), "{keys}");
    assert!(last <= chrono::Utc::now(), "{keys}");
    // The key file never shows up: nothing secret is reported.
    let pem = std::fs::read_to_string(path).unwrap();
    let secret = pem.lines().nth(1).unwrap();
    assert!(!body.contains(secret));
    // Readiness includes the signer probe.
    let r = s
        .client
        .get(format!("{}/readyz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn openapi_documents_every_route() {
    let s = TestServer::start().await;
    let doc: Value = s
        .client
        .get(format!("{}/openapi.json", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/events",
        "/v1/controls/results",
        "/v1/attestations",
        "/v1/log",
        "/v1/checkpoint",
        "/v1/checkpoints/{tree_size}",
        "/v1/keys",
        "/v1/entries/{index}",
        "/v1/entries",
        "/v1/proofs/inclusion",
        "/v1/proofs/consistency",
        "/v1/thread/{node}",
        "/v1/sboms",
        "/v1/sboms/diff",
        "/v1/blobs/{digest}",
        "/v1/artifacts/{subject}",
        "/v1/thread/recall-impact",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
    let (status, body) = s.get("/v1/nope", &s.auditor).await;
    assert_eq!(status, 404);
    assert!(body.contains("openapi.json"));
    let metrics = s
        .client
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("# TYPE threadlog_tree_size gauge"));
    s.stop().await;
}
