//! Storage behind a small trait: sled on disk, a `BTreeMap` in memory for tests.
//!
//! The ledger writes one atomic batch per block, so a crash never leaves half a block.
//! Key layout (all integers big-endian so keys sort by height):
//!
//! | prefix | key | value |
//! |---|---|---|
//! | `S` | table tag, postcard key | postcard value (the state, see `state.rs`) |
//! | `B` | height (u64) | postcard [`Block`](crate::Block) |
//! | `Q` | height (u64) | postcard `Vec<TxResult>` |
//! | `X` | transaction id (32) | postcard `(height, index)` |
//! | `Y` | address (20), height (u64), index (u32) | transaction id |
//! | `M` | `height` / `root` | applied height / state root after it |
//! | `C` | anything | written by the node (commit certificates) |

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// Stored bytes could not be decoded: the data is damaged or from another version.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Lock poisoned by a panic elsewhere.
    #[error("storage lock poisoned")]
    Poisoned,
}

/// Changes to write atomically: `None` removes a key.
pub type Batch = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Key-value pairs read back, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Key-value storage with atomic, durable batches.
pub trait Store: Send + Sync {
    /// The value at `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries whose key starts with `prefix`, in key order, at most `limit`.
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError>;
    /// Entries whose key starts with `prefix`, in reverse key order, at most `limit`.
    fn scan_prefix_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError>;
    /// Writes every change or none, durably, before returning.
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;
}

/// In-memory store for tests.
#[derive(Debug, Default)]
pub struct MemStore {
    map: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }
}

impl Store for MemStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.lock().map_err(|_| StoreError::Poisoned)?.get(key).cloned())
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let map = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(map
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn scan_prefix_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let map = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        let all: Vec<(&Vec<u8>, &Vec<u8>)> =
            map.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix)).collect();
        Ok(all.into_iter().rev().take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut map = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        for (k, v) in batch {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(())
    }
}

/// sled on disk.
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).open()?;
        let tree = db.open_tree(b"bct")?;
        Ok(SledStore { db, tree })
    }

    /// The underlying database (for the node's own trees).
    pub fn db(&self) -> &sled::Db {
        &self.db
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(prefix).take(limit) {
            let (k, v) = item?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn scan_prefix_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(prefix).rev().take(limit) {
            let (k, v) = item?;
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (k, v) in batch {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.tree.apply_batch(b)?;
        self.db.flush()?;
        Ok(())
    }
}

impl<T: Store + ?Sized> Store for std::sync::Arc<T> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get(key)
    }
    fn scan_prefix(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        (**self).scan_prefix(prefix, limit)
    }
    fn scan_prefix_rev(&self, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        (**self).scan_prefix_rev(prefix, limit)
    }
    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        (**self).apply(batch)
    }
}
