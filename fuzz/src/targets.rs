//! One function per parser of outside input, each taking the raw bytes a client, an
//! operator or another log could send. Beyond "never panics", each checks what is cheap to
//! check: a parsed value serialises back to what was read, a value threadlog produced
//! parses back to itself, and a document that verified under a key was signed by it.
//!
//! Shared by the libFuzzer binaries (`fuzz_targets/`) and by the stable replay of the
//! committed corpora (`tests/integration/fuzz_corpus.rs` in the main crate), so it uses only the main
//! crate's own dependencies. Signatures cannot be found by mutation, so the targets whose
//! format is signed also sign the input with a fixed test key and check the result the way
//! a log-signed document would be.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use threadlog::bundle::{self, Bundle};
use threadlog::entry::{self, Blob};
use threadlog::merkle::{self, Hash, LeafIndex, PositionError, TreeSize, MAX_TREE_SIZE};
use threadlog::note::{self, Checkpoint, NoteError, NoteSigner, VerifierKey};
use threadlog::supplychain::attest::sigstore::bundle::Bundle as SigstoreBundle;
use threadlog::supplychain::attest::{self, dsse, Check, TrustPolicy};
use threadlog::supplychain::cyclonedx::{self, CycloneDxError, Encoding};

/// A target: the raw input in, a panic on a broken invariant.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus directory.
pub const ALL: &[(&str, Target)] = &[
    ("checkpoint", checkpoint),
    ("note", note),
    ("positions", positions),
    ("event", event),
    ("sbom_json", sbom_json),
    ("sbom_xml", sbom_xml),
    ("dsse", dsse),
    ("sigstore", sigstore),
    ("policy", policy),
    ("bundle", bundle),
];

/// The origin of the test log the note and checkpoint targets sign for.
const ORIGIN: &str = "fuzz.threadlog.example/log";

/// An Ed25519 note key made from a fixed seed: a stand-in for a log's key.
struct TestKey {
    signing: ed25519_dalek::SigningKey,
    verifier: VerifierKey,
}

impl TestKey {
    /// None when `name` cannot name a note key.
    fn new(name: &str, seed: u8) -> Option<TestKey> {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let verifier = VerifierKey::from_ed25519(name, signing.verifying_key().as_bytes()).ok()?;
        Some(TestKey { signing, verifier })
    }
}

impl NoteSigner for TestKey {
    fn name(&self) -> &str {
        self.verifier.name()
    }

    fn key_id(&self) -> u32 {
        self.verifier.key_id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, NoteError> {
        Ok(self.signing.sign(msg).to_bytes().to_vec())
    }
}

static LOG_KEY: LazyLock<TestKey> =
    LazyLock::new(|| TestKey::new(ORIGIN, 1).expect("the test origin is a key name"));

/// A checkpoint body: parsing it and serialising the result gives the same text, and the
/// checkpoint signed by a log key opens to the same values. As a signed note: its body is
/// what `peek_checkpoint` reads, and no signature opens under a key that did not make it.
pub fn checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::parse_body(text) {
        let body = cp.to_body().expect("a parsed checkpoint serialises");
        assert_eq!(
            body, text,
            "a parsed checkpoint serialises to the text it was read from"
        );
        if let Some(key) = TestKey::new(&cp.origin, 2) {
            let signed = note::sign_checkpoint(&cp, &[&key]).expect("a parsed checkpoint signs");
            let (opened, by) =
                note::open_checkpoint(&signed, std::slice::from_ref(&key.verifier), &cp.origin)
                    .expect("a signed checkpoint opens under its key");
            assert_eq!(opened, cp);
            assert_eq!(by, vec![key.verifier.key_ref()]);
        }
    }
    if let Ok(cp) = note::peek_checkpoint(text) {
        if let Ok((opened, _)) =
            note::open_checkpoint(text, std::slice::from_ref(&LOG_KEY.verifier), &cp.origin)
        {
            assert_eq!(opened, cp, "the opened checkpoint is the one peeked at");
            assert_eq!(cp.origin, ORIGIN);
        }
    }
}

