//! The load generator: funded accounts and pre-signed transfers, offered to the validators in
//! batches (`SubmitBatch`), at a fixed rate (open loop) or with a fixed number in flight
//! (closed loop, which finds saturation). Commits are observed on one node's block event stream;
//! a transfer's latency is from its submission to the arrival of the block that commits it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bct_ledger::tx::{AdmitAccount, Attest, Issue, RegisterProject, Retire, Transfer, TxKind};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role};
use bct_ledger::{Address, Amount, Hash, SignedTx, TxId};
use bct_proto::pb;
use bct_wallet::client::{sign_tx, Client, TxStatus};
use ed25519_dalek::SigningKey;
use serde::Serialize;
use tonic::transport::Channel;

use crate::net::{process_usage, Testnet};

/// How load is offered.
#[derive(Clone, Copy, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A fixed rate, transfers/s, whatever the network does.
    Open {
        /// Transfers per second.
        rate: u64,
    },
    /// A fixed number of transfers in flight: a new one as soon as one commits.
    Closed {
        /// In flight.
        in_flight: usize,
    },
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Open or closed loop.
    pub mode: Mode,
    /// Measured time.
    pub duration: Duration,
    /// Load before measuring.
    pub warmup: Duration,
    /// Funded sender accounts.
    pub accounts: usize,
    /// Every Nth transaction of an account retires 1 kg instead of transferring it (a ledger
    /// with retirements to search, for `web-bench`); `None`: transfers only.
    pub retire_every: Option<u64>,
}

/// Transactions of one signer that may wait in a mempool at once (the node's nonce window).
const ACCOUNT_IN_FLIGHT_MAX: usize = 16;
/// Transactions per `SubmitBatch` call of the generator.
const BATCH_TXS: usize = 500;
/// Batches in flight to one node.
const BATCHES_IN_FLIGHT: usize = 4;
/// Kilograms each account is funded with.
const FUNDING_KG: u64 = 100_000;
/// Exchanges admitting the accounts (each admits up to 16 per block).
const EXCHANGES: usize = 16;

/// One node's resource use over the measured window.
#[derive(Clone, Debug, Serialize)]
pub struct NodeUsage {
    /// Node name.
    pub name: String,
    /// CPU time over the window divided by its length (1.0 = one core busy).
    pub cpu_cores: f64,
    /// Resident memory at the end, MiB.
    pub rss_mib: f64,
}

/// The outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// Open or closed loop.
    pub mode: Mode,
    /// Validators, observers.
    pub validators: usize,
    /// Observers.
    pub observers: usize,
    /// Funded accounts.
    pub accounts: usize,
    /// Measured window, s.
    pub duration_s: f64,
    /// Transfers offered per second in the window.
    pub offered_per_s: f64,
    /// Transfers committed per second in the window (the throughput).
    pub committed_per_s: f64,
    /// Transfers committed in the window.
    pub committed: u64,
    /// Committed transfers the ledger rejected (should be 0).
    pub rejected_in_blocks: u64,
    /// Submissions refused at admission (retried).
    pub refused_at_admission: u64,
    /// A sample of admission refusals.
    pub refusal_samples: Vec<String>,
    /// Transfers the open loop could not offer on time (every account had a full window).
    pub not_offered: u64,
    /// Commit latency percentiles of transfers submitted in the window, ms.
    pub latency_ms: Percentiles,
    /// Blocks per second in the window.
    pub blocks_per_s: f64,
    /// Mean transfers per block in the window.
    pub txs_per_block: f64,
    /// Per node.
    pub nodes: Vec<NodeUsage>,
    /// The load generator itself.
    pub generator: NodeUsage,
    /// This machine's ed25519 verification rates.
    pub ed25519: Ed25519Rates,
    /// The network's ceiling if signature checks were the only work: single-core rate x cores
    /// / validators (each validator checks every signature).
    pub ed25519_ceiling_per_s: f64,
    /// committed_per_s / ed25519_ceiling_per_s.
    pub ceiling_ratio: f64,
    /// Seconds spent setting up (admissions, issuance, funding) and pre-signing.
    pub setup_s: f64,
}

