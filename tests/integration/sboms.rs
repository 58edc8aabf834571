//! SBOMs over a real socket on SQLite and PostgreSQL, with documents made by real
//! generators (`tests/data/sbom/README.md`): validation against the official CycloneDX
//! schemas, the original bytes served back, diffs between logged SBOMs, and everything
//! known about an artifact. Invalid documents are refused with their violations and leave
//! the log as it was.

use crate::common;

use common::TestServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use threadlog::merkle::{self, Hash};
use threadlog::note;

const JSON: &str = "application/vnd.cyclonedx+json";
const XML: &str = "application/vnd.cyclonedx+xml";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/sbom/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An image digest standing for the artifact an SBOM describes.
fn image(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

async fn post_sbom(s: &TestServer, subject: &str, ct: &str, doc: Vec<u8>) -> (u16, Value) {
    s.post_bytes(&format!("/v1/sboms?subject={subject}"), &s.ci, ct, doc)
        .await
}

both!(documents_are_logged_and_served_back_unchanged);
async fn documents_are_logged_and_served_back_unchanged(s: TestServer) {
    let cases = [
        ("cargo-threadlog-1.5.json", JSON, "1.5", "json", image(1)),
        ("cargo-threadlog-1.4.xml", XML, "1.4", "xml", image(1)),
        (
            "py-env-1.6.xml",
            "application/xml",
            "1.6",
            "xml",
            "pkg:pypi/plant-tools@2.1.0".into(),
        ),
        (
            "py-env-1.4.json",
            "application/json",
            "1.4",
            "json",
            image(2),
        ),
    ];
    for (i, (name, ct, version, encoding, subject)) in cases.iter().enumerate() {
        let doc = fixture(name);
        let (status, r) = post_sbom(&s, subject, ct, doc.clone()).await;
        assert_eq!(status, 201, "{name}: {r}");
        assert_eq!(s.check_receipt(&r), i as u64);

        let (status, e) = s.get_json(&format!("/v1/entries/{i}")).await;
        assert_eq!(status, 200);
        let body = &e["entry"]["body"];
        assert_eq!(e["entry"]["kind"], "sbom");
        assert_eq!(e["entry"]["submitter"], "ci-1");
        assert_eq!(body["subject"], *subject);
        assert_eq!(body["spec_version"], *version);
        assert_eq!(body["encoding"], *encoding);
        assert_eq!(body["document"]["sha256"], digest(&doc)[7..]);
        assert_eq!(body["document"]["size"], doc.len());
        let mut subjects = vec![subject.clone(), digest(&doc)];
        subjects.sort();
        assert_eq!(e["entry"]["subjects"], json!(subjects));

        // The exact bytes, with the CycloneDX media type of what was validated.
        let (status, served_ct, served) = s
            .get_bytes(&format!("/v1/blobs/{}", digest(&doc)), &s.auditor)
            .await;
        assert_eq!(status, 200);
        assert_eq!(served, doc, "{name}");
        assert_eq!(
            served_ct,
            format!("application/vnd.cyclonedx+{encoding}; version={version}")
        );
    }
    // What the generators wrote: 276 crates in this repository's lock file, with the
    // serial number cargo-cyclonedx gave the document.
    let (_, e) = s.get_json("/v1/entries/0").await;
    assert_eq!(e["entry"]["body"]["components"], 276);
    assert_eq!(
        e["entry"]["body"]["serial_number"],
        "urn:uuid:eeb1e18c-f667-497c-bf8c-38d003899d6f"
    );

    // The same document for the same artifact again: the first receipt, nothing appended.
    let (status, again) = post_sbom(&s, &image(2), JSON, fixture("py-env-1.4.json")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["index"], 3);
    // For another artifact it is another entry, and the document is still stored once.
    let (status, other) = post_sbom(&s, &image(3), JSON, fixture("py-env-1.4.json")).await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(other["index"], 4);
    let (_, _, served) = s
        .get_bytes(
            &format!("/v1/blobs/{}", digest(&fixture("py-env-1.4.json"))),
            &s.admin,
        )
        .await;
    assert_eq!(served, fixture("py-env-1.4.json"));

    // ci writes; reading documents is for auditors and admins.
    let path = format!("/v1/blobs/{}", digest(&fixture("py-env-1.4.json")));
    assert_eq!(s.get_bytes(&path, &s.ci).await.0, 403);
    assert_eq!(s.get_bytes(&path, &s.producer).await.0, 403);
    assert_eq!(
        s.get_bytes(&format!("/v1/blobs/{}", image(9)), &s.auditor)
            .await
            .0,
        404
    );
    assert_eq!(s.get_bytes("/v1/blobs/sha256:xyz", &s.auditor).await.0, 400);

    assert_eq!(s.tree_size().await, 5);
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.documents_checked, 4);
    // An auditor over HTTP fetches and checks every document too.
    let remote = threadlog::audit::HttpSource::new(&s.url, &s.auditor).unwrap();
    let report = threadlog::audit::verify(&remote, &s.verifier_key, None, &|_, _| {})
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.documents_checked, 4);
    s.stop().await;
}

