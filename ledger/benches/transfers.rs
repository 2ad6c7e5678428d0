//! Applies blocks of 1,000 signed transfers: batch signature verification, execution,
//! invariant checks and one atomic sled commit per block.
//!
//! Run: `cargo bench -p bct-ledger --bench transfers` (see docs/PERFORMANCE.md).

use std::time::{Duration, Instant};

use bct_ledger::tx::{AdmitAccount, Attest, Issue, RegisterProject, Transfer, TxBody, TxKind};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Role};
use bct_ledger::{Address, Amount, Genesis, Hash, Ledger, Params, SignedTx, SledStore};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::SigningKey;

const SENDERS: usize = 1_000;
const CHAIN: &str = "bct-bench";

struct Bench {
    ledger: Ledger<SledStore>,
    keys: Vec<SigningKey>,
    nonces: Vec<u64>,
    authority: SigningKey,
    authority_nonce: u64,
    ticket: String,
    time: u64,
    _dir: tempfile::TempDir,
}

fn key(i: u32) -> SigningKey {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_be_bytes());
    seed[31] = 7;
    SigningKey::from_bytes(&seed)
}

fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(&k.verifying_key().to_bytes())
}

/// Signs a body. The ledger is agnostic of the body encoding (it verifies and hashes the
/// bytes as given; `bct-proto` owns the protobuf encoding, and depending on it here would pull
/// tonic into this crate's tree), so the bench encodes with postcard, whose size for a
/// transfer is within a few bytes of the protobuf encoding.
fn sign(k: &SigningKey, nonce: u64, kind: TxKind) -> SignedTx {
    use ed25519_dalek::Signer;
    let body = TxBody { chain_id: CHAIN.into(), signer: addr(k), nonce, expiry_height: 0, kind };
    let bytes = postcard::to_allocvec(&body).expect("encodes");
    let signature = k.sign(&bct_ledger::crypto::tx_signing_message(&bytes)).to_bytes();
    SignedTx::from_parts(bytes, body, k.verifying_key().to_bytes(), signature)
}

impl Bench {
    fn block(&mut self, txs: Vec<SignedTx>) {
        self.time += 1_000;
        let n = txs.len();
        let executed = self.ledger.build_block(self.time, Address::default(), txs).expect("builds");
        assert_eq!(executed.results.iter().filter(|r| r.is_accepted()).count(), n, "setup transaction rejected");
        self.ledger.commit(executed, vec![]).expect("commits");
    }

    fn by_authority(&mut self, kind: TxKind) -> SignedTx {
        self.authority_nonce += 1;
        sign(&self.authority, self.authority_nonce, kind)
    }