/// Latency percentiles, ms.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Percentiles {
    /// Samples.
    pub samples: usize,
    /// Median.
    pub p50: f64,
    /// 95th.
    pub p95: f64,
    /// 99th.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Single-core ed25519 verification.
#[derive(Clone, Debug, Serialize)]
pub struct Ed25519Rates {
    /// One signature at a time, per second.
    pub single_per_s: f64,
    /// Batches of 1,000, per second.
    pub batch_per_s: f64,
    /// Cores of this machine.
    pub cores: usize,
}

/// The machine.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Cores available.
    pub cores: usize,
    /// Memory, GiB.
    pub memory_gib: f64,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb: f64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    Machine { cpu, cores: cores(), memory_gib: kb / (1024.0 * 1024.0) }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

// ---- setup -------------------------------------------------------------------------------------

/// Signs and submits `kinds` from `key` in nonce order, in windows of 16, each window waited
/// for; fails unless every one is accepted. Returns the results and the next nonce.
async fn run_sequence(
    client: &Client,
    raw: &mut pb::transactions_client::TransactionsClient<Channel>,
    chain_id: &str,
    key: &SigningKey,
    mut nonce: u64,
    kinds: Vec<TxKind>,
) -> Result<(Vec<bct_ledger::block::Accepted>, u64)> {
    let mut accepted = Vec::new();
    let mut kinds = kinds.into_iter().peekable();
    while kinds.peek().is_some() {
        let window: Vec<SignedTx> = kinds
            .by_ref()
            .take(ACCOUNT_IN_FLIGHT_MAX)
            .map(|k| {
                nonce += 1;
                sign_tx(key, chain_id, nonce - 1, 0, k)
            })
            .collect();
        let resp = raw
            .submit_batch(pb::SubmitBatchRequest { txs: window.iter().map(bct_proto::signed_tx_to_pb).collect() })
            .await?
            .into_inner();
        for r in &resp.results {
            if r.code != 0 {
                bail!("setup transaction refused: {}", r.message);
            }
        }
        for tx in &window {
            accepted.push(wait_accepted(client, &tx.id()).await?);
        }
    }
    Ok((accepted, nonce))
}

