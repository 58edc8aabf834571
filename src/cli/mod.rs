//! The subcommands, one file each (`token` and `keys` group several), and the pieces
//! they share. Argument shapes and printing only: the work is done by the library.

pub mod dump;
pub mod keys;
pub mod report;
pub mod serve;
pub mod token;
pub mod verify;

use anyhow::{Context, Result};
use std::sync::Arc;
use threadlog::config::StoreArgs;
use threadlog::store;

/// A progress bar on a terminal, nothing with `--json`.
pub fn progress(label: &str, json: bool) -> indicatif::ProgressBar {
    if json {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} {label} [{{bar:40}}] {{pos}}/{{len}} entries ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

/// Opens the store the arguments name, creating the data directory for the default.
pub async fn open_store(args: &StoreArgs) -> Result<Arc<dyn store::Store>> {
    if args.database_url.is_none() {
        store::create_data_dir(&args.data_dir)
            .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    }
    store::open(&args.url())
        .await
        .context("cannot open the database")
}