    fn setup() -> Bench {
        let authority = key(1_000_000);
        let verifiers = [key(1_000_001), key(1_000_002)];
        let validator = key(1_000_003);
        let genesis = Genesis {
            chain_id: CHAIN.into(),
            genesis_time_ms: 1,
            params: Params { block_txs_max: 10_000, block_bytes_max: 64 << 20, ..Params::default() },
            authorities: vec![bct_ledger::genesis::GenesisAccount {
                public_key: authority.verifying_key().to_bytes(),
                name: "Authority".into(),
                jurisdiction: "CN".into(),
            }],
            validators: vec![bct_ledger::genesis::GenesisValidator {
                public_key: validator.verifying_key().to_bytes(),
                power: 1,
                name: "v".into(),
            }],
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let ledger = Ledger::open(SledStore::open(dir.path()).expect("sled"), genesis).expect("opens");
        let keys: Vec<SigningKey> = (0..SENDERS as u32).map(key).collect();
        let mut b = Bench {
            ledger,
            keys,
            nonces: vec![0; SENDERS],
            authority,
            authority_nonce: 0,
            ticket: String::new(),
            time: 1,
            _dir: dir,
        };
        let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };
        let mut admits: Vec<SignedTx> = Vec::new();
        for (i, k) in b.keys.clone().iter().enumerate() {
            let kind = TxKind::AdmitAccount(AdmitAccount {
                address: addr(k),
                role: Role::Holder,
                name: format!("holder {i}"),
                jurisdiction: "CN".into(),
            });
            admits.push(b.by_authority(kind));
        }
        for (i, v) in verifiers.iter().enumerate() {
            let kind = TxKind::AdmitAccount(AdmitAccount {
                address: addr(v),
                role: Role::Verifier,
                name: format!("verifier {i}"),
                jurisdiction: "CN".into(),
            });
            admits.push(b.by_authority(kind));
        }
        let project = RegisterProject {
            id: "BENCH".into(),
            name: "Bench kelp".into(),
            owner: addr(&b.keys[0]),
            ecosystem: Ecosystem::SeaweedFarm,
            location: Location { region: "CN-FJ".into(), coordinates: None },
            area_centiha: 100,
            methodology: methodology.clone(),
        };
        admits.push(b.by_authority(TxKind::RegisterProject(project)));
        b.block(admits);
        let period = Period {
            start: Date::from_yyyymmdd(20210101).expect("date"),
            end: Date::from_yyyymmdd(20211231).expect("date"),
        };
        let quantity = Amount::from_tonnes(1_000_000).expect("fits");
        let report = Hash::of(b"report");
        let attests = verifiers
            .iter()
            .map(|v| {
                sign(
                    v,
                    1,
                    TxKind::Attest(Attest {
                        project: "BENCH".into(),
                        period,
                        quantity,
                        methodology: methodology.clone(),
                        report_hash: report,
                        statement: String::new(),
                    }),
                )
            })
            .collect();
        b.block(attests);
        let issue = b.by_authority(TxKind::Issue(Issue {
            project: "BENCH".into(),
            period,
            report_hash: report,
            quantity,
            recipient: None,
        }));
        b.block(vec![issue]);
        b.ticket = "BENCH-20210101-20211231-1".into();
        // Fund every sender from holder 0.
        let funding: Vec<SignedTx> = (1..SENDERS)
            .map(|i| {
                b.nonces[0] += 1;
                sign(
                    &b.keys[0],
                    b.nonces[0],
                    TxKind::Transfer(Transfer {
                        ticket: b.ticket.clone(),
                        to: addr(&b.keys[i]),
                        quantity: Amount::from_tonnes(100).expect("fits"),
                        trade: None,
                    }),
                )
            })
            .collect();
        b.block(funding);
        b
    }

    /// One block of transfers, each sender paying 1 kg to the next.
    fn transfers(&mut self) -> Vec<SignedTx> {
        (0..SENDERS)
            .map(|i| {
                self.nonces[i] += 1;
                let to = addr(&self.keys[(i + 1) % SENDERS]);
                sign(
                    &self.keys[i],
                    self.nonces[i],
                    TxKind::Transfer(Transfer {
                        ticket: self.ticket.clone(),
                        to,
                        quantity: Amount::from_kg(1),
                        trade: None,
                    }),
                )
            })
            .collect()
    }
}

fn bench(c: &mut Criterion) {
    let mut b = Bench::setup();
    let mut group = c.benchmark_group("ledger");
    group.throughput(Throughput::Elements(SENDERS as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("block_of_1000_signed_transfers", |bencher| {
        bencher.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let txs = b.transfers();
                let start = Instant::now();
                b.block(txs);
                total += start.elapsed();
            }
            total
        })
    });
    // The signature share of the work: batch verification of one block's signatures alone.
    let txs = b.transfers();
    let messages: Vec<Vec<u8>> = txs.iter().map(SignedTx::signing_message).collect();
    let items: Vec<(&[u8; 32], &[u8], &[u8; 64])> =
        txs.iter().zip(&messages).map(|(t, m)| (t.public_key(), m.as_slice(), t.signature())).collect();
    group.bench_function("batch_verify_1000_signatures", |bencher| {
        bencher.iter(|| assert!(bct_ledger::crypto::verify_signatures(&items).iter().all(|ok| *ok)))
    });
    group.bench_function("verify_1000_signatures_one_by_one", |bencher| {
        bencher.iter(|| assert!(items.iter().all(|(k, m, s)| bct_ledger::crypto::verify_signature(k, m, s))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
