//! Keys and signatures on the token: generated keys stay sensitive, signatures verify with
//! the note code and ed25519-dalek, RFC 7512 URIs, lost logins, and adopting a key by label.

use super::*;

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
