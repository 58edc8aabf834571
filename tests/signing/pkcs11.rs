//! The PKCS#11 signer against real SoftHSM tokens: key generation and protection, HSM
//! signatures checked by the `note` code and by ed25519-dalek, adopting a key, start-up
//! refusals, `keys init` on the command line, and a server signing its checkpoints in
//! the HSM and reporting its key status (`GET /v1/keys`, `keys status`).

use crate::common;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::softhsm::{self, Tokens, MODULE, PIN};
use common::{event, TestServer};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::Session;
use secrecy::SecretString;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use threadlog::note::{self, Checkpoint, NoteSigner};
use threadlog::signer::pkcs11::{init_key, KeyInit, Pkcs11Error, Pkcs11Spec};
use threadlog::signer::{Pkcs11Signer, Signer};

const ORIGIN: &str = "plant.example/threadlog";

fn tokens() -> &'static Tokens {
    softhsm::tokens()
}

fn pin() -> SecretString {
    PIN.to_string().into()
}

fn spec(token: &str, key: &str) -> Pkcs11Spec {
    Pkcs11Spec::parse(&softhsm::spec(token, key), None).unwrap()
}

fn init(token: &str, key: &str, origin: &str) -> KeyInit {
    tokens();
    init_key(&spec(token, key), pin(), origin).expect("keys init")
}

fn find(session: &Session, class: ObjectClass, label: &str) -> Vec<cryptoki::object::ObjectHandle> {
    session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .unwrap()
}