/// A stored document changed or removed behind the log's back fails verification at the
/// first entry binding it.
#[tokio::test]
async fn an_altered_or_lost_document_fails_verification() {
    let s = TestServer::start().await;
    s.post_events(&common::event("e-0")).await;
    let doc = fixture("py-env-1.5.json");
    let (status, _) = post_sbom(&s, &image(1), JSON, doc.clone()).await;
    assert_eq!(status, 201);
    let sha = Sha256::digest(&doc).to_vec();
    let url = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();

    let mut altered = doc.clone();
    altered[100] ^= 1;
    sqlx::query("UPDATE blobs SET data = ? WHERE sha256 = ?")
        .bind(&altered)
        .bind(&sha)
        .execute(&pool)
        .await
        .unwrap();
    let report = s.audit().await;
    let f = report.failure.expect("altered document detected");
    assert_eq!(f.index, Some(1));
    assert!(f.reason.contains("but the log holds"), "{}", f.reason);

    sqlx::query("DELETE FROM blobs")
        .execute(&pool)
        .await
        .unwrap();
    let f = s.audit().await.failure.expect("lost document detected");
    assert_eq!(f.index, Some(1));
    assert!(f.reason.contains("does not hold"), "{}", f.reason);
    pool.close().await;
    s.stop().await;
}

