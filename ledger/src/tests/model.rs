//! Property test: random blocks of issuances, transfers, pledges, holds, retirements and
//! cancellations against a small reference model. After every block: balances equal the
//! model's, the invariants hold (checked in `Chain::block`), and a sled store fed the same
//! blocks has the same state root as the in-memory one.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::kit::*;
use crate::block::Rejection;
use crate::store::SledStore;
use crate::tx::*;
use crate::types::*;
use crate::{Amount, MemStore};

const HOLDERS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Issue { kg: u64 },
    Transfer { ticket: usize, from: usize, to: usize, kg: u64 },
    Retire { ticket: usize, from: usize, kg: u64 },
    Pledge { ticket: usize, from: usize, to: usize, kg: u64 },
    Release { ticket: usize, pledgee: usize, holder: usize, kg: u64 },
    Seize { ticket: usize, pledgee: usize, holder: usize, kg: u64 },
    FreezeTicket { ticket: usize },
    UnfreezeTicket { ticket: usize },
    FreezeAccount { who: usize },
    UnfreezeAccount { who: usize },
    Cancel { ticket: usize, holder: usize, kg: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let h = 0..HOLDERS;
    let tk = 0..3usize;
    let kg = 1..4_000u64;
    prop_oneof![
        1 => (1..10_000u64).prop_map(|kg| Op::Issue { kg }),
        6 => (tk.clone(), h.clone(), h.clone(), kg.clone()).prop_map(|(ticket, from, to, kg)| Op::Transfer { ticket, from, to, kg }),
        2 => (tk.clone(), h.clone(), kg.clone()).prop_map(|(ticket, from, kg)| Op::Retire { ticket, from, kg }),
        2 => (tk.clone(), h.clone(), h.clone(), kg.clone()).prop_map(|(ticket, from, to, kg)| Op::Pledge { ticket, from, to, kg }),
        2 => (tk.clone(), h.clone(), h.clone(), kg.clone()).prop_map(|(ticket, pledgee, holder, kg)| Op::Release { ticket, pledgee, holder, kg }),
        1 => (tk.clone(), h.clone(), h.clone(), kg.clone()).prop_map(|(ticket, pledgee, holder, kg)| Op::Seize { ticket, pledgee, holder, kg }),
        1 => tk.clone().prop_map(|ticket| Op::FreezeTicket { ticket }),
        1 => tk.clone().prop_map(|ticket| Op::UnfreezeTicket { ticket }),
        1 => h.clone().prop_map(|who| Op::FreezeAccount { who }),
        1 => h.clone().prop_map(|who| Op::UnfreezeAccount { who }),
        1 => (tk, h, kg).prop_map(|(ticket, holder, kg)| Op::Cancel { ticket, holder, kg }),
    ]
}

/// Per holder and ticket: kilograms by state (pledged split by pledgee).
#[derive(Default, Clone, Debug, PartialEq)]
struct Bal {
    active: u64,
    frozen: u64,
    retired: u64,
    cancelled: u64,
    pledged: BTreeMap<usize, u64>,
}

#[derive(Default)]
struct Model {
    tickets: Vec<String>,
    ticket_frozen: Vec<bool>,
    account_frozen: [bool; HOLDERS],
    bal: BTreeMap<(usize, usize), Bal>,
    nonces: BTreeMap<[u8; 32], u64>,
    issued: u32,
}

fn holder(i: usize) -> SigningKey {
    key(30 + i as u8)
}

impl Model {
    fn b(&mut self, t: usize, h: usize) -> &mut Bal {
        self.bal.entry((t, h)).or_default()
    }

    fn sign(&mut self, k: &SigningKey, kind: TxKind) -> SignedTx {
        let n = self.nonces.entry(k.verifying_key().to_bytes()).or_insert(0);
        sign_with(k, CHAIN, *n + 1, 0, kind)
    }

    fn bump(&mut self, k: &SigningKey) {
        *self.nonces.entry(k.verifying_key().to_bytes()).or_insert(0) += 1;
    }

