//! Load for the fault tests: funded accounts ([`fund`]), background lanes that keep submitting
//! transactions and waiting for each commit ([`Load`]), with a record of every transaction
//! acknowledged as committed and its height ([`Ack`]); and the checks made after a fault:
//! every acknowledged transaction is on a node ([`missing_acks`]), and nodes hold the same
//! block and state root at a height ([`same_block`]).
//!
//! A lane has one transaction in flight. It submits with `wait_for_commit`; a node that does not
//! answer (killed, restarting) or answers without a commit gets the *same* signed transaction
//! again, at the next node, until some node acknowledges its commit: so a nonce is never reused
//! for another transaction, and an acknowledgement is always a node's word that the transaction
//! is in a committed block.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bct_ledger::tx::{AdmitAccount, Attest, Issue, RegisterProject, Transfer, TxKind};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Role};
use bct_ledger::{Address, Amount, BlockHeader, Hash, SignedTx, TxId};
use bct_testnet::Testnet;
use bct_wallet::client::{address_of, sign_tx, Client, ClientError, Committed, TxStatus};
use ed25519_dalek::SigningKey;
use tokio::task::JoinHandle;

/// Longest a lane keeps offering one transaction before it gives up (and the test fails).
pub const ACK_WAIT: Duration = Duration::from_secs(180);
/// What a lane asks a node to wait for a commit, per attempt, ms.
const SUBMIT_WAIT_MS: u32 = 10_000;
/// Kilograms each holder is funded with (one moves per transfer).
const FUNDING_KG: u64 = 1_000_000;

/// A fresh key.
pub fn new_key() -> SigningKey {
    bct_node::keys::NodeKey::generate().signing_key().clone()
}

/// A client to node `i` that connects when used and reconnects after the node restarts (never
/// fails to be made, even while the node is down).
pub fn lazy_client(net: &Testnet, i: usize) -> Client {
    let url = net.node(i).url();
    let channel = tonic::transport::Endpoint::from_shared(url.clone())
        .expect("node URL")
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    Client::with_channel(&url, channel)
}

/// Accounts ready to send load: the authority (admissions) and holders of a ticket (transfers).
pub struct Accounts {
    /// Chain id.
    pub chain_id: String,
    /// The genesis authority.
    pub authority: SigningKey,
    /// Its next nonce.
    pub authority_nonce: u64,
    /// Funded holders.
    pub holders: Vec<SigningKey>,
    /// Their next nonces.
    pub holder_nonces: Vec<u64>,
    /// The ticket they hold.
    pub ticket: String,
}

/// Submits `txs` (one signer's in nonce order, at most 16, or different signers') to `client`
/// without waiting, then waits until each is committed; fails unless every one is accepted.
pub async fn commit_all(client: &Client, txs: &[SignedTx]) -> Result<Vec<Committed>> {
    for tx in txs {
        client.submit(tx, false, 0).await.with_context(|| format!("submitting {}", tx.id()))?;
    }
    let mut out = Vec::new();
    for tx in txs {
        out.push(wait_committed(client, &tx.id(), ACK_WAIT).await?);
    }
    Ok(out)
}

