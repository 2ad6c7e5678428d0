//! Crash torture: validators SIGKILLed at random instants, again and again, under load.
//!
//! - `n4_all_killed_at_random_instants_cycles`: four validators under load; each cycle lets the
//!   network run for a random while (so the kill lands anywhere in a height: building,
//!   streaming, voting, committing), SIGKILLs the four at random instants within 200 ms of each
//!   other, restarts them, and requires consensus to resume past the highest stored height.
//!   After the last cycle: every acknowledged transaction is on every node, all four hold the
//!   same blocks and state roots, and no node ever reported or counted an equivocation.
//! - `n4_proposer_killed_while_streaming_its_proposal`: validator 0 is SIGKILLed right after it
//!   starts a height it proposes (at a random instant in the first 40 ms: while it builds,
//!   stores and streams its block), then restarted; again and again. The other three carry on,
//!   validator 0 catches up every time, nothing is lost, nobody equivocates.
//!
//! - `n4_validator_that_lost_its_undecided_blocks_fetches_the_decided_one`: validator 3 is
//!   SIGKILLed under load and, while it is down, the blocks it had stored for its next height
//!   are deleted (storage that lost flushed data) while its write-ahead log still names them.
//!   Restarted, its engine decides such a block from the log and a synced certificate without
//!   the bytes; the node asks its peers for the block, commits it and carries on, never
//!   restarting the height (which would make it vote again in rounds it has voted in).
//!
//! The random instants come from a seed printed at the start; `BCT_TORTURE_SEED=<seed>` replays
//! a run, `BCT_TORTURE_CYCLES=<n>` changes the number of cycles (30 and 10 by default). Nothing
//! asserts on time; deadlines only stop hangs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bct_ledger::Address;
use bct_tests::harness::{no_equivocation, serially, wait_unlocked, TestNet, WAIT};
use bct_tests::load::{fund, missing_acks, same_block, top_height, wait_all, Load};

const ALL4: [usize; 4] = [0, 1, 2, 3];

/// A small deterministic generator (splitmix64): the same seed, the same instants.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration in `0..max_ms` milliseconds.
    fn ms(&mut self, max_ms: u64) -> Duration {
        Duration::from_millis(self.next() % max_ms.max(1))
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The seed of this run (printed, so that a failing run can be replayed).
fn seed(test: &str) -> u64 {
    let seed = env_u64("BCT_TORTURE_SEED")
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1));
    eprintln!("{test}: seed {seed} (replay with BCT_TORTURE_SEED={seed})");
    seed
}

fn cycles(default: u64) -> u64 {
    env_u64("BCT_TORTURE_CYCLES").unwrap_or(default)
}

/// Starts `nodes` and waits until each has committed block 1.
async fn start(net: &mut TestNet, nodes: &[usize]) {
    for &i in nodes {
        net.start(i).expect("start");
    }
    wait_all(net, nodes, 1, WAIT).await.expect("first block");
}

/// After the load: every acknowledged transaction on every node, the same block and state root
/// everywhere at the top, no equivocation reported or counted anywhere.
async fn check_after(net: &TestNet, load: Load, seed: u64) -> (usize, u64) {
    let (_, acks) = load.stop().await.unwrap_or_else(|e| panic!("seed {seed}: a load lane failed: {e:#}"));
    let top = top_height(net, &ALL4).await;
    wait_all(net, &ALL4, top, WAIT).await.unwrap_or_else(|e| panic!("seed {seed}: all at the top {top}: {e:#}"));
    same_block(net, &ALL4, top).await.unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
    for i in ALL4 {
        let missing = missing_acks(net, i, &acks).await.expect("node answers");
        assert!(
            missing.is_empty(),
            "seed {seed}: node {i} lacks {} of the {} acknowledged transactions: {missing:?}",
            missing.len(),
            acks.len()
        );
    }
    if let Err(reports) = no_equivocation(net, &ALL4).await {
        panic!("seed {seed}: an honest validator equivocated or was asked to:\n{reports}");
    }
    (acks.len(), top)
}

