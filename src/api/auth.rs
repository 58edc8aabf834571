//! Bearer-token authentication and role checks. Tokens are random secrets shown once;
//! the store keeps only their SHA-256. Every route names the roles it admits: default deny.

use super::error::ApiError;
use super::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
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

/// Recently verified tokens, so the hot path does not read the store per request.
/// Entries expire after a minute; the map is cleared when it grows past its bound.
#[derive(Default)]
pub struct TokenCache {
    seen: Mutex<HashMap<[u8; 32], (Caller, Instant)>>,
}

const TOKEN_TTL: Duration = Duration::from_secs(60);
const TOKEN_CACHE_MAX: usize = 10_000;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized("missing Authorization: Bearer <token> header".into())
            })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization header must be `Bearer <token>`".into())
            })?;
        let hash = token_hash(token);
        {
            let seen = state.tokens.seen.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((caller, at)) = seen.get(&hash) {
                if at.elapsed() < TOKEN_TTL {
                    return Ok(caller.clone());
                }
            }
        }
        let record = state.store.token(&hash).await?.ok_or_else(|| {
            ApiError::Unauthorized("unknown token; create one with `threadlog token create`".into())
        })?;
        let role = record
            .role
            .parse()
            .map_err(|e: String| ApiError::Internal(format!("stored token has a bad role: {e}")))?;
        let caller = Caller {
            name: record.name,
            role,
        };
        let mut seen = state.tokens.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= TOKEN_CACHE_MAX {
            seen.clear();
        }
        seen.insert(hash, (caller.clone(), Instant::now()));
        Ok(caller)
    }
}
