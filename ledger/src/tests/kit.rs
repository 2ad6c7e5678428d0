//! A test chain: keys for every role, signing, and one-call blocks.
//!
//! Body bytes here are the postcard encoding of the body: the ledger's contract is only
//! that the body is the decoding of the signed bytes, and the protobuf encoding belongs to
//! `bct-proto` (whose own tests cover it).

use ed25519_dalek::{Signer, SigningKey};

use crate::block::{Rejection, TxResult};
use crate::crypto::{self, Address, Hash};
use crate::genesis::{Genesis, GenesisAccount, GenesisValidator, Params};
use crate::ledger::Ledger;
use crate::store::{MemStore, Store};
use crate::tx::*;
use crate::types::*;
use crate::Amount;

pub(crate) const CHAIN: &str = "bct-test-1";

/// A deterministic key from a seed byte.
pub(crate) fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub(crate) fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

pub(crate) fn genesis_with(params: Params, validators: &[SigningKey]) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_700_000_000_000,
        params,
        authorities: vec![GenesisAccount {
            public_key: key(1).verifying_key().to_bytes(),
            name: "Fujian Ocean and Fisheries Bureau".into(),
            jurisdiction: "CN-FJ".into(),
        }],
        validators: validators
            .iter()
            .enumerate()
            .map(|(i, k)| GenesisValidator {
                public_key: k.verifying_key().to_bytes(),
                power: 1,
                name: format!("exchange-{i}"),
            })
            .collect(),
    }
}

pub(crate) fn genesis() -> Genesis {
    genesis_with(Params::default(), &[key(200), key(201), key(202), key(203)])
}

/// Signs `kind` as `k` with `nonce` (postcard body bytes).
pub(crate) fn sign_with(k: &SigningKey, chain: &str, nonce: u64, expiry: u64, kind: TxKind) -> SignedTx {
    let body = TxBody { chain_id: chain.into(), signer: addr(k), nonce, expiry_height: expiry, kind };
    let bytes = postcard::to_allocvec(&body).expect("encodes");
    let sig = k.sign(&crypto::tx_signing_message(&bytes)).to_bytes();
    SignedTx::from_parts(bytes, body, k.verifying_key().to_bytes(), sig)
}

pub(crate) fn t(tonnes: u64) -> Amount {
    Amount::from_tonnes(tonnes).expect("small")
}

pub(crate) fn date(v: u32) -> Date {
    Date::from_yyyymmdd(v).expect("valid date")
}

pub(crate) fn period(a: u32, b: u32) -> Period {
    Period { start: date(a), end: date(b) }
}

pub(crate) fn kelp_methodology() -> Methodology {
    Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() }
}

pub(crate) fn report(n: u8) -> Hash {
    Hash::of(&[n])
}

/// A ledger plus the keys of its participants.
pub(crate) struct Chain<S: Store> {
    pub(crate) ledger: Ledger<S>,
    pub(crate) time: u64,
}

// Well-known participants.
pub(crate) fn authority() -> SigningKey {
    key(1)
}
pub(crate) fn verifier1() -> SigningKey {
    key(2)
}
pub(crate) fn verifier2() -> SigningKey {
    key(3)
}
pub(crate) fn exchange() -> SigningKey {
    key(4)
}
pub(crate) fn owner() -> SigningKey {
    key(5)
}
pub(crate) fn buyer() -> SigningKey {
    key(6)
}
pub(crate) fn bank() -> SigningKey {
    key(7)
}
pub(crate) fn stranger() -> SigningKey {
    key(99)
}

impl Chain<MemStore> {
    pub(crate) fn new() -> Chain<MemStore> {
        Chain::open(MemStore::new(), genesis())
    }

