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
//!
//! **Lost writes.** sled recovers its log up to the first damaged or missing record and
//! silently drops everything after it, so a truncated or damaged file reopens as an *older*,
//! self-consistent database (measured on a node stopped at height 699 without a clean
//! shutdown: the file cut in half reopened at height 409, cut to zero it reopened empty, and the
//! node started over at genesis; 16 bytes flipped in the middle: height 381). Nothing inside the
//! database can tell (after a clean shutdown sled's snapshot sometimes can, not always).
//! [`SledStore`] therefore keeps a high-water mark apart from sled's files
//! ([`HIGH_WATER_MARK_FILE`], rewritten in place after each durable commit), and the ledger
//! refuses to open a store that holds less than its mark ([`StoreError::Lost`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
    /// Another process holds the database open.
    #[error(
        "the data directory {0} is in use by another process (a bct-node already running with this home?); stop \
         it first: two copies of one node must never run"
    )]
    InUse(String),
    /// The database's files cannot be read or written.
    #[error("cannot open the data directory {dir}: {reason}")]
    Io {
        /// The directory.
        dir: String,
        /// What the system said.
        reason: String,
    },
    /// The database holds less than was committed to it: its files were truncated or damaged
    /// (sled then reopens an older prefix of its log without a word), or replaced by an older
    /// copy without the high-water mark that went with it.
    #[error(
        "the database lost committed data: it holds {holds}, but height {committed} was committed to it \
         (its files were truncated, damaged or replaced by an older copy); restore the data directory \
         from a backup, or remove it to re-sync the chain from the network"
    )]
    Lost {
        /// What the database holds (`nothing`, `blocks up to height 409`).
        holds: String,
        /// The height recorded as committed by the high-water mark.
        committed: u64,
    },
    /// The high-water mark could not be read or written.
    #[error("high-water mark {path}: {reason}")]
    Mark {
        /// The mark file.
        path: String,
        /// What went wrong.
        reason: String,
    },
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
    /// The entry with the greatest key that starts with `prefix` and is at most `key`.
    fn last_at_or_before(&self, prefix: &[u8], key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError>;
    /// The largest value recorded with [`Store::record_high_water_mark`], kept apart from the
    /// data so that it survives damage to the data; `None` if this store keeps no mark or none
    /// was recorded yet.
    fn high_water_mark(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// Records `value` (the ledger: its committed height, once the batch is durable).
    fn record_high_water_mark(&self, value: u64) -> Result<(), StoreError> {
        let _ = value;
        Ok(())
    }
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

    fn last_at_or_before(&self, prefix: &[u8], key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        let map = self.map.lock().map_err(|_| StoreError::Poisoned)?;
        Ok(map
            .range(..=key.to_vec())
            .next_back()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone())))
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

/// The high-water mark's file in a [`SledStore`]'s directory: 16 bytes, [`MARK_MAGIC`] then
/// the value (u64, big-endian). Created whole (written to a temporary file, synced, renamed),
/// then rewritten in place after each commit without a sync of its own: after a crash it holds
/// the last value, after a power loss at worst an older one (sled's data was synced before
/// the mark was written), so it never claims more than the database holds.
pub const HIGH_WATER_MARK_FILE: &str = "bct-high-water-mark";

/// The first 8 bytes of the high-water mark file.
pub const MARK_MAGIC: &[u8; 8] = b"bct-hwm1";

/// The high-water mark file and, once written, an open handle to it.
#[derive(Debug)]
struct MarkFile {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl MarkFile {
    fn error(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Mark { path: self.path.display().to_string(), reason: reason.to_string() }
    }

    fn read(&self) -> Result<Option<u64>, StoreError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(e)),
        };
        if bytes.len() != 16 || &bytes[..8] != MARK_MAGIC {
            return Err(self.error(format!(
                "damaged ({} bytes, expected 16 beginning with {:?}); if the database itself is intact, \
                 remove this file and the node recreates it",
                bytes.len(),
                String::from_utf8_lossy(MARK_MAGIC)
            )));
        }
        let mut v = [0u8; 8];
        v.copy_from_slice(&bytes[8..]);
        Ok(Some(u64::from_be_bytes(v)))
    }

    fn write(&self, value: u64) -> Result<(), StoreError> {
        use std::io::{Seek as _, SeekFrom, Write as _};
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(MARK_MAGIC);
        bytes[8..].copy_from_slice(&value.to_be_bytes());
        let mut guard = self.file.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(mut f) = guard.as_ref() {
            return f.seek(SeekFrom::Start(0)).and_then(|_| f.write_all(&bytes)).map_err(|e| self.error(e));
        }
        // First write by this process: create the file whole, durably, then keep it open.
        let tmp = self.path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| self.error(e))?;
        f.write_all(&bytes).and_then(|()| f.sync_all()).map_err(|e| self.error(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.error(e))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| self.error(e))?;
        }
        let f = std::fs::OpenOptions::new().read(true).write(true).open(&self.path).map_err(|e| self.error(e))?;
        *guard = Some(f);
        Ok(())
    }
}

/// sled on disk, with a high-water mark beside it ([`HIGH_WATER_MARK_FILE`]).
#[derive(Debug, Clone)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    mark: Arc<MarkFile>,
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let db = sled::Config::new().path(dir).mode(sled::Mode::HighThroughput).open().map_err(|e| match e {
            // sled's words ("Read corrupted data at file offset None backtrace ()") say little.
            sled::Error::Corruption { .. } => StoreError::Corrupt(format!(
                "sled found its files damaged ({}); restore the data directory from a backup, or remove it \
                 to re-sync the chain from the network",
                e.to_string().trim_end_matches(" backtrace ()")
            )),
            // sled wraps the lock's WouldBlock in its own words: "could not acquire lock on ...".
            sled::Error::Io(io)
                if io.kind() == std::io::ErrorKind::WouldBlock || io.to_string().contains("could not acquire lock") =>
            {
                StoreError::InUse(dir.display().to_string())
            }
            // The system's words without Rust's debug form (`Os { code: 13, kind: .. }`).
            sled::Error::Io(io) => StoreError::Io {
                dir: dir.display().to_string(),
                reason: match io.raw_os_error() {
                    Some(code) => format!("{} (os error {code})", std::io::Error::from_raw_os_error(code)),
                    None => io.to_string(),
                },
            },
            e => StoreError::Sled(e),
        })?;
        let tree = db.open_tree(b"bct")?;
        let mark = Arc::new(MarkFile { path: dir.join(HIGH_WATER_MARK_FILE), file: Mutex::new(None) });
        Ok(SledStore { db, tree, mark })
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

    fn last_at_or_before(&self, prefix: &[u8], key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        match self.tree.range(..=key).next_back() {
            Some(item) => {
                let (k, v) = item?;
                Ok(k.starts_with(prefix).then(|| (k.to_vec(), v.to_vec())))
            }
            None => Ok(None),
        }
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

    fn high_water_mark(&self) -> Result<Option<u64>, StoreError> {
        self.mark.read()
    }

    fn record_high_water_mark(&self, value: u64) -> Result<(), StoreError> {
        self.mark.write(value)
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
    fn last_at_or_before(&self, prefix: &[u8], key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        (**self).last_at_or_before(prefix, key)
    }
    fn high_water_mark(&self) -> Result<Option<u64>, StoreError> {
        (**self).high_water_mark()
    }
    fn record_high_water_mark(&self, value: u64) -> Result<(), StoreError> {
        (**self).record_high_water_mark(value)
    }
}