/// A JSON fixture with `f` applied.
fn edited(name: &str, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture(name)).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn violations(r: &Value) -> Vec<(String, String)> {
    r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["path"].as_str().unwrap().to_string(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

both!(invalid_documents_are_refused_with_their_violations);
async fn invalid_documents_are_refused_with_their_violations(s: TestServer) {
    let subject = image(1);
    // Schema violations, each named by its JSON Pointer.
    let broken = edited("cargo-threadlog-1.5.json", |v| {
        v["components"][3]["type"] = json!("gadget");
        v["metadata"]["timestamp"] = json!("last tuesday");
        v["components"][5]["hashes"][0]["alg"] = json!("CRC-32");
    });
    let (status, r) = post_sbom(&s, &subject, JSON, broken).await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["error"], "invalid");
    let paths: Vec<String> = violations(&r).into_iter().map(|(p, _)| p).collect();
    for p in [
        "/components/3/type",
        "/metadata/timestamp",
        "/components/5/hashes/0/alg",
    ] {
        assert!(paths.contains(&p.to_string()), "{p} not in {paths:?}");
    }

    // XML against the XSD: the line of the offending element.
    let xml = String::from_utf8(fixture("py-env-1.6.xml"))
        .unwrap()
        .replacen(
            "<component type=\"library\"",
            "<component type=\"gadget\"",
            1,
        );
    let line = xml.lines().position(|l| l.contains("\"gadget\"")).unwrap() + 1;
    let (status, r) = post_sbom(&s, &subject, XML, xml.into_bytes()).await;
    assert_eq!(status, 422, "{r}");
    let v = violations(&r);
    // The first library component of py-env-1.6.xml is the second tool component.
    assert_eq!(
        v[0].0,
        format!("/bom/metadata/tools/components/component[2]/@type (line {line})"),
        "{v:?}"
    );
    assert!(v[0].1.contains("gadget"), "{v:?}");

    // Versions we do not validate, in either encoding.
    let v17 = edited("py-env-1.5.json", |v| v["specVersion"] = json!("1.7"));
    let (status, r) = post_sbom(&s, &subject, JSON, v17).await;
    assert_eq!(status, 422);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("\"1.7\" is not supported"),
        "{r}"
    );
    let v13 = String::from_utf8(fixture("py-env-older-1.5.xml"))
        .unwrap()
        .replace(
            "http://cyclonedx.org/schema/bom/1.5",
            "http://cyclonedx.org/schema/bom/1.3",
        );
    let (status, r) = post_sbom(&s, &subject, XML, v13.into_bytes()).await;
    assert_eq!(status, 422);
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("\"1.3\" is not supported"),
        "{r}"
    );

    // Not well-formed at all.
    let mut truncated = fixture("py-env-1.5.json");
    truncated.truncate(1000);
    let (status, r) = post_sbom(&s, &subject, JSON, truncated).await;
    assert_eq!(status, 422, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("not well-formed JSON"),
        "{r}"
    );
    let (status, r) = post_sbom(&s, &subject, XML, b"<bom><components></bom>".to_vec()).await;
    assert_eq!(status, 422, "{r}");
    assert!(violations(&r)[0].0.starts_with("line 1"), "{r}");

    // JSON sent as XML is not XML.
    let (status, _) = post_sbom(&s, &subject, XML, fixture("py-env-1.5.json")).await;
    assert_eq!(status, 422);
    let (status, r) = post_sbom(&s, &subject, "text/plain", fixture("py-env-1.5.json")).await;
    assert_eq!(status, 415, "{r}");

    // The subject is checked before the document.
    for bad in ["sha256:1234", "lot:L-1", "pkg:cargo"] {
        let (status, r) = post_sbom(&s, bad, JSON, fixture("py-env-1.5.json")).await;
        assert_eq!(status, 422, "{bad}: {r}");
        assert!(
            r["message"].as_str().unwrap().starts_with("subject: "),
            "{r}"
        );
    }
    let (status, r) = s
        .post_bytes("/v1/sboms", &s.ci, JSON, fixture("py-env-1.5.json"))
        .await;
    assert_eq!(status, 422, "{r}");

    // Only ci uploads.
    let (status, _) = s
        .post_bytes(
            &format!("/v1/sboms?subject={subject}"),
            &s.producer,
            JSON,
            fixture("py-env-1.5.json"),
        )
        .await;
    assert_eq!(status, 403);

    // Over the document limit (4 MiB in tests): 413 before anything is parsed.
    let (status, r) = post_sbom(&s, &subject, JSON, vec![b' '; 5 << 20]).await;
    assert_eq!(status, 413, "{r}");

    assert_eq!(s.tree_size().await, 0, "nothing was logged");
    s.stop().await;
}

