//! Fetching a decided block from a peer, for the one case the engine cannot help with: the
//! engine decided a block (from its write-ahead log and a certificate received by value sync)
//! whose bytes this node does not have, so value sync will not send them again.
//!
//! Under the durability rule (docs/RELIABILITY.md) an honest node with intact storage never
//! gets there; a node whose storage lost flushed data can. The peers listed with a gRPC address
//! in `[[p2p.peers]]` are asked in turn for the block at that height (`Query.GetBlock`), and only
//! a block whose hash is the decided id is taken, so a peer cannot substitute another.

use std::time::Duration;

use bct_ledger::{Block, Hash};
use bct_proto::pb;
use bct_proto::pb::query_client::QueryClient;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, info};

use crate::error::NodeError;

impl std::fmt::Debug for BlockFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockFetcher").field("peers", &self.peers.iter().map(|(n, _)| n).collect::<Vec<_>>()).finish()
    }
}

/// Time between two passes over the peers.
const RETRY: Duration = Duration::from_millis(250);

/// Asks peers for decided blocks.
#[derive(Clone, Default)]
pub struct BlockFetcher {
    peers: Vec<(String, QueryClient<Channel>)>,
}

impl BlockFetcher {
    /// A fetcher asking the `(name, gRPC URL)` peers.
    pub fn new(peers: Vec<(String, String)>, tls: Option<&crate::tls::NodeTls>) -> Result<BlockFetcher, NodeError> {
        let mut out = Vec::new();
        for (name, url) in peers {
            let mut endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| NodeError::Config(format!("peer {name:?}: grpc {url:?} is not a URL: {e}")))?
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(5));
            if let Some(c) = crate::tls::client_for(&url, tls) {
                endpoint = endpoint
                    .tls_config(c)
                    .map_err(|e| NodeError::Config(format!("peer {name:?}: TLS for {url:?}: {e}")))?;
            }
            out.push((name, QueryClient::new(endpoint.connect_lazy())));
        }
        Ok(BlockFetcher { peers: out })
    }

    /// The block `id` at `height`, from the first peer that has it, asking each in turn until
    /// `patience` has passed; `None` if none did.
    pub async fn fetch(&self, height: u64, id: &Hash, wire_bytes_max: usize, patience: Duration) -> Option<Block> {
        if self.peers.is_empty() {
            return None;
        }
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            for (name, client) in &self.peers {
                let mut client = client.clone().max_decoding_message_size(wire_bytes_max.saturating_mul(2));
                let answer = client.get_block(pb::GetBlockRequest { height: Some(height) }).await;
                let block = match answer {
                    Ok(r) => r.into_inner().block,
                    Err(status) => {
                        debug!(peer = %name, height, "fetching a decided block: {}", status.message());
                        continue;
                    }
                };
                let Some(block) = block else { continue };
                let bytes = block.encode_to_vec();
                match bct_proto::decode_block(&bytes, wire_bytes_max) {
                    Ok(b) if b.hash() == *id => {
                        info!(peer = %name, height, block = %id, "fetched the decided block from a peer");
                        return Some(b);
                    }
                    Ok(b) => debug!(peer = %name, height, got = %b.hash(), "a peer has another block at this height"),
                    Err(e) => debug!(peer = %name, height, "a peer sent an undecodable block: {e}"),
                }
            }
            if tokio::time::Instant::now() + RETRY > deadline {
                return None;
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}
