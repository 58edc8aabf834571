//! Authorization as a full table: every route of the API against every kind of caller
//! (no token, a malformed header, an unknown token, and each of the five roles), with the
//! exact status and error code each must get. A route added without a row here, or a role
//! admitted where the table says forbidden, fails this test.

use crate::common;

use common::{event, TestServer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use threadlog::api::auth::{new_token, token_hash};

const SBOM: &str = "application/vnd.cyclonedx+json";
const READERS: &[&str] = &["auditor", "admin"];
const ROLES: [&str; 5] = ["producer", "ci", "assessor", "auditor", "admin"];

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/sbom/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn image(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

/// Who calls: the Authorization header sent, if any, and the role it stands for.
#[derive(Clone)]
enum Caller {
    Nobody,
    /// A header that is not `Bearer <token>`.
    Malformed,
    /// A well-formed token the server never issued.
    Unknown(String),
    Role(&'static str, String),
}

impl Caller {
    fn header(&self) -> Option<String> {
        match self {
            Caller::Nobody => None,
            Caller::Malformed => Some("Basic dXNlcjpwYXNz".into()),
            Caller::Unknown(t) | Caller::Role(_, t) => Some(format!("Bearer {t}")),
        }
    }
    fn name(&self) -> &str {
        match self {
            Caller::Nobody => "no token",
            Caller::Malformed => "a Basic header",
            Caller::Unknown(_) => "an unknown token",
            Caller::Role(r, _) => r,
        }
    }
}

/// One route: the request, who may make it, and what they get.
struct Route {
    method: &'static str,
    path: String,
    /// Content type and body, for POSTs.
    body: Option<(&'static str, Vec<u8>)>,
    allowed: &'static [&'static str],
    /// The status an allowed caller gets.
    ok: u16,
}

fn get(path: impl Into<String>, allowed: &'static [&'static str]) -> Route {
    Route {
        method: "GET",
        path: path.into(),
        body: None,
        allowed,
        ok: 200,
    }
}

fn post(
    path: impl Into<String>,
    ct: &'static str,
    body: Vec<u8>,
    allowed: &'static [&'static str],
    ok: u16,
) -> Route {
    Route {
        method: "POST",
        path: path.into(),
        body: Some((ct, body)),
        allowed,
        ok,
    }
}

async fn call(s: &TestServer, route: &Route, caller: &Caller) -> (u16, Value) {
    let url = format!("{}{}", s.url, route.path);
    let mut req = match &route.body {
        None => s.client.get(url),
        Some((ct, body)) => s
            .client
            .post(url)
            .header("content-type", *ct)
            .body(body.clone()),
    };
    if let Some(h) = caller.header() {
        req = req.header("authorization", h);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn every_route_against_every_caller() {
    let s = TestServer::start().await;
    let assessor = new_token();
    s.store
        .insert_token("assessor-1", "assessor", &token_hash(&assessor), None)
        .await
        .unwrap();

    // Something to read: an event (lot FIL-2026-118 → serial SN-seed) and two SBOMs.
    assert_eq!(s.post_events(&event("seed")).await.0, 201);
    let doc = fixture("cargo-threadlog-1.5.json");
    for (n, name) in [(1, "cargo-threadlog-1.5.json"), (2, "py-env-1.5.json")] {
        let (status, r) = s
            .post_bytes(
                &format!("/v1/sboms?subject={}", image(n)),
                &s.ci,
                SBOM,
                fixture(name),
            )
            .await;
        assert_eq!(status, 201, "{name}: {r}");
    }
    let blob = format!("sha256:{}", hex::encode(Sha256::digest(&doc)));
    let size = s.tree_size().await;
    assert_eq!(size, 3);

    let result = json!({
        "result_id": "r-roles",
        "framework": "nist-800-171r2",
        "requirement": "3.1.1",
        "status": "met",
        "assessor": "j.doe",
        "assessed_on": "2026-11-20",
        "effective_on": "2026-11-20"
    });
    let recall = json!({"suspects": [{"node": "lot:FIL-2026-118"}]});
    const PROBES: &[&str] = &["anyone"];
    let table = vec![
        get("/healthz", PROBES),
        get("/readyz", PROBES),
        get("/metrics", PROBES),
        get("/openapi.json", PROBES),
        post(
            "/v1/events",
            "application/json",
            event("by-matrix").to_string().into_bytes(),
            &["producer"],
            201,
        ),
        post(
            "/v1/controls/results",
            "application/json",
            result.to_string().into_bytes(),
            &["assessor"],
            201,
        ),
        post(
            format!("/v1/sboms?subject={}", image(3)),
            SBOM,
            doc.clone(),
            &["ci"],
            201,
        ),
        // Admitted, then refused for want of a trust policy: authorization came first.
        post(
            "/v1/attestations",
            "application/json",
            b"{}".to_vec(),
            &["ci"],
            501,
        ),
        get("/v1/keys", &["admin"]),
        get("/v1/log", READERS),
        get("/v1/checkpoint", READERS),
        get(format!("/v1/checkpoints/{size}"), READERS),
        get("/v1/entries", READERS),
        get("/v1/entries/0", READERS),
        get(
            format!("/v1/proofs/inclusion?index=0&tree_size={size}"),
            READERS,
        ),
        get(
            format!("/v1/proofs/consistency?first=1&second={size}"),
            READERS,
        ),
        get("/v1/compliance/report?framework=nist-800-171r2", READERS),
        get("/v1/thread/lot:FIL-2026-118", READERS),
        post(
            "/v1/thread/recall-impact",
            "application/json",
            recall.to_string().into_bytes(),
            READERS,
            200,
        ),
        get(format!("/v1/blobs/{blob}"), READERS),
        get(format!("/v1/artifacts/{}", image(1)), READERS),
        get(
            format!("/v1/sboms/diff?from={}&to={}", image(1), image(2)),
            READERS,
        ),
    ];

    let token = |role: &str| match role {
        "producer" => s.producer.clone(),
        "ci" => s.ci.clone(),
        "assessor" => assessor.clone(),
        "auditor" => s.auditor.clone(),
        "admin" => s.admin.clone(),
        other => panic!("{other}"),
    };
    let mut callers = vec![
        Caller::Nobody,
        Caller::Malformed,
        Caller::Unknown(new_token()),
    ];
    callers.extend(ROLES.into_iter().map(|r| Caller::Role(r, token(r))));

    for route in &table {
        let what = format!("{} {}", route.method, route.path);
        for caller in &callers {
            let (status, body) = call(&s, route, caller).await;
            let who = caller.name();
            let probe = route.allowed == PROBES;
            match caller {
                _ if probe => assert_eq!(status, 200, "{what} with {who}: {body}"),
                Caller::Nobody | Caller::Malformed | Caller::Unknown(_) => {
                    assert_eq!(status, 401, "{what} with {who}: {body}");
                    assert_eq!(body["error"], "unauthorized", "{what} with {who}: {body}");
                }
                Caller::Role(role, _) if route.allowed.contains(role) => {
                    assert_eq!(status, route.ok, "{what} as {role}: {body}");
                    if route.ok == 501 {
                        assert_eq!(body["error"], "not_configured", "{what}: {body}");
                    }
                }
                Caller::Role(role, _) => {
                    assert_eq!(status, 403, "{what} as {role}: {body}");
                    assert_eq!(body["error"], "forbidden", "{what} as {role}: {body}");
                    assert_eq!(
                        body["message"],
                        format!(
                            "role {role} may not do this; it needs one of: {}",
                            route.allowed.join(", ")
                        ),
                        "{what} as {role}"
                    );
                }
            }
        }
    }

    // Exactly the three admitted writes were logged; refused ones left nothing behind.
    assert_eq!(s.tree_size().await, size + 3);
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    s.stop().await;
}
