//! What can go wrong running a node, each with a message that says what to fix.

/// A node failure.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The configuration is unusable.
    #[error("configuration error: {0}")]
    Config(String),
    /// A key file is missing, unreadable or malformed.
    #[error("key file {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The ledger store failed or holds damaged data.
    #[error("storage error: {0}")]
    Storage(String),
    /// The consensus engine failed to start or stopped.
    #[error("consensus engine error: {0}")]
    Engine(String),
    /// A bug: a lock was poisoned by a panic elsewhere.
    #[error("internal error: the {0} lock was poisoned by an earlier panic")]
    Poisoned(&'static str),
    /// A bounded resource is exhausted; retry later.
    #[error("{0}")]
    Busy(String),
    /// The node cannot continue safely (a committed block failed, an invariant broke).
    #[error("fatal: {0}")]
    Fatal(String),
    /// A listener or file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The gRPC server failed.
    #[error("gRPC server error: {0}")]
    Grpc(String),
}