    /// Signs the op's transactions and applies it to the model, predicting acceptance.
    fn step(&mut self, op: &Op, txs: &mut Vec<(SignedTx, bool)>) {
        let known = |m: &Model, t: usize| t < m.tickets.len();
        match *op {
            Op::Issue { kg } => {
                self.issued += 1;
                let year = 1999 + self.issued;
                let p = period(year * 10_000 + 101, year * 10_000 + 1231);
                for v in [verifier1(), verifier2()] {
                    let mut a = attest(p, 1, self.issued as u8);
                    a.quantity = Amount::from_kg(kg);
                    let tx = self.sign(&v, TxKind::Attest(a));
                    self.bump(&v);
                    txs.push((tx, true));
                }
                let issue = Issue {
                    project: "FJ-LJ-KELP".into(),
                    period: p,
                    report_hash: report(self.issued as u8),
                    quantity: Amount::from_kg(kg),
                    recipient: Some(addr(&holder(0))),
                };
                let tx = self.sign(&authority(), TxKind::Issue(issue));
                self.bump(&authority());
                txs.push((tx, true));
                let t = self.tickets.len();
                self.tickets.push(format!("FJ-LJ-KELP-{}-{}-{}", year * 10_000 + 101, year * 10_000 + 1231, t + 1));
                self.ticket_frozen.push(false);
                self.b(t, 0).active += kg;
            }
            Op::Transfer { ticket, from, to, kg } => {
                let name = self.tickets.get(ticket).cloned().unwrap_or_else(|| "NONE".into());
                let k = holder(from);
                let tx = self.sign(
                    &k,
                    TxKind::Transfer(Transfer {
                        ticket: name,
                        to: addr(&holder(to)),
                        quantity: Amount::from_kg(kg),
                        trade: None,
                    }),
                );
                let ok = known(self, ticket)
                    && from != to
                    && !self.ticket_frozen[ticket]
                    && !self.account_frozen[from]
                    && self.b(ticket, from).active >= kg;
                if ok {
                    self.b(ticket, from).active -= kg;
                    self.b(ticket, to).active += kg;
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&k);
                txs.push((tx, ok));
            }
            Op::Retire { ticket, from, kg } => {
                let name = self.tickets.get(ticket).cloned().unwrap_or_else(|| "NONE".into());
                let k = holder(from);
                let tx = self.sign(
                    &k,
                    TxKind::Retire(Retire {
                        ticket: name,
                        quantity: Amount::from_kg(kg),
                        beneficiary: "B".into(),
                        purpose: Purpose::Voluntary,
                        jurisdiction: "CN".into(),
                        note: "".into(),
                    }),
                );
                let ok = known(self, ticket)
                    && !self.ticket_frozen[ticket]
                    && !self.account_frozen[from]
                    && self.b(ticket, from).active >= kg;
                if ok {
                    let b = self.b(ticket, from);
                    b.active -= kg;
                    b.retired += kg;
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&k);
                txs.push((tx, ok));
            }
            Op::Pledge { ticket, from, to, kg } => {
                let name = self.tickets.get(ticket).cloned().unwrap_or_else(|| "NONE".into());
                let k = holder(from);
                let tx = self.sign(
                    &k,
                    TxKind::Pledge(Pledge { ticket: name, quantity: Amount::from_kg(kg), pledgee: addr(&holder(to)) }),
                );
                let ok = known(self, ticket)
                    && from != to
                    && !self.ticket_frozen[ticket]
                    && !self.account_frozen[from]
                    && self.b(ticket, from).active >= kg;
                if ok {
                    let b = self.b(ticket, from);
                    b.active -= kg;
                    *b.pledged.entry(to).or_insert(0) += kg;
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&k);
                txs.push((tx, ok));
            }
            Op::Release { ticket, pledgee, holder: h, kg } | Op::Seize { ticket, pledgee, holder: h, kg } => {
                let seize = matches!(op, Op::Seize { .. });
                let name = self.tickets.get(ticket).cloned().unwrap_or_else(|| "NONE".into());
                let k = holder(pledgee);
                let q = Amount::from_kg(kg);
                let who = addr(&holder(h));
                let kind = if seize {
                    TxKind::Seize(Seize { ticket: name, holder: who, quantity: q })
                } else {
                    TxKind::Release(Release { ticket: name, holder: who, quantity: q })
                };
                let tx = self.sign(&k, kind);
                let mut ok = known(self, ticket) && self.b(ticket, h).pledged.get(&pledgee).copied().unwrap_or(0) >= kg;
                if seize {
                    ok = ok && !self.ticket_frozen[ticket] && !self.account_frozen[pledgee];
                }
                if ok {
                    *self.b(ticket, h).pledged.entry(pledgee).or_insert(0) -= kg;
                    let frozen = self.ticket_frozen[ticket];
                    if seize {
                        self.b(ticket, pledgee).active += kg;
                    } else if frozen {
                        self.b(ticket, h).frozen += kg;
                    } else {
                        self.b(ticket, h).active += kg;
                    }
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&k);
                txs.push((tx, ok));
            }
            Op::FreezeTicket { ticket } | Op::UnfreezeTicket { ticket } => {
                let freeze = matches!(op, Op::FreezeTicket { .. });
                let name = self.tickets.get(ticket).cloned().unwrap_or_else(|| "NONE".into());
                let target = FreezeTarget::Ticket(name);
                let kind = if freeze {
                    TxKind::Freeze(Freeze { target, reason: "hold".into() })
                } else {
                    TxKind::Unfreeze(Unfreeze { target })
                };
                let tx = self.sign(&authority(), kind);
                let ok = known(self, ticket) && self.ticket_frozen[ticket] != freeze;
                if ok {
                    self.ticket_frozen[ticket] = freeze;
                    for h in 0..HOLDERS {
                        let b = self.b(ticket, h);
                        if freeze {
                            b.frozen += b.active;
                            b.active = 0;
                        } else {
                            b.active += b.frozen;
                            b.frozen = 0;
                        }
                    }
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&authority());
                txs.push((tx, ok));
            }
            Op::FreezeAccount { who } | Op::UnfreezeAccount { who } => {
                let freeze = matches!(op, Op::FreezeAccount { .. });
                let target = FreezeTarget::Account(addr(&holder(who)));
                let kind = if freeze {
                    TxKind::Freeze(Freeze { target, reason: "hold".into() })
                } else {
                    TxKind::Unfreeze(Unfreeze { target })
                };
                let tx = self.sign(&authority(), kind);
                let ok = self.account_frozen[who] != freeze;
                if ok {
                    self.account_frozen[who] = freeze;
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&authority());
                txs.push((tx, ok));
            }
            Op::Cancel { ticket, holder: h, kg } => {
                let name = self.tickets.get(ticket).cloned().unwrap_or_else(|| "NONE".into());
                let tx = self.sign(
                    &authority(),
                    TxKind::Cancel(Cancel {
                        ticket: name,
                        holder: addr(&holder(h)),
                        quantity: Amount::from_kg(kg),
                        reason: "reversal".into(),
                    }),
                );
                // Within one ticket a holder never has active and frozen units at once.
                let ok = known(self, ticket) && {
                    let b = self.b(ticket, h);
                    b.active + b.frozen >= kg
                };
                if ok {
                    let b = self.b(ticket, h);
                    if b.active >= kg {
                        b.active -= kg
                    } else {
                        b.frozen -= kg
                    }
                    b.cancelled += kg;
                }
                // Included, accepted or rejected: the nonce is used.
                self.bump(&authority());
                txs.push((tx, ok));
            }
        }
    }
}

