//! Start-up refusals say which setting is wrong and how to fix it; a wrong PIN is refused.

use super::*;

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
