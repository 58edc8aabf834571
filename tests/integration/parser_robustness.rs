//! Every parser facing untrusted bytes returns an error instead of panicking: random bytes
//! and mutations of valid inputs for notes, checkpoints, verifier keys, leaves, events,
//! and CycloneDX documents (JSON and XML, validation and component reading).

use proptest::prelude::*;
use threadlog::entry;
use threadlog::note::{open_note, Checkpoint, VerifierKey};
use threadlog::supplychain::cyclonedx::{self, Encoding};

const NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const LEAF: &str = r#"{"body":{"event_id":"e","x":[1,2.5,"é"]},"integrated_at":"2026-11-24T12:00:00.000000Z","kind":"event","subjects":["lot:a"],"submitter":"mes"}"#;
const BOM_JSON: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"a","version":"1","purl":"pkg:cargo/a@1","hashes":[{"alg":"SHA-256","content":"0000000000000000000000000000000000000000000000000000000000000000"}],"licenses":[{"license":{"id":"MIT"}}]}]}"#;
const BOM_XML: &str = r#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1"><components><component type="library" bom-ref="a"><name>a</name><licenses><license><id>MIT</id></license></licenses><purl>pkg:cargo/a@1</purl></component></components></bom>"#;
const EVENT: &str = r#"{"event_id":"e1","event_type":"qc_result","effective_time":"2026-11-24T08:00:00Z","hierarchy_scope":{"site":"p"},"source":"s","material":[{"definition":"d","lot":"l","use":"consumed","quantity":1,"unit":"g"}],"genealogy":[{"parent":{"lot":"l"},"child":{"serial":"s"}}]}"#;

fn mutate(base: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    for &(pos, byte) in edits {
        let i = pos % (b.len() + 1);
        match byte % 3 {
            0 if i < b.len() => b[i] = byte,
            1 if i < b.len() => {
                b.remove(i);
            }
            _ => b.insert(i, byte),
        }
    }
    b
}

fn exercise(bytes: &[u8]) {
    let key: VerifierKey = KEY.parse().unwrap();
    let text = String::from_utf8_lossy(bytes);
    let _ = open_note(&text, std::slice::from_ref(&key));
    let _ = Checkpoint::parse_body(&text);
    let _ = text.parse::<VerifierKey>();
    let _ = entry::parse_leaf(bytes);
    let _ = entry::parse_events(bytes, "fuzz");
    for enc in [Encoding::Json, Encoding::Xml] {
        let _ = cyclonedx::validate(bytes, enc);
        let _ = cyclonedx::components(bytes, enc);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_valid_inputs(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        for base in [NOTE, KEY, LEAF, EVENT, BOM_JSON, BOM_XML] {
            let m = mutate(base, &edits);
            exercise(&m);
            // A mutated note must never verify unless the mutation left it unchanged
            // in substance (e.g. an edit that was undone by another).
            if base == NOTE {
                let key: VerifierKey = KEY.parse().unwrap();
                if let Ok(opened) = open_note(&String::from_utf8_lossy(&m), &[key]) {
                    prop_assert!(NOTE.starts_with(&opened.text));
                }
            }
        }
    }
}

/// The documents mutated above are valid, so mutations reach schema validation and not
/// only the parsers.
#[test]
fn the_mutated_documents_start_valid() {
    cyclonedx::validate(BOM_JSON.as_bytes(), Encoding::Json).unwrap();
    cyclonedx::validate(BOM_XML.as_bytes(), Encoding::Xml).unwrap();
}