    /// Admits the well-known participants and registers the kelp project.
    pub(crate) fn populated() -> Chain<MemStore> {
        let mut c = Chain::new();
        c.admit(&verifier1(), Role::Verifier, "Third Institute of Oceanography");
        c.admit(&verifier2(), Role::Verifier, "China Quality Certification Centre");
        c.admit(&exchange(), Role::Exchange, "Haixia Resources and Environment Exchange");
        c.admit(&owner(), Role::Holder, "Lianjiang kelp farm");
        c.admit(&buyer(), Role::Holder, "Food company");
        c.admit(&bank(), Role::Holder, "Industrial Bank");
        c.ok(&authority(), TxKind::RegisterProject(kelp_project()));
        c
    }
}

impl<S: Store> Chain<S> {
    pub(crate) fn open(store: S, g: Genesis) -> Chain<S> {
        let ledger = Ledger::open(store, g).expect("opens");
        let time = ledger.head().time_ms;
        Chain { ledger, time }
    }

    pub(crate) fn nonce(&self, k: &SigningKey) -> u64 {
        self.ledger.next_nonce(&addr(k)).unwrap_or(1)
    }

    /// Signs with the next nonce of `k`.
    pub(crate) fn tx(&self, k: &SigningKey, kind: TxKind) -> SignedTx {
        sign_with(k, CHAIN, self.nonce(k), 0, kind)
    }

    /// Builds, checks (as a validator would) and commits a block; returns its results.
    pub(crate) fn block(&mut self, txs: Vec<SignedTx>) -> Vec<TxResult> {
        self.time += 1_000;
        let executed = self.ledger.build_block(self.time, addr(&key(200)), txs).expect("builds");
        let block = executed.block.clone();
        let again = self.ledger.execute(&block).expect("the built block validates");
        assert_eq!(again.results, executed.results);
        self.ledger.commit(executed, vec![]).expect("commits");
        self.ledger.check_invariants().expect("invariants hold");
        self.ledger.results(block.header.height).expect("store").expect("results stored")
    }

    /// Submits one transaction in its own block and expects it accepted.
    pub(crate) fn ok(&mut self, k: &SigningKey, kind: TxKind) -> crate::block::Accepted {
        let tx = self.tx(k, kind);
        let r = self.block(vec![tx]);
        assert_eq!(r.len(), 1, "transaction left out of the block");
        match &r[0].outcome {
            Ok(a) => a.clone(),
            Err(e) => panic!("expected acceptance, got rejection: {e}"),
        }
    }

    /// Submits a signed transaction alone in a block, expects it included and rejected, and
    /// checks that it used its nonce and changed nothing else.
    pub(crate) fn rejects_tx(&mut self, tx: SignedTx) -> Rejection {
        let signer = tx.body().signer;
        let nonce_before = self.ledger.next_nonce(&signer);
        self.time += 1_000;
        let executed = self.ledger.build_block(self.time, addr(&key(200)), vec![tx]).expect("builds");
        assert_eq!(executed.results.len(), 1, "transaction left out of the block");
        let signer_key = crate::state::state_key(b'a', &postcard::to_allocvec(&signer).expect("encodes"));
        let written: Vec<&Vec<u8>> = executed.writes.iter().map(|(k, _)| k).collect();
        assert_eq!(written, vec![&signer_key], "a rejected transaction changed more than its signer's nonce");
        let block = executed.block.clone();
        let again = self.ledger.execute(&block).expect("the built block validates");
        assert_eq!(again.results, executed.results);
        self.ledger.commit(executed, vec![]).expect("commits");
        self.ledger.check_invariants().expect("invariants hold");
        assert_eq!(self.ledger.next_nonce(&signer), nonce_before.map(|n| n + 1), "a rejection uses its nonce");
        let r = self.ledger.results(block.header.height).expect("store").expect("results stored");
        match &r[0].outcome {
            Ok(_) => panic!("expected a rejection, the transaction was accepted"),
            Err(e) => e.clone(),
        }
    }

