//! Crash and storage faults with real `bct-node` processes, named by nodes and fault budget
//! (n validators, f faulty).
//!
//! - `n4f1_validator_killed_under_load`: steady load (admissions and transfers from five
//!   accounts, each waited for); one validator SIGKILLed mid-load; the other three keep
//!   committing, and every transaction acknowledged before the kill is on each of them; the
//!   killed one restarts, catches up to the same block and state root, holds every
//!   acknowledged transaction and takes transactions again.
//! - `n4f4_all_killed_and_restarted`: the same load; all four SIGKILLed at once, then restarted:
//!   each comes back at (at least) its last height with the same blocks, nothing acknowledged is
//!   lost, consensus resumes past the old tip and new transactions commit.
//! - `n4f1_node_1000_blocks_behind_and_n4_observer_joining_late_catch_up`: a validator stopped
//!   while the other three commit more than 1,000 blocks, and an observer never started until
//!   then; both start and catch up to the same block and state root (the catch-up rate is
//!   printed).
//! - `storage_truncated_detected_at_startup`: a one-validator node's sled data file cut (to half
//!   of its log, through the head block's record, to zero), after a crash and after a clean
//!   stop; `storage_corrupted_block_detected_at_startup`: a stored block altered (a wrong parent
//!   hash that still decodes), and bytes flipped inside the file. Each time the node refuses to
//!   start (exit code non-zero, the reason in its output) and never answers gRPC; the intact
//!   copy starts at the same height and block.
//!
//! Numbers (acknowledged transactions, heights, catch-up and restart times) are printed with
//! `--nocapture` (nextest shows them for failing tests, or with `--no-capture`). Nothing
//! asserts on time; deadlines only stop hangs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bct_ledger::{Hash, Ledger, SledStore, Store};
use bct_testnet::{NodeCommand, Options};
use bct_tests::harness::{no_equivocation, serially, wait_unlocked, TestNet, WAIT};
use bct_tests::load::{fund, header, missing_acks, same_block, top_height, wait_all, Ack, Load};
use bct_wallet::client::Client;

const ALL4: [usize; 4] = [0, 1, 2, 3];

/// Starts `nodes` and waits until each has committed block 1.
async fn start(net: &mut TestNet, nodes: &[usize]) {
    for &i in nodes {
        net.start(i).expect("start");
    }
    wait_all(net, nodes, 1, WAIT).await.expect("first block");
}

/// Every acknowledged transaction is on node `i` at the height it was acknowledged at.
async fn assert_acked_on(net: &TestNet, i: usize, acks: &[Ack], what: &str) {
    let missing = missing_acks(net, i, acks).await.expect("node answers");
    assert!(
        missing.is_empty(),
        "node {i} lacks {} of the {} transactions acknowledged {what}: {missing:?}",
        missing.len(),
        acks.len()
    );
}

fn highest(acks: &[Ack]) -> u64 {
    acks.iter().map(|a| a.height).max().unwrap_or(0)
}

