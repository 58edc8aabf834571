//! The `threadlog` command: parses the command line and dispatches to `cli::*`, one
//! module per command. No work is done here.

// The library leaves the allocator to each binary; see Cargo.toml for why this one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use threadlog::config::{ServeConfig, StoreArgs};

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
    /// Create the log: data directory (0700), database and key file (0600), the log's
    /// identity and first checkpoint. Does nothing to a log that exists.
    Init {
        #[command(flatten)]
        store: StoreArgs,
        /// Checkpoint origin (and signing key name). Default: localhost/threadlog.
        #[arg(long, env = "THREADLOG_ORIGIN")]
        origin: Option<String>,
        /// Signing key, as for `serve`. Default: file:<data dir>/log.key
        #[arg(long, env = "THREADLOG_SIGNER")]
        signer: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the HTTP API on a log made by `threadlog init` (or pass --init).
    Serve {
        #[command(flatten)]
        config: ServeConfig,
        /// Print the start-up facts (origin, verifier key, address) as one JSON line.
        #[arg(long)]
        json: bool,
    },
    /// Manage API tokens: create, list, revoke.
    Token {
        #[command(subcommand)]
        command: cli::token::TokenCommand,
    },
    /// Manage the log's signing key: create HSM keys, show status, rotate.
    Keys {
        #[command(subcommand)]
        command: cli::keys::KeysCommand,
    },
    /// Verify the whole log (against a server with --url, or a database with
    /// --database), or an evidence bundle offline (--bundle).
    Verify(cli::verify::VerifyArgs),
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

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && cli::verify::json_requested() => {
            // A script reading `verify --json` gets JSON even when the command line is
            // wrong.
            let code = e.exit_code();
            cli::verify::print_failure_json(code, &[e.render().to_string().trim().to_string()]);
            return ExitCode::from(u8::try_from(code).unwrap_or(2));
        }
        Err(e) => e.exit(),
    };
    let verify_json = matches!(&cli.command, Command::Verify(a) if a.json);
    let result = match cli.command {
        Command::Serve { config, json } => cli::serve::serve(config, json)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Init {
            store,
            origin,
            signer,
            json,
        } => cli::serve::init(store, origin, signer, json)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Token { command } => cli::token::run(command).await.map(|_| ExitCode::SUCCESS),
        Command::Keys { command } => cli::keys::run(command).await,
        Command::Verify(args) => cli::verify::run(args).await,
        Command::Report(args) => cli::report::run(args).await.map(|_| ExitCode::SUCCESS),
        Command::Export(args) => cli::dump::export(args).await.map(|_| ExitCode::SUCCESS),
        Command::Import(args) => cli::dump::import(args).await.map(|_| ExitCode::SUCCESS),
        Command::Migrate { store, json } => cli::serve::migrate(store, json)
            .await
            .map(|_| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            if verify_json {
                let causes: Vec<String> = e.chain().map(|c| c.to_string()).collect();
                cli::verify::print_failure_json(2, &causes);
            }
            ExitCode::from(2)
        }
    }
}