#[test]
fn n4_all_killed_at_random_instants_cycles() {
    serially(async {
        let began = Instant::now();
        let seed = seed("all killed at random instants");
        let mut rng = Rng(seed);
        let cycles = cycles(30);
        let mut net = TestNet::new(4, 0);
        start(&mut net, &ALL4).await;
        let accounts = fund(&net, 4).await.expect("accounts funded");
        let load = Load::start(&net, &ALL4, accounts);
        load.wait_acked(10, WAIT).await.expect("load before the first crash");

        let mut resumed_after = Vec::new();
        for cycle in 1..=cycles {
            // Run for a while, then kill the four at their own instants.
            tokio::time::sleep(Duration::from_millis(200) + rng.ms(1_500)).await;
            let mut offsets: Vec<(Duration, usize)> = ALL4.iter().map(|&i| (rng.ms(200), i)).collect();
            offsets.sort();
            let mut waited = Duration::ZERO;
            for (at, i) in offsets {
                tokio::time::sleep(at - waited).await;
                waited = at;
                net.signal(i, "KILL").unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: SIGKILL {i}: {e:#}"));
            }
            for i in ALL4 {
                net.kill(i).expect("reaped");
            }
            let restarted = Instant::now();
            for i in ALL4 {
                net.start(i).expect("restart");
            }
            let mut stored = 0;
            for i in ALL4 {
                let client = net
                    .client(i, WAIT)
                    .await
                    .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: node {i} does not answer: {e:#}"));
                stored = stored.max(client.network_status().await.expect("status").height);
            }
            // Consensus resumes: two heights past the highest stored one, on every node.
            wait_all(&net, &ALL4, stored + 2, WAIT).await.unwrap_or_else(|e| {
                panic!("seed {seed} cycle {cycle}: consensus did not resume past height {stored}: {e:#}")
            });
            resumed_after.push(restarted.elapsed());
            if let Err(reports) = no_equivocation(&net, &ALL4).await {
                panic!("seed {seed} cycle {cycle}: an honest validator equivocated or was asked to:\n{reports}");
            }
        }
        let before = load.acked();
        load.wait_acked(before + 10, WAIT).await.expect("transactions commit after the last crash");
        let (acked, top) = check_after(&net, load, seed).await;
        let slowest = resumed_after.iter().max().copied().unwrap_or_default();
        let mean = resumed_after.iter().sum::<Duration>() / resumed_after.len().max(1) as u32;
        eprintln!(
            "all killed at random instants: {cycles} of {cycles} cycles survived (seed {seed}); consensus resumed \
             {mean:.1?} after a restart on average, {slowest:.1?} at most; {acked} transactions acknowledged, all on \
             all 4 nodes; final height {top}, same block and state root everywhere; no equivocation; test {:.1?}",
            began.elapsed()
        );
    });
}

#[test]
fn n4_proposer_killed_while_streaming_its_proposal() {
    serially(async {
        let began = Instant::now();
        let seed = seed("proposer killed while streaming");
        let mut rng = Rng(seed);
        let cycles = cycles(10);
        let mut net = TestNet::new(4, 0);
        start(&mut net, &ALL4).await;
        let accounts = fund(&net, 4).await.expect("accounts funded");
        let load = Load::start(&net, &ALL4, accounts);
        load.wait_acked(10, WAIT).await.expect("load before the first crash");

        // The proposer of (height, round 0) is validator number (height - 1) mod 4 in address order.
        let genesis = net.genesis().expect("genesis");
        let mut order: Vec<Address> =
            genesis.validators.iter().map(|v| Address::from_public_key(&v.public_key)).collect();
        order.sort();
        let victim = 0;
        let victim_key = hex_key(&net, victim);
        let position = genesis
            .validators
            .iter()
            .find(|v| hex::encode(v.public_key) == victim_key)
            .and_then(|v| order.iter().position(|a| *a == Address::from_public_key(&v.public_key)))
            .expect("validator 0 is in the genesis") as u64;

        let mut landed = 0;
        for cycle in 1..=cycles {
            // Wait for the height before one the victim proposes, then kill it a moment after
            // it commits that height (it is then building, storing or streaming its block).
            let deadline = Instant::now() + WAIT;
            let killed_at = loop {
                assert!(Instant::now() < deadline, "seed {seed} cycle {cycle}: validator 0 made no progress");
                let h = net.status(victim).await.map(|s| s.height).unwrap_or(0);
                // Next height h + 1 is the victim's when h mod 4 == its position.
                if h > 0 && h % 4 == position {
                    tokio::time::sleep(rng.ms(40)).await;
                    net.signal(victim, "KILL").expect("SIGKILL");
                    break h + 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            net.kill(victim).expect("reaped");
            let log = std::fs::read_to_string(net.log_path(victim)).unwrap_or_default();
            let tail = log.rsplit("node started").next().unwrap_or_default();
            if tail.contains(&format!("proposing block height={killed_at} "))
                && !tail.contains(&format!("committed block height={killed_at} "))
            {
                landed += 1;
            }
            // The three others carry on without it.
            let others = [1, 2, 3];
            wait_all(&net, &others, killed_at + 1, WAIT)
                .await
                .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: the other three stalled: {e:#}"));
            tokio::time::sleep(rng.ms(500)).await;
            net.start(victim).expect("restart");
            let top = top_height(&net, &others).await;
            wait_all(&net, &ALL4, top, WAIT)
                .await
                .unwrap_or_else(|e| panic!("seed {seed} cycle {cycle}: validator 0 did not catch up to {top}: {e:#}"));
            if let Err(reports) = no_equivocation(&net, &ALL4).await {
                panic!("seed {seed} cycle {cycle}: an honest validator equivocated or was asked to:\n{reports}");
            }
        }
        let before = load.acked();
        load.wait_acked(before + 10, WAIT).await.expect("transactions commit after the last crash");
        let (acked, top) = check_after(&net, load, seed).await;
        eprintln!(
            "proposer killed while streaming: {cycles} cycles survived (seed {seed}); {landed} kills landed after \
             validator 0 had built its block and before it committed it; {acked} transactions acknowledged, all on \
             all 4 nodes; final height {top}; no equivocation; test {:.1?}",
            began.elapsed()
        );
    });
}

fn hex_key(net: &TestNet, i: usize) -> String {
    net.node(i).public_key.to_lowercase()
}

#[test]
fn n4_validator_that_lost_its_undecided_blocks_fetches_the_decided_one() {
    serially(async {
        let began = Instant::now();
        let seed = seed("lost undecided blocks");
        let mut rng = Rng(seed);
        let mut net = TestNet::new(4, 0);
        start(&mut net, &ALL4).await;
        let accounts = fund(&net, 4).await.expect("accounts funded");
        let load = Load::start(&net, &ALL4, accounts);
        load.wait_acked(10, WAIT).await.expect("load before the first crash");
        let victim = 3;
        let others = [0, 1, 2];
        let ledger_dir = net.home(victim).join("data").join("ledger");
        // A crash leaves a block to lose only when it lands after the next proposal arrived and the
        // engine decides from its log: about one crash in four here; 40 make a miss negligible.
        let attempts = 40;
        let mut fetched_on = None;
        for attempt in 1..=attempts {
            tokio::time::sleep(Duration::from_millis(100) + rng.ms(400)).await;
            net.signal(victim, "KILL").expect("SIGKILL");
            net.kill(victim).expect("reaped");
            let stored = {
                wait_unlocked(&ledger_dir);
                let store = bct_ledger::SledStore::open(&ledger_dir).expect("the store opens");
                let db = store.db();
                let pending = db.open_tree(b"consensus-pending").expect("tree");
                let n = pending.len();
                pending.clear().expect("clear");
                db.flush().expect("flush");
                n
            };
            wait_unlocked(&ledger_dir);
            let top = top_height(&net, &others).await;
            wait_all(&net, &others, top + 2, WAIT)
                .await
                .unwrap_or_else(|e| panic!("seed {seed} attempt {attempt}: the other three stalled: {e:#}"));
            let log_len = std::fs::metadata(net.log_path(victim)).map(|m| m.len()).unwrap_or(0) as usize;
            net.start(victim).expect("restart");
            let top = top_height(&net, &others).await;
            wait_all(&net, &ALL4, top, WAIT)
                .await
                .unwrap_or_else(|e| panic!("seed {seed} attempt {attempt}: validator 3 did not catch up: {e:#}"));
            let log = std::fs::read_to_string(net.log_path(victim)).unwrap_or_default();
            let run = log.get(log_len..).unwrap_or_default();
            assert!(!run.contains("storage error"), "seed {seed} attempt {attempt}: validator 3 stopped: {run}");
            if stored > 0 && run.contains("fetched the decided block from a peer") {
                fetched_on = Some(attempt);
                break;
            }
        }
        let attempt = fetched_on.unwrap_or_else(|| {
            panic!(
                "seed {seed}: in {attempts} crashes, validator 3 never had to fetch a decided block it had lost \
                 (its log never named one)"
            )
        });
        let before = load.acked();
        load.wait_acked(before + 10, WAIT).await.expect("transactions commit after the fetch");
        let (acked, top) = check_after(&net, load, seed).await;
        eprintln!(
            "lost undecided blocks: validator 3 fetched the decided block it had lost from a peer at crash {attempt} \
             (seed {seed}); {acked} transactions acknowledged, all on all 4 nodes; final height {top}; no \
             equivocation; test {:.1?}",
            began.elapsed()
        );
    });
}
