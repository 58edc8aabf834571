//! SBOM ingest beside its baselines, in one run: CycloneDX validation against the official
//! schema (JSON Schema, XSD) against parsing alone, and the whole `POST /v1/sboms` path
//! (HTTP, validation, blob and entry in one durable transaction, signed checkpoint,
//! verified receipt) against a plain durable INSERT of the same bytes.
//!
//! Documents are realistic: the components of this repository's own `cargo cyclonedx`
//! SBOM (`tests/data/sbom/`), repeated under new names to the size asked for.
//!
//! Run: `cargo bench --bench sbom`. Sizes via env: `BENCH_SBOM_COMPONENTS` (components
//! per document, default "1000,9000"; 9000 is about 5 MB of JSON), `BENCH_SBOM_DOCS`
//! (documents per measurement, default 20).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Instant;
use support::*;
use threadlog::supplychain::cyclonedx::{self, Encoding};

/// `n` components shaped like cargo-cyclonedx's, from the repository's own SBOM.
fn components(n: usize) -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sbom/cargo-threadlog-1.5.json"
    );
    let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let templates = doc["components"].as_array().unwrap().clone();
    (0..n)
        .map(|i| {
            let mut c = templates[i % templates.len()].clone();
            let round = i / templates.len();
            let name = format!("{}-{round}", c["name"].as_str().unwrap());
            let version = c["version"].as_str().unwrap_or("0.0.0").to_string();
            c["name"] = json!(name);
            c["bom-ref"] = json!(format!("{name}@{version}#{i}"));
            c["purl"] = json!(format!("pkg:cargo/{name}@{version}"));
            c
        })
        .collect()
}

fn serial(doc: usize) -> String {
    format!("urn:uuid:3e671687-395b-41f5-a30f-{doc:012x}")
}

fn json_doc(comps: &[Value], doc: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "bomFormat": "CycloneDX", "specVersion": "1.5", "serialNumber": serial(doc),
        "version": 1,
        "metadata": {"timestamp": "2026-12-01T12:00:00Z",
            "component": {"type": "application", "name": "print-controller", "version": "4.2.0"}},
        "components": comps,
    }))
    .unwrap()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml_doc(comps: &[Value], doc: usize) -> Vec<u8> {
    let mut x = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\" \
         serialNumber=\"{}\" version=\"1\">\n<metadata><timestamp>2026-12-01T12:00:00Z</timestamp>\
         <component type=\"application\"><name>print-controller</name><version>4.2.0</version>\
         </component></metadata>\n<components>\n",
        serial(doc)
    );
    let s = |c: &Value, k: &str| c[k].as_str().map(esc);
    for c in comps {
        x += &format!(
            "<component type=\"library\" bom-ref=\"{}\">",
            s(c, "bom-ref").unwrap()
        );
        x += &format!("<name>{}</name>", s(c, "name").unwrap());
        if let Some(v) = s(c, "version") {
            x += &format!("<version>{v}</version>");
        }
        if let Some(d) = s(c, "description") {
            x += &format!("<description>{d}</description>");
        }
        x += "<scope>required</scope>";
        if let Some(hs) = c["hashes"].as_array() {
            x += "<hashes>";
            for h in hs {
                x += &format!(
                    "<hash alg=\"{}\">{}</hash>",
                    s(h, "alg").unwrap(),
                    s(h, "content").unwrap()
                );
            }
            x += "</hashes>";
        }
        if let Some(e) = c["licenses"][0]["expression"].as_str() {
            x += &format!("<licenses><expression>{}</expression></licenses>", esc(e));
        }
        x += &format!("<purl>{}</purl>", s(c, "purl").unwrap());
        if let Some(refs) = c["externalReferences"].as_array() {
            x += "<externalReferences>";
            for r in refs {
                x += &format!(
                    "<reference type=\"{}\"><url>{}</url></reference>",
                    s(r, "type").unwrap(),
                    s(r, "url").unwrap()
                );
            }
            x += "</externalReferences>";
        }
        x += "</component>\n";
    }
    x += "</components>\n</bom>\n";
    x.into_bytes()
}

