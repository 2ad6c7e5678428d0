//! A real retirement certificate made without a node: transactions signed with test keys, two
//! blocks built and committed by `bct_ledger::Ledger` over a `MemStore`, Merkle proofs from the
//! ledger's own functions, and precommits signed by test validator keys.
#![allow(dead_code, unreachable_pub)]

use bct_ledger::block::result_leaves;
use bct_ledger::crypto::{merkle_leaf, merkle_path};
use bct_ledger::genesis::{GenesisAccount, GenesisValidator};
use bct_ledger::tx::*;
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role};
use bct_ledger::{Address, Amount, Genesis, Hash, Ledger, MemStore, Params, SignedTx, TxKind};
use bct_proto::pb;
use bct_wallet::client::certificate::CertificateFile;
use bct_wallet::client::consensus::precommit_sign_bytes;
use bct_wallet::client::sign_tx;
use ed25519_dalek::{Signer, SigningKey};
use prost::Message;

pub const CHAIN: &str = "bct-test-1";
pub const BENEFICIARY: &str = "Xiamen Airlines carbon-neutral flight campaign";

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

pub fn authority() -> SigningKey {
    key(1)
}
pub fn verifier1() -> SigningKey {
    key(2)
}
pub fn verifier2() -> SigningKey {
    key(3)
}
pub fn owner() -> SigningKey {
    key(5)
}
pub fn buyer() -> SigningKey {
    key(6)
}
pub fn bank() -> SigningKey {
    key(7)
}
/// The four validators' keys (equal power).
pub fn validator_keys() -> Vec<SigningKey> {
    (200..=203u8).map(key).collect()
}

