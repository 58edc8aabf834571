//! The one HTTP client: a base URL, an optional bearer token and one connection pool,
//! with a timeout on every request. Typed calls for the log-reading endpoints; `get_text`
//! and `get_json` for the rest.

use crate::wire::{ConsistencyProof, EntryPage, ErrorBody, InclusionProof, LogInfo};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long one request may take, from connecting to the last byte of the answer.
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not complete; the transport error stays the source, so the cause
    /// (refused, timed out, certificate) reaches the operator.
    #[error("{url}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("GET {url}: {status}: {}", .error.as_ref().map_or(.body.as_str(), |e| e.message.as_str()))]
    Refused {
        url: String,
        status: u16,
        /// The server's JSON error, when the body was one.
        error: Option<Box<ErrorBody>>,
        body: String,
    },
    /// The answer was not what the endpoint sends.
    #[error("GET {url}: the answer is malformed: {reason}")]
    Malformed { url: String, reason: String },
    /// The client could not be set up (TLS roots, say).
    #[error("setting up the HTTP client: {0}")]
    Setup(#[source] reqwest::Error),
}

#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client for the server at `base` (e.g. `https://threadlog.plant.example`).
    pub fn new(base: &str, token: Option<&str>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(ClientError::Setup)?;
        Ok(Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a GET of `path` (with `query`); the answer whatever its status.
    async fn send(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<(String, reqwest::Response), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.get(&url).query(query);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(|source| ClientError::Transport {
            url: url.clone(),
            source,
        })?;
        Ok((url, resp))
    }

    /// The body of a successful answer; `None` for a 404 when `missing_ok`.
    async fn body(
        &self,
        path: &str,
        query: &[(&str, String)],
        missing_ok: bool,
    ) -> Result<Option<Vec<u8>>, ClientError> {
        let (url, resp) = self.send(path, query).await?;
        let status = resp.status();
        if missing_ok && status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        if !status.is_success() {
            return Err(ClientError::Refused {
                url,
                status: status.as_u16(),
                error: serde_json::from_slice(&bytes).ok(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(Some(bytes.to_vec()))
    }

    /// The exact bytes at `path`; `None` if the server holds nothing there (404).
    pub async fn get_bytes_found(&self, path: &str) -> Result<Option<Vec<u8>>, ClientError> {
        self.body(path, &[], true).await
    }

    /// The text at `path` (a checkpoint note, a rendered report).
    pub async fn get_text(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<String, ClientError> {
        let bytes = self.body(path, query, false).await?.unwrap_or_default();
        String::from_utf8(bytes).map_err(|e| self.malformed(path, e))
    }

    /// The JSON answer at `path`, parsed into `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let bytes = self.body(path, query, false).await?.unwrap_or_default();
        serde_json::from_slice(&bytes).map_err(|e| self.malformed(path, e))
    }

    fn malformed(&self, path: &str, reason: impl ToString) -> ClientError {
        ClientError::Malformed {
            url: format!("{}{path}", self.base),
            reason: reason.to_string(),
        }
    }

    /// POSTs `body` to `path` (an append); the status and the answer's bytes, whatever
    /// the status, so a caller can tell `201` (logged) from `200` (logged before).
    pub async fn post(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = format!("{}{path}", self.base);
        let transport = |source| ClientError::Transport {
            url: url.clone(),
            source,
        };
        let mut req = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        Ok((status, bytes.to_vec()))
    }

    pub async fn log_info(&self) -> Result<LogInfo, ClientError> {
        self.get_json("/v1/log", &[]).await
    }

    /// The latest signed checkpoint note.
    pub async fn latest_checkpoint(&self) -> Result<String, ClientError> {
        self.get_text("/v1/checkpoint", &[]).await
    }

    /// The checkpoint issued at exactly `tree_size`, if one was.
    pub async fn checkpoint(&self, tree_size: u64) -> Result<Option<String>, ClientError> {
        let path = format!("/v1/checkpoints/{tree_size}");
        match self.body(&path, &[], true).await? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|e| self.malformed(&path, e)),
            None => Ok(None),
        }
    }

    /// Up to `limit` entries after index `after` (from the first without it).
    pub async fn entries(&self, after: Option<u64>, limit: u32) -> Result<EntryPage, ClientError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(after.map(|a| ("after", a.to_string())));
        self.get_json("/v1/entries", &query).await
    }

    pub async fn inclusion_proof(
        &self,
        index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ClientError> {
        let query = [
            ("index", index.to_string()),
            ("tree_size", tree_size.to_string()),
        ];
        self.get_json("/v1/proofs/inclusion", &query).await
    }

    pub async fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ClientError> {
        let query = [("first", first.to_string()), ("second", second.to_string())];
        self.get_json("/v1/proofs/consistency", &query).await
    }
}
