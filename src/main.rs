//! The `threadlog` command: parses arguments and wires library parts together.
//! No log logic lives here.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use threadlog::api::auth::{new_token, token_hash, Role};
use threadlog::audit::{self, HttpSource, Previous, Report, Source, StoreSource};
use threadlog::compliance::recheck::Recheck;
use threadlog::config::{ServeConfig, StoreArgs};
use threadlog::note::VerifierKey;
use threadlog::{server, store};

mod cli;

#[derive(Parser)]
#[command(
    name = "threadlog",
    version,
    about = "Append-only, signed, Merkle-chained ledger for a plant's digital thread"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (creates the database and key on first start).
    Serve {
        #[command(flatten)]
        config: ServeConfig,
        /// Print the start-up facts (origin, verifier key, address) as one JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the log's signing key: create HSM keys, show status, rotate.
    Keys {
        #[command(subcommand)]
        command: cli::keys::KeysCommand,
    },
    /// Verify the whole log (against a server with --url, or a database with
    /// --database), or an evidence bundle offline (--bundle).
    Verify(VerifyArgs),
    /// A NIST SP 800-171 compliance report as of a checkpoint (json, md, html, oscal).
    Report(cli::report::ReportArgs),
    /// Write the whole log (leaves, checkpoints, key history) to a verifiable dump
    /// directory, or with --subject an evidence bundle about one node to a file.
    Export(cli::dump::ExportArgs),
    /// Load a dump into an empty store of either backend, verifying it on the way.
    Import(cli::dump::ImportArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// producer, ci, assessor, auditor or admin.
        #[arg(long)]
        role: String,
        /// Who holds the token; recorded as the submitter of what it appends.
        #[arg(long)]
        name: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct VerifyArgs {
    /// Base URL of a threadlog server, e.g. https://threadlog.plant.example
    #[arg(long, conflicts_with_all = ["database", "bundle"])]
    url: Option<String>,
    /// An evidence bundle written by `threadlog export --subject`, checked offline with
    /// --key (no server, no database).
    #[arg(long, conflicts_with = "database")]
    bundle: Option<PathBuf>,
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
    json: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, json } => serve(config, json).await.map(|_| ExitCode::SUCCESS),
        Command::Token {
            command:
                TokenCommand::Create {
                    store,
                    role,
                    name,
                    json,
                },
        } => token_create(store, &role, name, json)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Keys { command } => cli::keys::run(command).await,
        Command::Verify(args) => verify(args).await,
        Command::Report(args) => cli::report::run(args).await.map(|_| ExitCode::SUCCESS),
        Command::Export(args) => cli::dump::export(args).await.map(|_| ExitCode::SUCCESS),
        Command::Import(args) => cli::dump::import(args).await.map(|_| ExitCode::SUCCESS),
        Command::Migrate { store, json } => migrate(store, json).await.map(|_| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn serve(cfg: ServeConfig, json: bool) -> Result<()> {
    let started = server::start(&cfg).await.context("cannot start")?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "origin": started.state.origin,
                "verifier_key": started.state.verifier_key.to_string(),
                "tree_size": started.tree_size,
                "signer": { "kind": started.signer_kind, "location": started.signer_location },
                "listen": format!("http://{addr}"),
                "key_created": started.key_created,
            })
        );
    } else {
        println!("origin: {}", started.state.origin);
        println!("verifier key: {}", started.state.verifier_key);
        println!(
            "signing key: {} {}",
            started.signer_kind, started.signer_location
        );
        println!("tree size: {}", started.tree_size);
        println!("listening on http://{addr}");
        if started.key_created {
            println!("created a new signing key; back it up, it is the log's identity");
        }
    }
    tracing::info!(%addr, origin = %started.state.origin, "serving");
    threadlog::api::serve(listener, started.state, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn token_create(args: StoreArgs, role: &str, name: Option<String>, json: bool) -> Result<()> {
    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
    let name = name.unwrap_or_else(|| role.to_string());
    let store = cli::open_store(&args).await?;
    let token = new_token();
    store
        .insert_token(&name, role.as_str(), &token_hash(&token))
        .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "name": name, "role": role.as_str(), "token": token })
        );
    } else {
        println!("{token}");
        eprintln!("token for {name:?} with role {role}; it is shown only this once");
    }
    Ok(())
}

async fn migrate(args: StoreArgs, json: bool) -> Result<()> {
    let url = args.url();
    let store = cli::open_store(&args).await?;
    // Entries logged before the thread existed get their edges now, not behind a server.
    let bar = cli::progress("indexing the thread", json);
    let backlog = threadlog::thread::backfill(store.as_ref(), &|done, end| {
        bar.set_length(end);
        bar.set_position(done);
    })
    .await
    .context("the thread back-fill failed")?;
    bar.finish_and_clear();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "database": store::redact(&url),
                "migrated": true,
                "thread_indexed": backlog.end,
            })
        );
    } else {
        println!("database {} is at the current schema", store::redact(&url));
    }
    Ok(())
}

fn default_state_path(key: &VerifierKey) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(PathBuf::from(home).join(format!(
        ".local/state/threadlog/verify-{:08x}.json",
        key.key_id()
    )))
}

/// `verify --bundle`: offline, with the pinned key and the `merkle`/`note` code only.
fn verify_bundle(path: &std::path::Path, key: Option<&str>, json: bool) -> Result<ExitCode> {
    let key: VerifierKey = key
        .context("--key VERIFIER_KEY is required with --bundle")?
        .parse()
        .context("--key")?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let result = threadlog::bundle::verify(&bytes, &key);
    if json {
        let v = match &result {
            Ok(r) => serde_json::json!({ "ok": true, "report": r }),
            Err(f) => serde_json::json!({ "ok": false, "failure": f }),
        };
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        match &result {
            Ok(r) => {
                println!(
                    "OK: {} entries of {} proved at tree size {}, root {}",
                    r.entries, r.origin, r.tree_size, r.root_hash
                );
                println!(
                    "  thread of {}: {} edges and {} correction(s), each stated by a proved \
                     entry; checkpoint signed by {}{}",
                    r.subject,
                    r.edges,
                    r.corrections,
                    r.verifier_key,
                    if r.key_handovers > 0 {
                        format!(" ({} key handovers followed)", r.key_handovers)
                    } else {
                        String::new()
                    }
                );
            }
            Err(f) => {
                println!("FAILED at {}: {}", f.at, f.reason);
            }
        }
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn verify(args: VerifyArgs) -> Result<ExitCode> {
    if let Some(path) = &args.bundle {
        return verify_bundle(path, args.key.as_deref(), args.json);
    }
    let (source, key, state_path): (Box<dyn Source>, VerifierKey, Option<PathBuf>) =
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
                (Box::new(HttpSource::new(url, &token)?), key, state)
            }
            (None, Some(db)) => {
                let store = store::open(db).await.context("cannot open the database")?;
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
                (Box::new(StoreSource::new(store)), key, state)
            }
            _ => {
                bail!("give --url URL (with --key), --database URL, or --bundle FILE (with --key)")
            }
        };

    let previous: Option<Previous> = match &state_path {
        Some(p) if p.exists() => Some(
            serde_json::from_slice(
                &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("state file {} is not valid", p.display()))?,
        ),
        _ => None,
    };

    let bar = cli::progress("verifying", args.json);
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
                cli::report::check_saved(path, source.as_ref(), &keys, &report.origin, args.json)
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
