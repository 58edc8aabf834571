//! `threadlog verify`: the whole log against a server (`--url`) or a database
//! (`--database`), or an evidence bundle or a receipt offline (`--bundle`, `--receipt`);
//! the state file that catches rollbacks and forks between runs; printing the result, as
//! JSON on every exit with `--json`. The checking itself is `threadlog::audit` and the
//! core's `bundle` and `receipt`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use threadlog::audit::{self, HttpSource, Previous, Report, Source, StoreSource};
use threadlog::compliance::recheck::Recheck;
use threadlog::note::VerifierKey;
use threadlog::receipt::Receipt;
use threadlog::store;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Base URL of a threadlog server, e.g. https://threadlog.plant.example
    #[arg(long, conflicts_with_all = ["database", "bundle"])]
    url: Option<String>,
    /// An evidence bundle written by `threadlog export --subject`, checked offline with
    /// --key (no server, no database).
    #[arg(long, conflicts_with = "database")]
    bundle: Option<PathBuf>,
    /// A receipt an append answered with (the JSON object), checked offline with --key:
    /// the checkpoint's signature and the entry's inclusion proof.
    #[arg(long, conflicts_with_all = ["database", "url", "bundle"])]
    receipt: Option<PathBuf>,
    /// With --receipt: the entry's exact leaf bytes, which the receipt must name.
    #[arg(long, requires = "receipt")]
    leaf: Option<PathBuf>,
    /// Database URL of a log to check directly (operators).
    #[arg(long)]
    database: Option<String>,
    /// The log's first verifier key (`name+keyid+base64`); rotations are followed from it
    /// through the logged key entries. Required with --url and --bundle; with --database
    /// it defaults to the first key the database's key entries record.
    #[arg(long)]
    key: Option<String>,
    /// Auditor token for --url.
    #[arg(long, env = "THREADLOG_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// File remembering the checkpoint of the previous run, to catch rollbacks and forks.
    /// Default: $HOME/.local/state/threadlog/verify-<keyid>.json (with --url).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Do not read or write the state file.
    #[arg(long)]
    no_state: bool,
    /// A saved JSON compliance report to re-derive from the log: fails if any figure,
    /// proof or the checkpoint it is bound to differs.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Whether the command line (which did not parse) asks for `verify --json`.
pub fn json_requested() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    args.first().is_some_and(|a| a == "verify") && args.iter().any(|a| a == "--json")
}

/// `verify --json` on a failure that is not a verification result (usage, I/O,
/// network): the message and each of its causes, outermost first.
pub fn print_failure_json(exit_code: i32, causes: &[String]) {
    println!(
        "{}",
        serde_json::json!({
            "ok": false,
            "exit_code": exit_code,
            "error": causes.first().cloned().unwrap_or_default(),
            "causes": causes,
        })
    );
}

fn default_state_path(key: &VerifierKey) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(format!(
        ".local/state/threadlog/verify-{:08x}.json",
        key.key_id()
    )))
}