/// Waits until `id` is committed on the node of `client`; fails if it is rejected.
pub async fn wait_committed(client: &Client, id: &TxId, timeout: Duration) -> Result<Committed> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(TxStatus::Committed(c)) = client.tx_status(id).await {
            if let Err(r) = &c.result.outcome {
                bail!("transaction {id} rejected at height {}: {r}", c.height);
            }
            return Ok(c);
        }
        if Instant::now() > deadline {
            bail!("transaction {id} not committed on {} within {timeout:?}", client.url());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn admit(address: Address, role: Role, name: &str) -> TxKind {
    TxKind::AdmitAccount(AdmitAccount { address, role, name: name.into(), jurisdiction: "CN-FJ".into() })
}

/// Admits two verifiers, a project owner and `holders` holders, registers a project, attests
/// and issues a ticket, and gives each holder [`FUNDING_KG`] of it; through node 0.
pub async fn fund(net: &Testnet, holders: usize) -> Result<Accounts> {
    let client = net.client(0, ACK_WAIT).await?;
    let chain_id = client.network_status().await?.chain_id;
    let authority = net.authority()?.signing_key().clone();
    let mut nonce = client.next_nonce(&address_of(&authority)).await?;
    let verifiers = [new_key(), new_key()];
    let owner = new_key();
    let holder_keys: Vec<SigningKey> = (0..holders).map(|_| new_key()).collect();
    let project = "FAULTS-KELP".to_string();
    let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };

    let mut kinds = vec![
        admit(address_of(&verifiers[0]), Role::Verifier, "Fault verifier A"),
        admit(address_of(&verifiers[1]), Role::Verifier, "Fault verifier B"),
        admit(address_of(&owner), Role::Holder, "Fault project owner"),
    ];
    kinds.extend(
        holder_keys.iter().enumerate().map(|(i, k)| admit(address_of(k), Role::Holder, &format!("Holder {i}"))),
    );
    kinds.push(TxKind::RegisterProject(RegisterProject {
        id: project.clone(),
        name: "Fault test kelp farm".into(),
        owner: address_of(&owner),
        ecosystem: Ecosystem::SeaweedFarm,
        location: Location { region: "CN-FJ-350122".into(), coordinates: None },
        area_centiha: 10_000,
        methodology: methodology.clone(),
    }));
    if kinds.len() > 16 {
        bail!("at most 13 holders (the mempool's nonce window is 16)");
    }
    let txs: Vec<SignedTx> = kinds
        .into_iter()
        .map(|k| {
            nonce += 1;
            sign_tx(&authority, &chain_id, nonce - 1, 0, k)
        })
        .collect();
    commit_all(&client, &txs).await.context("admissions and project")?;

    let total = Amount::from_kg(FUNDING_KG * holders as u64);
    let period = Period {
        start: Date::from_yyyymmdd(20240101).context("date")?,
        end: Date::from_yyyymmdd(20241231).context("date")?,
    };
    let report = Hash::of(b"fault test monitoring report 2024");
    let attests: Vec<SignedTx> = verifiers
        .iter()
        .map(|v| {
            let kind = TxKind::Attest(Attest {
                project: project.clone(),
                period,
                quantity: total,
                methodology: methodology.clone(),
                report_hash: report,
                statement: "verified".into(),
            });
            sign_tx(v, &chain_id, 1, 0, kind)
        })
        .collect();
    commit_all(&client, &attests).await.context("attestations")?;
    let issue = sign_tx(
        &authority,
        &chain_id,
        nonce,
        0,
        TxKind::Issue(Issue { project, period, report_hash: report, quantity: total, recipient: None }),
    );
    nonce += 1;
    let issued = commit_all(&client, &[issue]).await.context("issuance")?;
    let ticket = issued[0]
        .result
        .outcome
        .as_ref()
        .ok()
        .and_then(|a| a.ticket.clone())
        .context("the issuance named no ticket")?;
    let funding: Vec<SignedTx> = holder_keys
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let kind = TxKind::Transfer(Transfer {
                ticket: ticket.clone(),
                to: address_of(h),
                quantity: Amount::from_kg(FUNDING_KG),
                trade: None,
            });
            sign_tx(&owner, &chain_id, i as u64 + 1, 0, kind)
        })
        .collect();
    commit_all(&client, &funding).await.context("funding")?;
    Ok(Accounts {
        chain_id,
        authority,
        authority_nonce: nonce,
        holder_nonces: vec![1; holders],
        holders: holder_keys,
        ticket,
    })
}

/// A transaction acknowledged as committed by a node.
#[derive(Clone, Debug)]
pub struct Ack {
    /// The transaction.
    pub tx: TxId,
    /// The height the node said it is committed at.
    pub height: u64,
    /// The node that said so.
    pub node: usize,
    /// The lane that sent it.
    pub lane: usize,
    /// When (since the load started).
    pub at: Duration,
}

/// What one lane saw.
#[derive(Clone, Debug, Default)]
pub struct LaneStats {
    /// Transactions acknowledged.
    pub acked: usize,
    /// Attempts that failed (no answer, transport error, refusal) and were retried elsewhere.
    pub failed_attempts: usize,
    /// Attempts answered without a commit within the wait, retried.
    pub pending_answers: usize,
}

/// Background load on a network: lane 0 admits fresh accounts (the authority), lanes 1.. move
/// 1 kg between the holders; each lane sends its transactions to the nodes in turn.
pub struct Load {
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
    lanes: Vec<JoinHandle<Result<LaneStats>>>,
}

