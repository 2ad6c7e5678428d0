//! A local network of real `bct-node` processes for one test: generated in a temporary
//! directory on free loopback ports, started from the `bct-node` binary of this build, killed
//! when dropped (with the tail of every log printed if the test failed).
//!
//! Tests start several processes each: [`serially`] runs one scenario at a time across test
//! processes (an advisory lock on a file), so a 2-core machine never runs two networks at once.
//! Waiting uses generous timeouts; nothing asserts on time.

use std::path::Path;
use std::time::Duration;

use bct_testnet::{NodeCommand, Options, Testnet};

/// Longest wait for anything (startup, a height, a commit).
pub const WAIT: Duration = Duration::from_secs(120);

/// Runs one scenario on its own runtime after any other scenario of any test process finished.
pub fn serially(scenario: impl std::future::Future<Output = ()>) {
    let _lock = bct_testnet::net::network_test_lock().expect("network test lock");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(scenario);
}

/// A test network: the [`Testnet`] plus the temporary directory it lives in.
pub struct TestNet {
    /// The network.
    pub net: Testnet,
    _dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestNet {
    type Target = Testnet;
    fn deref(&self) -> &Testnet {
        &self.net
    }
}

impl std::ops::DerefMut for TestNet {
    fn deref_mut(&mut self) -> &mut Testnet {
        &mut self.net
    }
}

impl TestNet {
    /// Generates `validators` + `observers` nodes (none started), idle blocks every 200 ms.
    pub fn new(validators: usize, observers: usize) -> TestNet {
        TestNet::with_options(Options {
            chain_id: "bct-test".into(),
            validators,
            observers,
            base_port: None,
            empty_block_interval_ms: 200,
            timeout_propose_ms: 2000,
        })
    }

    /// Generates a network with `options` (set `base_port: None`).
    pub fn with_options(options: Options) -> TestNet {
        let dir = tempfile::Builder::new().prefix("bct-test-").tempdir().expect("tempdir");
        let command = NodeCommand::sibling_bct_node().expect("the bct-node binary of this build");
        let net = Testnet::generate(dir.path(), options, command).expect("generate");
        let dir = if std::env::var_os("BCT_TEST_KEEP").is_some() {
            eprintln!("keeping the test network in {}", dir.path().display());
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        };
        TestNet { net, _dir: dir }
    }

    /// Node `i`'s home directory.
    pub fn home(&self, i: usize) -> &Path {
        &self.net.node(i).home
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for i in 0..self.net.len() {
                eprintln!("===== {} (end of {}) =====", self.net.node(i).name, self.net.log_path(i).display());
                eprintln!("{}", self.net.log_tail(i, 60));
            }
        }
    }
}
