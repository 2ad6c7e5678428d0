//! What the registry's lists need and the ledger's state does not keep: every trade (a transfer
//! with a price), each ticket's history, and when each ticket was issued. A follower task reads
//! each committed block once, after its commit, and writes these records to the sled tree
//! `web-index`, one atomic batch per block with the next height to read. It is off the
//! consensus path: after a crash it re-reads from its stored height (records are keyed by
//! height and position, so writing one twice changes nothing).
//!
//! Keys: `n` → next height (u64 BE); `T` height index → [`TradeRecord`];
//! `K` ticket 0x00 height index → [`HistoryRecord`]; `I` height index → [`IssueRecord`];
//! `V` ecosystem 0x00 currency → [`Volume`] (all trades so far). Heights and indexes are
//! big-endian, so keys sort by time.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use bct_ledger::tx::{FreezeTarget, TxKind};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tracing::{debug, warn};
use utoipa::ToSchema;

use super::i18n::Lang;
use super::view::{self, Found, Lookup, Page, Quantity};
use super::words;
use crate::chain::Chain;
use crate::error::NodeError;

/// The sled tree of the index.
pub const TREE: &str = "web-index";
const NEXT: &[u8] = b"n";

/// One trade: a transfer that carried a price.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TradeRecord {
    /// Height of its block.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transfer's id, hex.
    pub tx: String,
    /// Ticket.
    pub ticket: String,
    /// Its project.
    pub project: String,
    /// Its ecosystem code.
    pub ecosystem: String,
    /// Seller address.
    pub seller: String,
    /// Buyer address.
    pub buyer: String,
    /// Quantity in kg.
    pub quantity_kg: u64,
    /// Price per tonne in the currency's minor unit (fen for CNY).
    pub price_per_tonne_minor: u64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// The exchange's trade reference.
    pub reference: String,
}

/// One event in a ticket's history (accepted transactions only).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Block time, ms.
    pub time_ms: u64,
    /// Transaction id, hex.
    pub tx: String,
    /// Kind code.
    pub kind: String,
    /// In English.
    pub summary: String,
    /// In Chinese.
    pub summary_zh: String,
}

/// An issuance and its time.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssueRecord {
    /// Ticket.
    pub ticket: String,
    /// Quantity in kg.
    pub quantity_kg: u64,
    /// Block time, ms.
    pub time_ms: u64,
}

/// Traded volume and value of one ecosystem in one currency.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Volume {
    /// Trades.
    pub trades: u64,
    /// kg traded.
    pub kg: u64,
    /// Σ price per tonne (minor units) × kg: the volume-weighted price is this / kg.
    pub value: u128,
}

impl Volume {
    /// Σ(price × kg) / Σ kg, in minor units per tonne, rounded down (0 with no volume).
    pub fn volume_weighted_price(&self) -> u64 {
        if self.kg == 0 {
            0
        } else {
            u64::try_from(self.value / u128::from(self.kg)).unwrap_or(u64::MAX)
        }
    }
}