/// A signed note and a verifier key: a parsed key prints as it was read; a note opens only
/// with a known key's signature; any text signed by a key opens to the same text.
pub fn note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = text.parse::<VerifierKey>() {
        assert_eq!(key.as_str(), text);
        assert_eq!(key.to_string().parse::<VerifierKey>(), Ok(key.clone()));
    }
    let known = std::slice::from_ref(&LOG_KEY.verifier);
    if let Ok(opened) = note::open_note(text, known) {
        assert_eq!(opened.verified_by, vec![LOG_KEY.verifier.key_ref()]);
    }
    if let Ok(signed) = note::sign_note(text, &[&*LOG_KEY]) {
        let opened = note::open_note(&signed, known).expect("a signed note opens under its key");
        assert_eq!(
            opened.text, text,
            "a signed note opens to the text that was signed"
        );
        assert_eq!(opened.unknown_signatures, 0);
    }
}

/// Leaf indices and tree sizes as URLs, query strings and JSON carry them, then the proof
/// math the API runs on them: in range or refused, never a panic.
pub fn positions(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut named: [Option<u64>; 4] = [None; 4];
    for part in text.split(['&', '/', '\n']) {
        let (name, value) = part.split_once('=').unwrap_or(("", part));
        let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        match value.parse::<TreeSize>() {
            Ok(size) => {
                assert!(size.get() <= MAX_TREE_SIZE);
                assert_eq!(size.to_string().parse::<TreeSize>(), Ok(size));
            }
            Err(PositionError::NotANumber { .. }) => assert!(!digits, "{value:?}"),
            Err(PositionError::OutOfRange { .. }) => assert!(digits, "{value:?}"),
        }
        if let Ok(index) = value.parse::<LeafIndex>() {
            assert!(index.get() < MAX_TREE_SIZE);
        }
        let slot = ["index", "tree_size", "first", "second"]
            .iter()
            .position(|n| *n == name);
        if let (Some(slot), Ok(v)) = (slot, value.parse::<TreeSize>()) {
            named[slot] = Some(v.get());
        }
    }
    if let Ok(size) = serde_json::from_slice::<TreeSize>(data) {
        assert!(size.get() <= MAX_TREE_SIZE);
    }
    if let Ok(index) = serde_json::from_slice::<LeafIndex>(data) {
        assert!(index.get() < MAX_TREE_SIZE);
    }
    // The proof the request asks for, with hashes taken from the input.
    let proof: Vec<Hash> = data
        .chunks_exact(32)
        .take(70)
        .map(|c| Hash::from_slice(c).expect("32 bytes"))
        .collect();
    let leaf = merkle::leaf_hash(data);
    if let [Some(index), Some(size), ..] = named {
        let needed = merkle::needed_tiles_for_inclusion(index, size);
        assert_eq!(needed.is_ok(), index < size);
        let verified = merkle::verify_inclusion(&proof, index, size, &leaf, &leaf);
        assert!(verified.is_err() || index < size);
        merkle::needed_tiles_for_root(size);
        merkle::edge_tiles(size);
    }
    if let [_, _, Some(first), Some(second)] = named {
        let needed = merkle::needed_tiles_for_consistency(first, second);
        assert_eq!(needed.is_ok(), first <= second);
        let verified = merkle::verify_consistency(&proof, first, &leaf, second, &leaf);
        assert!(verified.is_err() || first <= second);
    }
}

/// An event request body: every event accepted becomes a leaf from which the store's
/// index rows derive exactly as the sequencer recorded them.
pub fn event(data: &[u8]) {
    let Ok(entries) = entry::parse_events(data, "fuzz") else {
        return;
    };
    assert!(!entries.is_empty() && entries.len() <= entry::MAX_BATCH);
    for e in entries {
        let leaf = e
            .leaf(chrono::DateTime::UNIX_EPOCH)
            .expect("the leaf's size was checked when the event was accepted");
        let derived = entry::derive(leaf.as_bytes()).expect("an accepted event's leaf derives");
        assert_eq!(derived.dedup_key.as_deref(), Some(e.dedup_key.as_str()));
        assert_eq!(derived.content_sha256, e.content_sha256);
        assert_eq!(derived.thread, e.thread);
        assert_eq!(derived.envelope.subjects, e.subjects);
        assert_eq!(derived.envelope.kind, entry::Kind::Event);
    }
}

