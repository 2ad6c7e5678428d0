//! The ledger's state in memory: typed tables with an undo journal.
//!
//! Every change goes through [`Table::put`] / [`Table::del`], which remember the old
//! value. A rejected transaction is undone by rolling the journal back to the mark taken
//! before it; a block's write set is the set of keys the journal touched. This keeps
//! transaction handlers ordinary code (`?` anywhere) while guaranteeing that a rejected
//! transaction changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::crypto::{Address, Hash};
use crate::types::{Account, Attestation, Lot, LotState, Project, Retirement, Ticket, Validator};

/// Most validators in a set.
pub const VALIDATORS_MAX: usize = 100;

/// One typed key-value table with an undo journal.
#[derive(Debug, Clone)]
pub struct Table<K, V> {
    map: BTreeMap<K, V>,
    journal: Vec<(K, Option<V>)>,
}

impl<K: Ord + Clone, V: Clone> Default for Table<K, V> {
    fn default() -> Self {
        Table { map: BTreeMap::new(), journal: Vec::new() }
    }
}

impl<K: Ord + Clone, V: Clone> Table<K, V> {
    /// The value at `k`.
    pub fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    /// Whether `k` is present.
    pub fn contains(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }

    /// Sets `k` to `v`, journaling the old value.
    pub fn put(&mut self, k: K, v: V) {
        let old = self.map.insert(k.clone(), v);
        self.journal.push((k, old));
    }

    /// Removes `k`, journaling the old value.
    pub fn del(&mut self, k: &K) {
        if let Some(old) = self.map.remove(k) {
            self.journal.push((k.clone(), Some(old)));
        }
    }

    /// Entries in a key range.
    pub fn range<R: std::ops::RangeBounds<K>>(&self, r: R) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.range(r)
    }

    /// All entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn mark(&self) -> usize {
        self.journal.len()
    }

    fn rollback(&mut self, mark: usize) {
        while self.journal.len() > mark {
            let Some((k, old)) = self.journal.pop() else { break };
            match old {
                Some(v) => {
                    self.map.insert(k, v);
                }
                None => {
                    self.map.remove(&k);
                }
            }
        }
    }

    /// Sets a value without journaling (derived indexes kept in step with committed entries).
    fn raw_insert(&mut self, k: K, v: V) {
        self.map.insert(k, v);
    }

    /// Removes a value without journaling.
    fn raw_remove(&mut self, k: &K) {
        self.map.remove(k);
    }

    /// The value each journaled key had before the journal started.
    pub fn originals(&self) -> BTreeMap<&K, Option<&V>> {
        let mut out = BTreeMap::new();
        for (k, old) in &self.journal {
            out.entry(k).or_insert(old.as_ref());
        }
        out
    }

    /// Keys touched since the journal started.
    pub fn touched(&self) -> BTreeSet<&K> {
        self.journal.iter().map(|(k, _)| k).collect()
    }
}

/// Something that went wrong encoding or decoding state entries.
#[derive(Debug, thiserror::Error)]
#[error("state entry in table {table}: {reason}")]
pub struct CodecError {
    /// Table tag.
    pub table: char,
    /// What failed.
    pub reason: String,
}

trait Journaled {
    fn mark(&self) -> usize;
    fn rollback(&mut self, mark: usize);
    fn clear_journal(&mut self);
    fn write_set(&self, tag: u8, out: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), CodecError>;
    fn load_entry(&mut self, key: &[u8], value: Option<&[u8]>, tag: u8) -> Result<(), CodecError>;
}