pub fn genesis_with_validators(validators: &[SigningKey]) -> Genesis {
    Genesis {
        chain_id: CHAIN.into(),
        genesis_time_ms: 1_640_995_200_000,
        params: Params::default(),
        authorities: vec![GenesisAccount {
            public_key: authority().verifying_key().to_bytes(),
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

pub fn genesis() -> Genesis {
    genesis_with_validators(&validator_keys())
}

fn date(v: u32) -> Date {
    Date::from_yyyymmdd(v).expect("a calendar date")
}

fn t(tonnes: u64) -> Amount {
    Amount::from_tonnes(tonnes).expect("small")
}

/// The certificate and everything it was made from.
pub struct Fixture {
    pub genesis: Genesis,
    /// The protobuf message as a node would serve it.
    pub certificate: pb::RetirementCertificate,
    /// Its encoding.
    pub certificate_bytes: Vec<u8>,
    /// The certificate file's content.
    pub file_json: String,
    /// The retire transaction.
    pub retire_tx: SignedTx,
}

/// Signs the precommits of `signers` for `header_hash` at (`height`, `round`).
pub fn precommits(
    signers: &[SigningKey],
    chain: &str,
    height: u64,
    round: u32,
    header_hash: &Hash,
) -> pb::CommitCertificate {
    pb::CommitCertificate {
        height,
        round,
        block_hash: header_hash.0.to_vec(),
        signatures: signers
            .iter()
            .map(|k| {
                let public_key = k.verifying_key().to_bytes();
                let msg =
                    precommit_sign_bytes(chain, height, round, header_hash, &Address::from_public_key(&public_key));
                pb::CommitSignature {
                    validator_public_key: public_key.to_vec(),
                    signature: k.sign(&msg).to_bytes().to_vec(),
                }
            })
            .collect(),
    }
}

/// The airline's retirement of 1,500 t of the fixtures' ticket, with `nonce`.
fn retire_tx(nonce: u64) -> SignedTx {
    sign_tx(
        &buyer(),
        CHAIN,
        nonce,
        0,
        TxKind::Retire(Retire {
            ticket: "FJ-LJ-KELP-001-20210101-20211231-1".into(),
            quantity: t(1500),
            beneficiary: BENEFICIARY.into(),
            purpose: Purpose::Event,
            jurisdiction: "CN-FJ".into(),
            note: "carbon-neutral air tickets, 2022-01-01".into(),
        }),
    )
}

/// Block 1 of the fixtures: admissions, the project, two attestations, the issuance and a
/// trade.
fn base_block1() -> Vec<SignedTx> {
    let (a, v1, v2, o, b, bk) = (authority(), verifier1(), verifier2(), owner(), buyer(), bank());
    let report =
        Hash::of(b"Lianjiang kelp farm monitoring report 2021, verified by the Third Institute of Oceanography");
    let period = Period { start: date(20210101), end: date(20211231) };
    let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };
    let admit = |n: u64, who: &SigningKey, role: Role, name: &str| {
        sign_tx(
            &a,
            CHAIN,
            n,
            0,
            TxKind::AdmitAccount(AdmitAccount {
                address: addr(who),
                role,
                name: name.into(),
                jurisdiction: "CN-FJ".into(),
            }),
        )
    };
    let attest = |k: &SigningKey| {
        sign_tx(
            k,
            CHAIN,
            1,
            0,
            TxKind::Attest(Attest {
                project: "FJ-LJ-KELP-001".into(),
                period,
                quantity: t(6000),
                methodology: methodology.clone(),
                report_hash: report,
                statement: "verified removal of the 2021 harvest".into(),
            }),
        )
    };
    let block1 = vec![
        admit(1, &v1, Role::Verifier, "Third Institute of Oceanography"),
        admit(2, &v2, Role::Verifier, "Fujian certification centre"),
        admit(3, &o, Role::Holder, "Lianjiang kelp cooperative"),
        admit(4, &b, Role::Holder, "Xiamen Airlines"),
        admit(5, &bk, Role::Holder, "Industrial Bank Fuzhou"),
        sign_tx(
            &a,
            CHAIN,
            6,
            0,
            TxKind::RegisterProject(RegisterProject {
                id: "FJ-LJ-KELP-001".into(),
                name: "Lianjiang kelp farm".into(),
                owner: addr(&o),
                ecosystem: Ecosystem::SeaweedFarm,
                location: Location { region: "CN-FJ-350122".into(), coordinates: Some((26_200_000, 119_540_000)) },
                area_centiha: 20_000,
                methodology: methodology.clone(),
            }),
        ),
        attest(&v1),
        attest(&v2),
        sign_tx(
            &a,
            CHAIN,
            7,
            0,
            TxKind::Issue(Issue {
                project: "FJ-LJ-KELP-001".into(),
                period,
                report_hash: report,
                quantity: t(6000),
                recipient: None,
            }),
        ),
        sign_tx(
            &o,
            CHAIN,
            1,
            0,
            TxKind::Transfer(Transfer {
                ticket: "FJ-LJ-KELP-001-20210101-20211231-1".into(),
                to: addr(&b),
                quantity: t(6000),
                trade: Some(Trade {
                    price_per_tonne_minor: 2000,
                    currency: "CNY".into(),
                    reference: "HX-2022-0001".into(),
                }),
            }),
        ),
    ];
    block1
}

/// Builds the chain (two blocks) and the certificate of its retirement.
pub fn fixture() -> Fixture {
    let genesis = genesis();
    let mut ledger = Ledger::open(MemStore::new(), genesis.clone()).expect("genesis opens");
    let (b, bk) = (buyer(), bank());
    let a = authority();
    let admit = |n: u64, who: &SigningKey, role: Role, name: &str| {
        sign_tx(
            &a,
            CHAIN,
            n,
            0,
            TxKind::AdmitAccount(AdmitAccount {
                address: addr(who),
                role,
                name: name.into(),
                jurisdiction: "CN-FJ".into(),
            }),
        )
    };
    let block1 = base_block1();
    let proposer = addr(&validator_keys()[0]);
    let executed = ledger.build_block(1_641_013_200_000, proposer, block1).expect("block 1 builds");
    for r in &executed.results {
        assert!(r.is_accepted(), "block 1: {:?}", r.outcome);
    }
    ledger.commit(executed, vec![]).expect("block 1 commits");

    let ticket = "FJ-LJ-KELP-001-20210101-20211231-1";
    let retire = retire_tx(2);
    let block2 = vec![
        admit(8, &key(8), Role::Holder, "Zhangzhou food company"),
        sign_tx(
            &b,
            CHAIN,
            1,
            0,
            TxKind::Pledge(Pledge { ticket: ticket.into(), quantity: t(1000), pledgee: addr(&bk) }),
        ),
        retire.clone(),
    ];
    let executed = ledger.build_block(1_641_013_260_000, addr(&validator_keys()[1]), block2).expect("block 2 builds");
    for r in &executed.results {
        assert!(r.is_accepted(), "block 2: {:?}", r.outcome);
    }
    let block = executed.block.clone();
    let results = executed.results.clone();
    let header = ledger.commit(executed, vec![]).expect("block 2 commits");
    let index = 2usize;
    let retirement_id = results[index].outcome.as_ref().expect("accepted").retirement.expect("a retirement");
    let record = ledger.state().retirements.get(&retirement_id).expect("recorded").clone();

    let tx_leaves: Vec<Hash> = block.txs.iter().map(|t| merkle_leaf(&t.id().0)).collect();
    let res_leaves = result_leaves(&results);
    let proof = |leaves: &[Hash]| pb::MerkleProof {
        index: index as u32,
        count: leaves.len() as u32,
        path: merkle_path(leaves, index).expect("in range").iter().map(|h| h.0.to_vec()).collect(),
    };
    let signers: Vec<SigningKey> = validator_keys().into_iter().take(3).collect();
    let certificate = pb::RetirementCertificate {
        chain_id: CHAIN.into(),
        tx: Some(bct_proto::signed_tx_to_pb(&retire)),
        result: Some((&results[index]).into()),
        header: Some((&header).into()),
        tx_proof: Some(proof(&tx_leaves)),
        result_proof: Some(proof(&res_leaves)),
        commit: Some(precommits(&signers, CHAIN, header.height, 0, &header.hash())),
        validators: ledger.validators().iter().map(pb::Validator::from).collect(),
        retirement: Some((&record).into()),
        validator_set_history: Vec::new(),
    };
    let certificate_bytes = certificate.encode_to_vec();
    let file_json = CertificateFile::from_certificate_bytes(&certificate_bytes).expect("decodes").to_json();
    Fixture { genesis, certificate, certificate_bytes, file_json, retire_tx: retire }
}

/// The file content for a (possibly altered) certificate message, with a summary that matches it.
pub fn file_for(cert: &pb::RetirementCertificate) -> Result<String, String> {
    CertificateFile::from_certificate_bytes(&cert.encode_to_vec()).map(|f| f.to_json()).map_err(|e| e.to_string())
}

/// A chain whose validator set changes once before the retirement: block 1 as in [`fixture`]
/// (admissions, project, attestations, issuance, a trade); block 2 holds the authority's
/// `update_validators` replacing validator 203 by 204, approved by 200-202 and signed by the
/// `change_signers`; block 3, decided by the new set (signed by 200, 201 and 204), holds the
/// retirement. The certificate carries the change as its validator set history.
pub fn fixture_after_set_change(change_signers: &[SigningKey]) -> Fixture {
    use bct_ledger::types::Validator;
    let base = fixture();
    let genesis = base.genesis.clone();
    let mut ledger = Ledger::open(MemStore::new(), genesis.clone()).expect("genesis opens");
    // Block 1 again: the same transactions as the base fixture's first block.
    let block1 = base_block1();
    let executed = ledger.build_block(1_641_013_200_000, addr(&validator_keys()[0]), block1).expect("block 1 builds");
    ledger.commit(executed, vec![]).expect("block 1 commits");

    let mut new_keys: Vec<SigningKey> = validator_keys().into_iter().take(3).collect();
    new_keys.push(key(204));
    let mut new_set: Vec<Validator> = new_keys
        .iter()
        .enumerate()
        .map(|(i, k)| Validator { public_key: k.verifying_key().to_bytes(), power: 1, name: format!("exchange-{i}") })
        .collect();
    new_set.sort_by_key(Validator::address);
    let message = valset_approval_message(CHAIN, 1, &new_set);
    let approvals = validator_keys()
        .iter()
        .take(3)
        .map(|k| Approval { public_key: k.verifying_key().to_bytes(), signature: k.sign(&message).to_bytes() })
        .collect();
    let change = sign_tx(
        &authority(),
        CHAIN,
        8,
        0,
        TxKind::UpdateValidators(UpdateValidators { validators: new_set.clone(), approvals }),
    );
    let executed = ledger
        .build_block(1_641_013_230_000, addr(&validator_keys()[1]), vec![change.clone()])
        .expect("block 2 builds");
    assert!(executed.results[0].is_accepted(), "the change: {:?}", executed.results[0].outcome);
    let results2 = executed.results.clone();
    let header2 = ledger.commit(executed, vec![]).expect("block 2 commits");
    let leaves2 = vec![merkle_leaf(&change.id().0)];
    let one = |leaves: &[Hash]| pb::MerkleProof {
        index: 0,
        count: leaves.len() as u32,
        path: merkle_path(leaves, 0).expect("in range").iter().map(|h| h.0.to_vec()).collect(),
    };
    let history = vec![pb::ValidatorSetChange {
        tx: Some(bct_proto::signed_tx_to_pb(&change)),
        result: Some((&results2[0]).into()),
        header: Some((&header2).into()),
        tx_proof: Some(one(&leaves2)),
        result_proof: Some(one(&result_leaves(&results2))),
        commit: Some(precommits(change_signers, CHAIN, header2.height, 0, &header2.hash())),
    }];

    let retire = retire_tx(1);
    let executed =
        ledger.build_block(1_641_013_260_000, addr(&key(204)), vec![retire.clone()]).expect("block 3 builds");
    assert!(executed.results[0].is_accepted(), "the retirement: {:?}", executed.results[0].outcome);
    let results3 = executed.results.clone();
    let header3 = ledger.commit(executed, vec![]).expect("block 3 commits");
    let retirement_id = results3[0].outcome.as_ref().expect("accepted").retirement.expect("a retirement");
    let record = ledger.state().retirements.get(&retirement_id).expect("recorded").clone();
    let leaves3 = vec![merkle_leaf(&retire.id().0)];
    let signers3 = [key(200), key(201), key(204)];
    let certificate = pb::RetirementCertificate {
        chain_id: CHAIN.into(),
        tx: Some(bct_proto::signed_tx_to_pb(&retire)),
        result: Some((&results3[0]).into()),
        header: Some((&header3).into()),
        tx_proof: Some(one(&leaves3)),
        result_proof: Some(one(&result_leaves(&results3))),
        commit: Some(precommits(&signers3, CHAIN, header3.height, 0, &header3.hash())),
        validators: ledger.validators().iter().map(pb::Validator::from).collect(),
        retirement: Some((&record).into()),
        validator_set_history: history,
    };
    let certificate_bytes = certificate.encode_to_vec();
    let file_json = CertificateFile::from_certificate_bytes(&certificate_bytes).expect("decodes").to_json();
    Fixture { genesis, certificate, certificate_bytes, file_json, retire_tx: retire }
}
