//! Storage: reopening gives back exactly the last committed state; damage is detected.

use super::kit::*;
use crate::ledger::{Ledger, OpenError};
use crate::store::{SledStore, Store};
use crate::tx::*;

fn busy_chain<S: Store>(c: &mut Chain<S>, blocks: usize) {
    use crate::types::Role;
    c.admit(&verifier1(), Role::Verifier, "V1");
    c.admit(&verifier2(), Role::Verifier, "V2");
    c.admit(&owner(), Role::Holder, "Owner");
    c.admit(&buyer(), Role::Holder, "Buyer");
    c.ok(&authority(), TxKind::RegisterProject(kelp_project()));
    let ticket = c.issued(10_000);
    for i in 0..blocks {
        let (from, to) = if i % 2 == 0 { (owner(), buyer()) } else { (buyer(), owner()) };
        c.ok(&from, TxKind::Transfer(Transfer { ticket: ticket.clone(), to: addr(&to), quantity: t(1), trade: None }));
    }
}

#[test]
fn reopening_sled_gives_back_the_same_height_and_state_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (height, root, head, lots) = {
        let mut c = Chain::open(SledStore::open(dir.path()).expect("opens"), genesis());
        busy_chain(&mut c, 25);
        let lots: Vec<_> = c.ledger.state().lots.iter().map(|(_, l)| l.clone()).collect();
        (c.ledger.height(), c.ledger.state_root(), c.ledger.head().clone(), lots)
    };
    let reopened = Ledger::open(SledStore::open(dir.path()).expect("reopens"), genesis()).expect("ledger reopens");
    assert_eq!((reopened.height(), reopened.state_root()), (height, root));
    assert_eq!(reopened.head(), &head);
    assert_eq!(reopened.state().lots.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>(), lots);
    reopened.check_invariants().expect("invariants hold after reopening");
    // And it goes on from there.
    let mut c = Chain { time: reopened.head().time_ms, ledger: reopened };
    c.block(vec![]);
    assert_eq!(c.ledger.height(), height + 1);
}

#[test]
fn sled_and_memory_stores_give_the_same_state_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut disk = Chain::open(SledStore::open(dir.path()).expect("opens"), genesis());
    let mut mem = Chain::new();
    busy_chain(&mut disk, 10);
    busy_chain(&mut mem, 10);
    assert_eq!(disk.ledger.head(), mem.ledger.head());
}

#[test]
fn a_store_from_another_genesis_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Ledger::open(SledStore::open(dir.path()).expect("opens"), genesis()).expect("first open"));
    let mut other = genesis();
    other.chain_id = "bct-other".into();
    let err = Ledger::open(SledStore::open(dir.path()).expect("opens"), other).err().expect("refused");
    assert!(matches!(err, OpenError::WrongGenesis { .. }), "{err}");
}

#[test]
fn corrupted_state_is_detected_at_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut c = Chain::open(SledStore::open(dir.path()).expect("opens"), genesis());
        busy_chain(&mut c, 3);
    }
    let store = SledStore::open(dir.path()).expect("opens");
    // Garbage in place of a lot: undecodable.
    let lot_keys = store.scan_prefix(b"Sl", 10).expect("scan");
    let (key, value) = lot_keys[0].clone();
    store.apply(vec![(key.clone(), Some(vec![0xff; 3]))]).expect("writes");
    let err = Ledger::open(store.clone(), genesis()).err().expect("refused");
    assert!(err.to_string().contains("corrupt"), "{err}");
    // A well-formed but wrong lot (another holder's range removed): invariants catch it.
    store.apply(vec![(key, Some(value)), (lot_keys[1].0.clone(), None)]).expect("writes");
    let err = Ledger::open(store, genesis()).err().expect("refused");
    assert!(matches!(err, OpenError::Inconsistent(_)), "{err}");
}