impl<K, V> Journaled for Table<K, V>
where
    K: Ord + Clone + Serialize + DeserializeOwned,
    V: Clone + Serialize + DeserializeOwned,
{
    fn mark(&self) -> usize {
        Table::mark(self)
    }
    fn rollback(&mut self, mark: usize) {
        Table::rollback(self, mark)
    }
    fn clear_journal(&mut self) {
        self.journal.clear();
    }
    fn write_set(&self, tag: u8, out: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>) -> Result<(), CodecError> {
        let err = |e: postcard::Error| CodecError { table: tag as char, reason: e.to_string() };
        for k in self.touched() {
            let key = state_key(tag, &postcard::to_allocvec(k).map_err(err)?);
            let value = match self.map.get(k) {
                Some(v) => Some(postcard::to_allocvec(v).map_err(err)?),
                None => None,
            };
            out.push((key, value));
        }
        Ok(())
    }
    fn load_entry(&mut self, key: &[u8], value: Option<&[u8]>, tag: u8) -> Result<(), CodecError> {
        let err = |e: postcard::Error| CodecError { table: tag as char, reason: e.to_string() };
        let k: K = postcard::from_bytes(key).map_err(err)?;
        match value {
            Some(value) => {
                let v: V = postcard::from_bytes(value).map_err(err)?;
                self.map.insert(k, v);
            }
            None => {
                self.map.remove(&k);
            }
        }
        Ok(())
    }
}

/// Store key of a state entry: `S`, the table tag, the postcard-encoded key.
pub fn state_key(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + key.len());
    k.push(b'S');
    k.push(tag);
    k.extend_from_slice(key);
    k
}

/// Quantities by lot state, across all tickets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Ever issued.
    pub issued: Amount,
    /// Active.
    pub active: Amount,
    /// Pledged.
    pub pledged: Amount,
    /// Frozen.
    pub frozen: Amount,
    /// Retired.
    pub retired: Amount,
    /// Cancelled.
    pub cancelled: Amount,
}

impl Totals {
    fn bucket(&mut self, s: &LotState) -> &mut Amount {
        match s {
            LotState::Active => &mut self.active,
            LotState::Pledged { .. } => &mut self.pledged,
            LotState::Frozen { .. } => &mut self.frozen,
            LotState::Retired { .. } => &mut self.retired,
            LotState::Cancelled { .. } => &mut self.cancelled,
        }
    }

    /// Counts `lot` in the total of its state (saturating at the largest amount; the ledger's
    /// own totals are checked and never get there). For totals of a part of the ledger.
    pub fn add_lot(&mut self, lot: &Lot) {
        let b = self.bucket(&lot.state);
        *b = b.checked_add(lot.amount()).unwrap_or(*b);
    }

    /// Takes `lot` out of the total of its state (saturating at zero, as [`Totals::add_lot`]).
    pub fn remove_lot(&mut self, lot: &Lot) {
        let b = self.bucket(&lot.state);
        *b = b.checked_sub(lot.amount()).unwrap_or(Amount::ZERO);
    }

    /// Adds `other`, state by state (saturating, as [`Totals::add_lot`]): totals of a union.
    pub fn add(&mut self, other: &Totals) {
        for (a, b) in [
            (&mut self.issued, other.issued),
            (&mut self.active, other.active),
            (&mut self.pledged, other.pledged),
            (&mut self.frozen, other.frozen),
            (&mut self.retired, other.retired),
            (&mut self.cancelled, other.cancelled),
        ] {
            *a = a.checked_add(b).unwrap_or(*a);
        }
    }

    /// Counts an issuance of `quantity` (saturating, as [`Totals::add_lot`]).
    pub fn add_issued(&mut self, quantity: Amount) {
        self.issued = self.issued.checked_add(quantity).unwrap_or(self.issued);
    }

    /// active + pledged + frozen + retired + cancelled, `None` on overflow.
    pub fn sum_of_states(&self) -> Option<Amount> {
        self.active
            .checked_add(self.pledged)?
            .checked_add(self.frozen)?
            .checked_add(self.retired)?
            .checked_add(self.cancelled)
    }
}

/// A part of the ledger whose totals are kept at every commit: a project and a vintage.
pub type GroupKey = (String, u32);