fn key(tag: u8, height: u64, index: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(13);
    k.push(tag);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn ticket_key(ticket: &str, height: u64, index: u32) -> Vec<u8> {
    let mut k = vec![b'K'];
    k.extend_from_slice(ticket.as_bytes());
    k.push(0);
    k.extend_from_slice(&height.to_be_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

fn volume_key(ecosystem: &str, currency: &str) -> Vec<u8> {
    let mut k = vec![b'V'];
    k.extend_from_slice(ecosystem.as_bytes());
    k.push(0);
    k.extend_from_slice(currency.as_bytes());
    k
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> Lookup {
    Lookup::Store(format!(
        "the web view's index of trades and ticket histories cannot be read ({what}: {e}); the ledger itself is \
         not affected; please report it with the node's log"
    ))
}

/// What a retirement search looks at, per retirement, prepared once: retirements never
/// change after they are made, and their ids run from 1 without gap, so the rows are a vector
/// that only grows. A search scans these rows (a few bytes each) instead of the ledger.
#[derive(Clone, Debug)]
pub struct RetirementRow {
    /// Retirement id.
    pub id: u64,
    /// The beneficiary, folded for searching ([`view::fold`]).
    pub beneficiary_folded: String,
    /// Purpose.
    pub purpose: bct_ledger::types::Purpose,
    /// Ticket.
    pub ticket: String,
    /// Project of the ticket.
    pub project: String,
    /// Ecosystem of the project.
    pub ecosystem: Option<bct_ledger::types::Ecosystem>,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// Block time, ms.
    pub time_ms: u64,
    /// Quantity retired, kg.
    pub quantity_kg: u64,
}

/// The index over the node's sled database.
#[derive(Clone)]
pub struct Index {
    tree: sled::Tree,
    rows: Arc<std::sync::Mutex<Vec<RetirementRow>>>,
}

impl Index {
    /// Opens the index in `db`.
    pub fn open(db: &sled::Db) -> Result<Index, NodeError> {
        let tree = db.open_tree(TREE).map_err(|e| NodeError::Storage(format!("opening {TREE}: {e}")))?;
        Ok(Index { tree, rows: Arc::default() })
    }

    /// Runs `f` over the search rows of every retirement of `state` (adding the rows of the
    /// retirements made since the last call).
    pub fn with_retirement_rows<T>(
        &self,
        state: &bct_ledger::state::State,
        f: impl FnOnce(&[RetirementRow]) -> T,
    ) -> T {
        let mut rows = match self.rows.lock() {
            Ok(rows) => rows,
            Err(poisoned) => poisoned.into_inner(),
        };
        let count = state.meta().retirements;
        // A state older than the rows (never on one node, whose ledger only grows) would make
        // them wrong: start again.
        if rows.len() as u64 > count {
            rows.clear();
        }
        for id in rows.len() as u64 + 1..=count {
            let Some(r) = state.retirements.get(&id) else { break };
            let ticket = state.tickets.get(&r.ticket);
            let project = ticket.map(|t| t.project.clone()).unwrap_or_default();
            rows.push(RetirementRow {
                id,
                beneficiary_folded: view::fold(&r.beneficiary),
                purpose: r.purpose,
                ticket: r.ticket.clone(),
                ecosystem: state.projects.get(&project).map(|p| p.ecosystem),
                project,
                jurisdiction: r.jurisdiction.clone(),
                time_ms: r.time_ms,
                quantity_kg: r.quantity.kg(),
            });
        }
        f(&rows)
    }

    /// The next height to read.
    pub fn next_height(&self) -> u64 {
        self.tree
            .get(NEXT)
            .ok()
            .flatten()
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(1, u64::from_be_bytes)
    }

    /// Reads block `height` from the ledger and writes its records (one atomic batch).
    fn index_block(&self, ledger: &crate::chain::NodeLedger, height: u64) -> Result<(), String> {
        let block =
            ledger.block(height).map_err(|e| e.to_string())?.ok_or_else(|| format!("block {height} missing"))?;
        let results = ledger.results(height).map_err(|e| e.to_string())?.unwrap_or_default();
        let state = ledger.state();
        let time_ms = block.header.time_ms;
        let mut batch = sled::Batch::default();
        let mut volumes: BTreeMap<Vec<u8>, Volume> = BTreeMap::new();
        for (i, tx) in block.txs.iter().enumerate() {
            let Some(Ok(accepted)) = results.get(i).map(|r| &r.outcome) else { continue };
            let index = i as u32;
            let kind = &tx.body().kind;
            let ticket = match kind {
                TxKind::Issue(_) => accepted.ticket.clone(),
                TxKind::Transfer(t) => Some(t.ticket.clone()),
                TxKind::Retire(t) => Some(t.ticket.clone()),
                TxKind::Pledge(t) => Some(t.ticket.clone()),
                TxKind::Release(t) => Some(t.ticket.clone()),
                TxKind::Seize(t) => Some(t.ticket.clone()),
                TxKind::Cancel(t) => Some(t.ticket.clone()),
                TxKind::Freeze(f) => match &f.target {
                    FreezeTarget::Ticket(t) => Some(t.clone()),
                    FreezeTarget::Account(_) => None,
                },
                TxKind::Unfreeze(f) => match &f.target {
                    FreezeTarget::Ticket(t) => Some(t.clone()),
                    FreezeTarget::Account(_) => None,
                },
                _ => None,
            };
            let Some(ticket) = ticket else { continue };
            let names =
                |a: &bct_ledger::Address| state.accounts.get(a).map_or_else(|| a.to_string(), |x| x.name.clone());
            let mut summary = words::describe(kind, &names, Lang::En);
            let mut summary_zh = words::describe(kind, &names, Lang::Zh);
            if let Some(r) = accepted.retirement {
                summary.push_str(&format!(" (retirement #{r})"));
                summary_zh.push_str(&format!("（注销 #{r}）"));
            }
            let record = HistoryRecord {
                height,
                index,
                time_ms,
                tx: tx.id().to_string(),
                kind: kind.name().to_string(),
                summary,
                summary_zh,
            };
            batch.insert(ticket_key(&ticket, height, index), serde_json::to_vec(&record).map_err(|e| e.to_string())?);
            let project = state.tickets.get(&ticket).map(|t| t.project.clone()).unwrap_or_default();
            let ecosystem =
                state.projects.get(&project).map(|p| view::ecosystem_code(p.ecosystem).to_string()).unwrap_or_default();
            match kind {
                TxKind::Issue(is) => {
                    let r = IssueRecord { ticket: ticket.clone(), quantity_kg: is.quantity.kg(), time_ms };
                    batch.insert(key(b'I', height, index), serde_json::to_vec(&r).map_err(|e| e.to_string())?);
                }
                TxKind::Transfer(t) => {
                    if let Some(trade) = &t.trade {
                        let r = TradeRecord {
                            height,
                            index,
                            time_ms,
                            tx: tx.id().to_string(),
                            ticket: ticket.clone(),
                            project,
                            ecosystem: ecosystem.clone(),
                            seller: tx.body().signer.to_string(),
                            buyer: t.to.to_string(),
                            quantity_kg: t.quantity.kg(),
                            price_per_tonne_minor: trade.price_per_tonne_minor,
                            currency: trade.currency.clone(),
                            reference: trade.reference.clone(),
                        };
                        batch.insert(key(b'T', height, index), serde_json::to_vec(&r).map_err(|e| e.to_string())?);
                        let vk = volume_key(&ecosystem, &trade.currency);
                        let v = match volumes.remove(&vk) {
                            Some(v) => v,
                            None => self.volume(&vk).map_err(|e| e.to_string())?,
                        };
                        let v = Volume {
                            trades: v.trades + 1,
                            kg: v.kg + t.quantity.kg(),
                            value: v.value + u128::from(trade.price_per_tonne_minor) * u128::from(t.quantity.kg()),
                        };
                        volumes.insert(vk, v);
                    }
                }
                _ => {}
            }
        }
        for (k, v) in volumes {
            batch.insert(k, serde_json::to_vec(&v).map_err(|e| e.to_string())?);
        }
        batch.insert(NEXT, &(height + 1).to_be_bytes());
        // Volumes add up: a block indexed twice would count its trades twice, so the batch
        // and the height marker are one atomic write, and the block is skipped if the marker
        // moved past it meanwhile (one follower task per node).
        if self.next_height() != height {
            return Ok(());
        }
        self.tree.apply_batch(batch).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn volume(&self, k: &[u8]) -> Found<Volume> {
        match self.tree.get(k).map_err(|e| corrupt("volume", e))? {
            Some(v) => serde_json::from_slice(&v).map_err(|e| corrupt("volume", e)),
            None => Ok(Volume::default()),
        }
    }

    /// Follows the chain: indexes every committed block, in order, as it commits.
    pub fn follow(self, chain: Arc<Chain>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut heights = chain.watch_height();
            loop {
                let top = chain.height();
                let mut next = self.next_height();
                while next <= top {
                    let ledger = chain.read().await;
                    // a few blocks per lock, so a long catch-up never holds commits back
                    let until = top.min(next + 16);
                    while next <= until {
                        if let Err(e) = self.index_block(&ledger, next) {
                            warn!(
                                height = next,
                                "the web index could not read a block: {e}; it retries at the next commit"
                            );
                            break;
                        }
                        next += 1;
                    }
                    drop(ledger);
                    if next <= until {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                debug!(next, "web index up to date");
                if heights.changed().await.is_err() {
                    return;
                }
            }
        })
    }

    /// A ticket's history, oldest first (at most `limit` events; the flag says more exist).
    pub fn history(&self, ticket: &str, limit: usize) -> Found<(Vec<HistoryRecord>, bool)> {
        let mut prefix = vec![b'K'];
        prefix.extend_from_slice(ticket.as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(&prefix) {
            let (_, v) = item.map_err(|e| corrupt("history", e))?;
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(serde_json::from_slice(&v).map_err(|e| corrupt("history", e))?);
        }
        Ok((out, false))
    }

    /// Issued kg per month (`YYYY-MM`), from the newest `max` issuances.
    pub fn issued_by_month(&self, max: usize) -> Found<BTreeMap<String, u64>> {
        let mut months = BTreeMap::new();
        for item in self.tree.range(key(b'I', 0, 0)..key(b'I', u64::MAX, u32::MAX)).rev().take(max) {
            let (_, v) = item.map_err(|e| corrupt("issuance", e))?;
            let r: IssueRecord = serde_json::from_slice(&v).map_err(|e| corrupt("issuance", e))?;
            *months.entry(view::utc_date(r.time_ms)[..7].to_string()).or_default() += r.quantity_kg;
        }
        Ok(months)
    }

    /// Trades newest first, before `cursor` (`height.index` of the last one seen), filtered.
    pub fn trades(&self, f: &TradeFilter, cursor: Option<(u64, u32)>, limit: usize) -> Found<Page<TradeView>> {
        let (found, next) = self.trade_records(f, cursor, limit)?;
        Ok(Page {
            items: found.into_iter().map(TradeView::from).collect(),
            next_cursor: next.map(|(h, i)| format!("{h}.{i}")),
        })
    }

    /// Trade records newest first, before `cursor` (height and index of the last one seen),
    /// filtered, and the cursor of the next page if more may follow (a page ends after
    /// [`view::SCAN_MAX`] examined).
    pub fn trade_records(
        &self,
        f: &TradeFilter,
        cursor: Option<(u64, u32)>,
        limit: usize,
    ) -> Found<(Vec<TradeRecord>, Option<(u64, u32)>)> {
        let end = match cursor {
            Some((h, i)) => Bound::Excluded(key(b'T', h, i)),
            None => Bound::Included(key(b'T', u64::MAX, u32::MAX)),
        };
        let mut items = Vec::new();
        let mut next_cursor = None;
        let mut last_seen = None;
        for (scanned, item) in self.tree.range((Bound::Included(key(b'T', 0, 0)), end)).rev().enumerate() {
            if items.len() == limit || scanned == view::SCAN_MAX {
                next_cursor = last_seen;
                break;
            }
            let (_, v) = item.map_err(|e| corrupt("trade", e))?;
            let t: TradeRecord = serde_json::from_slice(&v).map_err(|e| corrupt("trade", e))?;
            last_seen = Some((t.height, t.index));
            let keep = f.project.as_ref().is_none_or(|p| *p == t.project)
                && f.ticket.as_ref().is_none_or(|x| *x == t.ticket)
                && f.ecosystem.as_ref().is_none_or(|e| *e == t.ecosystem)
                && f.from_ms.is_none_or(|from| t.time_ms >= from)
                && f.until_ms.is_none_or(|until| t.time_ms < until);
            if keep {
                items.push(t);
            }
        }
        Ok((items, next_cursor))
    }

    /// Volume and volume-weighted price per ecosystem and currency, over every trade.
    pub fn volumes(&self) -> Found<Vec<VolumeView>> {
        let mut out = Vec::new();
        for (ecosystem, currency, v) in self.volume_records()? {
            let vwap = v.volume_weighted_price();
            out.push(VolumeView {
                volume_weighted_price_per_tonne: words::price(vwap, &currency),
                ecosystem,
                currency,
                trades: v.trades,
                volume: bct_ledger::Amount::from_kg(v.kg).into(),
                volume_weighted_price_per_tonne_minor: vwap,
            });
        }
        Ok(out)
    }

    /// (ecosystem code, currency, volume) of every ecosystem and currency traded.
    pub fn volume_records(&self) -> Found<Vec<(String, String, Volume)>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(b"V") {
            let (k, v) = item.map_err(|e| corrupt("volume", e))?;
            let v: Volume = serde_json::from_slice(&v).map_err(|e| corrupt("volume", e))?;
            let rest = String::from_utf8_lossy(&k[1..]).to_string();
            let (ecosystem, currency) = rest.split_once('\0').unwrap_or((&rest, ""));
            out.push((ecosystem.to_string(), currency.to_string(), v));
        }
        Ok(out)
    }
}

/// Filters of the trade list.
#[derive(Debug, Default)]
pub struct TradeFilter {
    /// Project id.
    pub project: Option<String>,
    /// Ticket id.
    pub ticket: Option<String>,
    /// Ecosystem code.
    pub ecosystem: Option<String>,
    /// From (ms, inclusive).
    pub from_ms: Option<u64>,
    /// Until (ms, exclusive).
    pub until_ms: Option<u64>,
}

/// Parses a trade cursor (`height.index`).
pub fn parse_trade_cursor(s: &str) -> Found<(u64, u32)> {
    s.split_once('.')
        .and_then(|(h, i)| Some((h.parse().ok()?, i.parse().ok()?)))
        .ok_or_else(|| Lookup::Bad(format!("cursor: {} is not a cursor this list returned", view::quote(s))))
}

/// A trade as the API shows it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TradeView {
    /// Height of its block.
    pub height: u64,
    /// Block time, `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// Block time, ms since the Unix epoch.
    pub time_ms: u64,
    /// The transfer, hex.
    pub tx: String,
    /// Ticket.
    pub ticket: String,
    /// Project.
    pub project: String,
    /// Ecosystem code.
    pub ecosystem: String,
    /// Seller address.
    pub seller: String,
    /// Buyer address.
    pub buyer: String,
    /// Quantity.
    pub quantity: Quantity,
    /// Price per tonne in minor units (fen for CNY).
    pub price_per_tonne_minor: u64,
    /// Price per tonne in words, e.g. `58.00 CNY/t`.
    pub price: String,
    /// ISO 4217 currency.
    pub currency: String,
    /// The exchange's trade reference.
    pub reference: String,
}

impl From<TradeRecord> for TradeView {
    fn from(t: TradeRecord) -> TradeView {
        TradeView {
            height: t.height,
            time: view::utc(t.time_ms),
            time_ms: t.time_ms,
            tx: t.tx,
            ticket: t.ticket,
            project: t.project,
            ecosystem: t.ecosystem,
            seller: t.seller,
            buyer: t.buyer,
            quantity: bct_ledger::Amount::from_kg(t.quantity_kg).into(),
            price: words::price(t.price_per_tonne_minor, &t.currency),
            price_per_tonne_minor: t.price_per_tonne_minor,
            currency: t.currency,
            reference: t.reference,
        }
    }
}

/// Traded volume and volume-weighted price of one ecosystem in one currency.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VolumeView {
    /// Ecosystem code.
    pub ecosystem: String,
    /// Currency.
    pub currency: String,
    /// Number of trades.
    pub trades: u64,
    /// Quantity traded.
    pub volume: Quantity,
    /// Volume-weighted price per tonne in words.
    pub volume_weighted_price_per_tonne: String,
    /// The same in minor units.
    pub volume_weighted_price_per_tonne_minor: u64,
}
