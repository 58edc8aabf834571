//! Signed notes and checkpoints: C2SP `signed-note` (Ed25519) and `tlog-checkpoint`.
//!
//! Part of the auditor's trusted core: pure encoding, parsing and signature checks, no I/O,
//! nothing else from this crate. Signing goes through the [`NoteSigner`] trait, so a key
//! file, an HSM and an in-memory key ([`Ed25519Signer`]) sign the same way. The wire formats come from Cloudflare's
//! `signed_note` and `tlog_tiles` crates, wrapped here so either can be replaced.
//!
//! Specs: <https://c2sp.org/signed-note>, <https://c2sp.org/tlog-checkpoint>.

mod checkpoint;
mod signed;

pub use checkpoint::{open_checkpoint, peek_checkpoint, sign_checkpoint, Checkpoint};
pub use signed::{
    open_note, sign_note, Ed25519Signer, KeyRef, NoteError, NoteSigner, OpenedNote, VerifierKey,
};
