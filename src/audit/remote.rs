//! A threadlog server read over its HTTP API with an auditor token.

use super::source::{Source, SourceError};
use crate::merkle::{Hash, TileId};
use async_trait::async_trait;
use base64::Engine;
use serde::Deserialize;

pub struct HttpSource {
    base: String,
    token: String,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct Page {
    entries: Vec<PageEntry>,
}

#[derive(Deserialize)]
struct PageEntry {
    index: u64,
    leaf: String,
}

#[derive(Deserialize)]
struct ProofAnswer {
    hashes: Vec<String>,
}

impl HttpSource {
    pub fn new(base: &str, token: &str) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| SourceError::Read(e.to_string()))?;
        Ok(HttpSource {
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            client,
        })
    }

    async fn send(&self, path: &str) -> Result<(String, reqwest::Response), SourceError> {
        let url = format!("{}{path}", self.base);
        let resp = self
            .client
            .get(&url)
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| SourceError::Http {
                url: url.clone(),
                source,
            })?;
        Ok((url, resp))
    }

    async fn refused(url: &str, resp: reqwest::Response) -> SourceError {
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        SourceError::Read(format!("GET {url}: {status}: {body}"))
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, SourceError> {
        let (url, resp) = self.send(path).await?;
        if !resp.status().is_success() {
            return Err(Self::refused(&url, resp).await);
        }
        Ok(resp)
    }

    /// Like `get`, but a `404` is `None`: what the server does not hold.
    async fn get_found(&self, path: &str) -> Result<Option<reqwest::Response>, SourceError> {
        let (url, resp) = self.send(path).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::refused(&url, resp).await);
        }
        Ok(Some(resp))
    }

    async fn proof(&self, path: &str) -> Result<Vec<Hash>, SourceError> {
        let answer: ProofAnswer = self
            .get(path)
            .await?
            .json()
            .await
            .map_err(|e| SourceError::Malformed(e.to_string()))?;
        answer
            .hashes
            .iter()
            .map(|h| Hash::from_base64(h).map_err(|e| SourceError::Malformed(e.to_string())))
            .collect()
    }
}

#[async_trait]
impl Source for HttpSource {
    async fn latest_checkpoint(&self) -> Result<String, SourceError> {
        self.get("/v1/checkpoint")
            .await?
            .text()
            .await
            .map_err(|e| SourceError::Read(e.to_string()))
    }

    async fn entries(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, SourceError> {
        let path = match start.checked_sub(1) {
            Some(after) => format!("/v1/entries?after={after}&limit={limit}"),
            None => format!("/v1/entries?limit={limit}"),
        };
        let page: Page = self
            .get(&path)
            .await?
            .json()
            .await
            .map_err(|e| SourceError::Malformed(e.to_string()))?;
        page.entries
            .into_iter()
            .map(|e| {
                let leaf = base64::engine::general_purpose::STANDARD
                    .decode(&e.leaf)
                    .map_err(|err| {
                        SourceError::Malformed(format!(
                            "entry {}: leaf is not base64: {err}",
                            e.index
                        ))
                    })?;
                Ok((e.index, leaf))
            })
            .collect()
    }

    async fn checkpoints(
        &self,
        _after: Option<u64>,
        _limit: u32,
    ) -> Result<Vec<(u64, String)>, SourceError> {
        Ok(Vec::new())
    }

    fn lists_checkpoints(&self) -> bool {
        false
    }

    async fn checkpoint(&self, tree_size: u64) -> Result<Option<String>, SourceError> {
        let Some(resp) = self
            .get_found(&format!("/v1/checkpoints/{tree_size}"))
            .await?
        else {
            return Ok(None);
        };
        resp.text()
            .await
            .map(Some)
            .map_err(|e| SourceError::Read(e.to_string()))
    }

    async fn tiles(&self, _ids: &[TileId]) -> Result<Option<Vec<Option<Vec<u8>>>>, SourceError> {
        Ok(None)
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, SourceError> {
        self.proof(&format!(
            "/v1/proofs/consistency?first={first}&second={second}"
        ))
        .await
    }

    async fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, SourceError> {
        self.proof(&format!(
            "/v1/proofs/inclusion?index={index}&tree_size={tree_size}"
        ))
        .await
    }

    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, SourceError> {
        let path = format!("/v1/blobs/sha256:{}", hex::encode(sha256));
        let Some(resp) = self.get_found(&path).await? else {
            return Ok(None);
        };
        resp.bytes()
            .await
            .map(|b| Some(b.to_vec()))
            .map_err(|e| SourceError::Read(e.to_string()))
    }
}