fn ledger_balances<S: crate::Store>(c: &Chain<S>, m: &Model) -> BTreeMap<(usize, usize), Bal> {
    let mut out = BTreeMap::new();
    for (t, name) in m.tickets.iter().enumerate() {
        for h in 0..HOLDERS {
            let mut b = Bal::default();
            for lot in c.ledger.state().lots_of(addr(&holder(h)), name) {
                let kg = lot.amount().kg();
                match &lot.state {
                    LotState::Active => b.active += kg,
                    LotState::Frozen { .. } => b.frozen += kg,
                    LotState::Retired { .. } => b.retired += kg,
                    LotState::Cancelled { .. } => b.cancelled += kg,
                    LotState::Pledged { pledgee } => {
                        let p = (0..HOLDERS).find(|i| addr(&holder(*i)) == *pledgee).expect("known pledgee");
                        *b.pledged.entry(p).or_insert(0) += kg;
                    }
                }
            }
            b.pledged.retain(|_, v| *v > 0);
            if b != Bal::default() {
                out.insert((t, h), b);
            }
        }
    }
    out
}

fn setup<S: crate::Store>(c: &mut Chain<S>) -> Model {
    c.admit(&verifier1(), Role::Verifier, "V1");
    c.admit(&verifier2(), Role::Verifier, "V2");
    c.admit(&owner(), Role::Holder, "Owner");
    for i in 0..HOLDERS {
        c.admit(&holder(i), Role::Holder, &format!("H{i}"));
    }
    c.ok(&authority(), TxKind::RegisterProject(kelp_project()));
    let mut m = Model::default();
    m.nonces.insert(authority().verifying_key().to_bytes(), c.nonce(&authority()) - 1);
    m
}