/// The totals a block leaves behind: ledger-wide, and of each (project, vintage) group the
/// block changed. [`State::totals_after`] computes it from a write set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotalsAfter {
    /// Ledger-wide.
    pub all: Totals,
    /// The groups the block changed, with their new totals.
    pub groups: BTreeMap<GroupKey, Totals>,
    /// The tickets the block changed, with their new totals.
    pub tickets: BTreeMap<String, Totals>,
}

/// Ledger-wide values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// Next unused serial number (serials start at 1).
    pub next_serial: u64,
    /// Number of retirements so far (ids are 1..=count).
    pub retirements: u64,
    /// Number of validator set changes so far.
    pub valset_version: u64,
    /// Totals by state.
    pub totals: Totals,
}

/// Key of an attestation: project, report hash, verifier.
pub type AttestationKey = (String, Hash, Address);

/// The whole state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// Accounts by address.
    pub accounts: Table<Address, Account>,
    /// Projects by id.
    pub projects: Table<String, Project>,
    /// Attestations by (project, report hash, verifier).
    pub attestations: Table<AttestationKey, Attestation>,
    /// Tickets by id.
    pub tickets: Table<String, Ticket>,
    /// Lots by first serial.
    pub lots: Table<u64, Lot>,
    /// Retirements by id.
    pub retirements: Table<u64, Retirement>,
    /// Index: (holder, ticket, first serial) of every lot.
    pub lots_by_holder: Table<(Address, String, u64), ()>,
    /// Index: (ticket, first serial) of every lot.
    pub lots_by_ticket: Table<(String, u64), ()>,
    /// Index: (project, ticket id) of every ticket.
    pub tickets_by_project: Table<(String, String), ()>,
    /// Index: (beneficiary, retirement id).
    pub retirements_by_beneficiary: Table<(String, u64), ()>,
    /// Index: (ticket, retirement id).
    pub retirements_by_ticket: Table<(String, u64), ()>,
    /// Ledger-wide values (single entry at key 0).
    pub meta: Table<u8, Meta>,
    /// The validator set that decides the next block, sorted by address (single entry at key 0).
    pub validator_set: Table<u8, Vec<Validator>>,
    /// Totals of each (project, vintage) of the committed state: not journaled, not stored;
    /// [`State::rebuild_group_totals`] computes them at start-up and
    /// [`State::set_group_totals`] keeps them at each commit.
    group_totals: BTreeMap<GroupKey, Totals>,
    /// Totals of each ticket of the committed state, kept the same way.
    ticket_totals: BTreeMap<String, Totals>,
}

/// Marks of every table, to roll back to.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint([usize; 13]);

macro_rules! tables {
    ($self:ident) => {
        [
            (b'a', &$self.accounts as &dyn Journaled),
            (b'p', &$self.projects),
            (b'v', &$self.attestations),
            (b't', &$self.tickets),
            (b'l', &$self.lots),
            (b'r', &$self.retirements),
            (b'H', &$self.lots_by_holder),
            (b'T', &$self.lots_by_ticket),
            (b'P', &$self.tickets_by_project),
            (b'B', &$self.retirements_by_beneficiary),
            (b'R', &$self.retirements_by_ticket),
            (b'm', &$self.meta),
            (b'V', &$self.validator_set),
        ]
    };
}

macro_rules! tables_mut {
    ($self:ident) => {
        [
            (b'a', &mut $self.accounts as &mut dyn Journaled),
            (b'p', &mut $self.projects),
            (b'v', &mut $self.attestations),
            (b't', &mut $self.tickets),
            (b'l', &mut $self.lots),
            (b'r', &mut $self.retirements),
            (b'H', &mut $self.lots_by_holder),
            (b'T', &mut $self.lots_by_ticket),
            (b'P', &mut $self.tickets_by_project),
            (b'B', &mut $self.retirements_by_beneficiary),
            (b'R', &mut $self.retirements_by_ticket),
            (b'm', &mut $self.meta),
            (b'V', &mut $self.validator_set),
        ]
    };
}

