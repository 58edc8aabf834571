//! Rotations through keys held in the HSM verify from the first key.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_through_hsm_keys_verify_from_the_first_key() {
    // Sets SOFTHSM2_CONF and the PIN for the child processes.
    common::softhsm::tokens();
    let dir = tempfile::tempdir().unwrap();
    let base = env_for(dir.path());
    let env = with(&base, &[]);
    let client = reqwest::Client::new();
    let server = Serve::start(&env);
    let key_a = server.key.clone();
    let producer = token("producer", &env);
    let auditor = token("auditor", &env);
    assert_eq!(append(&client, &server.url, &producer, "a", 3).await.0, 201);

    // A (file) → B (SoftHSM key made with `keys init`).
    let init = keys_init(&env, "log-b");
    let b_spec = init["signer"].as_str().unwrap().to_string();
    let rot_b = rotate(&env, None, &b_spec, false);
    assert_eq!(rot_b["verifier_key"], init["verifier_key"]);
    assert_eq!(rot_b["new_key_created"], false);
    server.kill();

    // B signs in the HSM and hands over to D, another key of the same token; D hands
    // over to C (file), retiring itself.
    let b_extra = [("THREADLOG_SIGNER", b_spec.clone())];
    let server = Serve::start(&with(&base, &b_extra));
    assert_eq!(server.key, init["verifier_key"].as_str().unwrap());
    assert_eq!(append(&client, &server.url, &producer, "b", 2).await.0, 201);
    server.kill();
    let init_d = keys_init(&env, "log-d");
    let d_spec = init_d["signer"].as_str().unwrap().to_string();
    let rot_d = rotate(&env, Some(&b_spec), &d_spec, false);
    assert_eq!(rot_d["verifier_key"], init_d["verifier_key"]);
    let d_extra = [("THREADLOG_SIGNER", d_spec.clone())];
    let server = Serve::start(&with(&base, &d_extra));
    assert_eq!(append(&client, &server.url, &producer, "d", 1).await.0, 201);
    let c_spec = format!("file:{}", dir.path().join("c.key").display());
    let rot_c = rotate(&env, Some(&d_spec), &c_spec, true);
    assert_eq!(rot_c["previous_key"], init_d["verifier_key"]);
    server.kill();
    let c_extra = [("THREADLOG_SIGNER", c_spec.clone())];
    let server = Serve::start(&with(&base, &c_extra));
    assert_eq!(append(&client, &server.url, &producer, "c", 2).await.0, 201);

    let (code, report, text) = verify_url(&server.url, &key_a, &auditor);
    assert_eq!(code, 0, "{report} {text}");
    assert_eq!(report["keys"].as_array().unwrap().len(), 4, "{report}");
    server.kill();
    let store = open_store(dir.path()).await;
    let counts: Vec<(u64, usize)> = store
        .checkpoints(None, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.tree_size, signatures(&c.note)))
        .collect();
    assert_eq!(
        counts,
        vec![
            (0, 1),
            (3, 1),
            (4, 2),
            (6, 1),
            (7, 2),
            (8, 1),
            (9, 2),
            (11, 1)
        ]
    );
}
