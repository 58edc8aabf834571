//! Diffs between logged SBOMs, by document or by subject, with uploaded text escaped in
//! the Markdown output.

use super::*;

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