/// A lane's next transaction.
type Next = Box<dyn FnMut() -> SignedTx + Send>;

impl Load {
    /// Starts the lanes on the nodes `targets` of `net`.
    pub fn start(net: &Testnet, targets: &[usize], accounts: Accounts) -> Load {
        let clients: Arc<Vec<(usize, Client)>> = Arc::new(targets.iter().map(|&i| (i, lazy_client(net, i))).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let started = Instant::now();
        let Accounts { chain_id, authority, authority_nonce, holders, holder_nonces, ticket } = accounts;
        let mut nexts: Vec<Next> = Vec::new();
        {
            let (chain_id, mut nonce) = (chain_id.clone(), authority_nonce);
            let mut n = 0u64;
            nexts.push(Box::new(move || {
                n += 1;
                nonce += 1;
                let kind = admit(address_of(&new_key()), Role::Holder, &format!("Load account {n}"));
                sign_tx(&authority, &chain_id, nonce - 1, 0, kind)
            }));
        }
        for (i, key) in holders.iter().enumerate() {
            let to = address_of(&holders[(i + 1) % holders.len()]);
            let (chain_id, ticket, key, mut nonce) = (chain_id.clone(), ticket.clone(), key.clone(), holder_nonces[i]);
            nexts.push(Box::new(move || {
                nonce += 1;
                let kind = TxKind::Transfer(Transfer {
                    ticket: ticket.clone(),
                    to,
                    quantity: Amount::from_kg(1),
                    trade: None,
                });
                sign_tx(&key, &chain_id, nonce - 1, 0, kind)
            }));
        }
        let lanes = nexts
            .into_iter()
            .enumerate()
            .map(|(lane, next)| {
                let (clients, stop, acks) = (clients.clone(), stop.clone(), acks.clone());
                tokio::spawn(run_lane(lane, next, clients, stop, acks, started))
            })
            .collect();
        Load { stop, acks, lanes }
    }

    /// The transactions acknowledged so far, in the order the acknowledgements arrived.
    pub fn acks(&self) -> Vec<Ack> {
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many transactions were acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Waits until at least `count` transactions were acknowledged in all.
    pub async fn wait_acked(&self, count: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.acked() < count {
            if Instant::now() > deadline {
                bail!("only {} transactions acknowledged within {timeout:?}, waiting for {count}", self.acked());
            }
            if let Some(done) = self.lanes.iter().position(JoinHandle::is_finished) {
                bail!("load lane {done} stopped early");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Stops the lanes (each finishes its transaction in flight: acknowledged, or an error);
    /// every lane's statistics, and every acknowledgement.
    pub async fn stop(self) -> Result<(Vec<LaneStats>, Vec<Ack>)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut stats = Vec::new();
        for (i, lane) in self.lanes.into_iter().enumerate() {
            stats.push(lane.await.context("lane task")?.with_context(|| format!("load lane {i}"))?);
        }
        let acks = self.acks.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok((stats, acks))
    }
}

async fn run_lane(
    lane: usize,
    mut next: Next,
    clients: Arc<Vec<(usize, Client)>>,
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<Ack>>>,
    started: Instant,
) -> Result<LaneStats> {
    let mut stats = LaneStats::default();
    let mut turn = lane;
    while !stop.load(Ordering::SeqCst) {
        let tx = next();
        let id = tx.id();
        let deadline = Instant::now() + ACK_WAIT;
        // Refusals in a row: a node still catching up refuses a nonce it thinks is ahead, so a
        // refusal is retried elsewhere; refused everywhere, again and again, it is real.
        let mut refusals = 0;
        loop {
            let (node, client) = &clients[turn % clients.len()];
            turn += 1;
            let committed = match client.submit(&tx, true, SUBMIT_WAIT_MS).await {
                Ok(r) => match r.status {
                    TxStatus::Committed(c) => Some(c),
                    _ => {
                        stats.pending_answers += 1;
                        None
                    }
                },
                // The ledger's word on this very transaction: only its status tells whether it
                // is the commit of an earlier attempt (then it is acknowledged) or a refusal.
                Err(ClientError::Rejected { height: Some(h), rejection, .. }) => {
                    bail!("lane {lane}: transaction {id} rejected in block {h}: {rejection}")
                }
                Err(ClientError::Rejected { rejection, .. }) => match client.tx_status(&id).await {
                    Ok(TxStatus::Committed(c)) => Some(c),
                    _ => {
                        refusals += 1;
                        if refusals > 5 * clients.len() {
                            bail!("lane {lane}: transaction {id} refused by every node: {rejection}");
                        }
                        stats.failed_attempts += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        None
                    }
                },
                Err(_) => {
                    stats.failed_attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    None
                }
            };
            if let Some(c) = committed {
                if let Err(r) = &c.result.outcome {
                    bail!("lane {lane}: transaction {id} rejected in block {}: {r}", c.height);
                }
                acks.lock().unwrap_or_else(|e| e.into_inner()).push(Ack {
                    tx: id,
                    height: c.height,
                    node: *node,
                    lane,
                    at: started.elapsed(),
                });
                stats.acked += 1;
                break;
            }
            if Instant::now() > deadline {
                bail!("lane {lane}: transaction {id} not acknowledged by any node within {ACK_WAIT:?}");
            }
        }
    }
    Ok(stats)
}

/// The acknowledged transactions that node `i` does not have where it was acknowledged (each
/// as `id: what the node said`); an empty list when all are there. Reads each one with
/// `GetTransaction`.
pub async fn missing_acks(net: &Testnet, i: usize, acks: &[Ack]) -> Result<Vec<String>> {
    /// Reads in flight at once (one HTTP/2 connection).
    const READS_IN_FLIGHT: usize = 16;
    let client = net.client(i, ACK_WAIT).await?;
    let mut missing = Vec::new();
    for chunk in acks.chunks(READS_IN_FLIGHT) {
        let mut reads = tokio::task::JoinSet::new();
        for (k, a) in chunk.iter().enumerate() {
            let (client, a) = (client.clone(), a.clone());
            reads.spawn(async move { (k, client.transaction(&a.tx).await.map_err(|e| e.to_string())) });
        }
        let mut answers: Vec<_> = reads.join_all().await;
        answers.sort_by_key(|(k, _)| *k);
        for ((_, answer), a) in answers.into_iter().zip(chunk) {
            match answer {
                Ok(t) if t.committed.height == a.height && t.committed.result.outcome.is_ok() && t.tx.id() == a.tx => {}
                Ok(t) => missing.push(format!(
                    "{}: at height {} (accepted: {}), acknowledged at {}",
                    a.tx,
                    t.committed.height,
                    t.committed.result.outcome.is_ok(),
                    a.height
                )),
                Err(e) => missing.push(format!("{}: {e}", a.tx)),
            }
        }
    }
    Ok(missing)
}

/// The header of block `height` on node `i`.
pub async fn header(net: &Testnet, i: usize, height: u64) -> Result<BlockHeader> {
    let client = net.client(i, ACK_WAIT).await?;
    Ok(client.block(Some(height)).await.with_context(|| format!("block {height} of node {i}"))?.block.header)
}

/// Checks that `nodes` hold the same block at `height` (header hash, so the same chain below
/// it, and state root); the header.
pub async fn same_block(net: &Testnet, nodes: &[usize], height: u64) -> Result<BlockHeader> {
    let first = header(net, nodes[0], height).await?;
    for &i in &nodes[1..] {
        let h = header(net, i, height).await?;
        if h.hash() != first.hash() || h.state_root != first.state_root {
            bail!(
                "node {i} has block {} (state root {}) at height {height}, node {} has {} (state root {})",
                h.hash(),
                h.state_root,
                nodes[0],
                first.hash(),
                first.state_root
            );
        }
    }
    Ok(first)
}

/// Waits until every node of `nodes` has committed `height`.
pub async fn wait_all(net: &Testnet, nodes: &[usize], height: u64, timeout: Duration) -> Result<()> {
    for &i in nodes {
        net.wait_height(i, height, timeout).await?;
    }
    Ok(())
}

/// The highest height among `nodes` that answer.
pub async fn top_height(net: &Testnet, nodes: &[usize]) -> u64 {
    let mut top = 0;
    for &i in nodes {
        if let Ok(s) = net.status(i).await {
            top = top.max(s.height);
        }
    }
    top
}
