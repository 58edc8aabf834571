//! A saved report is derived again from the log and from an export, and agrees.

use super::*;

// The CLI runs as a blocking child process while this runtime serves its requests.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_report_is_rederived_from_the_log_and_from_an_export() {
    let s = TestServer::start().await;
    let (_, size) = assess(&s).await;
    let db = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("report.json");
    let (code, saved_json, out) = cli(
        &[
            "report",
            "--database-url",
            &db,
            "--framework",
            "nist-800-171r2",
            "--out",
            saved.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(saved_json, Value::Null, "--out writes the file, not stdout");
    let text = std::fs::read_to_string(&saved).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["checkpoint"]["tree_size"], size);

    // More results after the report do not change a report bound to its checkpoint.
    let token = assessor_named(&s, "assessor-2").await;
    let (status, _) = s
        .post_raw(
            "/v1/controls/results",
            &token,
            result("c-3.1.1", "3.1.1", "not_assessed").to_string(),
        )
        .await;
    assert_eq!(status, 201);

    let key = s.verifier_key.to_string();
    let verify = |file: &Path| {
        cli(
            &[
                "verify",
                "--database",
                &db,
                "--key",
                &key,
                "--no-state",
                "--report",
                file.to_str().unwrap(),
            ],
            &[],
        )
    };
    let (code, v, out) = verify(&saved);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["compliance_report"]["ok"], true, "{v}");
    assert_eq!(v["compliance_report"]["proofs_checked"], 111);

    // Over HTTP, with the auditor's token, the same.
    let (code, v, out) = cli(
        &[
            "verify",
            "--url",
            &s.url,
            "--key",
            &key,
            "--token",
            &s.auditor,
            "--no-state",
            "--report",
            saved.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["compliance_report"]["ok"], true);

    // Any figure changed is named; so is a proof or a checkpoint changed.
    for (path, value, named) in [
        ("/sprs/score", json!(110), "sprs.score"),
        ("/totals/met", json!(110), "totals.met"),
        (
            "/requirements/0/status",
            json!("not_met"),
            "requirements[0].status",
        ),
        ("/trend/0/score", json!(107), "trend[0].score"),
        (
            "/requirements/0/evidence/0/inclusion_proof/0",
            json!(Hash([7; 32]).to_base64()),
            "inclusion proof of entry 0",
        ),
        (
            "/checkpoint/note",
            json!(report["checkpoint"]["note"]
                .as_str()
                .unwrap()
                .replace("\n\u{2014}", "\n\u{2014} ")),
            "checkpoint.note",
        ),
        ("/checkpoint/tree_size", json!(size - 1), "checkpoint"),
    ] {
        let mut bad = report.clone();
        *bad.pointer_mut(path).unwrap() = value;
        let file = work.path().join("bad.json");
        std::fs::write(&file, serde_json::to_vec(&bad).unwrap()).unwrap();
        let (code, v, out) = verify(&file);
        assert_eq!(code, 1, "{path}: {out}");
        let problems = v["compliance_report"]["problems"].to_string();
        assert!(problems.contains(named), "{path}: {problems}");
    }

    // An export of the log, imported elsewhere, gives the same report at that size.
    let dump = work.path().join("dump");
    let (code, _, out) = cli(
        &[
            "export",
            "--database-url",
            &db,
            "--out",
            dump.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let copy = format!("sqlite://{}", work.path().join("copy.db").display());
    let (code, _, out) = cli(
        &[
            "import",
            "--database-url",
            &copy,
            "--from",
            dump.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let (code, again, out) = cli(
        &[
            "report",
            "--database-url",
            &copy,
            "--framework",
            "nist-800-171r2",
            "--at",
            &size.to_string(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(again, report);
}
