//! Starting and preparing a log: `serve` (the HTTP API until SIGTERM or Ctrl-C), `init`
//! (the data directory, database, key and first checkpoint) and `migrate` (the schema,
//! and the thread index of entries logged before it existed). Printing only: the work is
//! `threadlog::server`'s.

use anyhow::{Context, Result};
use threadlog::config::{ServeConfig, StoreArgs};
use threadlog::{server, store};

pub async fn serve(cfg: ServeConfig, json: bool) -> Result<()> {
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
    threadlog::api::serve_with(listener, started.state, cfg.http, shutdown_signal()).await?;
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

pub async fn init(
    args: StoreArgs,
    origin: Option<String>,
    signer: Option<String>,
    json: bool,
) -> Result<()> {
    let log = server::open_log(&args, origin.as_deref(), signer.as_deref(), true)
        .await
        .context("cannot create the log")?;
    let database = store::redact(&args.url());
    if json {
        println!(
            "{}",
            serde_json::json!({
                "database": database,
                "origin": log.origin,
                "verifier_key": log.signer.verifier_key().to_string(),
                "created": log.created,
                "key_created": log.key_created,
                "tree_size": log.latest.tree_size,
            })
        );
    } else {
        if log.created {
            println!("created the log {} in {database}", log.origin);
        } else {
            println!("{database} already holds the log {}", log.origin);
        }
        println!("verifier key: {}", log.signer.verifier_key());
        if log.key_created {
            println!("created a new signing key; back it up, it is the log's identity");
        }
    }
    Ok(())
}

pub async fn migrate(args: StoreArgs, json: bool) -> Result<()> {
    let url = args.url();
    let store = super::open_store(&args).await?;
    // Entries logged before the thread existed get their edges now, not behind a server.
    let bar = super::progress("indexing the thread", json);
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