/// Waits until an acknowledgement after the first `from` came from node `node`.
async fn wait_ack_from(load: &Load, from: usize, node: usize) {
    let deadline = Instant::now() + WAIT;
    while !load.acks()[from.min(load.acked())..].iter().any(|a| a.node == node) {
        assert!(Instant::now() < deadline, "node {node} acknowledged no transaction within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn n4f1_validator_killed_under_load() {
    serially(async {
        let began = Instant::now();
        let mut net = TestNet::new(4, 0);
        start(&mut net, &ALL4).await;
        let accounts = fund(&net, 4).await.expect("accounts funded");
        let load = Load::start(&net, &ALL4, accounts);
        load.wait_acked(30, WAIT).await.expect("load before the kill");

        // Crash validator 3 in the middle of the load.
        let before = load.acks();
        let height_at_kill = top_height(&net, &ALL4).await;
        net.kill(3).expect("kill");
        let killed = Instant::now();

        // The other three (3 of 4 > 2/3) keep committing: heights move, transactions are
        // acknowledged, and every one acknowledged before the kill is on each of them.
        load.wait_acked(before.len() + 30, WAIT).await.expect("load goes on without validator 3");
        wait_all(&net, &[0, 1, 2], height_at_kill + 5, WAIT).await.expect("the three go on");
        let during_outage = top_height(&net, &[0, 1, 2]).await;
        assert!(during_outage >= height_at_kill + 5);
        for i in 0..3 {
            assert_acked_on(&net, i, &before, "before the kill").await;
        }
        let down_for = killed.elapsed();

        // Restart it while the load goes on: it catches up, then takes transactions again.
        let acked_at_restart = load.acked();
        let restarted = Instant::now();
        net.start(3).expect("restart");
        let target = top_height(&net, &[0, 1, 2]).await;
        net.wait_height(3, target, WAIT).await.expect("the restarted validator catches up");
        let caught_up = restarted.elapsed();
        wait_ack_from(&load, acked_at_restart, 3).await;

        let (stats, acks) = load.stop().await.expect("every lane ends cleanly");
        let top = top_height(&net, &ALL4).await;
        wait_all(&net, &ALL4, top, WAIT).await.expect("all at the top");
        // Same blocks and state roots: at the top, and where the crash and outage were.
        for h in [height_at_kill, during_outage, highest(&acks), top] {
            same_block(&net, &ALL4, h).await.expect("the same block and state root everywhere");
        }
        for i in ALL4 {
            assert_acked_on(&net, i, &acks, "during the whole test").await;
        }
        if let Err(reports) = no_equivocation(&net, &ALL4).await {
            panic!("an honest validator equivocated or was asked to:\n{reports}");
        }
        let after_kill = acks.iter().filter(|a| a.at > before.last().map_or(Duration::ZERO, |b| b.at)).count();
        eprintln!(
            "n4f1 kill under load: {} acknowledged before the kill (heights up to {}), {after_kill} after; \
             kill at height {height_at_kill}, {during_outage} reached by the three after {down_for:.1?}; \
             validator 3 restarted and caught up to {target} in {caught_up:.1?}; final height {top}, all {} \
             acknowledged found on all 4 nodes; lanes: {stats:?}; test {:.1?}",
            before.len(),
            highest(&before),
            acks.len(),
            began.elapsed()
        );
    });
}

#[test]
fn n4f4_all_killed_and_restarted() {
    serially(async {
        let began = Instant::now();
        let mut net = TestNet::new(4, 0);
        start(&mut net, &ALL4).await;
        let accounts = fund(&net, 4).await.expect("accounts funded");
        let load = Load::start(&net, &ALL4, accounts);
        load.wait_acked(30, WAIT).await.expect("load before the crash");

        // Each node's last height and block, then all four killed at once.
        let mut last = Vec::new();
        for i in ALL4 {
            let s = net.status(i).await.expect("status");
            last.push((s.height, s.latest_block_hash));
        }
        let before = load.acks();
        for i in ALL4 {
            net.signal(i, "KILL").expect("SIGKILL");
        }
        for i in ALL4 {
            net.kill(i).expect("reaped");
        }
        for i in ALL4 {
            assert!(net.status(i).await.is_err(), "node {i} still answers after SIGKILL");
        }
        let old_tip = last.iter().map(|l| l.0).max().expect("four");

        // Restart all four.
        let restarted = Instant::now();
        for i in ALL4 {
            net.start(i).expect("restart");
        }
        // Each comes back at (at least) its last height, with the same block there.
        let mut back_at = Vec::new();
        for (i, (height, hash)) in last.iter().enumerate() {
            let client = net.client(i, WAIT).await.expect("answers after the restart");
            let s = client.network_status().await.expect("status");
            assert!(s.height >= *height, "node {i} came back at height {}, below its last height {height}", s.height);
            let h: Hash = header(&net, i, *height).await.expect("its last block").hash();
            assert_eq!(h, *hash, "node {i} has another block at its last height {height}");
            back_at.push(s.height);
        }
        let answering = restarted.elapsed();
        // Consensus resumes past the old tip; new transactions commit.
        let stored_tip = *back_at.iter().max().expect("four");
        wait_all(&net, &ALL4, stored_tip + 3, WAIT).await.expect("consensus resumes");
        let resumed = restarted.elapsed();
        load.wait_acked(before.len() + 30, WAIT).await.expect("transactions commit after the restart");
        let (stats, acks) = load.stop().await.expect("every lane ends cleanly");
        let new = acks.iter().filter(|a| a.height > stored_tip).count();
        assert!(new > 0, "no transaction committed above the old tip {stored_tip}");

        let top = top_height(&net, &ALL4).await;
        wait_all(&net, &ALL4, top, WAIT).await.expect("all at the top");
        for h in [old_tip, stored_tip, highest(&acks), top] {
            same_block(&net, &ALL4, h).await.expect("the same block and state root everywhere");
        }
        for i in ALL4 {
            assert_acked_on(&net, i, &acks, "before and after the crash").await;
        }
        if let Err(reports) = no_equivocation(&net, &ALL4).await {
            panic!("an honest validator equivocated or was asked to:\n{reports}");
        }
        eprintln!(
            "n4f4 all killed: last heights {:?} (old tip {old_tip}); back at {back_at:?}; all answering \
             {answering:.1?} after the restart, height {} reached {resumed:.1?} after it; {} acknowledged \
             before the crash (heights up to {}), {} in all ({new} above the old tip), all found on all 4 nodes; \
             final height {top}; lanes: {stats:?}; test {:.1?}",
            last.iter().map(|l| l.0).collect::<Vec<_>>(),
            stored_tip + 3,
            before.len(),
            highest(&before),
            acks.len(),
            began.elapsed()
        );
    });
}

/// The longest scenario: about 2 minutes in a debug build here (3 validators make 9 blocks/s),
/// 95 s in release.
#[test]
fn n4f1_node_1000_blocks_behind_and_n4_observer_joining_late_catch_up() {
    const BEHIND: u64 = 1_000;
    const BEHIND_WAIT: Duration = Duration::from_secs(900);
    serially(async {
        let began = Instant::now();
        // Validators 0-3, observer 4; idle blocks every 10 ms. While validator 3 is down, every
        // fourth height (its turn to propose) waits out the propose timeout and then the
        // precommit timeout (Tendermint: 2/3 precommits for nil start it) before round 1: short
        // ones keep that cost small (with the defaults, 1.2 s: 3 blocks/s instead of 46 in release).
        let mut net = TestNet::with_options(Options {
            chain_id: "bct-test".into(),
            validators: 4,
            observers: 1,
            base_port: None,
            empty_block_interval_ms: 10,
            timeout_propose_ms: 200,
            tls: false,
        });
        for i in 0..5 {
            let mut config = net.config(i).expect("config");
            config.consensus.timeout_prevote_ms = 100;
            config.consensus.timeout_precommit_ms = 100;
            config.save(net.home(i)).expect("save");
        }
        start(&mut net, &ALL4).await;
        let accounts = fund(&net, 2).await.expect("accounts funded");

        // Validator 3 stops (Ctrl-C); the observer has never run.
        stop_cleanly(&mut net, 3).await;
        let from = top_height(&net, &[0, 1, 2]).await;
        // Transactions during the outage, so the missed blocks are not all empty.
        let load = Load::start(&net, &[0, 1, 2], accounts);
        load.wait_acked(20, WAIT).await.expect("transactions during the outage");
        let (_, acks) = load.stop().await.expect("lanes end");
        let produced = Instant::now();
        let target = net.wait_height(0, from + BEHIND, BEHIND_WAIT).await.expect("1,000 more blocks");
        let target = top_height(&net, &[0, 1, 2]).await.max(target);
        let produce_time = produced.elapsed();
        let behind = target - from;

        // Both start at once and catch up.
        let restarted = Instant::now();
        net.start(3).expect("restart validator 3");
        net.start(4).expect("start the observer");
        let mut times = Vec::new();
        for i in [3, 4] {
            net.wait_height(i, target, BEHIND_WAIT).await.expect("catches up");
            times.push(restarted.elapsed());
        }
        let h = same_block(&net, &[0, 1, 2, 3, 4], target).await.expect("the same block and state root");
        assert_eq!(h.height, target);
        for i in [3, 4] {
            assert_acked_on(&net, i, &acks, "during the outage").await;
        }
        // And they follow the chain from there.
        let next = top_height(&net, &[0, 1, 2, 3, 4]).await + 5;
        wait_all(&net, &[0, 1, 2, 3, 4], next, WAIT).await.expect("all follow");
        same_block(&net, &[0, 1, 2, 3, 4], next).await.expect("the same block and state root");
        let rate = |d: Duration| target as f64 / d.as_secs_f64();
        eprintln!(
            "catch-up: validator 3 stopped at {from}; 3 validators made {behind} blocks in {produce_time:.1?} \
             ({:.0} blocks/s, {} transactions among them); validator 3 caught up from {from} to {target} in \
             {:.1?} ({:.0} blocks/s), the observer from 0 to {target} in {:.1?} ({:.0} blocks/s), both at once; \
             test {:.1?}",
            behind as f64 / produce_time.as_secs_f64(),
            acks.len(),
            times[0],
            (target - from) as f64 / times[0].as_secs_f64(),
            times[1],
            rate(times[1]),
            began.elapsed()
        );
    });
}

// ---- storage faults ----------------------------------------------------------------------------

/// A one-validator network with transactions committed, stopped cleanly; what its store holds
/// (read in this process): the committed height and its block hash, a block with transactions
/// and its parent's hash.
struct Stopped {
    net: TestNet,
    height: u64,
    hash: Hash,
    busy: u64,
    parent: Hash,
    head_parent: Hash,
}

impl Stopped {
    /// Runs the network, then stops it cleanly (SIGINT) or, if `crash`, with SIGKILL.
    async fn new(crash: bool) -> Stopped {
        let mut net = TestNet::new(1, 0);
        start(&mut net, &[0]).await;
        let accounts = fund(&net, 2).await.expect("accounts funded");
        let load = Load::start(&net, &[0], accounts);
        load.wait_acked(10, WAIT).await.expect("transactions");
        let (_, acks) = load.stop().await.expect("lanes end");
        let busy = acks[acks.len() / 2].height;
        if crash {
            net.kill(0).expect("kill");
        } else {
            stop_cleanly(&mut net, 0).await;
        }
        let mut s = Stopped { net, height: 0, hash: Hash::ZERO, busy, parent: Hash::ZERO, head_parent: Hash::ZERO };
        s.reload();
        s
    }

    /// Reads what the stopped node's store holds, from a copy (opening sled writes to its
    /// files: a snapshot when it closes).
    fn reload(&mut self) {
        let copy = self.net.root.join("inspect");
        let _ = std::fs::remove_dir_all(&copy);
        copy_dir(&self.ledger_dir(), &copy);
        {
            let ledger =
                Ledger::open(open_store(&copy), self.net.genesis().expect("genesis")).expect("the store opens");
            self.parent = ledger.block(self.busy - 1).expect("reads").expect("stored").hash();
            (self.height, self.hash, self.head_parent) =
                (ledger.height(), ledger.head().hash(), ledger.head().prev_hash);
        }
        wait_unlocked(&copy);
        std::fs::remove_dir_all(&copy).expect("remove the copy");
    }

    fn ledger_dir(&self) -> PathBuf {
        self.net.home(0).join("data").join("ledger")
    }

    /// Keeps a copy of the node's data directory.
    fn backup(&self, name: &str) -> PathBuf {
        let backup = self.net.root.join(format!("data-backup-{}", name.replace(' ', "-")));
        copy_dir(&self.net.home(0).join("data"), &backup);
        backup
    }

    /// Puts the copy back.
    fn restore(&self, backup: &Path) {
        let data = self.net.home(0).join("data");
        std::fs::remove_dir_all(&data).expect("remove data");
        copy_dir(backup, &data);
    }

    /// Starts the node on damaged storage: it must exit non-zero, by itself, without ever
    /// answering gRPC; its output.
    async fn refused(&self, what: &str) -> String {
        let home = self.net.home(0);
        let out_path = home.join(format!("refused-{what}.log"));
        let out = std::fs::File::create(&out_path).expect("output file");
        let program = NodeCommand::sibling_bct_node().expect("bct-node").program;
        let mut child = Command::new(program)
            .args(["run", "--home"])
            .arg(home)
            .env("RUST_LOG", "info,bct_node::blocks=debug,arc_malachitebft=warn,libp2p=warn,sled=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().expect("output")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("spawn bct-node");
        let url = self.net.node(0).url();
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if let Ok(c) = Client::connect(&url).await {
                let answer = c.network_status().await;
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: the node came up on damaged storage and answers: {answer:?}");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: the node neither started nor exited within {WAIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        assert!(!status.success(), "{what}: the node exited successfully: {output}");
        assert!(output.contains("storage error"), "{what}: no storage error in the output: {output}");
        output
    }

    /// The intact data starts, at the committed height with the same block.
    async fn starts_intact(&mut self) {
        self.net.start(0).expect("start");
        let client = self.net.client(0, WAIT).await.expect("answers");
        let s = client.network_status().await.expect("status");
        assert!(s.height >= self.height, "the intact copy came back at {} < {}", s.height, self.height);
        let h = header(&self.net, 0, self.height).await.expect("block");
        assert_eq!(h.hash(), self.hash, "the intact copy has another block at {}", self.height);
    }
}

/// Stops node `i` with Ctrl-C (SIGINT, which the node handles by shutting down) and waits
/// until it is gone.
async fn stop_cleanly(net: &mut TestNet, i: usize) {
    net.signal(i, "INT").expect("SIGINT");
    let deadline = Instant::now() + WAIT;
    while net.running_pid(i).is_some() {
        assert!(Instant::now() < deadline, "node {i} did not stop on SIGINT");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    net.kill(i).expect("reaped");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The largest file under `dir` (sled's data file).
fn largest_file(dir: &Path) -> (PathBuf, u64) {
    let mut best = (PathBuf::new(), 0);
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let entry = entry.expect("entry");
        let meta = entry.metadata().expect("metadata");
        if meta.is_file() && meta.len() > best.1 {
            best = (entry.path(), meta.len());
        } else if meta.is_dir() {
            let sub = largest_file(&entry.path());
            if sub.1 > best.1 {
                best = sub;
            }
        }
    }
    best
}

/// Opens the stopped node's sled store in this process, once no other handle holds it.
fn open_store(dir: &Path) -> SledStore {
    wait_unlocked(dir);
    SledStore::open(dir).expect("the store opens")
}

fn block_key(height: u64) -> Vec<u8> {
    let mut k = vec![b'B'];
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// Replaces the sled files of the stopped node's ledger with those of `older` (a copy of its
/// data directory taken earlier), keeping the high-water mark the node wrote since.
fn roll_back_ledger(s: &Stopped, older: &Path) {
    let ledger = s.ledger_dir();
    for entry in std::fs::read_dir(&ledger).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_name() == bct_ledger::store::HIGH_WATER_MARK_FILE {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            std::fs::remove_dir_all(entry.path()).expect("remove");
        } else {
            std::fs::remove_file(entry.path()).expect("remove");
        }
    }
    let old_ledger = older.join("ledger");
    for entry in std::fs::read_dir(&old_ledger).expect("read dir") {
        let entry = entry.expect("entry");
        if entry.file_name() == bct_ledger::store::HIGH_WATER_MARK_FILE {
            continue;
        }
        let target = ledger.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn storage_truncated_detected_at_startup() {
    serially(async {
        let began = Instant::now();
        // Two kinds of lost data, each made the same way every run, after a crash (SIGKILL: sled
        // never closed) and after a clean stop (Ctrl-C: sled wrote its snapshot):
        // - "cut to zero": sled's data file truncated to nothing;
        // - "older copy": sled's files replaced by a copy taken at least 5 blocks earlier, the
        //   high-water mark kept. This is what sled makes of a truncated or damaged log (it
        //   reopens an older, self-consistent prefix without a word), made without depending on
        //   where sled happens to lay out its records in the file.
        let mut s = Stopped::new(true).await;
        let mut messages = Vec::new();
        for stop in ["crash", "clean stop"] {
            let older = s.backup(&format!("older before the {stop}"));
            let older_height = s.height;
            s.net.start(0).expect("start");
            s.net.wait_height(0, older_height + 5, WAIT).await.expect("blocks");
            if stop == "crash" {
                s.net.kill(0).expect("kill");
            } else {
                stop_cleanly(&mut s.net, 0).await;
            }
            s.reload();
            assert!(s.height >= older_height + 5, "the node stopped at {} after {older_height}", s.height);
            let current = s.backup(stop);
            for damage in ["cut to zero", "older copy"] {
                let what = format!("{stop}, {damage}");
                s.restore(&current);
                if damage == "cut to zero" {
                    let (file, _) = largest_file(&s.ledger_dir());
                    let f = std::fs::OpenOptions::new().write(true).open(&file).expect("data file");
                    f.set_len(0).expect("truncate");
                } else {
                    roll_back_ledger(&s, &older);
                }
                let output = s.refused(&what).await;
                let committed = format!("height {} was committed", s.height);
                let lost = output.contains("lost committed data") && output.contains(&committed);
                if damage == "cut to zero" {
                    // sled keeps snapshots beside its log (written on a clean stop, and from time
                    // to time while running): when one points into the emptied file, sled itself
                    // reports its files damaged before the ledger reads its high-water mark.
                    assert!(
                        (lost && output.contains("it holds no committed block"))
                            || output.contains("stored data is corrupt: sled found its files damaged"),
                        "{what}: the output says neither that every committed block was lost nor that the files \
                         are damaged: {output}"
                    );
                } else {
                    assert!(
                        lost && output.contains(&format!("it holds blocks up to height {older_height},")),
                        "{what}: the output does not say that blocks {}..={} were lost: {output}",
                        older_height + 1,
                        s.height
                    );
                }
                let message = output.lines().filter(|l| l.contains("storage error")).collect::<Vec<_>>().join(" | ");
                messages.push(format!("{what} (committed {}, older copy at {older_height}): {message}", s.height));
            }
            s.restore(&current);
            s.starts_intact().await;
            if stop == "crash" {
                // The clean-stop round starts from here.
                stop_cleanly(&mut s.net, 0).await;
                s.reload();
            }
        }
        eprintln!("lost data at height {}: refused: {messages:#?}; test {:.1?}", s.height, began.elapsed());
    });
}

#[test]
fn storage_corrupted_block_detected_at_startup() {
    serially(async {
        let began = Instant::now();
        let mut s = Stopped::new(false).await;
        let backup = s.backup("pristine");
        let m = s.busy;
        assert!(m >= 2 && m <= s.height, "a block with transactions below the head: {m}");
        let mut messages = Vec::new();

        let parent = s.parent;
        // (a) A stored block altered through sled: one byte of its parent hash flipped. It still
        // decodes, and says something false.
        {
            let store = open_store(&s.ledger_dir());
            let mut bytes = store.get(&block_key(m)).expect("reads").expect("stored");
            let at = bytes.windows(32).position(|w| w == parent.0).expect("the parent hash is in the stored block");
            bytes[at + 5] ^= 0x20;
            store.apply(vec![(block_key(m), Some(bytes))]).expect("writes");
        }
        wait_unlocked(&s.ledger_dir());
        let output = s.refused("parent").await;
        assert!(
            output.contains(&format!("block {m} does not extend block {}", m - 1)),
            "the output does not name the damaged block {m}: {output}"
        );
        messages.push(output.lines().filter(|l| l.contains("storage error")).collect::<Vec<_>>().join(" | "));

        // (b) Bytes flipped inside sled's file, where the block's parent hash is written.
        s.restore(&backup);
        let (file, _) = largest_file(&s.ledger_dir());
        let mut bytes = std::fs::read(&file).expect("reads");
        let at = bytes.windows(32).position(|w| w == parent.0).expect("the parent hash is in the file");
        for b in &mut bytes[at..at + 16] {
            *b ^= 0xff;
        }
        std::fs::write(&file, bytes).expect("writes");
        let output = s.refused("flipped").await;
        assert!(
            output.contains("lost committed data") || output.contains("corrupt"),
            "the output does not say the data is damaged: {output}"
        );
        messages.push(output.lines().filter(|l| l.contains("storage error")).collect::<Vec<_>>().join(" | "));

        s.restore(&backup);
        s.starts_intact().await;
        eprintln!(
            "corruption at height {} (block {m} damaged): refused: {messages:#?}; test {:.1?}",
            s.height,
            began.elapsed()
        );
    });
}