async fn wait_accepted(client: &Client, id: &TxId) -> Result<bct_ledger::block::Accepted> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let TxStatus::Committed(c) = client.tx_status(id).await? {
            return c.result.outcome.map_err(|r| anyhow::anyhow!("setup transaction {id} rejected: {r}"));
        }
        if Instant::now() > deadline {
            bail!("setup transaction {id} not committed within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn admit(address: Address, role: Role, name: String) -> TxKind {
    TxKind::AdmitAccount(AdmitAccount { address, role, name, jurisdiction: "CN".into() })
}

fn new_key() -> SigningKey {
    SigningKey::generate(&mut rand_core::OsRng)
}

fn address(key: &SigningKey) -> Address {
    bct_wallet::client::address_of(key)
}

/// Funded accounts ready for load: keys, their next nonces, and the ticket they hold.
struct Funded {
    keys: Vec<SigningKey>,
    next_nonce: Vec<u64>,
    ticket: String,
}

async fn setup(net: &Testnet, accounts: usize, chain_id: &str) -> Result<Funded> {
    let client = net.client(0, Duration::from_secs(30)).await?;
    let channel = tonic::transport::Endpoint::from_shared(net.node(0).url())?.connect().await?;
    let raw = pb::transactions_client::TransactionsClient::new(channel);
    let authority = net.authority()?;
    let authority = authority.signing_key();
    let authority_nonce = client.next_nonce(&address(authority)).await?;

    let verifiers = [new_key(), new_key()];
    let owner = new_key();
    let exchanges: Vec<SigningKey> = (0..EXCHANGES.min(accounts)).map(|_| new_key()).collect();
    let project = format!("BENCH-{}", std::process::id());
    let mut kinds = vec![
        admit(address(&verifiers[0]), Role::Verifier, "Bench verifier A".into()),
        admit(address(&verifiers[1]), Role::Verifier, "Bench verifier B".into()),
        admit(address(&owner), Role::Holder, "Bench project owner".into()),
    ];
    kinds.extend(
        exchanges.iter().enumerate().map(|(i, k)| admit(address(k), Role::Exchange, format!("Bench exchange {i}"))),
    );
    kinds.push(TxKind::RegisterProject(RegisterProject {
        id: project.clone(),
        name: "Benchmark kelp farm".into(),
        owner: address(&owner),
        ecosystem: Ecosystem::SeaweedFarm,
        location: Location { region: "CN-FJ-350122".into(), coordinates: None },
        area_centiha: 100_000,
        methodology: Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() },
    }));
    let (_, authority_nonce) =
        run_sequence(&client, &mut raw.clone(), chain_id, authority, authority_nonce, kinds).await?;

    let total = Amount::from_kg(FUNDING_KG * accounts as u64);
    let period = Period {
        start: Date::from_yyyymmdd(20250101).context("date")?,
        end: Date::from_yyyymmdd(20251231).context("date")?,
    };
    let report = Hash(*blake3::hash(project.as_bytes()).as_bytes());
    let attest = |_: &SigningKey| {
        TxKind::Attest(Attest {
            project: project.clone(),
            period,
            quantity: total,
            methodology: Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() },
            report_hash: report,
            statement: "benchmark monitoring report".into(),
        })
    };
    futures::future::try_join_all(verifiers.iter().map(|v| {
        let (c, mut r) = (client.clone(), raw.clone());
        let kind = attest(v);
        async move { run_sequence(&c, &mut r, chain_id, v, 1, vec![kind]).await }
    }))
    .await?;
    let (issued, _) = run_sequence(
        &client,
        &mut raw.clone(),
        chain_id,
        authority,
        authority_nonce,
        vec![TxKind::Issue(Issue {
            project: project.clone(),
            period,
            report_hash: report,
            quantity: total,
            recipient: None,
        })],
    )
    .await?;
    let ticket = issued[0].ticket.clone().context("the issuance named no ticket")?;

    // Accounts, admitted by the exchanges in parallel.
    let keys: Vec<SigningKey> = (0..accounts).map(|_| new_key()).collect();
    let groups: Vec<Vec<usize>> =
        (0..exchanges.len()).map(|e| (0..accounts).filter(|a| a % exchanges.len() == e).collect()).collect();
    futures::future::try_join_all(exchanges.iter().zip(&groups).map(|(ex, group)| {
        let (c, mut r) = (client.clone(), raw.clone());
        let kinds: Vec<TxKind> =
            group.iter().map(|a| admit(address(&keys[*a]), Role::Holder, format!("Bench account {a}"))).collect();
        async move { run_sequence(&c, &mut r, chain_id, ex, 1, kinds).await }
    }))
    .await?;

    // Funding: the owner funds one hub per group, each hub funds the rest of its group.
    let transfer = |to: Address, kg: u64| {
        TxKind::Transfer(Transfer { ticket: ticket.clone(), to, quantity: Amount::from_kg(kg), trade: None })
    };
    let hubs: Vec<usize> = groups.iter().map(|g| g[0]).collect();
    let kinds = groups.iter().map(|g| transfer(address(&keys[g[0]]), FUNDING_KG * g.len() as u64)).collect();
    run_sequence(&client, &mut raw.clone(), chain_id, &owner, 1, kinds).await?;
    let mut next_nonce = vec![1u64; accounts];
    let hub_nonces = futures::future::try_join_all(hubs.iter().zip(&groups).map(|(hub, group)| {
        let (c, mut r) = (client.clone(), raw.clone());
        let kinds: Vec<TxKind> = group[1..].iter().map(|a| transfer(address(&keys[*a]), FUNDING_KG)).collect();
        let key = &keys[*hub];
        async move { run_sequence(&c, &mut r, chain_id, key, 1, kinds).await }
    }))
    .await?;
    for (hub, (_, n)) in hubs.iter().zip(hub_nonces) {
        next_nonce[*hub] = n;
    }
    Ok(Funded { keys, next_nonce, ticket })
}