impl State {
    /// The ledger-wide values.
    pub fn meta(&self) -> Meta {
        self.meta.get(&0).cloned().unwrap_or_default()
    }

    /// Replaces the ledger-wide values.
    pub fn set_meta(&mut self, m: Meta) {
        self.meta.put(0, m);
    }

    /// The validator set that decides the next block.
    pub fn validators(&self) -> &[Validator] {
        self.validator_set.get(&0).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Stores a lot and keeps the indexes and totals in step. Lots are never removed:
    /// splitting stores two lots, the original key keeping the lower serials.
    pub fn put_lot(&mut self, lot: Lot) {
        let mut meta = self.meta();
        if let Some(old) = self.lots.get(&lot.first).cloned() {
            if old.holder != lot.holder || old.ticket != lot.ticket {
                self.lots_by_holder.del(&(old.holder, old.ticket.clone(), old.first));
            }
            let b = meta.totals.bucket(&old.state);
            *b = b.checked_sub(old.amount()).unwrap_or(Amount::ZERO);
        } else {
            self.lots_by_ticket.put((lot.ticket.clone(), lot.first), ());
        }
        let b = meta.totals.bucket(&lot.state);
        *b = b.checked_add(lot.amount()).unwrap_or(*b);
        if !self.lots_by_holder.contains(&(lot.holder, lot.ticket.clone(), lot.first)) {
            self.lots_by_holder.put((lot.holder, lot.ticket.clone(), lot.first), ());
        }
        if self.meta.get(&0) != Some(&meta) {
            self.set_meta(meta);
        }
        self.lots.put(lot.first, lot);
    }

    /// The lots of `holder` for `ticket`, lowest serials first.
    pub fn lots_of(&self, holder: Address, ticket: &str) -> impl Iterator<Item = &Lot> + '_ {
        let lo = (holder, ticket.to_string(), 0u64);
        let hi = (holder, ticket.to_string(), u64::MAX);
        self.lots_by_holder.range(lo..=hi).filter_map(|((_, _, first), _)| self.lots.get(first))
    }

    /// All lots of `holder`, by ticket then serial.
    pub fn lots_of_holder(&self, holder: Address) -> Vec<&Lot> {
        let lo = (holder, String::new(), 0u64);
        self.lots_by_holder
            .range(lo..)
            .take_while(|((h, _, _), _)| *h == holder)
            .filter_map(|((_, _, first), _)| self.lots.get(first))
            .collect()
    }

    /// All lots of `ticket`, lowest serials first.
    pub fn lots_of_ticket(&self, ticket: &str) -> Vec<&Lot> {
        let lo = (ticket.to_string(), 0u64);
        let hi = (ticket.to_string(), u64::MAX);
        self.lots_by_ticket.range(lo..=hi).filter_map(|((_, first), _)| self.lots.get(first)).collect()
    }

    /// The tickets of `project`, by id.
    pub fn tickets_of(&self, project: &str) -> Vec<&Ticket> {
        let lo = (project.to_string(), String::new());
        self.tickets_by_project
            .range(lo..)
            .take_while(|((p, _), _)| p == project)
            .filter_map(|((_, t), _)| self.tickets.get(t))
            .collect()
    }

    /// The attestations of `project`.
    pub fn attestations_of(&self, project: &str) -> Vec<&Attestation> {
        let lo = (project.to_string(), Hash::ZERO, Address::default());
        self.attestations.range(lo..).take_while(|((p, _, _), _)| p == project).map(|(_, a)| a).collect()
    }

    /// Retirements for `beneficiary` (exact match), oldest first.
    pub fn retirements_for(&self, beneficiary: &str) -> Vec<&Retirement> {
        let lo = (beneficiary.to_string(), 0u64);
        self.retirements_by_beneficiary
            .range(lo..)
            .take_while(|((b, _), _)| b == beneficiary)
            .filter_map(|((_, id), _)| self.retirements.get(id))
            .collect()
    }

