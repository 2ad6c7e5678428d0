//! Recomputes every test vector of `docs/PROTOCOL.md` from the values the page gives, so the
//! page cannot drift from the code. The vectors are the `- name: value` lines between the
//! `BEGIN TEST VECTORS` and `END TEST VECTORS` markers; values may be wrapped in backticks.
//!
//! Changing a vector is changing the wire format: every client and stored block depends on it.

use std::collections::BTreeMap;

use bct_ledger::block::{validator_set_hash, Accepted, BlockHeader, Rejection, TxResult};
use bct_ledger::crypto::{self, merkle_leaf, merkle_node, merkle_root, Address, Hash};
use bct_ledger::store::Batch;
use bct_ledger::tx::{valset_approval_message, Trade, Transfer, TxKind};
use bct_ledger::types::Validator;
use bct_ledger::{next_state_root, Amount, TxBody};
use ed25519_dalek::SigningKey;

const PAGE: &str = include_str!("../../docs/PROTOCOL.md");

/// The `- name: value` lines of the vectors section.
fn vectors() -> BTreeMap<String, String> {
    let start = PAGE.find("<!-- BEGIN TEST VECTORS").expect("PROTOCOL.md has a BEGIN TEST VECTORS marker");
    let end = PAGE.find("<!-- END TEST VECTORS").expect("PROTOCOL.md has an END TEST VECTORS marker");
    let mut out = BTreeMap::new();
    for line in PAGE[start..end].lines() {
        let Some(item) = line.trim().strip_prefix("- ") else { continue };
        let Some((name, value)) = item.split_once(": ") else { continue };
        let value = value.trim().trim_matches('`').to_string();
        assert!(out.insert(name.trim().to_string(), value).is_none(), "vector {name} appears twice");
    }
    out
}

/// Reads vectors by name, and remembers which were read and which disagree with the code.
struct Page {
    values: BTreeMap<String, String>,
    read: Vec<String>,
    mismatches: Vec<String>,
}

impl Page {
    fn get(&mut self, name: &str) -> String {
        self.read.push(name.to_string());
        self.values.get(name).unwrap_or_else(|| panic!("PROTOCOL.md lacks the vector `- {name}: ...`")).clone()
    }

    fn hex(&mut self, name: &str) -> Vec<u8> {
        let v = self.get(name);
        hex::decode(&v).unwrap_or_else(|_| panic!("vector {name} is not hex: {v}"))
    }

    fn hex32(&mut self, name: &str) -> [u8; 32] {
        self.hex(name).try_into().unwrap_or_else(|_| panic!("vector {name} is not 32 bytes"))
    }

    fn num<T: std::str::FromStr>(&mut self, name: &str) -> T {
        let v = self.get(name);
        v.parse().unwrap_or_else(|_| panic!("vector {name} is not a number: {v}"))
    }

    fn address(&mut self, name: &str) -> Address {
        let v = self.get(name);
        v.parse().unwrap_or_else(|e| panic!("vector {name}: {e}"))
    }

    /// Checks that the page's `name` equals what the code computes.
    fn expect(&mut self, name: &str, computed: impl Into<String>) {
        let computed = computed.into();
        let written = self.get(name);
        if written != computed {
            self.mismatches.push(format!("- {name}: `{computed}`   (the page says `{written}`)"));
        }
    }

    fn finish(self) {
        let unread: Vec<&String> = self.values.keys().filter(|k| !self.read.contains(k)).collect();
        assert!(unread.is_empty(), "PROTOCOL.md has vectors no test reads: {unread:?}");
        assert!(
            self.mismatches.is_empty(),
            "PROTOCOL.md disagrees with the code; the computed values are:\n{}",
            self.mismatches.join("\n")
        );
    }
}