both!(diffs_compare_logged_sboms_by_document_or_subject);
async fn diffs_compare_logged_sboms_by_document_or_subject(s: TestServer) {
    let (old_img, new_img) = (image(1), image(2));
    for (subject, name, ct) in [
        (&old_img, "py-env-older-1.5.json", JSON),
        (&old_img, "py-env-older-1.5.xml", XML),
        (&new_img, "cargo-threadlog-prev-1.5.json", JSON),
        (&new_img, "py-env-1.5.json", JSON),
    ] {
        let (status, r) = post_sbom(&s, subject, ct, fixture(name)).await;
        assert_eq!(status, 201, "{name}: {r}");
    }

    // By subject: the latest SBOM of each image (the XML, then py-env-1.5.json).
    let (status, d) = s
        .get_json(&format!("/v1/sboms/diff?from={old_img}&to={new_img}"))
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["from"]["index"], 1);
    assert_eq!(d["to"]["index"], 3);
    let changed: Vec<(String, String, String)> = d["changed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["version"].is_object())
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["version"]["from"].as_str().unwrap().to_string(),
                c["version"]["to"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        changed.contains(&("requests".into(), "2.31.0".into(), "2.32.3".into())),
        "{changed:?}"
    );
    assert!(
        changed.contains(&("urllib3".into(), "1.26.20".into(), "2.8.0".into())),
        "{changed:?}"
    );
    assert!(d["added"].as_array().unwrap().is_empty(), "{d}");

    // The same environment as JSON and as XML: no differences.
    let json_doc = digest(&fixture("py-env-older-1.5.json"));
    let xml_doc = digest(&fixture("py-env-older-1.5.xml"));
    let (status, d) = s
        .get_json(&format!("/v1/sboms/diff?from={json_doc}&to={xml_doc}"))
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["from"]["index"], 0);
    assert_eq!(d["unchanged"], 39);
    assert!(d["changed"].as_array().unwrap().is_empty(), "{d}");

    // This repository before and after SBOM support: its new crates are added.
    let prev = digest(&fixture("cargo-threadlog-prev-1.5.json"));
    let (status, md) = s
        .get(
            &format!(
                "/v1/sboms/diff?from={prev}&to={}&format=md",
                digest(&fixture("py-env-1.5.json"))
            ),
            &s.auditor,
        )
        .await;
    assert_eq!(status, 200);
    assert!(md.starts_with("# SBOM diff"), "{md}");
    assert!(md.contains("## Removed"), "{md}");
    assert!(md.contains("| pkg:cargo/tlog_tiles |"), "{md}");

    for (query, status) in [
        (format!("from={old_img}&to={}", image(7)), 404),
        (format!("from=lot:1&to={new_img}"), 400),
        (format!("from={old_img}&to={new_img}&format=pdf"), 400),
        (format!("from={old_img}"), 400),
    ] {
        assert_eq!(
            s.get_json(&format!("/v1/sboms/diff?{query}")).await.0,
            status,
            "{query}"
        );
    }
    s.stop().await;
}

both!(an_artifact_shows_every_entry_about_it_with_proofs);
async fn an_artifact_shows_every_entry_about_it_with_proofs(s: TestServer) {
    let img = image(5);
    let purl = "pkg:cargo/threadlog@0.1.0";
    post_sbom(&s, &img, JSON, fixture("cargo-threadlog-1.5.json")).await;
    post_sbom(&s, purl, XML, fixture("cargo-threadlog-1.4.xml")).await;
    // A manufacturing event that ran this image.
    let mut ev = common::event("run-1");
    ev["software_refs"] = json!([{"digest": img, "kind": "image", "name": "print-controller"}]);
    let (status, _) = s.post_events(&ev).await;
    assert_eq!(status, 201);
    s.post_events(&common::event("unrelated")).await;

    let (status, a) = s.get_json(&format!("/v1/artifacts/{img}")).await;
    assert_eq!(status, 200, "{a}");
    let kinds: Vec<&str> = a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sbom", "event"]);
    let (cp, _) = note::open_checkpoint(
        a["checkpoint"].as_str().unwrap(),
        std::slice::from_ref(&s.verifier_key),
        &s.origin,
    )
    .unwrap();
    assert_eq!(a["tree_size"], cp.tree_size);
    for e in a["entries"].as_array().unwrap() {
        merkle::verify_inclusion(
            &common::hashes(&e["inclusion_proof"]),
            e["index"].as_u64().unwrap(),
            cp.tree_size,
            &Hash::from_base64(e["leaf_hash"].as_str().unwrap()).unwrap(),
            &Hash(cp.root_hash),
        )
        .unwrap();
    }

    // A package URL needs no escaping of its slashes.
    let (status, a) = s.get_json(&format!("/v1/artifacts/{purl}")).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"][0]["entry"]["body"]["encoding"], "xml");
    assert_eq!(a["entries"].as_array().unwrap().len(), 1);

    // The SBOM document is an artifact too, and nothing is known of others.
    let doc = digest(&fixture("cargo-threadlog-1.5.json"));
    let (_, a) = s.get_json(&format!("/v1/artifacts/{doc}")).await;
    assert_eq!(a["entries"][0]["index"], 0);
    let (status, a) = s.get_json(&format!("/v1/artifacts/{}", image(9))).await;
    assert_eq!(status, 200);
    assert!(a["entries"].as_array().unwrap().is_empty());
    assert_eq!(s.get_json("/v1/artifacts/lot:x").await.0, 400);
    assert_eq!(s.get(&format!("/v1/artifacts/{img}"), &s.ci).await.0, 403);
    s.stop().await;
}

