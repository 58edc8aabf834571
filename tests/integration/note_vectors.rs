//! Signed notes and checkpoints: round trips, the C2SP formats byte for byte, and rejection.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use threadlog::note::{
    open_checkpoint, open_note, sign_checkpoint, sign_note, Checkpoint, Ed25519Signer, NoteError,
    NoteSigner, VerifierKey,
};

/// A key made from a fixed seed, so the vectors are the same on every run.
fn signer(name: &str, seed: u8) -> Ed25519Signer {
    Ed25519Signer::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

#[test]
fn verifier_key_follows_the_spec_formula() {
    let s = signer("plant.example/log", 7);
    let v = s.verifier_key().clone();
    let pk = SigningKey::from_bytes(&[7; 32]).verifying_key().to_bytes();
    let mut h = Sha256::new();
    h.update(b"plant.example/log\n\x01");
    h.update(pk);
    let id = u32::from_be_bytes(h.finalize()[..4].try_into().unwrap());
    let mut raw = vec![1u8];
    raw.extend_from_slice(&pk);
    assert_eq!(
        v.to_string(),
        format!("plant.example/log+{id:08x}+{}", STANDARD.encode(&raw))
    );
    assert_eq!(v.to_string().parse::<VerifierKey>().unwrap(), v);
    // A key ID that does not match the key is refused.
    let forged = format!("plant.example/log+{:08x}+{}", id ^ 1, STANDARD.encode(&raw));
    assert!(matches!(
        forged.parse::<VerifierKey>(),
        Err(NoteError::BadVerifierKey(_))
    ));
    assert!(matches!(
        "no-plus-signs".parse::<VerifierKey>(),
        Err(NoteError::BadVerifierKey(_))
    ));
}

#[test]
fn checkpoint_round_trip_is_byte_exact() {
    let s = signer("plant.example/log", 1);
    let cp = Checkpoint {
        origin: "plant.example/log".into(),
        tree_size: 42,
        root_hash: [9; 32],
        extensions: vec!["ext one".into(), "ext two".into()],
    };
    let body = cp.to_body().unwrap();
    assert_eq!(
        body,
        format!(
            "plant.example/log\n42\n{}\next one\next two\n",
            STANDARD.encode([9u8; 32])
        )
    );
    let note = sign_checkpoint(&cp, &[&s]).unwrap();
    let sig_line = note.lines().last().unwrap();
    assert!(sig_line.starts_with("— plant.example/log "), "{sig_line}");
    let sig = STANDARD
        .decode(sig_line.rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(sig.len(), 4 + 64);
    assert_eq!(u32::from_be_bytes(sig[..4].try_into().unwrap()), s.key_id());
    let (back, by) =
        open_checkpoint(&note, &[s.verifier_key().clone()], "plant.example/log").unwrap();
    assert_eq!(back, cp);
    assert_eq!(by, vec![s.verifier_key().clone().key_ref()]);
}

#[test]
fn unknown_signers_ignored_known_required_bad_rejected() {
    let log = signer("log", 1);
    let witness = signer("witness", 2);
    let note = sign_note("hello\n", &[&witness, &log]).unwrap();
    let opened = open_note(&note, &[log.verifier_key().clone()]).unwrap();
    assert_eq!(opened.unknown_signatures, 1);
    assert_eq!(opened.verified_by.len(), 1);
    assert_eq!(
        open_note(&note, &[signer("other", 3).verifier_key().clone()]),
        Err(NoteError::NoKnownSignature)
    );

    // Change the text: the known key's signature no longer verifies.
    let tampered = note.replacen("hello", "hellp", 1);
    assert!(matches!(
        open_note(&tampered, &[log.verifier_key().clone()]),
        Err(NoteError::BadSignature(_))
    ));

    // An impostor key with the log's name but another key ID is only "unknown".
    let impostor = signer("log", 9);
    let forged = sign_note("hello\n", &[&impostor]).unwrap();
    assert_eq!(
        open_note(&forged, &[log.verifier_key().clone()]),
        Err(NoteError::NoKnownSignature)
    );
}

#[test]
fn malformed_notes_are_rejected() {
    let log = signer("log", 1);
    let good = sign_note("a\nb\n", &[&log]).unwrap();
    let keys = [log.verifier_key().clone()];
    for bad in [
        good.replace("\n\n", "\n"),   // no blank line before signatures
        good.replace("— ", "-- "),    // signature line without EM DASH
        good.trim_end().to_string(),  // no final newline
        format!("{}\u{7}", good),     // control character
        good.replace("a\n", "a\r\n"), // CR is a control character
        String::new(),
    ] {
        assert!(
            matches!(open_note(&bad, &keys), Err(NoteError::Malformed(_))),
            "{bad:?}"
        );
    }
    assert!(matches!(
        sign_note("no newline", &[&log]),
        Err(NoteError::Malformed(_))
    ));
}

#[test]
fn checkpoint_body_rejections() {
    let h = STANDARD.encode([0u8; 32]);
    for bad in [
        format!("origin\n01\n{h}\n"), // leading zero
        format!("origin\n-1\n{h}\n"),
        "origin\n1\nAAAA\n".to_string(),  // short hash
        format!("\n1\n{h}\n"),            // empty origin
        format!("origin\n1\n{h}"),        // missing newline
        format!("origin\n1\n{h}\n\nx\n"), // empty extension line
    ] {
        assert!(
            matches!(Checkpoint::parse_body(&bad), Err(NoteError::Malformed(_))),
            "{bad:?}"
        );
    }
    let ok = Checkpoint::parse_body(&format!("origin\n18446744073709551615\n{h}\n")).unwrap();
    assert_eq!(ok.tree_size, u64::MAX);
}

#[test]
fn a_checkpoint_for_another_origin_is_refused() {
    let s = signer("log-a", 1);
    let cp = Checkpoint {
        origin: "log-a".into(),
        tree_size: 1,
        root_hash: [0; 32],
        extensions: vec![],
    };
    let note = sign_checkpoint(&cp, &[&s]).unwrap();
    match open_checkpoint(&note, &[s.verifier_key().clone()], "log-b") {
        Err(NoteError::Malformed(m)) => assert_eq!(
            m,
            "checkpoint origin \"log-a\" is not the log's origin \"log-b\""
        ),
        other => panic!("{other:?}"),
    }
}

/// The example note from the Go `note` package documentation, which the C2SP signed-note
/// spec is derived from: an independent implementation's signature must verify here.
#[test]
fn go_note_documentation_vector() {
    let key: VerifierKey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        .parse()
        .unwrap();
    let note = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n\
                \n\
                — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let opened = open_note(note, std::slice::from_ref(&key)).unwrap();
    assert_eq!(opened.verified_by, vec![key.key_ref()]);
    assert!(matches!(
        open_note(&note.replace("answer", "Answer"), &[key]),
        Err(NoteError::BadSignature(_))
    ));
}
