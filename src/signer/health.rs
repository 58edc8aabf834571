//! The signer's readiness, as `/readyz` sees it: a probe result reused for a short while.
//!
//! A probe is a real signature; through an HSM it costs a round trip and takes one of the
//! few pooled sessions, so readiness polls (every few seconds from each load balancer and
//! orchestrator) must not each cause one. The cached result is at most [`PROBE_MAX_AGE`]
//! old; one caller probes while others wait for its answer instead of probing too.
//! Live probes (`GET /v1/keys`) take the same lock, so at most one probe is in flight:
//! the PKCS#11 pool has two sessions, and the other stays free for checkpoint signing.
//! Must not be called on the async executor: probing blocks.

use super::Signer;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a probe result stands for readiness.
pub const PROBE_MAX_AGE: Duration = Duration::from_secs(2);

pub struct SignerHealth {
    signer: Arc<dyn Signer>,
    max_age: Duration,
    /// The last probe: when it ended and its outcome (the reason on failure).
    last: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl SignerHealth {
    pub fn new(signer: Arc<dyn Signer>, max_age: Duration) -> Self {
        SignerHealth {
            signer,
            max_age,
            last: Mutex::new(None),
        }
    }

    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    /// The probe outcome, probing only when the last one is older than the maximum age.
    pub fn cached(&self) -> Result<(), String> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, outcome)) = last.as_ref() {
            if at.elapsed() < self.max_age {
                return outcome.clone();
            }
        }
        let outcome = self.run_probe();
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }

    /// A probe now, whatever the cache holds; its outcome refreshes the cache.
    pub fn live(&self) -> Result<(), String> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = self.run_probe();
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }

    fn run_probe(&self) -> Result<(), String> {
        self.signer.probe().map_err(|e| {
            format!(
                "signer {} ({}) does not answer: {e}",
                self.signer.kind(),
                self.signer.location()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::FileSigner;

    #[test]
    fn a_probe_signs_and_is_cached_for_the_maximum_age() {
        let dir = tempfile::tempdir().unwrap();
        let (signer, _) = FileSigner::open_or_create(&dir.path().join("k"), "origin").unwrap();
        let signer: Arc<dyn Signer> = Arc::new(signer);
        assert!(signer.last_signature_at().is_none());
        let health = SignerHealth::new(signer.clone(), Duration::from_secs(60));
        health.cached().unwrap();
        let first = signer.last_signature_at().expect("the probe signed");
        std::thread::sleep(Duration::from_millis(5));
        health.cached().unwrap();
        assert_eq!(signer.last_signature_at(), Some(first), "served from cache");
        health.live().unwrap();
        assert!(
            signer.last_signature_at().unwrap() > first,
            "a live probe signs"
        );
    }
}