/// A CycloneDX document: when it validates, its components read back (as many as it
/// counted) and its facts make an `sbom` entry; when it does not, the client is told where.
fn sbom(data: &[u8], encoding: Encoding) {
    let components = cyclonedx::components(data, encoding);
    match cyclonedx::validate(data, encoding) {
        Ok(v) => {
            assert_eq!(v.encoding, encoding);
            assert_eq!(v.facts.encoding, encoding.as_str());
            let components = components.expect("a valid document's components read");
            assert_eq!(components.len() as u64, v.facts.components);
            let blob = Blob::new(bytes::Bytes::copy_from_slice(data), v.media_type());
            let e = entry::prepare_sbom("pkg:cargo/fuzz@1", &v.facts, blob, "fuzz")
                .expect("a valid document makes an entry");
            let leaf = e.leaf(chrono::DateTime::UNIX_EPOCH).expect("the leaf fits");
            let derived = entry::derive(leaf.as_bytes()).expect("an sbom leaf derives");
            assert_eq!(derived.dedup_key.as_deref(), Some(e.dedup_key.as_str()));
        }
        // An unsupported version is named, with nothing to point at.
        Err(CycloneDxError::UnsupportedVersion(_)) => {}
        Err(e) => {
            let violations = e.violations();
            assert!(!violations.is_empty(), "a refusal says why: {e}");
            assert!(violations.len() <= cyclonedx::MAX_VIOLATIONS + 1);
        }
    }
}

pub fn sbom_json(data: &[u8]) {
    sbom(data, Encoding::Json);
}

pub fn sbom_xml(data: &[u8]) {
    sbom(data, Encoding::Xml);
}

/// The test suite's trust policy, with one more signer whose private key is known here.
static DSSE_POLICY: LazyLock<(TrustPolicy, ed25519_dalek::SigningKey)> = LazyLock::new(|| {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("an Ed25519 key encodes");
    let text = format!(
        "{}\n[[signers]]\nid = \"fuzz-signer\"\nname = \"fuzz\"\npublic_key = \"\"\"\n{pem}\"\"\"\n",
        include_str!("../../tests/data/attestations/policy.toml")
    );
    let policy = TrustPolicy::from_toml(&text).expect("the test policy parses");
    (policy, key)
});

/// A DSSE envelope, verified against the test policy; then the input as the payload of an
/// envelope a policy signer signed, which must pass the envelope and signature checks
/// and fail, if at all, only on what the payload says.
pub fn dsse(data: &[u8]) {
    let (policy, key) = &*DSSE_POLICY;
    if let Ok(v) = attest::verify(data, policy) {
        assert!(
            !v.signatures.is_empty(),
            "an accepted envelope has a verified signature"
        );
    }
    let message = dsse::pae(dsse::INTOTO_PAYLOAD_TYPE, data);
    let envelope = serde_json::json!({
        "payloadType": dsse::INTOTO_PAYLOAD_TYPE,
        "payload": B64.encode(data),
        "signatures": [{"keyid": "fuzz-signer", "sig": B64.encode(key.sign(&message).to_bytes())}],
    });
    let doc = serde_json::to_vec(&envelope).expect("JSON serialises");
    match attest::verify(&doc, policy) {
        Ok(v) => {
            assert_eq!(v.format, "dsse");
            assert_eq!(v.signatures.len(), 1);
            assert_eq!(v.signatures[0].signer_id, "fuzz-signer");
            assert!(!v.subjects.is_empty());
        }
        Err(e) => assert!(
            !matches!(
                e.check,
                Check::Envelope | Check::Base64 | Check::Signature | Check::Signer
            ),
            "a signed envelope was refused: {e}"
        ),
    }
}

