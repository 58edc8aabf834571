//! `threadlog export` and `threadlog import`: moving a log between stores (see
//! `threadlog::dump` for the format and what is checked).

use super::{open_store, progress};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use threadlog::config::StoreArgs;
use threadlog::dump;

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// A new (or empty) directory for the dump.
    #[arg(long)]
    out: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The dump directory written by `threadlog export`.
    #[arg(long)]
    from: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn export(args: ExportArgs) -> Result<()> {
    let store = open_store(&args.store).await?;
    let bar = progress("exporting", args.json);
    let report = dump::export(store.as_ref(), &args.out, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .context("export failed")?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "exported {} entries, {} checkpoints and {} documents of {} (tree size {}, root {}) to {}",
            report.entries,
            report.checkpoints,
            report.blobs,
            report.origin,
            report.tree_size,
            report.root_hash,
            report.out
        );
    }
    Ok(())
}

pub async fn import(args: ImportArgs) -> Result<()> {
    let store = open_store(&args.store).await?;
    let bar = progress("importing", args.json);
    let report = dump::import(&args.from, store, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .context("import refused; the target store is unchanged")?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "imported {} entries, {} checkpoints and {} documents of {} (tree size {}, root {}); \
             the imported log verifies",
            report.entries,
            report.checkpoints,
            report.blobs,
            report.origin,
            report.tree_size,
            report.root_hash
        );
    }
    Ok(())
}
