//! A threadlog server read over its HTTP API with an auditor token, through the one
//! HTTP client (`threadlog_client`).

use super::source::{Source, SourceError};
use crate::merkle::{Hash, TileId};
use async_trait::async_trait;
use base64::Engine;
use threadlog_client::{Client, ClientError};

pub struct HttpSource {
    client: Client,
}

impl From<ClientError> for SourceError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Malformed { url, reason } => {
                SourceError::Malformed(format!("GET {url}: {reason}"))
            }
            other => SourceError::Http(other),
        }
    }
}

fn hashes(list: &[String]) -> Result<Vec<Hash>, SourceError> {
    list.iter()
        .map(|h| Hash::from_base64(h).map_err(|e| SourceError::Malformed(e.to_string())))
        .collect()
}

impl HttpSource {
    pub fn new(base: &str, token: &str) -> Result<Self, SourceError> {
        Ok(HttpSource {
            client: Client::new(base, Some(token))?,
        })
    }
}

#[async_trait]
impl Source for HttpSource {
    async fn latest_checkpoint(&self) -> Result<String, SourceError> {
        Ok(self.client.latest_checkpoint().await?)
    }

    async fn entries(&self, start: u64, limit: u32) -> Result<Vec<(u64, Vec<u8>)>, SourceError> {
        let page = self.client.entries(start.checked_sub(1), limit).await?;
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
        Ok(self.client.checkpoint(tree_size).await?)
    }

    async fn tiles(&self, _ids: &[TileId]) -> Result<Option<Vec<Option<Vec<u8>>>>, SourceError> {
        Ok(None)
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, SourceError> {
        hashes(&self.client.consistency_proof(first, second).await?.hashes)
    }

    async fn inclusion_proof(&self, index: u64, tree_size: u64) -> Result<Vec<Hash>, SourceError> {
        hashes(&self.client.inclusion_proof(index, tree_size).await?.hashes)
    }

    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>, SourceError> {
        let path = format!("/v1/blobs/sha256:{}", hex::encode(sha256));
        Ok(self.client.get_bytes_found(&path).await?)
    }
}