/// The same bytes, one durable transaction per document, as the sequencer commits them
/// when documents arrive one at a time.
async fn insert_plain(docs: &[Vec<u8>]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let pool = plain_sqlite(&format!(
        "sqlite://{}",
        dir.path().join("plain.db").display()
    ))
    .await;
    sqlx::query("CREATE TABLE blobs (sha256 BLOB PRIMARY KEY, data BLOB NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let t = Instant::now();
    for d in docs {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO blobs (sha256, data) VALUES (?, ?)")
            .bind(Sha256::digest(d).as_slice())
            .bind(d.as_slice())
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    t.elapsed().as_secs_f64()
}

struct Server {
    _dir: tempfile::TempDir,
    url: String,
    token: String,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path().to_path_buf());
    cfg.max_document_bytes = 64 << 20;
    let (url, token) = serve(&cfg, "ci").await;
    Server {
        _dir: dir,
        url,
        token,
    }
}

async fn ingest(s: &Server, docs: &[Vec<u8>], ct: &str, first_subject: usize) -> f64 {
    let client = threadlog_client::Client::new(&s.url, Some(&s.token)).unwrap();
    let t = Instant::now();
    for (i, d) in docs.iter().enumerate() {
        let subject = format!("sha256:{:064x}", first_subject + i);
        let path = format!("/v1/sboms?subject={subject}");
        let (status, body) = client.post(&path, ct, d.clone()).await.unwrap();
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    }
    t.elapsed().as_secs_f64()
}

fn row(label: &str, docs: &[Vec<u8>], secs: f64) {
    let bytes: usize = docs.iter().map(Vec::len).sum();
    println!(
        "| {label} | {:.1} | {:.1} | {:.1} |",
        docs.len() as f64 / secs,
        bytes as f64 / 1048576.0 / secs,
        secs * 1000.0 / docs.len() as f64
    );
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = if smoke() {
        vec![100]
    } else {
        std::env::var("BENCH_SBOM_COMPONENTS")
            .unwrap_or_else(|_| "1000,9000".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    let n_docs = env_u64("BENCH_SBOM_DOCS", 20).min(if smoke() { 3 } else { u64::MAX }) as usize;
    let s = server().await;
    let mut subject = 0;
    for n in sizes {
        let comps = components(n);
        for (enc, ct, make) in [
            (
                Encoding::Json,
                "application/vnd.cyclonedx+json",
                json_doc as fn(&[Value], usize) -> Vec<u8>,
            ),
            (Encoding::Xml, "application/vnd.cyclonedx+xml", xml_doc),
        ] {
            let docs: Vec<Vec<u8>> = (0..n_docs).map(|i| make(&comps, subject + i)).collect();
            let avg = docs.iter().map(Vec::len).sum::<usize>() / docs.len();
            // Warm: compile the schema once, outside the measurements.
            cyclonedx::validate(&docs[0], enc).unwrap();

            println!(
                "## {} SBOM, {n} components, {:.2} MB each, {n_docs} documents",
                enc.as_str(),
                avg as f64 / 1e6
            );
            println!("| path | documents/s | MiB/s | ms/document |");
            println!("|---|---|---|---|");
            let t = Instant::now();
            for d in &docs {
                match enc {
                    Encoding::Json => {
                        serde_json::from_slice::<Value>(d).unwrap();
                    }
                    Encoding::Xml => {
                        libxml::parser::Parser::default().parse_string(d).unwrap();
                    }
                }
            }
            let parse_s = t.elapsed().as_secs_f64();
            row("parse only (baseline)", &docs, parse_s);
            let t = Instant::now();
            for d in &docs {
                let v = cyclonedx::validate(d, enc).unwrap();
                assert_eq!(v.facts.components, n as u64);
            }
            let validate_s = t.elapsed().as_secs_f64();
            row("parse + schema validation", &docs, validate_s);
            let plain_s = insert_plain(&docs).await;
            row(
                "plain durable INSERT of the same bytes (baseline)",
                &docs,
                plain_s,
            );
            let ingest_s = ingest(&s, &docs, ct, subject).await;
            subject += docs.len();
            row(
                "POST /v1/sboms: validate, blob + entry, checkpoint, receipt",
                &docs,
                ingest_s,
            );
            println!(
                "{}",
                json!({"bench": "sbom", "encoding": enc.as_str(), "components": n, "bytes": avg,
                    "parse_s": parse_s, "validate_s": validate_s, "plain_s": plain_s,
                    "ingest_s": ingest_s, "docs": n_docs})
            );
        }
    }
}
