//! Renderings of a report: golden files stay stable and OSCAL documents validate against
//! NIST's schema and are deterministic.

use super::*;

#[test]
fn golden_renderings_are_stable() {
    let r = scenario_report();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/compliance");
    for (format, file) in [
        (Format::Json, "report.json"),
        (Format::Markdown, "report.md"),
        (Format::Html, "report.html"),
        (Format::Oscal, "report.oscal.json"),
    ] {
        let got = render(&r, format);
        let path = dir.join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_GOLDEN=1", path.display()));
        assert!(got == want, "{file} differs from the golden file; if the change is intended, run with UPDATE_GOLDEN=1 and review the diff");
    }
    // The JSON form reads back as the same report.
    let back: Report = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert_eq!(back, r);
}

#[test]
fn oscal_documents_validate_against_nists_schema_and_are_deterministic() {
    let r = scenario_report();
    let doc: Value = serde_json::from_str(&render(&r, Format::Oscal)).unwrap();
    assert_valid_oscal(&doc);
    let result = &doc["assessment-results"]["results"][0];
    assert_eq!(result["findings"].as_array().unwrap().len(), 110);
    assert_eq!(result["observations"].as_array().unwrap().len(), 116);
    let ac1 = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"]["target-id"] == "SP_800_171_3.1.1")
        .unwrap();
    assert_eq!(ac1["target"]["status"]["state"], "not-satisfied");
    assert_eq!(ac1["related-observations"].as_array().unwrap().len(), 2);
    // Same log, same document; another checkpoint, another document uuid.
    assert_eq!(
        render(&r, Format::Oscal),
        render(&scenario_report(), Format::Oscal)
    );
    let (results, _, digests) = scenario();
    let early = build(
        Framework::Rev2,
        fixed_checkpoint(300),
        &results,
        &[210, 300],
        &digests,
    );
    let early: Value = serde_json::from_str(&render(&early, Format::Oscal)).unwrap();
    assert_ne!(
        early["assessment-results"]["uuid"],
        doc["assessment-results"]["uuid"]
    );
    assert_eq!(
        early["assessment-results"]["results"][0]["observations"][0]["uuid"],
        result["observations"][0]["uuid"],
        "an entry's observation keeps its uuid"
    );
    // Rev. 3 and an empty log are valid too.
    let empty = build(
        Framework::Rev3,
        fixed_checkpoint(0),
        &[],
        &[0],
        &HashMap::new(),
    );
    assert_valid_oscal(&serde_json::from_str(&render(&empty, Format::Oscal)).unwrap());
    // The validator does catch a broken document.
    let mut broken = doc.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        json!("fine");
    assert!(!oscal_validator().is_valid(&broken));
}
