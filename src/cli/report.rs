//! `threadlog report`: a compliance report from a database, or fetched from a server;
//! and the `verify --report` step that re-derives a saved one.

use super::open_store;
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use threadlog::audit::Source;
use threadlog::compliance::recheck::{recheck, Recheck};
use threadlog::compliance::render::{render, Format};
use threadlog::compliance::{gather, Report};
use threadlog::config::StoreArgs;
use threadlog::controls::Framework;
use threadlog::note::VerifierKey;
use threadlog::store::TileCache;

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Fetch the report from a server instead of reading a database.
    #[arg(long)]
    url: Option<String>,
    /// Auditor token for --url.
    #[arg(long, env = "THREADLOG_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// nist-800-171r2 or nist-800-171r3.
    #[arg(long)]
    framework: String,
    /// The checkpoint (tree size) to report at; default: the latest.
    #[arg(long)]
    at: Option<threadlog::merkle::TreeSize>,
    /// json, md, html or oscal.
    #[arg(long, default_value = "md")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The same as --format json.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ReportArgs) -> Result<()> {
    let format: Format = if args.json {
        Format::Json
    } else {
        args.format.parse().map_err(anyhow::Error::msg)?
    };
    let framework: Framework = args.framework.parse().map_err(anyhow::Error::msg)?;
    let text = match &args.url {
        Some(url) => fetch(url, args.token.as_deref(), &args, &args.format).await?,
        None => {
            let store = open_store(&args.store).await?;
            let tiles = TileCache::new(64);
            let report = gather::report(store.as_ref(), &tiles, framework, args.at.map(u64::from))
                .await
                .context("cannot compute the report")?;
            render(&report, format)
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}

async fn fetch(url: &str, token: Option<&str>, args: &ReportArgs, format: &str) -> Result<String> {
    let token =
        token.context("an auditor token is required: set THREADLOG_TOKEN or pass --token")?;
    let format = if args.json { "json" } else { format };
    let mut query = vec![
        ("framework", args.framework.clone()),
        ("format", format.to_string()),
    ];
    if let Some(at) = args.at {
        query.push(("at", at.to_string()));
    }
    Ok(threadlog_client::Client::new(url, Some(token))?
        .get_text("/v1/compliance/report", &query)
        .await?)
}

/// Re-derives the saved JSON report at `path` from `source`, whose log was verified
/// with the keys `keys` (oldest first) under `origin`.
pub async fn check_saved(
    path: &PathBuf,
    source: &dyn Source,
    keys: &[String],
    origin: &str,
    json: bool,
) -> Result<Recheck> {
    let saved: Report = serde_json::from_slice(
        &std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not a JSON compliance report", path.display()))?;
    let keys: Vec<VerifierKey> = keys
        .iter()
        .map(|k| k.parse())
        .collect::<Result<_, _>>()
        .context("a verifier key of the log")?;
    let bar = super::progress("re-deriving the report", json);
    let outcome = recheck(source, &keys, origin, &saved, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    Ok(outcome)
}