/// Totals as of a height from either store.
trait AsOf {
    fn as_of(
        &self,
        height: u64,
    ) -> (Option<crate::state::Totals>, BTreeMap<crate::state::GroupKey, crate::state::Totals>);
}

impl<S: crate::Store> AsOf for crate::Ledger<S> {
    fn as_of(
        &self,
        height: u64,
    ) -> (Option<crate::state::Totals>, BTreeMap<crate::state::GroupKey, crate::state::Totals>) {
        (self.totals_at(height).expect("store"), self.group_totals_at(height, None).expect("store"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_the_reference_model(blocks in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..14)) {
        let mut mem = Chain::open(MemStore::new(), genesis());
        let dir = tempfile::tempdir().expect("tempdir");
        let mut disk = Chain::open(SledStore::open(dir.path()).expect("sled"), genesis());
        let mut model = setup(&mut mem);
        setup(&mut disk);
        let mut history = vec![(mem.ledger.height(), mem.ledger.meta().totals, mem.ledger.state().group_totals().clone())];
        for ops in blocks {
            let mut txs = Vec::new();
            for op in &ops {
                model.step(op, &mut txs);
            }
            let expected: Vec<bool> = txs.iter().map(|(_, ok)| *ok).collect();
            let results = mem.block(txs.into_iter().map(|(tx, _)| tx).collect());
            let got: Vec<bool> = results.iter().map(|r| r.is_accepted()).collect();
            let reasons: Vec<Option<Rejection>> = results.iter().map(|r| r.outcome.clone().err()).collect();
            prop_assert_eq!(&got, &expected, "ops {:?}, rejections {:?}", ops, reasons);
            prop_assert_eq!(ledger_balances(&mem, &model), model.bal.iter().map(|(k, v)| {
                let mut v = v.clone();
                v.pledged.retain(|_, x| *x > 0);
                (*k, v)
            }).filter(|(k, v)| k.0 < model.tickets.len() && *v != Bal::default()).collect::<BTreeMap<_, _>>());
            let block = mem.ledger.block(mem.ledger.height()).expect("store").expect("block");
            disk.ledger.apply_block(&block, vec![]).expect("sled applies the same block");
            prop_assert_eq!(disk.ledger.state_root(), mem.ledger.state_root());
            history.push((mem.ledger.height(), mem.ledger.meta().totals, mem.ledger.state().group_totals().clone()));
        }
        disk.ledger.check_invariants().expect("invariants");
        // Totals as of every height: ledger-wide and per (project, vintage), on both stores.
        for (height, all, groups) in &history {
            for ledger in [&mem.ledger as &dyn AsOf, &disk.ledger] {
                let (a, g) = ledger.as_of(*height);
                prop_assert_eq!(a.as_ref(), Some(all), "totals at {}", height);
                prop_assert_eq!(&g, groups, "group totals at {}", height);
            }
        }
        prop_assert_eq!(mem.ledger.totals_at(mem.ledger.height() + 1).expect("store"), None);
    }
}
