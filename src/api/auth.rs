//! Bearer-token authentication and role checks. Tokens are random secrets shown once;
//! the store keeps only their SHA-256. Every route names the roles it admits: default deny.
//!
//! Every request looks its token up in the store (by hash, on the primary): nothing is
//! cached, so a revocation or expiry counts from the next request on every server that
//! shares the database. Failures are counted for `/metrics` and logged at warn level,
//! never with the token itself.

use super::error::ApiError;
use super::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Producer,
    Ci,
    Assessor,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Producer,
        Role::Ci,
        Role::Assessor,
        Role::Auditor,
        Role::Admin,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Ci => "ci",
            Role::Assessor => "assessor",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of producer, ci, assessor, auditor, admin"
                )
            })
    }
}

/// Who is calling: the token's name and role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

impl Caller {
    /// Admits the caller if its role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let allowed: Vec<&str> = roles.iter().map(Role::as_str).collect();
        Err(ApiError::Forbidden(format!(
            "role {} may not do this; it needs one of: {}",
            self.role,
            allowed.join(", ")
        )))
    }
}

/// A new random token: `tl_` and 32 random bytes, base64url.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "tl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Why a request was not authenticated: the `reason` label of
/// `threadlog_auth_failures_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    Missing,
    Malformed,
    Unknown,
    Expired,
    Revoked,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 5] = [
        AuthFailure::Missing,
        AuthFailure::Malformed,
        AuthFailure::Unknown,
        AuthFailure::Expired,
        AuthFailure::Revoked,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::Unknown => "unknown",
            AuthFailure::Expired => "expired",
            AuthFailure::Revoked => "revoked",
        }
    }
}

/// Per-process authentication bookkeeping: failure counters and when each token's
/// `last_used_at` was last written (at most once a minute per token, so a busy client
/// does not turn every read into a write). Never a cache of who a token is.
#[derive(Default)]
pub struct AuthState {
    failures: [AtomicU64; 5],
    touched: Mutex<HashMap<[u8; 32], Instant>>,
}

impl AuthState {
    /// Failed authentications of this process by reason, for `/metrics`.
    pub fn failures(&self) -> Vec<(AuthFailure, u64)> {
        AuthFailure::ALL
            .iter()
            .map(|f| (*f, self.failures[*f as usize].load(Ordering::Relaxed)))
            .collect()
    }

    fn fail(&self, why: AuthFailure, detail: &str, message: String) -> ApiError {
        self.failures[why as usize].fetch_add(1, Ordering::Relaxed);
        tracing::warn!(reason = why.as_str(), detail, "authentication failed");
        ApiError::Unauthorized(message)
    }

    /// True when the token's last use should be written now.
    fn should_touch(&self, hash: &[u8; 32]) -> bool {
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        if touched
            .get(hash)
            .is_some_and(|at| at.elapsed() < TOUCH_EVERY)
        {
            return false;
        }
        if touched.len() >= TOUCHED_MAX {
            touched.clear();
        }
        touched.insert(*hash, Instant::now());
        true
    }
}

const TOUCH_EVERY: Duration = Duration::from_secs(60);
const TOUCHED_MAX: usize = 10_000;

/// A stored expiry time is past (or unreadable, which must not let a token through).
fn expired(expires_at: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    !chrono::DateTime::parse_from_rfc3339(expires_at).is_ok_and(|t| t > now)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = &state.tokens;
        let value = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                auth.fail(
                    AuthFailure::Missing,
                    "no Authorization header",
                    "missing Authorization: Bearer <token> header".into(),
                )
            })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                auth.fail(
                    AuthFailure::Malformed,
                    "Authorization is not `Bearer <token>`",
                    "Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        let hash = token_hash(token);
        let record = state.store.token(&hash).await?.ok_or_else(|| {
            auth.fail(
                AuthFailure::Unknown,
                "no such token",
                "unknown token; create one with `threadlog token create`".into(),
            )
        })?;
        if let Some(at) = &record.revoked_at {
            return Err(auth.fail(
                AuthFailure::Revoked,
                &format!("token {:?} was revoked at {at}", record.name),
                format!("token {:?} was revoked at {at}", record.name),
            ));
        }
        let now = chrono::Utc::now();
        if let Some(at) = record.expires_at.as_deref().filter(|at| expired(at, now)) {
            return Err(auth.fail(
                AuthFailure::Expired,
                &format!("token {:?} expired at {at}", record.name),
                format!(
                    "token {:?} expired at {at}; create a new one with `threadlog token create`",
                    record.name
                ),
            ));
        }
        let role = record
            .role
            .parse()
            .map_err(|e: String| ApiError::Internal(format!("stored token has a bad role: {e}")))?;
        if auth.should_touch(&hash) {
            // Off the request path: bookkeeping must not slow or fail a request.
            let store = state.store.clone();
            let at = crate::time::format(&now);
            tokio::spawn(async move {
                if let Err(e) = store.touch_token(&hash, &at).await {
                    tracing::debug!(error = %e, "cannot record a token's last use");
                }
            });
        }
        Ok(Caller {
            name: record.name,
            role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_inclusive_and_garbage_counts_as_expired() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-05T08:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert!(expired("2026-12-05T08:00:00+00:00", now));
        assert!(expired("2026-12-05T07:59:59Z", now));
        assert!(!expired("2026-12-05T08:00:01Z", now));
        assert!(expired("next tuesday", now));
    }
}
