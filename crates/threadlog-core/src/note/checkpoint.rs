//! The tlog-checkpoint body: origin line, decimal tree size, base64 root hash, then
//! optional extension lines; carried as the text of a signed note.

use super::signed::{open_note, sign_note, KeyRef, NoteError, NoteSigner, VerifierKey};

/// A tree head: what a signed checkpoint commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub tree_size: u64,
    /// The root hash; a plain array so this module needs nothing from `merkle`.
    pub root_hash: [u8; 32],
    /// Extension lines, each non-empty, without their newline.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, size, root, extension lines, each ending in a newline.
    pub fn to_body(&self) -> Result<String, NoteError> {
        let ext: String = self.extensions.iter().map(|l| format!("{l}\n")).collect();
        let cp = tlog_tiles::Checkpoint::new(
            &self.origin,
            self.tree_size,
            tlog_tiles::Hash(self.root_hash),
            &ext,
        )
        .map_err(|_| NoteError::Malformed("origin empty or extension line empty".into()))?;
        if self.origin.contains('\n') || self.extensions.iter().any(|l| l.contains('\n')) {
            return Err(NoteError::Malformed(
                "a checkpoint line contains a newline".into(),
            ));
        }
        let body =
            String::from_utf8(cp.to_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))?;
        check_note_text(&body)?;
        Ok(body)
    }

    /// Parses a checkpoint body (the text of the note, not the signed note).
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        check_note_text(body)?;
        let cp = tlog_tiles::Checkpoint::from_bytes(body.as_bytes())
            .map_err(|e| NoteError::Malformed(e.to_string()))?;
        Ok(Checkpoint {
            origin: cp.origin().to_string(),
            tree_size: cp.size(),
            root_hash: cp.hash().0,
            extensions: cp.extension().lines().map(str::to_string).collect(),
        })
    }
}

/// A checkpoint is the text of a signed note, which holds no control character but the
/// newline: a body that no note can carry is not a checkpoint any log could have signed.
fn check_note_text(body: &str) -> Result<(), NoteError> {
    match body.chars().find(|&c| c < ' ' && c != '\n') {
        Some(c) => Err(NoteError::Malformed(format!(
            "a checkpoint line contains the control character {c:?}"
        ))),
        None => Ok(()),
    }
}

/// Signs a checkpoint with every signer; the result is the signed note text.
pub fn sign_checkpoint(cp: &Checkpoint, signers: &[&dyn NoteSigner]) -> Result<String, NoteError> {
    sign_note(&cp.to_body()?, signers)
}

/// Reads a signed checkpoint's body WITHOUT checking any signature: for a verifier that
/// learns which keys may sign only by reading the log up to the checkpoint. Nothing in
/// the result may be trusted before [`open_checkpoint`] accepted the same note.
pub fn peek_checkpoint(note: &str) -> Result<Checkpoint, NoteError> {
    let parsed = signed_note::Note::from_bytes(note.as_bytes())
        .map_err(|e| NoteError::Malformed(e.to_string()))?;
    let text =
        std::str::from_utf8(parsed.text()).map_err(|e| NoteError::Malformed(e.to_string()))?;
    Checkpoint::parse_body(text)
}

/// Opens a signed checkpoint: checks signatures (see [`open_note`]) and the body format,
/// and that the origin is the one the keys are for: a checkpoint of another log signed by
/// a key of the same name must not pass.
pub fn open_checkpoint(
    note: &str,
    known: &[VerifierKey],
    origin: &str,
) -> Result<(Checkpoint, Vec<KeyRef>), NoteError> {
    let opened = open_note(note, known)?;
    let cp = Checkpoint::parse_body(&opened.text)?;
    if cp.origin != origin {
        return Err(NoteError::Malformed(format!(
            "checkpoint origin {:?} is not the log's origin {origin:?}",
            cp.origin
        )));
    }
    Ok((cp, opened.verified_by))
}
