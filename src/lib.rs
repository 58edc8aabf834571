//! threadlog: an append-only, signed, Merkle-chained ledger for a plant's digital thread.
//!
//! The auditor's trusted core is its own crate, `threadlog_core` (the Merkle tree, signed
//! notes, leaf formats, key history, the thread derivation and the evidence-bundle
//! verifier), re-exported here as `merkle`, `note`, `bundle` and `receipt`. On top of it, each layer
//! depending only on those below: `entry` (the kinds that need the server's libraries),
//! `controls` (NIST SP 800-171 catalogs) and `escape` (uploaded text in HTML, Markdown and
//! DOT); `signer` and `store` (key and storage behind small traits); `sequencer` (group
//! commit); `audit` (full verification), `dump` (moving a log between stores) and `thread`
//! (genealogy traces, recall impact, building bundles); `api` (HTTP) and `server`
//! (start-up) on top.

pub mod api;
pub mod audit;
pub mod compliance;
pub mod config;
pub mod controls;
pub mod dump;
pub mod entry;
pub mod escape;
pub mod ledger;
pub mod sequencer;
pub mod server;
pub mod signer;
pub mod store;
pub mod supplychain;
pub mod thread;
pub mod time;

// The auditor's trusted core, under the names the rest of the crate uses.
pub use threadlog_core::{bundle, merkle, note, receipt};