    /// Retirements of `ticket`, oldest first.
    pub fn retirements_of_ticket(&self, ticket: &str) -> Vec<&Retirement> {
        let lo = (ticket.to_string(), 0u64);
        self.retirements_by_ticket
            .range(lo..)
            .take_while(|((t, _), _)| t == ticket)
            .filter_map(|((_, id), _)| self.retirements.get(id))
            .collect()
    }

    /// Totals of each (project, vintage) group of the committed state.
    pub fn group_totals(&self) -> &BTreeMap<GroupKey, Totals> {
        &self.group_totals
    }

    /// Totals of each ticket of the committed state.
    pub fn ticket_totals(&self) -> &BTreeMap<String, Totals> {
        &self.ticket_totals
    }

    /// The (project, vintage) group of `ticket`, if the ticket exists.
    pub fn group_of(&self, ticket: &str) -> Option<GroupKey> {
        self.tickets.get(&ticket.to_string()).map(|t| (t.project.clone(), t.period.vintage()))
    }

    /// Recomputes every group's totals by walking every ticket and lot (start-up).
    pub fn rebuild_group_totals(&mut self) {
        let (groups, tickets) = self.recompute_totals();
        self.group_totals = groups;
        self.ticket_totals = tickets;
    }

    /// Totals of every (project, vintage) group and every ticket, from the tickets and lots.
    pub fn recompute_totals(&self) -> (BTreeMap<GroupKey, Totals>, BTreeMap<String, Totals>) {
        let mut groups: BTreeMap<GroupKey, Totals> = BTreeMap::new();
        let mut tickets: BTreeMap<String, Totals> = BTreeMap::new();
        for (_, t) in self.tickets.iter() {
            groups.entry((t.project.clone(), t.period.vintage())).or_default().add_issued(t.quantity);
            tickets.entry(t.id.clone()).or_default().add_issued(t.quantity);
        }
        for (_, lot) in self.lots.iter() {
            if let Some(g) = self.group_of(&lot.ticket) {
                groups.entry(g).or_default().add_lot(lot);
            }
            tickets.entry(lot.ticket.clone()).or_default().add_lot(lot);
        }
        (groups, tickets)
    }

    /// Stores the new totals of the groups and tickets a commit changed.
    pub fn set_totals(&mut self, after: &TotalsAfter) {
        for (k, t) in &after.groups {
            self.group_totals.insert(k.clone(), t.clone());
        }
        for (k, t) in &after.tickets {
            self.ticket_totals.insert(k.clone(), t.clone());
        }
    }

