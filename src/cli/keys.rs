//! `threadlog keys …`: signing-key administration from the command line.
//!
//! Owns argument shapes and printing only; key handling lives in `threadlog::signer`.
//! `keys status` asks the running server (`GET /v1/keys` with an admin token) rather than
//! opening the key itself: only the serving process knows when its key last signed, and
//! the status command then needs neither the PIN nor a session of the token.
//! `keys rotate` opens the store and both keys itself, exactly as `serve` does (same
//! store and signer options), and leaves the rotation to `threadlog::ledger::rotate`.
//! The PIN is read from the environment (THREADLOG_PKCS11_PIN or
//! THREADLOG_PKCS11_PIN_FILE), never from a flag, so it stays out of shell history and
//! process listings.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use threadlog::config::{StoreArgs, DEFAULT_ORIGIN};
use threadlog::entry::KeyEvent;
use threadlog::signer::pkcs11::{self, Pkcs11Spec, TokenRef, SLOT_ENV};
use threadlog::{ledger, server, store};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate an Ed25519 key pair in a PKCS#11 token (or adopt the one with that label)
    /// and print its verifier key and the THREADLOG_SIGNER value to use.
    Init(InitArgs),
    /// Show the running server's signing key: kind, location, key ID, whether it signs
    /// right now, its last signature and the key history. Exits 1 when the key does not
    /// answer.
    Status(StatusArgs),
    /// Rotate the log to a new key: appends a `key` entry whose checkpoint both keys
    /// sign; later checkpoints are signed by the new key only. Servers still running
    /// with the old key refuse appends until restarted with the new one.
    Rotate(RotateArgs),
}

#[derive(Args)]
pub struct RotateArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The key that signs the log now, as for `serve`: `file:PATH` or `pkcs11:…`.
    /// Default: file:<data dir>/log.key
    #[arg(long, env = "THREADLOG_SIGNER")]
    signer: Option<String>,
    /// The new key: `file:PATH` (an Ed25519 key file, created if missing) or
    /// `pkcs11:module=PATH;token=LABEL;key=KEYLABEL` (made with `keys init`).
    #[arg(long)]
    new_signer: String,
    /// Also retire the current key: a checkpoint it signs after this one fails
    /// verification. Use it when the old key is destroyed or suspected leaked.
    #[arg(long)]
    retire: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The server, e.g. http://127.0.0.1:8080
    #[arg(long, env = "THREADLOG_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An admin token.
    #[arg(long, env = "THREADLOG_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    json: bool,
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

pub async fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        // Talks to the token synchronously; the CLI has nothing else to run meanwhile.
        KeysCommand::Init(args) => init(args).map(|_| ExitCode::SUCCESS),
        KeysCommand::Status(args) => status(args).await,
        KeysCommand::Rotate(args) => rotate(args).await.map(|_| ExitCode::SUCCESS),
    }
}

async fn rotate(args: RotateArgs) -> Result<()> {
    let url = args.store.url();
    let store = store::open(&url)
        .await
        .with_context(|| format!("opening {}", store::redact(&url)))?;
    let origin = ledger::stored_origin(store.as_ref())
        .await?
        .context("the store holds no log; create it with `threadlog init`")?;
    let current = args
        .signer
        .clone()
        .unwrap_or_else(|| format!("file:{}", args.store.data_dir.join("log.key").display()));
    // The current key must exist: creating one here would only fail later, less clearly.
    if let Some(path) = current.strip_prefix("file:") {
        if !std::path::Path::new(path).exists() {
            bail!("the current key file {path} does not exist; pass the log's key with --signer");
        }
    }
    let (old, _) = server::open_signer_spec(&current, &origin).context("the current key")?;
    let (new, created) =
        server::open_signer_spec(&args.new_signer, &origin).context("the new key")?;
    let event = if args.retire {
        KeyEvent::Retired
    } else {
        KeyEvent::Rotated
    };
    let done = ledger::rotate(store.as_ref(), old.as_ref(), new.as_ref(), event).await?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "event": done.event,
                "previous_key": done.previous_key,
                "verifier_key": done.verifier_key,
                "entry_index": done.entry_index,
                "tree_size": done.tree_size,
                "integrated_at": done.integrated_at,
                "new_key_created": created,
                "signer": args.new_signer,
            })
        );
    } else {
        println!(
            "{} {} -> {} at entry {}; checkpoint {} carries both signatures",
            done.event.as_str(),
            done.previous_key,
            done.verifier_key,
            done.entry_index,
            done.tree_size
        );
        println!("verifier key: {}", done.verifier_key);
        println!(
            "restart every server with THREADLOG_SIGNER={} (servers with the old key now refuse appends)",
            args.new_signer
        );
    }
    Ok(())
}

async fn status(args: StatusArgs) -> Result<ExitCode> {
    let token = args
        .token
        .context("an admin token is required: set THREADLOG_TOKEN or pass --token")?;
    let keys: Value = threadlog_client::Client::new(&args.url, Some(&token))?
        .get_json("/v1/keys", &[])
        .await?;
    if args.json {
        println!("{keys}");
    } else {
        print_status(&keys);
    }
    // 1 like a failed `verify`: the question was answered, and the answer is no.
    // Errors (no server, no admin token) exit 2.
    Ok(if keys["answering"] == true {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_status(keys: &Value) {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let loc = &keys["location"];
    let location = match loc["kind"].as_str() {
        Some("pkcs11") => format!(
            "module {}, token {:?} (slot {}), key label {:?}, CKA_ID {}",
            text(&loc["module"]),
            text(&loc["token_label"]),
            loc["slot"],
            text(&loc["key_label"]),
            text(&loc["cka_id"])
        ),
        Some("file") => format!("key file {}", text(&loc["path"])),
        _ => loc.to_string(),
    };
    println!("signer:          {}", text(&keys["kind"]));
    println!("location:        {location}");
    println!("key ID:          {}", text(&keys["key_id"]));
    println!("verifier key:    {}", text(&keys["verifier_key"]));
    if keys["answering"] == true {
        println!("answering:       yes (live test signature verified)");
    } else {
        println!("answering:       NO: {}", text(&keys["probe_error"]));
    }
    println!(
        "last signature:  {}",
        keys["last_signature_at"]
            .as_str()
            .unwrap_or("none since the server started")
    );
    println!("key history:");
    for k in keys["history"].as_array().into_iter().flatten() {
        let by = match (k["entry_index"].as_u64(), k["event"].as_str()) {
            (Some(i), Some(event)) => format!(", {event} by key entry {i}"),
            _ => String::new(),
        };
        println!(
            "  from tree size {} ({}{by}): {}{}",
            k["introduced_at_tree_size"],
            text(&k["introduced_at"]),
            text(&k["verifier_key"]),
            if k["current"] == true {
                "  [current]"
            } else {
                ""
            }
        );
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
        key_id: None,
        pin: None,
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