/// Waits until `/metrics` shows `n` documents in flight.
async fn await_uploads_in_flight(s: &TestServer, n: usize) {
    let want = format!("threadlog_http_uploads_in_flight {n}\n");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let metrics = s
            .client
            .get(format!("{}/metrics", s.url))
            .send()
            .await
            .unwrap();
        if metrics.text().await.unwrap().contains(&want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {n} uploads in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Documents are held whole while received and validated, so only so many are taken at
/// once (THREADLOG_MAX_UPLOADS): beyond that, `503` with `Retry-After` before the body is
/// read, and `/metrics` shows how many are in flight.
#[tokio::test]
async fn uploads_beyond_the_in_flight_limit_are_refused_until_one_finishes() {
    use tokio::io::AsyncWriteExt;
    let limit = 2;
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.http.max_uploads = Some(limit);
        c
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..limit {
        // Headers and half a body, then nothing: the upload holds its place.
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/sboms?subject={} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-type: {JSON}\r\ncontent-length: 1000\r\n\r\n{{\"bomFormat\"",
            image(1),
            s.ci
        );
        c.write_all(head.as_bytes()).await.unwrap();
        slow.push(c);
    }
    await_uploads_in_flight(&s, limit).await;
    let (status, r) = post_sbom(&s, &image(2), JSON, fixture("py-env-1.5.json")).await;
    assert_eq!(status, 503, "{r}");
    assert_eq!(r["error"], "overloaded");
    drop(slow);
    await_uploads_in_flight(&s, 0).await;
    let (status, r) = post_sbom(&s, &image(2), JSON, fixture("py-env-1.5.json")).await;
    assert_eq!(status, 201, "{r}");
    s.stop().await;
}

/// The XML documents an attacker sends instead of an SBOM, each a real CycloneDX document
/// with the attack spliced in: a `file://` external entity, a parameter entity fetching an
/// external DTD, billion laughs and XInclude. Each is refused by its raw bytes (`422`,
/// naming what was found and on which line) before libxml2 parses anything, the log
/// stays as it was, and the server keeps serving.
fn xml_attacks() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let real = String::from_utf8(fixture("py-env-1.6.xml")).unwrap();
    let with_doctype = |doctype: &str, name: &str| {
        real.replacen(
            "<?xml version=\"1.0\" ?>\n",
            &format!("<?xml version=\"1.0\" ?>\n{doctype}\n"),
            1,
        )
        .replacen("<name>arrow</name>", &format!("<name>{name}</name>"), 1)
        .into_bytes()
    };
    let lol = (1..=9)
        .map(|i| {
            format!(
                "<!ENTITY lol{i} \"{}\">",
                format!("&lol{};", i - 1).repeat(10)
            )
        })
        .collect::<String>();
    vec![
        (
            "file:// external entity",
            with_doctype(
                "<!DOCTYPE bom [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
                "&xxe;",
            ),
            "a DOCTYPE declaration",
        ),
        (
            "parameter entity",
            with_doctype(
                "<!DOCTYPE bom [<!ENTITY % remote SYSTEM \"http://127.0.0.1:9/evil.dtd\"> %remote;]>",
                "arrow",
            ),
            "a DOCTYPE declaration",
        ),
        (
            "billion laughs",
            with_doctype(
                &format!("<!DOCTYPE bom [<!ENTITY lol0 \"lol\">{lol}]>"),
                "&lol9;",
            ),
            "a DOCTYPE declaration",
        ),
        (
            "XInclude",
            real.replacen(
                "<name>arrow</name>",
                "<name><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" \
                 href=\"file:///etc/passwd\" parse=\"text\"/></name>",
                1,
            )
            .into_bytes(),
            "the XInclude namespace",
        ),
    ]
}

both!(xml_with_a_dtd_entities_or_xinclude_is_refused_unparsed);
async fn xml_with_a_dtd_entities_or_xinclude_is_refused_unparsed(s: TestServer) {
    let (status, r) = post_sbom(&s, &image(1), XML, fixture("py-env-1.6.xml")).await;
    assert_eq!(status, 201, "{r}");
    let size = s.tree_size().await;
    for (attack, doc, found) in xml_attacks() {
        let line = String::from_utf8_lossy(&doc)
            .lines()
            .position(|l| l.contains("<!DOCTYPE") || l.contains("XInclude"))
            .unwrap()
            + 1;
        for ct in [XML, "application/xml", "text/xml"] {
            let (status, r) = post_sbom(&s, &image(2), ct, doc.clone()).await;
            assert_eq!(status, 422, "{attack} as {ct}: {r}");
            assert_eq!(r["error"], "invalid", "{attack}: {r}");
            let message = r["message"].as_str().unwrap();
            assert!(
                message.contains("refused unparsed")
                    && message.contains(found)
                    && message.contains("nothing was logged"),
                "{attack}: {message}"
            );
            assert_eq!(violations(&r)[0].0, format!("line {line}"), "{attack}: {r}");
        }
        assert_eq!(s.tree_size().await, size, "{attack}");
    }
    // The server is still up and accepts a clean document.
    let (status, r) = post_sbom(&s, &image(3), XML, fixture("py-env-older-1.5.xml")).await;
    assert_eq!(status, 201, "{r}");
    s.stop().await;
}

/// Component names and references from an uploaded SBOM come back as text in the
/// Markdown diff: no raw `<script>`, and each row keeps its four cells.
#[tokio::test]
async fn uploaded_component_text_is_escaped_in_the_markdown_diff() {
    let s = TestServer::start().await;
    let before = fixture("py-env-1.5.json");
    let after = edited("py-env-1.5.json", |v| {
        v["components"].as_array_mut().unwrap().push(json!({
            "type": "library",
            "name": format!("{}\nright", common::HOSTILE),
            "version": "1 | 2\n3",
            "bom-ref": "ref-<b>|&"
        }));
    });
    assert_eq!(post_sbom(&s, &image(1), JSON, before).await.0, 201);
    assert_eq!(post_sbom(&s, &image(2), JSON, after).await.0, 201);
    let resp = s
        .client
        .get(format!(
            "{}/v1/sboms/diff?from={}&to={}&format=md",
            s.url,
            image(1),
            image(2)
        ))
        .bearer_auth(&s.auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = resp.text().await.unwrap();
    assert!(!md.contains("<script>") && !md.contains("<b>"), "{md}");
    assert!(md.contains("## Added"), "{md}");
    let row = md
        .lines()
        .find(|l| l.contains("&lt;script&gt;"))
        .unwrap_or_else(|| panic!("the added component is not listed: {md}"));
    assert_eq!(
        row,
        "| &lt;script&gt;alert(1)&lt;/script&gt; &amp; co \\| left right | 1 \\| 2 3 |  | \
         bom-ref:ref-&lt;b&gt;\\|&amp; |"
    );
    assert_eq!(common::cell_pipes(row), 5, "{row}");
    s.stop().await;
}
