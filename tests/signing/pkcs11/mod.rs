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

mod keys;
mod refusals;
mod server;

pub(super) const ORIGIN: &str = "plant.example/threadlog";

pub(super) fn tokens() -> &'static Tokens {
    softhsm::tokens()
}

pub(super) fn pin() -> SecretString {
    PIN.to_string().into()
}

pub(super) fn spec(token: &str, key: &str) -> Pkcs11Spec {
    Pkcs11Spec::parse(&softhsm::spec(token, key), None).unwrap()
}

pub(super) fn init(token: &str, key: &str, origin: &str) -> KeyInit {
    tokens();
    init_key(&spec(token, key), pin(), origin).expect("keys init")
}