/// Beneficiaries of the bench's retirements (the search benchmark looks for a rare one).
const BENEFICIARIES: [&str; 5] = [
    "Xiamen Port Logistics",
    "Shenzhen Electronics Works",
    "Fuzhou Seafood Exporters",
    "Guangzhou Marathon 2026",
    "Ningde Battery Plant",
];

/// Pre-signs `per_account` transactions from every account in nonce order: 1 kg to the next
/// account, or with `retire_every` = n, every nth one retires 1 kg.
fn presign(funded: &Funded, chain_id: &str, per_account: usize, retire_every: Option<u64>) -> Vec<Vec<pb::SignedTx>> {
    let n = funded.keys.len();
    let threads = cores();
    let chunk = n.div_ceil(threads);
    let mut out: Vec<Vec<pb::SignedTx>> = Vec::with_capacity(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t * chunk..((t + 1) * chunk).min(n))
                        .map(|a| {
                            let to = address(&funded.keys[(a + 1) % n]);
                            (0..per_account as u64)
                                .map(|k| {
                                    let retire = retire_every.is_some_and(|n| (a as u64 + k) % n.max(1) == 0);
                                    let kind = if retire {
                                        TxKind::Retire(Retire {
                                            ticket: funded.ticket.clone(),
                                            quantity: Amount::from_kg(1),
                                            beneficiary: format!("{} #{a}", BENEFICIARIES[(a + k as usize) % 5]),
                                            purpose: Purpose::Voluntary,
                                            jurisdiction: "CN-FJ".into(),
                                            note: "bench".into(),
                                        })
                                    } else {
                                        TxKind::Transfer(Transfer {
                                            ticket: funded.ticket.clone(),
                                            to,
                                            quantity: Amount::from_kg(1),
                                            trade: None,
                                        })
                                    };
                                    bct_proto::signed_tx_to_pb(&sign_tx(
                                        &funded.keys[a],
                                        chain_id,
                                        funded.next_nonce[a] + k,
                                        0,
                                        kind,
                                    ))
                                })
                                .collect::<Vec<_>>()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            out.extend(h.join().expect("signing thread"));
        }
    });
    out
}

/// Verification rates of this machine, on one core, over `txs`.
fn ed25519_rates(txs: &[SignedTx]) -> Ed25519Rates {
    let messages: Vec<Vec<u8>> = txs.iter().map(SignedTx::signing_message).collect();
    let start = Instant::now();
    let mut ok = 0usize;
    for (t, m) in txs.iter().zip(&messages) {
        ok += usize::from(bct_ledger::crypto::verify_signature(t.public_key(), m, t.signature()));
    }
    let single = txs.len() as f64 / start.elapsed().as_secs_f64();
    assert_eq!(ok, txs.len(), "pre-signed transactions verify");
    let start = Instant::now();
    for (chunk, msgs) in txs.chunks(1000).zip(messages.chunks(1000)) {
        let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> =
            chunk.iter().zip(msgs).map(|(t, m)| (t.public_key(), m.as_slice(), t.signature())).collect();
        let flags = bct_ledger::crypto::verify_signatures(&items);
        assert!(flags.iter().all(|f| *f));
    }
    let batch = txs.len() as f64 / start.elapsed().as_secs_f64();
    Ed25519Rates { single_per_s: single, batch_per_s: batch, cores: cores() }
}

// ---- load --------------------------------------------------------------------------------------

/// Shared between the dispatcher, the senders and the commit watcher.
struct Shared {
    /// Submission time and account of every transfer in flight.
    sent: Mutex<HashMap<[u8; 32], (Instant, usize)>>,
    /// Transfers in flight per account.
    outstanding: Vec<AtomicUsize>,
    /// (commit arrival, latency) of every committed transfer.
    commits: Mutex<Vec<(Instant, Duration, Instant)>>,
    /// Arrival of every block with transfers of ours, and their count.
    blocks: Mutex<Vec<(Instant, u64, usize)>>,
    rejected: AtomicU64,
    refused: AtomicU64,
    refusal_samples: Mutex<Vec<String>>,
    /// Closed loop: permits for new submissions.
    permits: tokio::sync::Semaphore,
    latest_height: AtomicU64,
}

