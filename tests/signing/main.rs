//! Signing keys: PKCS#11 on SoftHSM2 (sessions, keys, and a token that disappears or
//! misbehaves) and key rotation. A binary of its own because SoftHSM's environment is set
//! once for the whole process.

#[path = "../common/mod.rs"]
mod common;

mod pkcs11;
mod pkcs11_faults;
mod rotation;