/// The pinned key an offline check (`--bundle`, `--receipt`) needs.
fn pinned_key(key: Option<&str>, with: &str) -> Result<VerifierKey> {
    key.with_context(|| format!("--key VERIFIER_KEY is required with {with}"))?
        .parse()
        .context("--key")
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Prints an offline check's result, as JSON or as text, and gives its exit code.
fn offline_result<R: serde::Serialize, F: serde::Serialize + std::fmt::Display>(
    result: &std::result::Result<R, F>,
    json: bool,
    text: impl FnOnce(&R) -> String,
) -> Result<ExitCode> {
    if json {
        let v = match result {
            Ok(r) => serde_json::json!({ "ok": true, "report": r }),
            Err(f) => serde_json::json!({ "ok": false, "failure": f }),
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match result {
            Ok(r) => println!("{}", text(r)),
            Err(f) => println!("FAILED at {f}"),
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `verify --bundle`: offline, with the pinned key and the core crate alone.
fn verify_bundle(path: &Path, key: Option<&str>, json: bool) -> Result<ExitCode> {
    let key = pinned_key(key, "--bundle")?;
    let result = threadlog::bundle::verify(&read_file(path)?, &key);
    offline_result(&result, json, |r| {
        format!(
            "OK: {} entries of {} proved at tree size {}, root {}\n  thread of {}: {} edges \
             and {} correction(s), derived again from the proved entries; checkpoint signed \
             by {}{}",
            r.entries,
            r.origin,
            r.tree_size,
            r.root_hash,
            r.subject,
            r.edges,
            r.corrections,
            r.verifier_key,
            if r.key_handovers > 0 {
                format!(" ({} key handovers followed)", r.key_handovers)
            } else {
                String::new()
            }
        )
    })
}

/// `verify --receipt`: one append's receipt, offline, with the key that signed it; with
/// `--leaf`, also that it is the receipt of exactly those leaf bytes.
fn verify_receipt(args: &VerifyArgs, path: &Path) -> Result<ExitCode> {
    let key = pinned_key(args.key.as_deref(), "--receipt")?;
    let receipt: Receipt = serde_json::from_slice(&read_file(path)?)
        .with_context(|| format!("{} is not a threadlog receipt", path.display()))?;
    let leaf = args.leaf.as_deref().map(read_file).transpose()?;
    let result = receipt.verify(&key, leaf.as_deref());
    offline_result(&result, args.json, |r| {
        format!(
            "OK: entry {} of {} is in the tree of size {} (root {}) the key signed",
            r.index, r.origin, r.tree_size, r.root_hash
        )
    })
}

/// What a `--url` or `--database` audit reads: the source, the key it starts from, and
/// the state file of the previous run (none with `--no-state`).
type Audited = (Box<dyn Source>, VerifierKey, Option<PathBuf>);

async fn open_source(args: &VerifyArgs) -> Result<Audited> {
    match (&args.url, &args.database) {
        (Some(url), None) => {
            let key: VerifierKey = args
                .key
                .as_deref()
                .context("--key VERIFIER_KEY is required with --url")?
                .parse()
                .context("--key")?;
            let token = args
                .token
                .clone()
                .context("an auditor token is required: set THREADLOG_TOKEN or pass --token")?;
            let state = if args.no_state {
                None
            } else {
                args.state.clone().or_else(|| default_state_path(&key))
            };
            Ok((Box::new(HttpSource::new(url, &token)?), key, state))
        }
        (None, Some(db)) => {
            // Read-only: the audit must not change what it audits.
            let store = store::open_read_only(db)
                .await
                .context("cannot open the database")?;
            let key: VerifierKey = match &args.key {
                Some(k) => k.parse().context("--key")?,
                // The log's first key: verification follows the rotations from it.
                None => threadlog::ledger::logged_keys(store.as_ref())
                    .await
                    .context("the database holds no log")?
                    .swap_remove(0)
                    .verifier_key
                    .parse()
                    .context("the database's first verifier key")?,
            };
            let state = if args.no_state {
                None
            } else {
                args.state.clone()
            };
            Ok((Box::new(StoreSource::new(store)), key, state))
        }
        _ => bail!(
            "give --url URL (with --key), --database URL, or --bundle FILE or --receipt FILE \
             (with --key)"
        ),
    }
}

/// The tree the previous run saw, if the state file exists.
fn read_state(path: Option<&PathBuf>) -> Result<Option<Previous>> {
    match path {
        Some(p) if p.exists() => Ok(Some(
            serde_json::from_slice(
                &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("state file {} is not valid", p.display()))?,
        )),
        _ => Ok(None),
    }
}

pub async fn run(args: VerifyArgs) -> Result<ExitCode> {
    if let Some(path) = &args.bundle {
        return verify_bundle(path, args.key.as_deref(), args.json);
    }
    if let Some(path) = &args.receipt {
        return verify_receipt(&args, path);
    }
    let (source, key, state_path) = open_source(&args).await?;
    let previous = read_state(state_path.as_ref())?;

    let bar = super::progress("verifying", args.json);
    let report = audit::verify(source.as_ref(), &key, previous.as_ref(), &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();

    if report.ok {
        if let Some(p) = &state_path {
            save_state(p, &report)?;
        }
    }
    let recheck = match (&args.report, report.ok) {
        (Some(path), true) => {
            let keys: Vec<String> = report.keys.iter().map(|k| k.verifier_key.clone()).collect();
            Some(
                super::report::check_saved(path, source.as_ref(), &keys, &report.origin, args.json)
                    .await?,
            )
        }
        _ => None,
    };
    print_report(&report, recheck.as_ref(), args.json);
    let recheck_ok = recheck.as_ref().is_none_or(|r| r.ok);
    Ok(if report.ok && recheck_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn save_state(path: &PathBuf, report: &Report) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let state = Previous {
        origin: report.origin.clone(),
        tree_size: report.tree_size,
        root_hash: report.root_hash.clone(),
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&state)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn print_report(r: &Report, recheck: Option<&Recheck>, json: bool) {
    if json {
        let mut v = serde_json::to_value(r).unwrap_or_default();
        if let Some(c) = recheck {
            v["compliance_report"] = serde_json::to_value(c).unwrap_or_default();
        }
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    if let Some(c) = recheck {
        if c.ok {
            println!(
                "compliance report at tree size {} re-derived: {} results, {} inclusion proofs checked",
                c.tree_size, c.results_considered, c.proofs_checked
            );
        } else {
            println!(
                "COMPLIANCE REPORT DIFFERS from the log at tree size {}:",
                c.tree_size
            );
            for p in &c.problems {
                println!("  {p}");
            }
        }
    }
    if let Some(f) = &r.failure {
        println!("FAILED: {}", f.reason);
        if let Some(i) = f.index {
            println!("  first bad entry: index {i}");
        }
        if let Some(c) = f.checkpoint {
            println!("  checkpoint: tree size {c}");
        }
        if let Some(t) = &f.tile {
            println!("  tile: {t}");
        }
    } else {
        println!(
            "OK: {} entries, tree size {}, root {}",
            r.entries_checked, r.tree_size, r.root_hash
        );
        println!(
            "  {} checkpoints and {} tiles checked{}",
            r.checkpoints_checked,
            r.tiles_checked,
            r.consistent_with_previous
                .map(|p| format!("; consistent with the previous run at size {p}"))
                .unwrap_or_default()
        );
        // The keys followed from the pinned one: an auditor sees every handover.
        if r.keys.len() > 1 {
            for k in &r.keys {
                match (k.entry_index, k.event) {
                    (Some(i), Some(e)) => println!(
                        "  key from tree size {} ({} by key entry {i}): {}",
                        k.from_tree_size,
                        e.as_str(),
                        k.verifier_key
                    ),
                    _ => println!("  key from tree size 0 (pinned): {}", k.verifier_key),
                }
            }
        }
    }
}
