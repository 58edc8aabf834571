//! threadlog: an append-only, signed, Merkle-chained ledger for a plant's digital thread.
//!
//! Layers, each depending only on those below it: `merkle` and `note` (pure, the
//! auditor's trusted core) and `bundle` (evidence bundles, verified with the core alone);
//! `entry` (leaf envelopes and the edges they create), `controls` (NIST SP 800-171
//! catalogs) and `escape` (uploaded text in HTML, Markdown and DOT); `signer` and `store` (key and storage behind small traits); `sequencer`
//! (group commit); `audit` (full verification), `dump` (moving a log between stores) and
//! `thread` (genealogy traces, recall impact, building bundles); `api` (HTTP) and
//! `server` (start-up) on top.

pub mod api;
pub mod audit;
pub mod bundle;
pub mod compliance;
pub mod config;
pub mod controls;
pub mod dump;
pub mod entry;
pub mod escape;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod sequencer;
pub mod server;
pub mod signer;
pub mod store;
pub mod supplychain;
pub mod thread;
pub mod time;