    /// A block like the next one the proposer would build, but carrying `txs` as they are
    /// (what a faulty proposer could send).
    pub(crate) fn forced_block(&mut self, txs: Vec<SignedTx>) -> crate::block::Block {
        let mut block = self.ledger.build_block(self.time + 1_000, addr(&key(200)), vec![]).expect("builds").block;
        block.header.tx_root = crate::block::tx_root(&txs);
        block.header.tx_count = txs.len() as u32;
        block.txs = txs;
        block
    }

    /// Expects `tx` to fail the inclusion rule: the proposer leaves it out, a block that
    /// carries it anyway is invalid, and admission refuses it with the same reason, which is
    /// returned. Nothing changes, its signer's nonce included.
    pub(crate) fn left_out(&mut self, tx: SignedTx) -> Rejection {
        let signer = tx.body().signer;
        let (root, nonce) = (self.ledger.state_root(), self.ledger.next_nonce(&signer));
        assert!(self.block(vec![tx.clone()]).is_empty(), "the proposer must leave it out");
        let forced = self.forced_block(vec![tx.clone()]);
        let reason = match self.ledger.execute(&forced) {
            Err(crate::ledger::BlockError::NotIncludable { tx: id, reason }) => {
                assert_eq!(id, tx.id());
                reason
            }
            other => panic!("a block carrying it must be invalid, got {other:?}"),
        };
        assert_eq!(self.ledger.check_tx(&tx), Err(reason.clone()), "admission refuses it the same way");
        assert_eq!((self.ledger.state_root(), self.ledger.next_nonce(&signer)), (root, nonce));
        reason
    }

    pub(crate) fn rejects(&mut self, k: &SigningKey, kind: TxKind) -> Rejection {
        let tx = self.tx(k, kind);
        self.rejects_tx(tx)
    }

    /// Admits `k` with `role`, signed by the authority.
    pub(crate) fn admit(&mut self, k: &SigningKey, role: Role, name: &str) {
        self.ok(
            &authority(),
            TxKind::AdmitAccount(AdmitAccount {
                address: addr(k),
                role,
                name: name.into(),
                jurisdiction: "CN-FJ".into(),
            }),
        );
    }

    /// Two attestations then issuance of `tonnes` for 2021 to the owner; returns the ticket id.
    pub(crate) fn issued(&mut self, tonnes: u64) -> String {
        let p = period(20210101, 20211231);
        for v in [verifier1(), verifier2()] {
            self.ok(&v, TxKind::Attest(attest(p, tonnes, 1)));
        }
        let a = self.ok(
            &authority(),
            TxKind::Issue(Issue {
                project: "FJ-LJ-KELP".into(),
                period: p,
                report_hash: report(1),
                quantity: t(tonnes),
                recipient: None,
            }),
        );
        a.ticket.expect("ticket id")
    }

    pub(crate) fn held(&self, k: &SigningKey, ticket: &str, state: &str) -> Amount {
        let kg = self
            .ledger
            .state()
            .lots_of(addr(k), ticket)
            .into_iter()
            .filter(|l| l.state.as_str() == state)
            .map(|l| l.amount().kg())
            .sum();
        Amount::from_kg(kg)
    }
}

pub(crate) fn kelp_project() -> RegisterProject {
    RegisterProject {
        id: "FJ-LJ-KELP".into(),
        name: "Lianjiang kelp farm".into(),
        owner: addr(&owner()),
        ecosystem: Ecosystem::SeaweedFarm,
        location: Location { region: "CN-FJ-350122".into(), coordinates: Some((26_200_000, 119_500_000)) },
        area_centiha: 17_180,
        methodology: kelp_methodology(),
    }
}

pub(crate) fn attest(p: Period, tonnes: u64, report_n: u8) -> Attest {
    Attest {
        project: "FJ-LJ-KELP".into(),
        period: p,
        quantity: t(tonnes),
        methodology: kelp_methodology(),
        report_hash: report(report_n),
        statement: "verified".into(),
    }
}