    /// The totals the committed state will have once `writes` (a block's write set, from
    /// [`State::write_set`]) is applied: ledger-wide, and of every group a written lot or
    /// ticket belongs to. Pure: nothing changes. A lot's group comes from its ticket, in the
    /// same write set or already committed.
    pub fn totals_after(&self, writes: &crate::store::Batch) -> Result<TotalsAfter, CodecError> {
        let mut all = self.meta().totals;
        let mut groups: BTreeMap<GroupKey, Totals> = BTreeMap::new();
        let mut new_tickets: BTreeMap<String, Ticket> = BTreeMap::new();
        for (k, v) in writes {
            if k.get(..2) == Some(b"St".as_slice()) {
                if let Some(v) = v {
                    let t: Ticket = decode_value(v, 't')?;
                    new_tickets.insert(t.id.clone(), t);
                }
            }
        }
        let group_of = |ticket: &str| -> Option<GroupKey> {
            new_tickets.get(ticket).map(|t| (t.project.clone(), t.period.vintage())).or_else(|| self.group_of(ticket))
        };
        let mut tickets: BTreeMap<String, Totals> = BTreeMap::new();
        fn entry<'a, K: Ord + Clone>(
            groups: &'a mut BTreeMap<K, Totals>,
            committed: &BTreeMap<K, Totals>,
            g: K,
        ) -> &'a mut Totals {
            let current = committed.get(&g).cloned().unwrap_or_default();
            groups.entry(g).or_insert(current)
        }
        let committed = &self.group_totals;
        let committed_tickets = &self.ticket_totals;
        for (k, v) in writes {
            match k.get(..2) {
                Some(b"St") => {
                    let id: String = decode_key(&k[2..], 't')?;
                    let old = self.tickets.get(&id);
                    if let Some(old) = old {
                        let g = entry(&mut groups, committed, (old.project.clone(), old.period.vintage()));
                        g.issued = g.issued.checked_sub(old.quantity).unwrap_or(Amount::ZERO);
                        let t = entry(&mut tickets, committed_tickets, old.id.clone());
                        t.issued = t.issued.checked_sub(old.quantity).unwrap_or(Amount::ZERO);
                        all.issued = all.issued.checked_sub(old.quantity).unwrap_or(Amount::ZERO);
                    }
                    if let Some(new) = new_tickets.get(&id) {
                        entry(&mut groups, committed, (new.project.clone(), new.period.vintage()))
                            .add_issued(new.quantity);
                        entry(&mut tickets, committed_tickets, new.id.clone()).add_issued(new.quantity);
                        all.add_issued(new.quantity);
                    }
                }
                Some(b"Sl") => {
                    let first: u64 = decode_key(&k[2..], 'l')?;
                    if let Some(old) = self.lots.get(&first) {
                        if let Some(g) = group_of(&old.ticket) {
                            entry(&mut groups, committed, g).remove_lot(old);
                        }
                        entry(&mut tickets, committed_tickets, old.ticket.clone()).remove_lot(old);
                        all.remove_lot(old);
                    }
                    if let Some(v) = v {
                        let new: Lot = decode_value(v, 'l')?;
                        if let Some(g) = group_of(&new.ticket) {
                            entry(&mut groups, committed, g).add_lot(&new);
                        }
                        entry(&mut tickets, committed_tickets, new.ticket.clone()).add_lot(&new);
                        all.add_lot(&new);
                    }
                }
                _ => {}
            }
        }
        Ok(TotalsAfter { all, groups, tickets })
    }

    /// A mark to roll back to.
    pub fn checkpoint(&self) -> Checkpoint {
        let mut marks = [0; 13];
        for (i, (_, t)) in tables!(self).iter().enumerate() {
            marks[i] = t.mark();
        }
        Checkpoint(marks)
    }

    /// Undoes every change since `cp`.
    pub fn rollback(&mut self, cp: Checkpoint) {
        for (i, (_, t)) in tables_mut!(self).into_iter().enumerate() {
            t.rollback(cp.0[i]);
        }
    }

    /// Forgets the journal (after a commit): the current values become the baseline.
    pub fn clear_journal(&mut self) {
        for (_, t) in tables_mut!(self) {
            t.clear_journal();
        }
    }

    /// The changes since the journal started, as store entries sorted by key
    /// (`None` for a removed entry).
    pub fn write_set(&self) -> Result<crate::store::Batch, CodecError> {
        let mut out = Vec::new();
        for (tag, t) in tables!(self) {
            if !DERIVED_TABLES.contains(&tag) {
                t.write_set(tag, &mut out)?;
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Sets (or with `None` removes) one entry from its store form (key without the
    /// leading `S`), without journaling: loading at start-up, applying a committed write set.
    /// The derived indexes follow the lots, tickets and retirements they index.
    pub fn load_entry(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), CodecError> {
        let Some((&tag, rest)) = key.split_first() else {
            return Err(CodecError { table: '?', reason: "empty key".into() });
        };
        if DERIVED_TABLES.contains(&tag) {
            return Err(CodecError { table: tag as char, reason: "derived index tables are not stored".into() });
        }
        let before = match tag {
            b'l' => Derived::Lot(self.lots.get(&decode_key::<u64>(rest, 'l')?).cloned()),
            b't' => Derived::Ticket(self.tickets.get(&decode_key::<String>(rest, 't')?).cloned()),
            b'r' => Derived::Retirement(self.retirements.get(&decode_key::<u64>(rest, 'r')?).cloned()),
            _ => Derived::None,
        };
        for (t, table) in tables_mut!(self) {
            if t == tag {
                table.load_entry(rest, value, tag)?;
            }
        }
        match before {
            Derived::Lot(old) => {
                if let Some(old) = old {
                    self.lots_by_holder.raw_remove(&(old.holder, old.ticket.clone(), old.first));
                    self.lots_by_ticket.raw_remove(&(old.ticket.clone(), old.first));
                }
                if let Some(new) = self.lots.get(&decode_key::<u64>(rest, 'l')?).cloned() {
                    self.lots_by_holder.raw_insert((new.holder, new.ticket.clone(), new.first), ());
                    self.lots_by_ticket.raw_insert((new.ticket, new.first), ());
                }
            }
            Derived::Ticket(old) => {
                if let Some(old) = old {
                    self.tickets_by_project.raw_remove(&(old.project, old.id));
                }
                if let Some(new) = self.tickets.get(&decode_key::<String>(rest, 't')?).cloned() {
                    self.tickets_by_project.raw_insert((new.project, new.id), ());
                }
            }
            Derived::Retirement(old) => {
                if let Some(old) = old {
                    self.retirements_by_beneficiary.raw_remove(&(old.beneficiary, old.id));
                    self.retirements_by_ticket.raw_remove(&(old.ticket, old.id));
                }
                if let Some(new) = self.retirements.get(&decode_key::<u64>(rest, 'r')?).cloned() {
                    self.retirements_by_beneficiary.raw_insert((new.beneficiary, new.id), ());
                    self.retirements_by_ticket.raw_insert((new.ticket, new.id), ());
                }
            }
            Derived::None => {}
        }
        Ok(())
    }
}

/// Tables derived from others (indexes): kept in memory, journaled during execution, never
/// stored; [`State::load_entry`] rebuilds them from the lots, tickets and retirements.
const DERIVED_TABLES: [u8; 5] = [b'H', b'T', b'P', b'B', b'R'];

fn decode_value<V: DeserializeOwned>(value: &[u8], table: char) -> Result<V, CodecError> {
    postcard::from_bytes(value).map_err(|e| CodecError { table, reason: e.to_string() })
}

fn decode_key<K: DeserializeOwned>(key: &[u8], table: char) -> Result<K, CodecError> {
    postcard::from_bytes(key).map_err(|e| CodecError { table, reason: e.to_string() })
}

enum Derived {
    Lot(Option<Lot>),
    Ticket(Option<Ticket>),
    Retirement(Option<Retirement>),
    None,
}

/// Checks a validator set: 1 to [`VALIDATORS_MAX`] validators, valid distinct keys,
/// positive powers whose total fits in a u64.
pub fn check_validator_set(set: &[Validator]) -> Result<(), String> {
    if set.is_empty() {
        return Err("the set is empty".into());
    }
    if set.len() > VALIDATORS_MAX {
        return Err(format!("more than {VALIDATORS_MAX} validators"));
    }
    let mut keys = BTreeSet::new();
    let mut total: u64 = 0;
    for v in set {
        if ed25519_dalek::VerifyingKey::from_bytes(&v.public_key).map(|k| k.is_weak()).unwrap_or(true) {
            return Err(format!("validator {:?} has an invalid public key", v.name));
        }
        if !keys.insert(v.public_key) {
            return Err(format!("validator key of {:?} appears twice", v.name));
        }
        if v.power == 0 {
            return Err(format!("validator {:?} has zero voting power", v.name));
        }
        total = total.checked_add(v.power).ok_or("total voting power overflows")?;
    }
    Ok(())
}
