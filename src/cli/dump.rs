//! `threadlog export` and `threadlog import`: moving a log between stores (see
//! `threadlog::dump` for the format and what is checked); and `threadlog export
//! --subject`, an evidence bundle about one node (see `threadlog::bundle`).

use super::{open_store, progress};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use threadlog::config::StoreArgs;
use threadlog::dump;
use threadlog::store::TileCache;
use threadlog::thread::{self, BundleOptions};

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Without --subject: a new (or empty) directory for a dump of the whole log.
    /// With --subject: the evidence bundle file to write (it must not exist).
    #[arg(long)]
    out: PathBuf,
    /// Write a self-verifying evidence bundle about this node (e.g. serial:SN-42,
    /// lot:FIL-118) instead of dumping the whole log.
    #[arg(long)]
    subject: Option<String>,
    /// The bundle's thread: backward, forward or both.
    #[arg(long, requires = "subject", default_value = "both")]
    direction: String,
    /// The bundle's thread depth, 1 to 64.
    #[arg(long, requires = "subject", default_value_t = 10)]
    depth: u32,
    /// Prove the bundle against the checkpoint at this tree size (default: the latest).
    #[arg(long, requires = "subject")]
    tree_size: Option<threadlog::merkle::TreeSize>,
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
    if let Some(subject) = &args.subject {
        return export_bundle(&args, subject).await;
    }
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
        println!("exported {} to {}", report.log, report.out);
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
        println!("imported {}; the imported log verifies", report.log);
    }
    Ok(())
}

async fn export_bundle(args: &ExportArgs, subject: &str) -> Result<()> {
    if args.out.exists() {
        bail!(
            "{} exists; write the bundle to a new file",
            args.out.display()
        );
    }
    let store = open_store(&args.store).await?;
    // Entries logged before the thread existed need their edges first.
    thread::backfill(store.as_ref(), &|_, _| {})
        .await
        .context("indexing the thread")?;
    let opts = BundleOptions {
        direction: threadlog::thread::parse_direction(&args.direction)?,
        depth: args.depth,
        tree_size: args.tree_size.map(u64::from),
        ..BundleOptions::default()
    };
    let tiles = TileCache::new(256);
    let bundle = thread::build_bundle(store.as_ref(), &tiles, subject, &opts)
        .await
        .context("cannot build the bundle")?;
    let bytes = serde_json::to_vec_pretty(&bundle)?;
    let tmp = args.out.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &args.out)?;
    let edges = bundle.thread["edges"].as_array().map_or(0, Vec::len);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "out": args.out.display().to_string(),
                "subject": subject,
                "origin": bundle.origin,
                "tree_size": bundle.tree_size,
                "entries": bundle.entries.len(),
                "edges": edges,
                "key_handovers": bundle.key_history.len(),
                "verifier_key": bundle.verifier_key,
            })
        );
    } else {
        println!(
            "wrote a bundle about {subject} to {}: {} entries proving {} edges at tree size {} \
             of {}; verify it with threadlog verify --bundle {} --key '<pinned verifier key>'",
            args.out.display(),
            bundle.entries.len(),
            edges,
            bundle.tree_size,
            bundle.origin,
            args.out.display()
        );
    }
    Ok(())
}