static SIGSTORE_POLICY: LazyLock<(TrustPolicy, [u8; 32])> = LazyLock::new(|| {
    let policy = TrustPolicy::from_toml(include_str!("../../tests/data/sigstore/policy.toml"))
        .and_then(|p| {
            p.with_trusted_root(include_bytes!(
                "../../tests/data/sigstore/trusted_root.json"
            ))
        })
        .expect("the test policy and trusted root parse");
    let artifact = Sha256::digest(include_bytes!("../../tests/data/sigstore/artifact.txt")).into();
    (policy, artifact)
});

/// A Sigstore bundle, read and verified against the test trust root, about the test
/// artifact and about none.
pub fn sigstore(data: &[u8]) {
    let (policy, artifact) = &*SIGSTORE_POLICY;
    let parsed = SigstoreBundle::parse(data);
    for about in [Some(artifact), None] {
        if let Ok(v) = attest::verify_about(data, policy, about) {
            assert!(parsed.is_ok(), "a verified bundle parses");
            assert_eq!(v.format, "sigstore-bundle");
            assert!(v.sigstore.is_some());
        }
    }
}

/// A trust policy (TOML), or a Sigstore trusted root (JSON) attached to a policy: a
/// policy records the digest of its text, and what it accepts follows what it lists.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.trim_start().starts_with('{') {
        if let Ok(p) = SIGSTORE_POLICY.0.clone().with_trusted_root(data) {
            assert!(p.sigstore.root.is_some());
        }
        return;
    }
    let Ok(p) = TrustPolicy::from_toml(text) else {
        return;
    };
    assert_eq!(p.sha256, <[u8; 32]>::from(Sha256::digest(data)));
    for pred in &p.predicates {
        assert!(p.accepts_predicate(&pred.predicate_type));
    }
    let subject = attest::intoto::Subject::sha256_only("ab".repeat(32));
    for rule in &p.rules {
        rule.matches(&subject);
    }
}

/// The pinned key for bundles: the test log's.
static BUNDLE_KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::new(ORIGIN, 4).expect("key"));

/// An evidence bundle, verified offline against a pinned key; then the input as a
/// template the test log signs (see [`sign_bundle`]), whose report must describe it.
pub fn bundle(data: &[u8]) {
    if let Ok(report) = bundle::verify(data, &BUNDLE_KEY.verifier) {
        assert_eq!(report.origin, ORIGIN);
    }
    let Ok(template) = serde_json::from_slice::<Bundle>(data) else {
        return;
    };
    let Some((signed, pinned)) = sign_bundle(template) else {
        return;
    };
    let bytes = serde_json::to_vec(&signed).expect("a bundle serialises");
    if let Ok(report) = bundle::verify(&bytes, &pinned) {
        assert_eq!(report.origin, signed.origin);
        assert_eq!(report.tree_size, signed.tree_size);
        assert_eq!(report.entries, signed.entries.len());
        assert_eq!(report.key_handovers, signed.key_history.len());
        assert_eq!(report.verifier_key, signed.verifier_key);
    }
}

/// Most leaves in a template's tree.
const TEMPLATE_LEAVES: u64 = 64;