/// Runs the benchmark against the running network.
pub async fn run(net: &Testnet, options: &BenchOptions) -> Result<Report> {
    if net.layout.options.tls {
        anyhow::bail!(
            "the load generator talks plain gRPC: run it on a network generated without --tls (the TLS cost belongs \
             to a separate measurement)"
        );
    }
    if options.accounts < 2 {
        bail!("at least 2 accounts");
    }
    let setup_start = Instant::now();
    let client = net.client(0, Duration::from_secs(30)).await?;
    let status = client.network_status().await?;
    let chain_id = status.chain_id.clone();
    eprintln!("Setting up {} funded accounts on {chain_id}...", options.accounts);
    let funded = setup(net, options.accounts, &chain_id).await?;
    let total_s = (options.warmup + options.duration).as_secs_f64() + 5.0;
    let rate_cap = match options.mode {
        Mode::Open { rate } => rate as f64,
        Mode::Closed { .. } => 12_000.0,
    };
    let per_account = ((rate_cap * total_s) / options.accounts as f64).ceil() as usize + 2;
    eprintln!("Pre-signing {} transfers ({per_account} per account)...", per_account * options.accounts);
    let presigned = presign(&funded, &chain_id, per_account, options.retire_every);
    let sample: Vec<SignedTx> = presigned
        .iter()
        .flat_map(|v| v.iter().take(10))
        .take(20_000)
        .map(|p| bct_proto::signed_tx_from_pb(p.clone()))
        .collect::<Result<_, _>>()?;
    let ed25519 = ed25519_rates(&sample);
    let setup_s = setup_start.elapsed().as_secs_f64();
    let validators: Vec<usize> = (0..net.len()).filter(|i| net.node(*i).validator).collect();

    let in_flight_max = match options.mode {
        Mode::Closed { in_flight } => in_flight,
        Mode::Open { .. } => 0,
    };
    let shared = Arc::new(Shared {
        sent: Mutex::new(HashMap::new()),
        outstanding: (0..options.accounts).map(|_| AtomicUsize::new(0)).collect(),
        commits: Mutex::new(Vec::new()),
        blocks: Mutex::new(Vec::new()),
        rejected: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        refusal_samples: Mutex::new(Vec::new()),
        permits: tokio::sync::Semaphore::new(in_flight_max),
        latest_height: AtomicU64::new(status.height),
    });

    // Commits, from node 0's block events.
    let watcher = {
        let shared = shared.clone();
        let channel = tonic::transport::Endpoint::from_shared(net.node(0).url())?.connect().await?;
        let mut events = pb::events_client::EventsClient::new(channel).max_decoding_message_size(64 << 20);
        let from = status.height + 1;
        let mut stream = events.subscribe(pb::SubscribeRequest { from_height: from }).await?.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(block)) = stream.message().await {
                let now = Instant::now();
                let height = block.header.as_ref().map(|h| h.height).unwrap_or(0);
                shared.latest_height.store(height, Ordering::Relaxed);
                let mut ours = 0usize;
                let mut sent = shared.sent.lock().expect("sent");
                let mut commits = Vec::with_capacity(block.tx_ids.len());
                for (i, id) in block.tx_ids.iter().enumerate() {
                    let Ok(id) = <[u8; 32]>::try_from(id.as_slice()) else { continue };
                    if let Some((at, account)) = sent.remove(&id) {
                        ours += 1;
                        commits.push((now, now - at, at));
                        shared.outstanding[account].fetch_sub(1, Ordering::Relaxed);
                        let accepted = matches!(
                            block.results.get(i).and_then(|r| r.outcome.as_ref()),
                            Some(pb::tx_result::Outcome::Accepted(_))
                        );
                        if !accepted {
                            shared.rejected.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                drop(sent);
                shared.permits.add_permits(ours);
                shared.commits.lock().expect("commits").extend(commits);
                shared.blocks.lock().expect("blocks").push((now, height, ours));
            }
        })
    };

    // One sender per validator: batches of whatever is queued.
    let mut queues = Vec::new();
    for v in &validators {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<pb::SignedTx>();
        let channel = tonic::transport::Endpoint::from_shared(net.node(*v).url())?.connect().await?;
        let client = pb::transactions_client::TransactionsClient::new(channel)
            .max_encoding_message_size(8 << 20)
            .max_decoding_message_size(8 << 20);
        let shared = shared.clone();
        let resend = tx.clone();
        tokio::spawn(async move {
            let batches = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
            while let Some(first) = rx.recv().await {
                let mut txs = vec![first];
                while txs.len() < BATCH_TXS {
                    match rx.try_recv() {
                        Ok(t) => txs.push(t),
                        Err(_) => break,
                    }
                }
                let Ok(permit) = batches.clone().acquire_owned().await else { break };
                let mut client = client.clone();
                let shared = shared.clone();
                let resend = resend.clone();
                tokio::spawn(async move {
                    let answer = client.submit_batch(pb::SubmitBatchRequest { txs: txs.clone() }).await;
                    drop(permit);
                    let refused: Vec<(pb::SignedTx, String)> = match answer {
                        Ok(r) => r
                            .into_inner()
                            .results
                            .into_iter()
                            .zip(txs)
                            .filter(|(r, _)| r.code != 0)
                            .map(|(r, t)| (t, r.message))
                            .collect(),
                        Err(s) => txs.into_iter().map(|t| (t, s.message().to_string())).collect(),
                    };
                    if refused.is_empty() {
                        return;
                    }
                    shared.refused.fetch_add(refused.len() as u64, Ordering::Relaxed);
                    {
                        let mut samples = shared.refusal_samples.lock().expect("samples");
                        // One sample per kind of refusal (the text before its figures).
                        let kind = |m: &str| m.split(" (").next().unwrap_or(m).to_string();
                        for (_, m) in refused.iter().take(3) {
                            if samples.len() < 10 && !samples.iter().any(|s: &String| kind(s) == kind(m)) {
                                samples.push(m.clone());
                            }
                        }
                    }
                    // Refused (mempool full, a nonce gap): offered again a moment later.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    for (t, _) in refused {
                        let _ = resend.send(t);
                    }
                });
            }
        });
        queues.push(tx);
    }

    // The dispatcher.
    let start = Instant::now();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let mut cursor = 0usize;
    let mut next_index = vec![0usize; options.accounts];
    let mut offered_total = 0u64;
    let mut offered_in_window = 0u64;
    let mut not_offered = 0u64;
    let mut last_progress = Instant::now();
    let usage_at = |net: &Testnet| -> Vec<Option<(f64, u64)>> {
        net.pids().into_iter().map(|p| p.and_then(process_usage)).collect()
    };
    let mut usage_start = None;
    let mut self_start = None;
    let mut tick = tokio::time::interval(Duration::from_millis(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if usage_start.is_none() && now >= measure_from {
            usage_start = Some(usage_at(net));
            self_start = process_usage(std::process::id());
        }
        let due = match options.mode {
            Mode::Open { rate } => {
                let target = (now - start).as_secs_f64() * rate as f64;
                (target as u64).saturating_sub(offered_total + not_offered) as usize
            }
            Mode::Closed { .. } => {
                let n = shared.permits.available_permits();
                match shared.permits.try_acquire_many(n as u32) {
                    Ok(p) => {
                        p.forget();
                        n
                    }
                    Err(_) => 0,
                }
            }
        };
        let mut by_node: Vec<Vec<pb::SignedTx>> = vec![Vec::new(); queues.len()];
        let mut sent = Vec::with_capacity(due);
        for _ in 0..due {
            let mut found = None;
            for _ in 0..options.accounts {
                let a = cursor;
                cursor = (cursor + 1) % options.accounts;
                if shared.outstanding[a].load(Ordering::Relaxed) < ACCOUNT_IN_FLIGHT_MAX / 2
                    && next_index[a] < presigned[a].len()
                {
                    found = Some(a);
                    break;
                }
            }
            let Some(a) = found else {
                match options.mode {
                    Mode::Open { .. } => not_offered += 1,
                    Mode::Closed { .. } => shared.permits.add_permits(1),
                }
                continue;
            };
            let tx = presigned[a][next_index[a]].clone();
            next_index[a] += 1;
            shared.outstanding[a].fetch_add(1, Ordering::Relaxed);
            let id = tx_id_of(&tx);
            sent.push((id, a));
            by_node[a % queues.len()].push(tx);
            offered_total += 1;
            if now >= measure_from {
                offered_in_window += 1;
            }
        }
        if !sent.is_empty() {
            let mut map = shared.sent.lock().expect("sent");
            for (id, a) in sent {
                map.insert(id, (now, a));
            }
        }
        for (q, txs) in queues.iter().zip(by_node) {
            for t in txs {
                let _ = q.send(t);
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            progress(&shared, start, measure_from, end, offered_total);
        }
        tick.tick().await;
    }
    let usage_end = usage_at(net);
    let self_end = process_usage(std::process::id());
    eprintln!();
    // Let what is in flight commit (for the latency of the window's last submissions).
    let drain_deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < drain_deadline && !shared.sent.lock().expect("sent").is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watcher.abort();

    let window = options.duration.as_secs_f64();
    let commits = shared.commits.lock().expect("commits").clone();
    let committed = commits.iter().filter(|(at, _, _)| *at >= measure_from && *at < end).count() as u64;
    let mut latencies: Vec<f64> = commits
        .iter()
        .filter(|(_, _, submitted)| *submitted >= measure_from && *submitted < end)
        .map(|(_, l, _)| l.as_secs_f64() * 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let blocks = shared.blocks.lock().expect("blocks").clone();
    let blocks_in_window: Vec<&(Instant, u64, usize)> =
        blocks.iter().filter(|(at, _, _)| *at >= measure_from && *at < end).collect();
    let usage_start = usage_start.unwrap_or_default();
    let nodes = (0..net.len())
        .map(|i| {
            let (cpu, rss) = match (usage_start.get(i).copied().flatten(), usage_end.get(i).copied().flatten()) {
                (Some((c0, _)), Some((c1, rss))) => ((c1 - c0) / window, rss as f64 / (1024.0 * 1024.0)),
                _ => (f64::NAN, f64::NAN),
            };
            NodeUsage { name: net.node(i).name.clone(), cpu_cores: cpu, rss_mib: rss }
        })
        .collect();
    let generator = match (self_start, self_end) {
        (Some((c0, _)), Some((c1, rss))) => {
            NodeUsage { name: "generator".into(), cpu_cores: (c1 - c0) / window, rss_mib: rss as f64 / 1048576.0 }
        }
        _ => NodeUsage { name: "generator".into(), cpu_cores: f64::NAN, rss_mib: f64::NAN },
    };
    let committed_per_s = committed as f64 / window;
    let refusal_samples = shared.refusal_samples.lock().expect("samples").clone();
    let ceiling = ed25519.single_per_s * ed25519.cores as f64 / validators.len() as f64;
    Ok(Report {
        machine: machine(),
        mode: options.mode,
        validators: validators.len(),
        observers: net.len() - validators.len(),
        accounts: options.accounts,
        duration_s: window,
        offered_per_s: offered_in_window as f64 / window,
        committed_per_s,
        committed,
        rejected_in_blocks: shared.rejected.load(Ordering::Relaxed),
        refused_at_admission: shared.refused.load(Ordering::Relaxed),
        refusal_samples,
        not_offered,
        latency_ms: percentiles(&latencies),
        blocks_per_s: blocks_in_window.len() as f64 / window,
        txs_per_block: if blocks_in_window.is_empty() {
            0.0
        } else {
            blocks_in_window.iter().map(|b| b.2).sum::<usize>() as f64 / blocks_in_window.len() as f64
        },
        nodes,
        generator,
        ed25519_ceiling_per_s: ceiling,
        ceiling_ratio: committed_per_s / ceiling,
        ed25519,
        setup_s,
    })
}

fn tx_id_of(tx: &pb::SignedTx) -> [u8; 32] {
    bct_ledger::crypto::tx_id(&tx.body).0
}

fn percentiles(sorted: &[f64]) -> Percentiles {
    if sorted.is_empty() {
        return Percentiles::default();
    }
    let at = |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
    Percentiles { samples: sorted.len(), p50: at(0.50), p95: at(0.95), p99: at(0.99), max: sorted[sorted.len() - 1] }
}

fn progress(shared: &Shared, start: Instant, measure_from: Instant, end: Instant, offered: u64) {
    let now = Instant::now();
    let total = (end - start).as_secs_f64();
    let done = (now - start).as_secs_f64().min(total);
    let width = 30;
    let filled = ((done / total) * width as f64) as usize;
    let recent = {
        let commits = shared.commits.lock().expect("commits");
        commits.iter().rev().take_while(|(at, _, _)| now - *at < Duration::from_secs(1)).count()
    };
    let phase = if now < measure_from { "warmup " } else { "measure" };
    eprint!(
        "\r[{}{}] {phase} {:>3.0}/{:.0} s  offered {:>7}  committed {:>6}/s  in flight {:>6}  height {:>6}   ",
        "#".repeat(filled),
        " ".repeat(width - filled),
        done,
        total,
        offered,
        recent,
        shared.sent.lock().expect("sent").len(),
        shared.latest_height.load(Ordering::Relaxed)
    );
}

/// Prints the report as a table.
pub fn print(r: &Report) {
    println!();
    println!(
        "bct throughput benchmark: {} validators + {} observer(s), {} accounts",
        r.validators, r.observers, r.accounts
    );
    println!("machine: {} ({} cores, {:.0} GiB)", r.machine.cpu, r.machine.cores, r.machine.memory_gib);
    match r.mode {
        Mode::Open { rate } => println!("mode: open loop at {rate} transfers/s for {:.0} s", r.duration_s),
        Mode::Closed { in_flight } => println!("mode: closed loop, {in_flight} in flight, for {:.0} s", r.duration_s),
    }
    println!("  offered            {:>10.0} transfers/s", r.offered_per_s);
    println!("  committed          {:>10.0} transfers/s  ({} in the window)", r.committed_per_s, r.committed);
    println!(
        "  latency (ms)       p50 {:.0}  p95 {:.0}  p99 {:.0}  max {:.0}  ({} samples)",
        r.latency_ms.p50, r.latency_ms.p95, r.latency_ms.p99, r.latency_ms.max, r.latency_ms.samples
    );
    println!("  blocks             {:>10.1} /s, {:.0} transfers per block", r.blocks_per_s, r.txs_per_block);
    println!(
        "  refused/rejected   {} refused at admission (retried), {} rejected in blocks, {} not offered",
        r.refused_at_admission, r.rejected_in_blocks, r.not_offered
    );
    for s in &r.refusal_samples {
        println!("      e.g. {s}");
    }
    println!("  {:<14} {:>9} {:>9}", "process", "CPU cores", "RSS MiB");
    for n in r.nodes.iter().chain(std::iter::once(&r.generator)) {
        println!("  {:<14} {:>9.2} {:>9.0}", n.name, n.cpu_cores, n.rss_mib);
    }
    println!(
        "  ed25519            {:.0}/s one at a time, {:.0}/s in batches (one core; {} cores)",
        r.ed25519.single_per_s, r.ed25519.batch_per_s, r.ed25519.cores
    );
    println!(
        "  ceiling            {:.0} transfers/s if checking signatures were all the validators did; reached {:.1}%",
        r.ed25519_ceiling_per_s,
        r.ceiling_ratio * 100.0
    );
}
