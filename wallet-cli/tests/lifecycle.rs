//! The lifecycle of docs/WALLET.md played with the `bct` binary against a stand-in node:
//! admit, register, attest twice, issue, transfer with trade data, pledge and release, retire
//! with a certificate, verify it offline; then the queries, and a rejection's exit code.

mod common;

use assert_cmd::Command;
use bct_wallet::keystore::{KdfParams, Keystore};
use common::*;
use serde_json::Value;

const PASSPHRASE: &str = "tide and mangrove";
const TICKET: &str = "FJ-LJ-KELP-001-20210101-20211231-1";

struct Env {
    home: tempfile::TempDir,
    node: fake_node::FakeNode,
}

impl Env {
    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("bct").expect("the bct binary is built");
        c.env_remove("BCT_KEY")
            .env("HOME", self.home.path())
            .env("BCT_NODE", &self.node.url)
            .env("BCT_KEYSTORE", self.home.path().join("keys"))
            .env("BCT_PASSPHRASE", PASSPHRASE);
        c
    }

    /// Runs `bct --json ARGS`, which must succeed, and returns its JSON.
    fn json(&self, args: &[&str]) -> Value {
        let o = self.cmd().arg("--json").args(args).output().expect("runs");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "bct {args:?} failed ({:?}): {stderr}", o.status.code());
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bct {args:?}: not JSON ({e}): {stderr}"))
    }

    /// Runs `bct ARGS` (tables), which must succeed, and returns its output.
    fn text(&self, args: &[&str]) -> String {
        let o = self.cmd().args(args).output().expect("runs");
        assert!(o.status.success(), "bct {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A transaction command: it must commit, accepted.
    fn tx(&self, args: &[&str]) -> Value {
        let v = self.json(args);
        assert_eq!(v["status"], "committed", "bct {args:?}: {v}");
        assert_eq!(v["committed"]["result"]["accepted"], true, "bct {args:?}: {v}");
        v
    }
}

fn setup() -> Env {
    let home = tempfile::tempdir().expect("tempdir");
    // Keys sealed with cheap costs so the test is quick; the CLI reads the costs from each file.
    let ks = Keystore::open(home.path().join("keys")).with_kdf(KdfParams::INSECURE_FOR_TESTS);
    for (name, k) in [
        ("authority", authority()),
        ("tio", verifier1()),
        ("fjcc", verifier2()),
        ("kelp-coop", owner()),
        ("airline", buyer()),
        ("bank", bank()),
        ("validator-0", validator_keys()[0].clone()),
    ] {
        ks.import(name, &k.to_bytes(), PASSPHRASE).expect("imported");
    }
    Env { node: fake_node::start(genesis()), home }
}

fn a(k: &ed25519_dalek::SigningKey) -> String {
    addr(k).to_string()
}

#[test]
fn the_lifecycle_from_admission_to_a_verified_certificate() {
    let env = setup();
    let dir = env.home.path();
    let report = dir.join("report-2021.pdf");
    std::fs::write(&report, b"Lianjiang kelp farm monitoring report 2021").expect("write");
    let report = report.to_str().expect("utf-8");

    // 1. The authority admits two verifiers, the project owner, the buyer and the bank.
    for (key, role, name) in [
        (verifier1(), "verifier", "Third Institute of Oceanography"),
        (verifier2(), "verifier", "Fujian certification centre"),
        (owner(), "holder", "Lianjiang kelp cooperative"),
        (buyer(), "holder", "Xiamen Airlines"),
        (bank(), "holder", "Industrial Bank Fuzhou"),
    ] {
        env.tx(&[
            "account",
            "admit",
            &a(&key),
            "--role",
            role,
            "--name",
            name,
            "--jurisdiction",
            "CN-FJ",
            "--key",
            "authority",
        ]);
    }
    let shown = env.json(&["account", "show", &a(&buyer())]);
    assert_eq!((shown["role"].as_str(), shown["next_nonce"].as_u64()), (Some("holder"), Some(1)));

    // 2. The authority registers the project.
    env.tx(&[
        "project",
        "register",
        "FJ-LJ-KELP-001",
        "--name",
        "Lianjiang kelp farm",
        "--owner",
        &a(&owner()),
        "--ecosystem",
        "seaweed_farm",
        "--region",
        "CN-FJ-350122",
        "--latitude",
        "26.2",
        "--longitude",
        "119.54",
        "--area",
        "171.8",
        "--methodology",
        "HY/T 0349-2022",
        "--methodology-version",
        "2022",
        "--key",
        "authority",
    ]);

    // 3. Two verifiers attest the same report (the methodology comes from the project).
    for v in ["tio", "fjcc"] {
        env.tx(&[
            "attest",
            "--project",
            "FJ-LJ-KELP-001",
            "--period",
            "2021-01-01..2021-12-31",
            "--quantity",
            "6000t",
            "--report",
            report,
            "--statement",
            "verified kelp harvest removal",
            "--key",
            v,
        ]);
    }

    // 4. The authority issues the ticket to the owner.
    let issued = env.tx(&[
        "issue",
        "--project",
        "FJ-LJ-KELP-001",
        "--period",
        "2021-01-01..2021-12-31",
        "--quantity",
        "6000t",
        "--report",
        report,
        "--key",
        "authority",
    ]);
    assert_eq!(issued["committed"]["result"]["ticket"], TICKET);

    // 5. The owner sells it to the airline at CNY 20 per tonne.
    let sold = env.tx(&[
        "transfer",
        TICKET,
        "--to",
        &a(&buyer()),
        "--quantity",
        "6000t",
        "--price-per-tonne",
        "20",
        "--currency",
        "CNY",
        "--trade-ref",
        "HX-2022-0001",
        "--key",
        "kelp-coop",
    ]);
    let tx = env.json(&["tx", sold["tx_id"].as_str().expect("id")]);
    assert_eq!(tx["tx"]["transfer"]["trade"]["price_per_tonne_minor"], 2000);
    assert!(env.text(&["tx", sold["tx_id"].as_str().expect("id")]).contains("at 20.00 CNY per tonne"));

    // 6. The airline pledges 1000 t to the bank, which releases them.
    env.tx(&["pledge", TICKET, "--quantity", "1000t", "--pledgee", &a(&bank()), "--key", "airline"]);
    let bal = env.json(&["balance", &a(&buyer())]);
    assert_eq!(bal["totals"]["pledged"]["t"], "1000t");
    env.tx(&["release", TICKET, "--holder", &a(&buyer()), "--quantity", "1000000kg", "--key", "bank"]);

    // 7. The airline retires 1500 t for its campaign and gets the certificate.
    let cert = dir.join("retirement-1.json");
    let retired = env.tx(&[
        "retire",
        TICKET,
        "--quantity",
        "1500t",
        "--beneficiary",
        BENEFICIARY,
        "--purpose",
        "event",
        "--jurisdiction",
        "CN-FJ",
        "--note",
        "carbon-neutral air tickets",
        "--certificate",
        cert.to_str().expect("utf-8"),
        "--key",
        "airline",
    ]);
    assert_eq!(retired["committed"]["result"]["retirement"], 1);
    assert_eq!(retired["certificate_file"], cert.to_str().expect("utf-8"));

    // 8. Anyone verifies it offline with the genesis file.
    let genesis = dir.join("genesis.json");
    std::fs::write(&genesis, env.node.genesis.to_json()).expect("write");
    let out = Command::cargo_bin("bct")
        .expect("bin")
        .env("HOME", dir)
        .args([
            "--node",
            "http://127.0.0.1:1",
            "verify",
            cert.to_str().expect("utf-8"),
            "--genesis",
            genesis.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("VERIFIED") && stdout.contains(BENEFICIARY) && stdout.contains("1500t of ticket"),
        "{stdout}"
    );

    // The same certificate again, from `bct certificate get`, verified before it is written.
    let again = dir.join("again.json");
    let got = env.json(&[
        "certificate",
        "get",
        "1",
        "-o",
        again.to_str().expect("utf-8"),
        "--genesis",
        genesis.to_str().expect("utf-8"),
    ]);
    assert_eq!(got["verified"], true);
    assert_eq!(std::fs::read(&again).expect("read"), std::fs::read(&cert).expect("read"));

    queries(&env);
    refusals(&env);
}

fn queries(env: &Env) {
    let ticket = env.json(&["ticket", "show", TICKET]);
    assert_eq!(ticket["attestations"].as_array().map(Vec::len), Some(2));
    assert_eq!(ticket["totals"]["retired"]["t"], "1500t");
    assert_eq!(ticket["retirements"][0]["beneficiary"], BENEFICIARY);
    let text = env.text(&["ticket", "show", TICKET]);
    assert!(text.contains("attestations:") && text.contains("retirements:") && text.contains("retired"), "{text}");

    let bal = env.text(&["balance", &a(&buyer())]);
    assert!(bal.contains("active 4500t") && bal.contains("retired 1500t"), "{bal}");

    let list = env.json(&["retirements", "--beneficiary", BENEFICIARY]);
    assert_eq!(list["total"]["t"], "1500t");
    let one = env.json(&["retirements", "--id", "1"]);
    assert_eq!(one["serials"][0]["first"], 1);

    let project = env.text(&["project", "show", "FJ-LJ-KELP-001"]);
    assert!(project.contains("171.8 ha") && project.contains("26.2, 119.54") && project.contains(TICKET), "{project}");
    assert!(env.text(&["project", "list"]).contains("seaweed_farm"));
    assert!(env.text(&["ticket", "list", "FJ-LJ-KELP-001"]).contains("2021-01-01..2021-12-31"));

    let status = env.json(&["status"]);
    assert_eq!((status["chain_id"].as_str(), status["height"].as_u64()), (Some(CHAIN), Some(13)));
    let block = env.json(&["block"]);
    assert_eq!(block["header"]["height"], 13);
    assert_eq!(block["transactions"][0]["tx"]["kind"], "retire");
    assert_eq!(block["commit"]["signatures"].as_array().map(Vec::len), Some(3));
    assert!(env.text(&["block", "1"]).contains("admit_account"));

    let supply = env.text(&["supply"]);
    assert!(supply.contains("6000t") && supply.contains("seaweed_farm"), "{supply}");
    let txs = env.json(&["account", "txs", &a(&buyer())]);
    assert!(txs.as_array().is_some_and(|l| l.len() >= 4), "{txs}");
    let validators = env.text(&["validators", "show"]);
    assert!(validators.contains("exchange-0") && validators.contains("total power 4"), "{validators}");
}

fn refusals(env: &Env) {
    // More than the airline holds: refused with the ledger's words, exit code 3.
    let o = env
        .cmd()
        .args(["transfer", TICKET, "--to", &a(&owner()), "--quantity", "5000t", "--key", "airline"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("holds 4500t active of ticket") && stderr.contains("5000t requested"), "{stderr}");

    // A key the keystore does not have.
    let o = env
        .cmd()
        .args(["pledge", TICKET, "--quantity", "1t", "--pledgee", &a(&bank()), "--key", "nobody"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no key named \"nobody\""));

    // A wrong passphrase.
    let o = env
        .cmd()
        .env("BCT_PASSPHRASE", "wrong")
        .args(["pledge", TICKET, "--quantity", "1t", "--pledgee", &a(&bank()), "--key", "airline"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("wrong passphrase for key airline"));

    // A verifier may not issue.
    let o = env
        .cmd()
        .args([
            "issue",
            "--project",
            "FJ-LJ-KELP-001",
            "--period",
            "2022-01-01..2022-12-31",
            "--quantity",
            "1t",
            "--report-hash",
            &"11".repeat(32),
            "--key",
            "tio",
        ])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("a verifier account may not"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A validator's approval of a new set, then the authority's update with it.
    let key = hex::encode(validator_keys()[0].verifying_key().to_bytes());
    let approval = env.json(&[
        "validators",
        "approve",
        "--validator",
        &format!("{key}:1:exchange-0"),
        "--version",
        "1",
        "--key",
        "validator-0",
    ]);
    assert!(approval["approval"].as_str().is_some_and(|s| s.starts_with(&key)));
    // One approval of four: refused by the ledger, with its reason.
    let o = env
        .cmd()
        .args([
            "validators",
            "update",
            "--validator",
            &format!("{key}:1:exchange-0"),
            "--approval",
            approval["approval"].as_str().expect("approval"),
            "--key",
            "authority",
        ])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 of 4 voting power"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A non-validator key is refused before anything is signed.
    let o = env
        .cmd()
        .args(["validators", "approve", "--validator", &format!("{key}:1:x"), "--version", "1", "--key", "bank"])
        .output()
        .expect("runs");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a validator"));
}