/// Makes a bundle the test log could have written from `b`, read as a template: each
/// entry's `leaf` is the leaf's text (not base64), the tree holds those leaves at their
/// indexes (filler elsewhere) and its checkpoint replaces `checkpoint`, whose text is
/// otherwise signed as it is. Each key handover gets keys `n` and `n + 1` (`$PREVIOUS`
/// and `$NEW` in its leaf name them), its checkpoint and consistency proof. Returns the
/// bundle and the key to pin.
fn sign_bundle(mut b: Bundle) -> Option<(Bundle, VerifierKey)> {
    if b.key_history.len() > 4 {
        return None;
    }
    let keys: Vec<TestKey> = (0..=b.key_history.len())
        .map(|n| TestKey::new(&b.origin, 10 + n as u8))
        .collect::<Option<_>>()?;
    let size = b.tree_size;
    let mut leaves: Vec<Vec<u8>> = (0..size.min(TEMPLATE_LEAVES))
        .map(|i| format!("{{\"filler\":{i}}}").into_bytes())
        .collect();
    for (n, h) in b.key_history.iter_mut().enumerate() {
        h.previous_key = keys[n].verifier.to_string();
        h.verifier_key = keys[n + 1].verifier.to_string();
        h.entry.leaf = h
            .entry
            .leaf
            .replace("$PREVIOUS", &h.previous_key)
            .replace("$NEW", &h.verifier_key);
        if let Some(slot) = usize::try_from(h.entry.index)
            .ok()
            .and_then(|i| leaves.get_mut(i))
        {
            *slot = h.entry.leaf.clone().into_bytes();
        }
    }
    for e in &b.entries {
        if let Some(slot) = usize::try_from(e.index)
            .ok()
            .and_then(|i| leaves.get_mut(i))
        {
            *slot = e.leaf.clone().into_bytes();
        }
    }
    let tree = (size <= TEMPLATE_LEAVES && size > 0).then(|| Tree::new(&leaves));
    let last = keys.last()?;
    for (n, h) in b.key_history.iter_mut().enumerate() {
        let signers: [&dyn NoteSigner; 2] = [&keys[n], &keys[n + 1]];
        let at = h.entry.index.checked_add(1).filter(|&s| s <= size);
        match (&tree, at) {
            (Some(t), Some(prefix)) => {
                h.checkpoint = t.checkpoint(&b.origin, prefix, &signers)?;
                h.entry.inclusion_proof = t.inclusion(h.entry.index, prefix);
                h.consistency_proof = t.consistency(prefix, size);
                h.entry.leaf = B64.encode(&h.entry.leaf);
            }
            _ => h.checkpoint = note::sign_note(&h.checkpoint, &signers).ok()?,
        }
    }
    match &tree {
        Some(t) => {
            b.checkpoint = t.checkpoint(&b.origin, size, &[last])?;
            for e in &mut b.entries {
                if e.index < size {
                    e.inclusion_proof = t.inclusion(e.index, size);
                }
                e.leaf = B64.encode(&e.leaf);
            }
            if let Some(at) = b.thread.get_mut("checkpoint").filter(|c| c.is_object()) {
                at["tree_size"] = size.into();
                at["root_hash"] = t.root(size).to_base64().into();
            }
        }
        None => b.checkpoint = note::sign_note(&b.checkpoint, &[last]).ok()?,
    }
    b.verifier_key = last.verifier.to_string();
    Some((b, keys[0].verifier.clone()))
}

/// A small tree built from its leaves, for signing templates.
struct Tree {
    tiles: merkle::TileSet,
    leaf_hashes: Vec<Hash>,
}

impl Tree {
    fn new(leaves: &[Vec<u8>]) -> Tree {
        let leaf_hashes: Vec<Hash> = leaves.iter().map(|l| merkle::leaf_hash(l)).collect();
        let appended = merkle::append(0, merkle::TileSet::new(), &leaf_hashes)
            .expect("a tree builds from its leaves");
        let mut tiles = merkle::TileSet::new();
        for (id, data) in appended.tiles {
            tiles.insert(id, data);
        }
        Tree { tiles, leaf_hashes }
    }

    fn root(&self, size: u64) -> Hash {
        merkle::tree_root(&self.tiles, size).expect("the tree holds its roots")
    }

    fn checkpoint(&self, origin: &str, size: u64, signers: &[&dyn NoteSigner]) -> Option<String> {
        debug_assert!(size as usize <= self.leaf_hashes.len());
        let cp = Checkpoint {
            origin: origin.to_string(),
            tree_size: size,
            root_hash: self.root(size).0,
            extensions: Vec::new(),
        };
        note::sign_checkpoint(&cp, signers).ok()
    }

    fn inclusion(&self, index: u64, size: u64) -> Vec<String> {
        let proof = merkle::inclusion_proof(&self.tiles, index, size).expect("the tree proves");
        proof.iter().map(Hash::to_base64).collect()
    }

    fn consistency(&self, first: u64, second: u64) -> Vec<String> {
        let proof = merkle::consistency_proof(&self.tiles, first, second).expect("the tree proves");
        proof.iter().map(Hash::to_base64).collect()
    }
}
