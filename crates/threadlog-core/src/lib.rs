//! threadlog-core: everything an outside auditor must trust to check a threadlog log, and
//! nothing else.
//!
//! Layers, each depending only on those above it in this list:
//! - `merkle` (RFC 9162 tree math and C2SP tiles) and `note` (signed notes, checkpoints);
//! - `time` (the one text form of a time) and `entry` (the canonical leaf envelope, the
//!   kinds whose rules need no outside library, and the edges an event creates);
//! - `keychain` (key-history rules) and `graph` (the thread answer derived from leaves);
//! - `bundle` (the evidence-bundle format and its offline verifier) and `receipt` (what an
//!   append answers, checked offline the same way).
//!
//! Pure: no I/O, no clock, no threads, no database, HSM, XML or HTTP library. It builds
//! for `wasm32-unknown-unknown`, so the same verifier runs in a browser.

pub mod bundle;
pub mod entry;
pub mod graph;
pub mod keychain;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod time;