#[test]
fn generated_private_key_is_sensitive_and_never_extractable() {
    let done = init("gen", "log-key", ORIGIN);
    assert!(done.created);
    let session = tokens().session("gen");
    let keys = find(&session, ObjectClass::PRIVATE_KEY, "log-key");
    assert_eq!(keys.len(), 1);
    let attrs = session
        .get_attributes(
            keys[0],
            &[
                AttributeType::Token,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
                AttributeType::Sign,
                AttributeType::Id,
            ],
        )
        .unwrap();
    for a in &attrs {
        match a {
            Attribute::Token(v)
            | Attribute::Sensitive(v)
            | Attribute::AlwaysSensitive(v)
            | Attribute::NeverExtractable(v)
            | Attribute::Sign(v) => assert!(*v, "{a:?}"),
            Attribute::Extractable(v) => assert!(!*v, "{a:?}"),
            Attribute::Id(id) => assert_eq!(hex::encode(id), done.info.key_id),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(attrs.len(), 7);
    // The private value itself cannot be read.
    match session.get_attributes(keys[0], &[AttributeType::Value]) {
        Ok(v) => assert!(v.is_empty(), "private key value readable: {v:?}"),
        Err(e) => assert!(e.to_string().to_lowercase().contains("sensitive"), "{e}"),
    }
}

#[test]
fn hsm_signatures_verify_with_the_note_code_and_ed25519_dalek() {
    let done = init("sign", "log-key", ORIGIN);
    let signer = Pkcs11Signer::open(&spec("sign", "log-key"), pin(), ORIGIN).unwrap();
    assert_eq!(signer.verifier_key(), &done.verifier_key);
    assert_eq!(signer.kind(), "pkcs11");
    assert!(
        signer.last_signature_at().is_some(),
        "start-up made a test signature"
    );
    signer.probe().unwrap();

    let cp = Checkpoint {
        origin: ORIGIN.into(),
        tree_size: 42,
        root_hash: [9; 32],
        extensions: Vec::new(),
    };
    let signed = note::sign_checkpoint(&cp, &[&signer as &dyn NoteSigner]).unwrap();
    let (opened, by) =
        note::open_checkpoint(&signed, std::slice::from_ref(&done.verifier_key), ORIGIN).unwrap();
    assert_eq!(opened, cp);
    assert_eq!(by, vec![done.verifier_key.key_ref()]);

    // Independently: the signature line is base64(key id || Ed25519 signature) over the body.
    let (body, sigs) = signed.split_once("\n\n").unwrap();
    let line = sigs.lines().next().unwrap();
    let b64 = line.strip_prefix(&format!("\u{2014} {ORIGIN} ")).unwrap();
    let raw = STANDARD.decode(b64).unwrap();
    assert_eq!(raw.len(), 4 + 64);
    let key = ed25519_dalek::VerifyingKey::from_bytes(&signer.public_key()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&raw[4..]).unwrap();
    key.verify_strict(format!("{body}\n").as_bytes(), &sig)
        .expect("ed25519-dalek verifies the HSM signature");
    // A changed body does not verify: the check above can fail.
    assert!(key.verify_strict(b"tampered\n", &sig).is_err());

    // The pool serves concurrent signers; every signature verifies.
    let signer = Arc::new(signer);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let signer = signer.clone();
            std::thread::spawn(move || {
                for i in 0..30 {
                    let msg = format!("message {t} {i}\n");
                    let sig = NoteSigner::sign(signer.as_ref(), msg.as_bytes()).unwrap();
                    let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
                    key.verify_strict(msg.as_bytes(), &sig).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn signs_through_an_rfc7512_uri() {
    let done = init("uri", "uri-key", ORIGIN);
    let dir = tempfile::tempdir().unwrap();
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, format!("{PIN}\n")).unwrap();
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let id: String = hex::decode(&done.info.key_id)
        .unwrap()
        .iter()
        .map(|b| format!("%{b:02x}"))
        .collect();
    // As p11-kit prints it: label, CKA_ID, type, and the module and PIN in the query.
    let uri = format!(
        "pkcs11:token=uri;object=uri%2Dkey;id={id};type=private\
         ?module-path={MODULE}&pin-source=file:{}",
        pin_file.display()
    );
    let signer = Pkcs11Signer::from_spec(&uri, ORIGIN).expect("opens through the URI");
    assert_eq!(signer.verifier_key(), &done.verifier_key);
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        tree_size: 7,
        root_hash: [3; 32],
        extensions: Vec::new(),
    };
    let signed = note::sign_checkpoint(&cp, &[&signer as &dyn NoteSigner]).unwrap();
    let (opened, _) =
        note::open_checkpoint(&signed, std::slice::from_ref(&done.verifier_key), ORIGIN).unwrap();
    assert_eq!(opened, cp);

    // pin-value, percent-encoded, and the legacy form beside it: the same key.
    let pin: String = PIN.bytes().map(|b| format!("%{b:02X}")).collect();
    let by_value = format!("pkcs11:token=uri;object=uri-key?module-path={MODULE}&pin-value={pin}");
    let signer = Pkcs11Signer::from_spec(&by_value, ORIGIN).expect("opens with pin-value");
    assert_eq!(signer.verifier_key(), &done.verifier_key);
    let signer = Pkcs11Signer::from_spec(&softhsm::spec("uri", "uri-key"), ORIGIN).unwrap();
    assert_eq!(signer.verifier_key(), &done.verifier_key);

    // Another CKA_ID under the same label is no match.
    let other = format!("pkcs11:token=uri;object=uri-key;id=%00%01?module-path={MODULE}");
    let err = Pkcs11Signer::from_spec(&other, ORIGIN)
        .err()
        .expect("refused");
    assert!(
        matches!(err, Pkcs11Error::KeyNotFound { ref label } if label == "uri-key"),
        "{err}"
    );

    // A PIN file others can read is refused, naming the file and the fix.
    std::fs::set_permissions(&pin_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Pkcs11Signer::from_spec(&uri, ORIGIN)
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(
        err,
        format!(
            "PIN file {p} is readable by group or others (mode 644); run `chmod 600 {p}`",
            p = pin_file.display()
        )
    );
}

#[test]
fn a_lost_login_is_healed_by_a_new_session() {
    init("relogin", "log-key", ORIGIN);
    let signer = Pkcs11Signer::open(&spec("relogin", "log-key"), pin(), ORIGIN).unwrap();
    let before = signer.last_signature_at().unwrap();
    // Logging out any session logs out every session of this process on the token,
    // including the signer's pool: the private key is out of reach until a new login.
    let session = tokens().session("relogin");
    session.logout().unwrap();
    assert!(find(&session, ObjectClass::PRIVATE_KEY, "log-key").is_empty());
    signer.probe().expect("a new session logs in again");
    assert!(signer.last_signature_at().unwrap() > before);
    assert_eq!(find(&session, ObjectClass::PRIVATE_KEY, "log-key").len(), 1);
}

#[test]
fn keys_init_adopts_an_existing_key_by_label() {
    let first = init("adopt", "log-key", ORIGIN);
    assert!(first.created);
    let again = init("adopt", "log-key", ORIGIN);
    assert!(!again.created);
    assert_eq!(again.verifier_key, first.verifier_key);
    assert_eq!(again.info.key_id, first.info.key_id);
    // By slot id too; the spec printed names the token by label.
    let by_slot = Pkcs11Spec::parse(
        &format!(
            "pkcs11:module={MODULE};slot={};key=log-key",
            first.info.slot
        ),
        None,
    )
    .unwrap();
    let third = init_key(&by_slot, pin(), ORIGIN).unwrap();
    assert!(!third.created);
    assert_eq!(third.verifier_key, first.verifier_key);
    assert_eq!(third.signer_spec, softhsm::spec("adopt", "log-key"));
}

fn refusal(spec: &Pkcs11Spec, pin: &str) -> String {
    match Pkcs11Signer::open(spec, pin.to_string().into(), ORIGIN) {
        Ok(_) => panic!("{spec} opened"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn start_up_refusals_say_which_and_how_to_fix() {
    init("refuse", "log-key", ORIGIN);
    let session = tokens().session("refuse");
    // A P-256 key under a label threadlog is pointed at.
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::EcParams(vec![
                    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
                ]),
                Attribute::Label(b"p256".to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Sign(true),
                Attribute::Sensitive(true),
                Attribute::Label(b"p256".to_vec()),
            ],
        )
        .unwrap();
    // Two Ed25519 keys under one label.
    for _ in 0..2 {
        session
            .generate_key_pair(
                &Mechanism::EccEdwardsKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::Verify(true),
                    Attribute::EcParams(vec![0x06, 0x03, 0x2b, 0x65, 0x70]),
                    Attribute::Label(b"twice".to_vec()),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Sign(true),
                    Attribute::Label(b"twice".to_vec()),
                ],
            )
            .unwrap();
    }
    drop(session);

    let cases: Vec<(Pkcs11Spec, &str, Vec<&str>)> = vec![
        (
            spec("refuse", "absent"),
            PIN,
            vec!["no private key labelled \"absent\"", "threadlog keys init"],
        ),
        (
            spec("nosuch", "log-key"),
            PIN,
            vec![
                "no token labelled \"nosuch\"",
                "\"refuse\"",
                "softhsm2-util --init-token",
            ],
        ),
        (
            Pkcs11Spec::parse(&format!("pkcs11:module={MODULE};slot=4242;key=k"), None).unwrap(),
            PIN,
            vec!["no initialised token in slot 4242", "prefer token=LABEL"],
        ),
        (
            spec("refuse", "p256"),
            PIN,
            vec![
                "\"p256\" is CKK_EC, not an Ed25519 key",
                "threadlog keys init",
            ],
        ),
        (
            spec("refuse", "twice"),
            PIN,
            vec!["2 private keys are labelled \"twice\"", "exactly one"],
        ),
        (
            Pkcs11Spec::parse(
                "pkcs11:module=/nonexistent/libpkcs11.so;token=refuse;key=k",
                None,
            )
            .unwrap(),
            PIN,
            vec![
                "cannot load PKCS#11 module /nonexistent/libpkcs11.so",
                "module=",
            ],
        ),
    ];
    for (spec, pin, want) in cases {
        let err = refusal(&spec, pin);
        for w in want {
            assert!(err.contains(w), "{spec}: {err:?} lacks {w:?}");
        }
    }
}

#[test]
fn wrong_pin_is_refused() {
    // Its own token: a PIN is only checked when no session of this process is logged in.
    init("pin", "log-key", ORIGIN);
    let err = refusal(&spec("pin", "log-key"), "not-the-pin");
    assert!(err.contains("PIN for token \"pin\" is wrong"), "{err}");
    assert!(err.contains("THREADLOG_PKCS11_PIN"), "{err}");
    assert!(matches!(
        Pkcs11Signer::open(&spec("pin", "log-key"), "x".to_string().into(), ORIGIN),
        Err(Pkcs11Error::WrongPin { .. })
    ));
}

/// Runs `threadlog keys status` against the server, off the runtime's workers so the
/// in-process server keeps serving. Returns the exit code, stdout and stderr.
async fn keys_status(s: &TestServer, token: &str, json: bool) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_threadlog"));
    cmd.args(["keys", "status", "--url", &s.url])
        .env("THREADLOG_TOKEN", token);
    if json {
        cmd.arg("--json");
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_signs_checkpoints_in_the_hsm() {
    let done = init("server", "log-key", "test.example/log");
    let dir = tempfile::tempdir().unwrap();
    let signer = done.signer_spec.clone();
    let s = TestServer::start_with(dir, move |mut c| {
        c.signer = Some(signer);
        c
    })
    .await;
    assert_eq!(s.verifier_key, done.verifier_key);
    for i in 0..3 {
        let (status, receipt) = s.post_events(&event(&format!("hsm-{i}"))).await;
        assert_eq!(status, 201, "{receipt}");
        note::open_checkpoint(
            receipt["checkpoint"].as_str().unwrap(),
            std::slice::from_ref(&done.verifier_key),
            &s.origin,
        )
        .expect("the receipt's checkpoint is signed by the HSM key");
    }
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.tree_size, 3);

    // The key status names the HSM key and a live probe through the token succeeds.
    let (status, body) = s.get("/v1/keys", &s.admin).await;
    assert_eq!(status, 200, "{body}");
    let keys: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(keys["kind"], "pkcs11", "{keys}");
    assert_eq!(keys["answering"], true, "{keys}");
    assert_eq!(keys["verifier_key"], done.verifier_key.to_string());
    let location = &keys["location"];
    assert_eq!(location["kind"], "pkcs11", "{keys}");
    assert_eq!(location["module"], MODULE, "{keys}");
    assert_eq!(location["token_label"], "server", "{keys}");
    assert_eq!(location["key_label"], "log-key", "{keys}");
    assert_eq!(location["cka_id"], done.info.key_id, "{keys}");
    assert!(keys["last_signature_at"].is_string(), "{keys}");
    assert_eq!(
        keys["history"][0]["verifier_key"],
        done.verifier_key.to_string()
    );
    assert!(!body.contains(PIN), "the PIN never appears: {body}");
    let (status, _) = s.get("/v1/keys", &s.auditor).await;
    assert_eq!(status, 403);
    let ready = s
        .client
        .get(format!("{}/readyz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // `threadlog keys status` shows the same through the server, for admins only.
    let (code, out, _) = keys_status(&s, &s.admin, true).await;
    assert_eq!(code, 0, "{out}");
    let cli: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli["kind"], "pkcs11", "{cli}");
    assert_eq!(cli["answering"], true, "{cli}");
    assert_eq!(cli["location"]["token_label"], "server", "{cli}");
    let (code, out, _) = keys_status(&s, &s.admin, false).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signer:          pkcs11"), "{out}");
    assert!(out.contains("answering:       yes"), "{out}");
    assert!(out.contains(&done.verifier_key.to_string()), "{out}");
    let (code, _, err) = keys_status(&s, &s.auditor, false).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("403") && err.contains("admin"), "{err}");

    // A bad spec keeps the server from starting, with the reason.
    let other = tempfile::tempdir().unwrap();
    let cfg = common::config(other.path().to_path_buf());
    let err = threadlog::server::start(&threadlog::config::ServeConfig {
        signer: Some(softhsm::spec("server", "no-such-key")),
        ..cfg
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(
        err.contains("no private key labelled \"no-such-key\""),
        "{err}"
    );

    // A log begun with a key file does not silently switch to the HSM key.
    let file_log = threadlog::server::start(&common::config(other.path().to_path_buf()))
        .await
        .unwrap();
    drop(file_log);
    let err = threadlog::server::start(&threadlog::config::ServeConfig {
        signer: Some(done.signer_spec.clone()),
        ..common::config(other.path().to_path_buf())
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("keys change only by rotation"), "{err}");
    s.stop().await;
}

#[test]
fn keys_init_command_generates_then_adopts() {
    let t = tokens();
    let run = |pin: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_threadlog"));
        cmd.args([
            "keys",
            "init",
            "--pkcs11-module",
            MODULE,
            "--token-label",
            "cli",
        ])
        .args(["--label", "log-key", "--origin", ORIGIN, "--json"])
        .env("SOFTHSM2_CONF", &t.conf)
        .env_remove("THREADLOG_PKCS11_PIN")
        .env_remove("THREADLOG_PKCS11_PIN_FILE")
        .env_remove("HSM_SLOT");
        if let Some(p) = pin {
            cmd.env("THREADLOG_PKCS11_PIN", p);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("THREADLOG_PKCS11_PIN"), "{stderr}");

    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = json(run(Some(PIN)));
    assert_eq!(first["created"], true);
    assert_eq!(first["signer"], softhsm::spec("cli", "log-key"));
    let second = json(run(Some(PIN)));
    assert_eq!(second["created"], false);
    assert_eq!(second["verifier_key"], first["verifier_key"]);
    let key: threadlog::note::VerifierKey =
        first["verifier_key"].as_str().unwrap().parse().unwrap();
    assert_eq!(key.name(), ORIGIN);
    // The key the command made is the one a signer in another process opens.
    let signer = Pkcs11Signer::open(&spec("cli", "log-key"), pin(), ORIGIN).unwrap();
    assert_eq!(signer.verifier_key(), &key);
}
