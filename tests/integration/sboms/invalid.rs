//! Invalid SBOMs are refused with their violations; XML with a DTD, entities or XInclude is
//! refused without being parsed.

use super::*;

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
