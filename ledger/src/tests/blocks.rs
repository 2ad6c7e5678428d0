//! Block validation: every header field is checked against execution.

use super::kit::*;
use crate::block::Block;
use crate::crypto::Hash;
use crate::genesis::Params;
use crate::ledger::BlockError;
use crate::tx::*;
use crate::types::*;

fn next_block(c: &mut Chain<crate::MemStore>, txs: Vec<SignedTx>) -> Block {
    c.time += 1000;
    c.ledger.build_block(c.time, addr(&key(200)), txs).expect("builds").block
}

fn some_tx(c: &Chain<crate::MemStore>) -> SignedTx {
    c.tx(
        &authority(),
        TxKind::AdmitAccount(AdmitAccount {
            address: addr(&key(70)),
            role: Role::Holder,
            name: "A".into(),
            jurisdiction: "".into(),
        }),
    )
}

#[test]
fn a_valid_block_executes_and_tampered_headers_are_refused() {
    let mut c = Chain::populated();
    let tx = some_tx(&c);
    let good = next_block(&mut c, vec![tx]);
    let root = c.ledger.state_root();
    let cases: Vec<(&str, Box<dyn Fn(&mut Block)>)> = vec![
        ("height", Box::new(|b| b.header.height += 1)),
        ("prev_hash", Box::new(|b| b.header.prev_hash = Hash::ZERO)),
        ("time", Box::new(|b| b.header.time_ms = 1)),
        ("chain_id", Box::new(|b| b.header.chain_id = "other".into())),
        ("tx_root", Box::new(|b| b.header.tx_root = Hash::ZERO)),
        ("tx_count", Box::new(|b| b.header.tx_count = 2)),
        ("state_root", Box::new(|b| b.header.state_root = Hash::ZERO)),
        ("results_root", Box::new(|b| b.header.results_root = Hash::ZERO)),
        ("validator_set_hash", Box::new(|b| b.header.validator_set_hash = Hash::ZERO)),
        (
            "duplicate",
            Box::new(|b| {
                b.txs.push(b.txs[0].clone());
            }),
        ),
        (
            "removed tx",
            Box::new(|b| {
                b.txs.clear();
            }),
        ),
    ];
    for (name, tamper) in cases {
        let mut b = good.clone();
        tamper(&mut b);
        assert!(c.ledger.execute(&b).is_err(), "tampered {name} accepted");
        assert_eq!(c.ledger.state_root(), root, "tampered {name} changed the state");
    }
    let executed = c.ledger.execute(&good).expect("valid");
    c.ledger.commit(executed, vec![]).expect("commits");
    assert_eq!(c.ledger.height(), good.header.height);
    // The same block cannot be applied twice.
    assert!(matches!(c.ledger.execute(&good), Err(BlockError::Height { .. })));
}

#[test]
fn a_block_with_a_bad_signature_is_invalid() {
    let mut c = Chain::populated();
    let tx = some_tx(&c);
    let mut sig = *tx.signature();
    sig[0] ^= 1;
    let bad = SignedTx::from_parts(tx.body_bytes().to_vec(), tx.body().clone(), *tx.public_key(), sig);
    c.time += 1000;
    let executed = c.ledger.assemble(c.time, addr(&key(200)), vec![bad.clone()]).expect("assembles");
    assert!(matches!(c.ledger.execute(&executed.block), Err(BlockError::BadSignature(id)) if id == bad.id()));
}

#[test]
fn block_limits_are_enforced() {
    let params = Params { block_txs_max: 2, ..Params::default() };
    let mut c = Chain::open(crate::MemStore::new(), genesis_with(params, &[key(200)]));
    let txs: Vec<SignedTx> = (0..3u8)
        .map(|i| {
            sign_with(
                &authority(),
                CHAIN,
                1 + u64::from(i),
                0,
                TxKind::AdmitAccount(AdmitAccount {
                    address: addr(&key(80 + i)),
                    role: Role::Holder,
                    name: "A".into(),
                    jurisdiction: "".into(),
                }),
            )
        })
        .collect();
    let b = next_block(&mut c, txs.clone());
    assert_eq!(b.txs.len(), 2, "the proposer stops at block_txs_max");
    // A block over the limit from a faulty proposer is refused.
    c.time += 1000;
    let executed = c.ledger.assemble(c.time, addr(&key(200)), txs).expect("assembles");
    assert!(matches!(c.ledger.execute(&executed.block), Err(BlockError::TooLarge(_))));
}

#[test]
fn empty_blocks_keep_the_state_root() {
    let mut c = Chain::populated();
    let root = c.ledger.state_root();
    c.block(vec![]);
    c.block(vec![]);
    assert_eq!(c.ledger.state_root(), root);
}

#[test]
fn two_ledgers_fed_the_same_blocks_agree_byte_for_byte() {
    let mut a = Chain::populated();
    let ticket = a.issued(500);
    a.ok(&owner(), TxKind::Transfer(Transfer { ticket, to: addr(&buyer()), quantity: t(7), trade: None }));
    let mut b = Chain::open(crate::MemStore::new(), genesis());
    for h in 1..=a.ledger.height() {
        let block = a.ledger.block(h).expect("store").expect("block");
        b.ledger.apply_block(&block, vec![]).expect("applies");
    }
    assert_eq!(a.ledger.head(), b.ledger.head());
    let dump = |c: &Chain<crate::MemStore>| c.ledger.store().scan_prefix(b"S", usize::MAX).expect("scan");
    use crate::Store;
    assert_eq!(dump(&a), dump(&b));
}
