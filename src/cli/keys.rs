//! `threadlog keys …`: signing-key administration from the command line.
//!
//! Owns argument shapes and printing only; key handling lives in `threadlog::signer`.
//! The PIN is read from the environment (THREADLOG_PKCS11_PIN or
//! THREADLOG_PKCS11_PIN_FILE), never from a flag, so it stays out of shell history and
//! process listings.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use threadlog::config::DEFAULT_ORIGIN;
use threadlog::signer::pkcs11::{self, Pkcs11Spec, TokenRef, SLOT_ENV};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate an Ed25519 key pair in a PKCS#11 token (or adopt the one with that label)
    /// and print its verifier key and the THREADLOG_SIGNER value to use.
    Init(InitArgs),
}

#[derive(Args)]
pub struct InitArgs {
    /// The PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so
    #[arg(long = "pkcs11-module")]
    module: PathBuf,
    /// Slot id of the token. Default: HSM_SLOT, unless --token-label is given.
    #[arg(long, conflicts_with = "token_label")]
    slot: Option<u64>,
    /// Label of the token (preferred: slot ids change when a token is initialised).
    #[arg(long)]
    token_label: Option<String>,
    /// Label (CKA_LABEL) of the key pair to generate or adopt.
    #[arg(long)]
    label: String,
    /// The log's origin; it names the verifier key.
    #[arg(long, env = "THREADLOG_ORIGIN", default_value = DEFAULT_ORIGIN)]
    origin: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::Init(args) => init(args),
    }
}

fn init(args: InitArgs) -> Result<()> {
    let token = match (args.token_label, args.slot, std::env::var(SLOT_ENV).ok()) {
        (Some(label), _, _) => TokenRef::Label(label),
        (None, Some(slot), _) => TokenRef::Slot(slot),
        (None, None, Some(s)) => TokenRef::Slot(
            s.trim()
                .parse()
                .with_context(|| format!("{SLOT_ENV}={s:?} is not a slot number"))?,
        ),
        (None, None, None) => {
            anyhow::bail!("give --token-label LABEL or --slot N (or set HSM_SLOT)")
        }
    };
    let spec = Pkcs11Spec {
        module: args.module,
        token,
        key_label: args.label,
    };
    let pin = pkcs11::pin_from_env()?;
    let done = pkcs11::init_key(&spec, pin, &args.origin)?;
    let info = &done.info;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "created": done.created,
                "verifier_key": done.verifier_key.to_string(),
                "signer": done.signer_spec,
                "module": info.module,
                "slot": info.slot,
                "token_label": info.token_label,
                "key_label": info.key_label,
                "key_id": info.key_id,
            })
        );
    } else {
        let what = if done.created {
            "generated a new"
        } else {
            "adopted the existing"
        };
        println!(
            "{what} Ed25519 key {:?} (CKA_ID {}) in token {:?}, slot {}",
            info.key_label, info.key_id, info.token_label, info.slot
        );
        println!("verifier key: {}", done.verifier_key);
        println!("THREADLOG_SIGNER={}", done.signer_spec);
    }
    Ok(())
}
