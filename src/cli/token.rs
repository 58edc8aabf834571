//! `threadlog token …`: API tokens from creation to revocation.
//!
//! Owns argument shapes, the `--expires` syntax and printing; the store keeps the
//! records and `api::auth` enforces them. A token's secret is printed once, by
//! `create`, and never again: `list` shows who holds which role and for how long.

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Duration, Utc};
use clap::Subcommand;
use threadlog::api::auth::{new_token, token_hash, Role};
use threadlog::config::StoreArgs;
use threadlog::store::TokenRecord;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once and only its hash is stored.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// producer, ci, assessor, auditor or admin.
        #[arg(long)]
        role: String,
        /// Who holds the token; recorded as the submitter of what it appends, and the
        /// name `token revoke` takes. Default: the role.
        #[arg(long)]
        name: Option<String>,
        /// When the token stops working: a duration from now (`90d`, `12h`, `30m`,
        /// `2w`) or an RFC 3339 time. Default: never.
        #[arg(long)]
        expires: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every token: name, role, created, expires, last used, revoked; never the
    /// secret.
    List {
        #[command(flatten)]
        store: StoreArgs,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke the active tokens named NAME; every server refuses them from its next
    /// request on.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        name: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create {
            store,
            role,
            name,
            expires,
            json,
        } => create(store, &role, name, expires.as_deref(), json).await,
        TokenCommand::List { store, json } => list(store, json).await,
        TokenCommand::Revoke { store, name, json } => revoke(store, &name, json).await,
    }
}

/// `90d`, `12h`, `30m`, `2w` from `now`, or an RFC 3339 time; never in the past.
pub fn parse_expiry(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => {
            let bad = || {
                format!(
                    "--expires {text:?}: give a duration such as 90d, 12h, 30m or 2w, or an \
                     RFC 3339 time such as 2027-03-01T00:00:00Z"
                )
            };
            let unit = text.chars().last().ok_or_else(bad)?;
            let n: i64 = text[..text.len() - unit.len_utf8()]
                .parse()
                .map_err(|_| bad())?;
            let span = match unit {
                'w' => Duration::try_weeks(n),
                'd' => Duration::try_days(n),
                'h' => Duration::try_hours(n),
                'm' => Duration::try_minutes(n),
                _ => None,
            }
            .filter(|d| *d > Duration::zero())
            .ok_or_else(bad)?;
            now.checked_add_signed(span).ok_or_else(bad)?
        }
    };
    if at <= now {
        return Err(format!("--expires {text:?} is not in the future"));
    }
    Ok(at)
}

async fn create(
    args: StoreArgs,
    role: &str,
    name: Option<String>,
    expires: Option<&str>,
    json: bool,
) -> Result<()> {
    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
    let name = name.unwrap_or_else(|| role.to_string());
    let expires_at = expires
        .map(|e| parse_expiry(e, Utc::now()))
        .transpose()
        .map_err(anyhow::Error::msg)?
        .map(|t| threadlog::time::format(&t));
    let store = super::open_store(&args).await?;
    // One active token per name, so `token revoke NAME` ends exactly what it names.
    if store
        .tokens()
        .await?
        .iter()
        .any(|t| t.name == name && t.revoked_at.is_none())
    {
        bail!("a token named {name:?} exists; revoke it first or choose another --name");
    }
    let token = new_token();
    store
        .insert_token(
            &name,
            role.as_str(),
            &token_hash(&token),
            expires_at.as_deref(),
        )
        .await?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "name": name,
                "role": role.as_str(),
                "token": token,
                "expires_at": expires_at,
            })
        );
    } else {
        println!("{token}");
        let until = expires_at
            .map(|t| format!(" until {t}"))
            .unwrap_or_default();
        eprintln!("token for {name:?} with role {role}{until}; it is shown only this once");
    }
    Ok(())
}

fn status(t: &TokenRecord, now: DateTime<Utc>) -> &'static str {
    let expired = t.expires_at.as_deref().is_some_and(|e| {
        !DateTime::parse_from_rfc3339(e).is_ok_and(|e| e.with_timezone(&Utc) > now)
    });
    if t.revoked_at.is_some() {
        "revoked"
    } else if expired {
        "expired"
    } else {
        "active"
    }
}

async fn list(args: StoreArgs, json: bool) -> Result<()> {
    let store = super::open_store(&args).await?;
    let tokens = store.tokens().await.context("cannot read the tokens")?;
    let now = Utc::now();
    if json {
        let rows: Vec<_> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name,
                    "role": t.role,
                    "status": status(t, now),
                    "created_at": t.created_at,
                    "expires_at": t.expires_at,
                    "last_used_at": t.last_used_at,
                    "revoked_at": t.revoked_at,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "tokens": rows }));
        return Ok(());
    }
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!(
        "{:<24} {:<9} {:<8} {:<33} {:<33} {:<33} REVOKED",
        "NAME", "ROLE", "STATUS", "CREATED", "EXPIRES", "LAST USED"
    );
    for t in &tokens {
        println!(
            "{:<24} {:<9} {:<8} {:<33} {:<33} {:<33} {}",
            t.name,
            t.role,
            status(t, now),
            t.created_at,
            dash(&t.expires_at),
            dash(&t.last_used_at),
            dash(&t.revoked_at)
        );
    }
    Ok(())
}

async fn revoke(args: StoreArgs, name: &str, json: bool) -> Result<()> {
    let store = super::open_store(&args).await?;
    let at = threadlog::time::now();
    let revoked = store.revoke_tokens(name, &at).await?;
    if revoked == 0 {
        bail!("no active token is named {name:?}; `threadlog token list` shows them");
    }
    if json {
        println!(
            "{}",
            serde_json::json!({ "name": name, "revoked": revoked, "revoked_at": at })
        );
    } else {
        println!("revoked {revoked} token(s) named {name:?} at {at}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_durations_and_times() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |s: &str| parse_expiry(s, now).map(|t| threadlog::time::format(&t));
        assert_eq!(at("90d").unwrap(), "2027-03-05T08:00:00.000000Z");
        assert_eq!(at("2w").unwrap(), "2026-12-19T08:00:00.000000Z");
        assert_eq!(at("12h").unwrap(), "2026-12-05T20:00:00.000000Z");
        assert_eq!(at("30m").unwrap(), "2026-12-05T08:30:00.000000Z");
        assert_eq!(
            at("2027-01-01T00:00:00Z").unwrap(),
            "2027-01-01T00:00:00.000000Z"
        );
        for bad in ["", "d", "90", "90y", "-1d", "0d", "1.5d", "99999999999999w"] {
            assert!(at(bad).unwrap_err().contains("give a duration"), "{bad}");
        }
        assert!(at("2026-12-05T08:00:00Z")
            .unwrap_err()
            .contains("not in the future"));
    }
}
