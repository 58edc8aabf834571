//! Envelopes written by in-toto-golang, witness and chainloop are logged; XML attacks never
//! reach a parser on the attestations path.

use super::*;

fn real(name: &str) -> Vec<u8> {
    fixture(&format!("real/{name}"))
}

/// Envelopes as in-toto-golang, witness and Chainloop write them (`real/README.md`): link
/// metadata indexed by its products, a subject with a SHA-1 commit digest only, and a
/// predicate type that is not a URI. Each is logged and found by every digest it names.
#[tokio::test]
async fn envelopes_of_in_toto_golang_witness_and_chainloop_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let policy = String::from_utf8(real("policy.toml")).unwrap();
    let s = with_policy_file(&dir, &policy).await;
    let cases = [
        (
            "in-toto-golang-package-dsse.2f89b927.link",
            "link",
            "https://in-toto.io/attestation/link/v0.3",
            vec!["sha256:0c5c56be1f4d8707fe981f07b0d35a4a1a50e898e3ebc8b1fa12c7c6f364bb7b"],
            "rsa-pss-sha256",
        ),
        (
            "witness-scorecard.attestation.json",
            "https://in-toto.io/Statement/v0.1",
            "https://witness.testifysec.com/attestation-collection/v0.1",
            vec![
                "sha256:d9e216fc15b7d7506e9357ca2623deb5447d159f24a93af97039fcba73accae4",
                "sha1:7c8b22ef3f0b277b949ad0510b6e843047a35592",
                "sha256:c3193f239e35effca04c006936f9aec7bc2a18714989ae159edd29cfcae33b43",
            ],
            "ed25519",
        ),
        (
            "chainloop-v0.2-resigned.dsse.json",
            "https://in-toto.io/Statement/v0.1",
            "chainloop.dev/attestation/v0.2",
            vec![
                "sha256:0407a2b01fbd898bcc11065f76108d16998620630ffc453d2162cf579b42de03",
                "sha256:747ef335ea27a2faf08aa292a5bc5491aff50c6a94ee4ebcbbcd43cdeccccaf1",
            ],
            "ed25519",
        ),
    ];
    let mut link = None;
    for (file, statement_type, predicate_type, ids, algorithm) in cases {
        let (status, r) = s
            .post_bytes("/v1/attestations", &s.ci, DSSE, real(file))
            .await;
        assert_eq!(status, 201, "{file}: {r}");
        let index = s.check_receipt(&r);
        link = link.or(Some(index));
        let (_, e) = s.get_json(&format!("/v1/entries/{index}")).await;
        let body = &e["entry"]["body"];
        assert_eq!(body["statement_type"], statement_type, "{file}");
        assert_eq!(body["predicate_type"], predicate_type, "{file}");
        assert_eq!(body["signatures"][0]["algorithm"], algorithm, "{file}");
        let subjects = e["entry"]["subjects"].as_array().unwrap();
        for id in ids {
            assert!(
                subjects.contains(&json!(id)),
                "{file}: {id} in {subjects:?}"
            );
            let (status, a) = s.get_json(&format!("/v1/artifacts/{id}")).await;
            assert_eq!(status, 200, "{file}: {a}");
            assert_eq!(a["entries"][0]["index"], index, "{file}: {id}: {a}");
        }
    }
    // The link's product by name and digest, its materials not (they are inputs).
    let (_, e) = s.get_json(&format!("/v1/entries/{}", link.unwrap())).await;
    assert_eq!(
        e["entry"]["body"]["subjects"][0]["name"],
        "demo-project.tar.gz"
    );
    let (status, a) = s
        .get_json(
            "/v1/artifacts/sha256:c2c0ea54fa94fac3a4e1575d6ed3bbd1b01a6d0b8deb39196bdc31c457ef731b",
        )
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"], json!([]), "{a}");
    s.stop().await;
}

/// XML cannot arrive on the attestations path: an XML content type is refused before the
/// body is read, and XML bytes declared as JSON fail as JSON; neither reaches an XML parser
/// and nothing is logged.
#[tokio::test]
async fn xml_attacks_never_reach_a_parser_on_the_attestations_path() {
    let s = with_policy(false).await;
    let size = s.tree_size().await;
    let attacks = [
        "<?xml version=\"1.0\"?><!DOCTYPE bom [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><bom>&xxe;</bom>",
        "<!DOCTYPE bom [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x.dtd\"> %p;]><bom/>",
        "<!DOCTYPE bom [<!ENTITY a \"lol\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><bom>&b;</bom>",
        "<bom xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"file:///etc/passwd\"/></bom>",
    ];
    for doc in attacks {
        for ct in [
            "application/xml",
            "text/xml",
            "application/vnd.cyclonedx+xml",
        ] {
            let (status, r) = s
                .post_bytes("/v1/attestations", &s.ci, ct, doc.as_bytes().to_vec())
                .await;
            assert_eq!(status, 415, "{ct}: {r}");
            assert_eq!(r["error"], "unsupported_media_type", "{r}");
        }
        let (status, r) = post(&s, doc.as_bytes().to_vec()).await;
        assert_eq!(status, 422, "{r}");
        assert_eq!(r["check"], "envelope", "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("not well-formed JSON"),
            "{r}"
        );
    }
    assert_eq!(s.tree_size().await, size);
    s.stop().await;
}