#[test]
fn protocol_md_vectors_match_the_code() {
    let mut p = Page { values: vectors(), read: vec![], mismatches: vec![] };

    // Domain tags.
    for (name, tag) in [
        ("domain.tx", crypto::TX_DOMAIN),
        ("domain.header", crypto::HEADER_DOMAIN),
        ("domain.valset", crypto::VALSET_DOMAIN),
        ("domain.valset_approval", crypto::VALSET_APPROVAL_DOMAIN),
        ("domain.state", crypto::STATE_DOMAIN),
    ] {
        p.expect(name, hex::encode(tag));
    }

    // Keys and addresses.
    let key = SigningKey::from_bytes(&p.hex32("key.secret"));
    let public = key.verifying_key().to_bytes();
    p.expect("key.public", hex::encode(public));
    let signer = Address::from_public_key(&public);
    p.expect("key.address_hex", hex::encode(signer.0));
    p.expect("key.address", signer.to_string());
    let recipient_key = SigningKey::from_bytes(&p.hex32("recipient.secret"));
    let recipient = Address::from_public_key(&recipient_key.verifying_key().to_bytes());
    p.expect("recipient.address", recipient.to_string());

    // The transfer body, spelled out field by field.
    let body = TxBody {
        chain_id: p.get("body.chain_id"),
        signer: p.address("body.signer"),
        nonce: p.num("body.nonce"),
        expiry_height: p.num("body.expiry_height"),
        kind: TxKind::Transfer(Transfer {
            ticket: p.get("body.transfer.ticket"),
            to: p.address("body.transfer.to"),
            quantity: Amount::from_kg(p.num("body.transfer.quantity_kg")),
            trade: Some(Trade {
                price_per_tonne_minor: p.num("body.transfer.trade.price_per_tonne_minor"),
                currency: p.get("body.transfer.trade.currency"),
                reference: p.get("body.transfer.trade.reference"),
            }),
        }),
    };
    assert_eq!(body.signer, signer, "the body is signed by the vector key");
    assert_eq!(body.kind, TxKind::Transfer(Transfer { to: recipient, ..transfer_of(&body) }));
    let tx = bct_proto::sign(&key, &body);
    p.expect("tx.body_bytes", hex::encode(tx.body_bytes()));
    p.expect("tx.signing_message", hex::encode(tx.signing_message()));
    p.expect("tx.id", tx.id().to_hex());
    p.expect("tx.signature", hex::encode(tx.signature()));
    p.expect("tx.signed_tx_bytes", hex::encode(bct_proto::encode_signed_tx(&tx)));
    assert!(tx.verify_signature());
    assert_eq!(bct_proto::decode_body(tx.body_bytes()), Ok(body.clone()));
    assert_eq!(annotated_body_hex(), hex::encode(tx.body_bytes()), "the annotated body on the page");

    // Merkle tree over three items.
    let items: Vec<Vec<u8>> = ["merkle.item0", "merkle.item1", "merkle.item2"].iter().map(|n| p.hex(n)).collect();
    let leaves: Vec<Hash> = items.iter().map(|i| merkle_leaf(i)).collect();
    p.expect("merkle.leaf0", leaves[0].to_hex());
    p.expect("merkle.leaf1", leaves[1].to_hex());
    p.expect("merkle.leaf2", leaves[2].to_hex());
    p.expect("merkle.node01", merkle_node(&leaves[0], &leaves[1]).to_hex());
    let root = merkle_root(&leaves);
    assert_eq!(root, merkle_node(&merkle_node(&leaves[0], &leaves[1]), &leaves[2]));
    p.expect("merkle.root", root.to_hex());
    p.expect("merkle.empty_root", merkle_root(&[]).to_hex());
    let path = crypto::merkle_path(&leaves, 2).expect("in range");
    p.expect("merkle.path2", path.iter().map(Hash::to_hex).collect::<Vec<_>>().join(","));

    // Validator set and its hash.
    let validators: Vec<Validator> = ["valset.0", "valset.1"]
        .iter()
        .map(|n| {
            let public_key = p.hex32(&format!("{n}.public_key"));
            Validator { public_key, power: p.num(&format!("{n}.power")), name: String::new() }
        })
        .collect();
    let set_hash = validator_set_hash(&validators);
    p.expect("valset.hash", set_hash.to_hex());
    let version: u64 = p.num("valset.approval.version");
    let approval = valset_approval_message(&body.chain_id, version, &validators);
    p.expect("valset.approval.message", hex::encode(approval));

    // Results and their leaves.
    let accepted = TxResult { tx: tx.id(), outcome: Ok(Accepted::default()) };
    p.expect("result.accepted_leaf_bytes", hex::encode(accepted.leaf_bytes()));
    let rejected = TxResult { tx: tx.id(), outcome: Err(Rejection::SelfTransfer) };
    p.expect("result.rejected_self_transfer_leaf_bytes", hex::encode(rejected.leaf_bytes()));
    let results_root = merkle_root(&bct_ledger::block::result_leaves(&[accepted]));
    p.expect("result.root_of_accepted", results_root.to_hex());

    // A header holding the transfer.
    let header = BlockHeader {
        chain_id: body.chain_id.clone(),
        height: p.num("header.height"),
        prev_hash: Hash(p.hex32("header.prev_hash")),
        time_ms: p.num("header.time_ms"),
        proposer: Address(p.hex("header.proposer").try_into().expect("20 bytes")),
        tx_root: bct_ledger::block::tx_root(std::slice::from_ref(&tx)),
        results_root,
        state_root: Hash(p.hex32("header.state_root")),
        validator_set_hash: set_hash,
        tx_count: 1,
    };
    p.expect("header.tx_root", header.tx_root.to_hex());
    p.expect("header.canonical_bytes", hex::encode(header.canonical_bytes()));
    p.expect("header.hash", header.hash().to_hex());

    // A precommit for that header by the vector key (what a commit certificate holds).
    p.expect("domain.vote", hex::encode(crypto::VOTE_DOMAIN));
    let round: u32 = p.num("precommit.round");
    let precommit = crypto::precommit_sign_bytes(&body.chain_id, header.height, round, &header.hash(), &signer);
    p.expect("precommit.sign_bytes", hex::encode(&precommit));
    p.expect("precommit.signature", hex::encode(ed25519_dalek::Signer::sign(&key, &precommit).to_bytes()));

    // State root chaining.
    let prev = Hash(p.hex32("state.prev_root"));
    let writes: Batch =
        vec![(p.hex("state.write0.key"), Some(p.hex("state.write0.value"))), (p.hex("state.write1.key"), None)];
    p.expect("state.next_root", next_state_root(&prev, &writes).to_hex());
    p.expect("state.next_root_of_no_writes", next_state_root(&prev, &vec![]).to_hex());

    p.finish();
}

/// The hex of the annotated body (the ```text block of the vectors section), comments removed.
fn annotated_body_hex() -> String {
    let start = PAGE.find("<!-- BEGIN TEST VECTORS").expect("BEGIN marker");
    let section = &PAGE[start..];
    let block = section.split("```text").nth(1).and_then(|b| b.split("```").next()).expect("a ```text block");
    block.lines().map(|l| l.split('#').next().unwrap_or("").split_whitespace().collect::<String>()).collect()
}

fn transfer_of(body: &TxBody) -> Transfer {
    match &body.kind {
        TxKind::Transfer(t) => t.clone(),
        other => panic!("the vector body is a transfer, not {}", other.name()),
    }
}
