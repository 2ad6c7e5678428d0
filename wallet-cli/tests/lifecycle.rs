//! The walkthrough of docs/WALLET.md, and every other `bct` command, played with the `bct`
//! binary against a real network of four `bct-node` validators: keys; admission, account
//! changes; a project; two attestations; issuance; a sale with its trade; a pledge released and
//! one seized; a retirement with its certificate, verified offline against the network's
//! genesis.json and refused against another; a freeze, a cancellation, a validator set change;
//! the queries and `bct watch`; and the refusals, each with its exit code and its reason.

mod common;
mod network;

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use bct_wallet::keystore::{KdfParams, Keystore};
use common::{addr, key, BENEFICIARY};
use ed25519_dalek::SigningKey;
use network::{Network, Spec, COMMIT_WAIT_MS, WAIT};
use serde_json::Value;

const PASSPHRASE: &str = "tide and mangrove";
const PROJECT: &str = "FJ-LJ-KELP-001";
const TICKET: &str = "FJ-LJ-KELP-001-20210101-20211231-1";
const PERIOD: &str = "2021-01-01..2021-12-31";

/// The participants' keys (the authority's and the validators' come from the network).
struct Keys {
    tio: SigningKey,
    coop: SigningKey,
    airline: SigningKey,
    bank: SigningKey,
    exchange: SigningKey,
}

struct Env {
    net: Network,
    home: tempfile::TempDir,
    keys: Keys,
}

/// What a failed command said.
struct Failure {
    stdout: String,
    stderr: String,
}

impl Env {
    /// `bct` talking to `url`, with this test's keystore and passphrase.
    fn cmd_at(&self, url: &str) -> Command {
        let mut c = Command::cargo_bin("bct").expect("the bct binary is built");
        c.env_remove("BCT_KEY")
            .env("HOME", self.home.path())
            .env("BCT_NODE", url)
            .env("BCT_KEYSTORE", self.home.path().join("keys"))
            .env("BCT_PASSPHRASE", PASSPHRASE);
        c
    }

    /// `bct` talking to the first validator.
    fn cmd(&self) -> Command {
        self.cmd_at(self.net.url())
    }

    /// Runs `bct --json ARGS`, which must succeed, and returns its JSON.
    fn json<S: AsRef<str>>(&self, args: &[S]) -> Value {
        json_of(&mut self.cmd(), args)
    }

    /// Runs `bct ARGS` (tables), which must succeed, and returns its output.
    fn text(&self, args: &[&str]) -> String {
        let o = self.cmd().args(args).output().expect("runs");
        assert!(o.status.success(), "bct {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A transaction command: it must commit, accepted. The node is asked to wait generously.
    fn tx<S: AsRef<str>>(&self, args: &[S]) -> Value {
        let wait = COMMIT_WAIT_MS.to_string();
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).chain(["--wait-ms", &wait]).collect();
        let v = self.json(&args);
        assert_eq!(v["status"], "committed", "bct {args:?}: {v}");
        assert_eq!(v["committed"]["result"]["accepted"], true, "bct {args:?}: {v}");
        v
    }

    /// Runs `bct ARGS`, which must fail with exit code `code`.
    fn fails<S: AsRef<str>>(&self, code: i32, args: &[S]) -> Failure {
        fails(&mut self.cmd(), code, args)
    }

    /// Waits until the node at `url` has committed `height`.
    fn wait_height(&self, url: &str, height: u64) {
        let deadline = Instant::now() + WAIT;
        loop {
            let o = self.cmd_at(url).args(["--json", "status"]).output().expect("runs");
            if o.status.success() {
                let v: Value = serde_json::from_slice(&o.stdout).expect("JSON");
                if v["height"].as_u64().is_some_and(|h| h >= height) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "{url} did not reach height {height} within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn json_of<S: AsRef<str>>(c: &mut Command, args: &[S]) -> Value {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let o = c.arg("--json").args(&args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bct {args:?} failed ({:?}): {stderr}", o.status.code());
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bct {args:?}: not JSON ({e}): {stderr}"))
}

fn fails<S: AsRef<str>>(c: &mut Command, code: i32, args: &[S]) -> Failure {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    let o = c.args(&args).output().expect("runs");
    let f = Failure {
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert_eq!(o.status.code(), Some(code), "bct {args:?}: {}{}", f.stdout, f.stderr);
    f
}

fn a(k: &SigningKey) -> String {
    addr(k).to_string()
}

fn setup() -> Env {
    let net = Network::start(Spec::validators(4));
    let home = tempfile::tempdir().expect("tempdir");
    let keys = Keys { tio: key(2), coop: key(5), airline: key(6), bank: key(7), exchange: key(9) };
    // Most keys are sealed with cheap costs so the test is quick (the CLI reads the costs from
    // each file); `bct keys new` and `bct keys import` seal the others with the real ones.
    let ks = Keystore::open(home.path().join("keys")).with_kdf(KdfParams::INSECURE_FOR_TESTS);
    for (name, k) in [
        ("authority", &net.authority),
        ("tio", &keys.tio),
        ("kelp-coop", &keys.coop),
        ("airline", &keys.airline),
        ("bank", &keys.bank),
        ("fj-exchange", &keys.exchange),
        ("validator-1", &net.validators[1]),
        ("validator-2", &net.validators[2]),
    ] {
        ks.import(name, &k.to_bytes(), PASSPHRASE).expect("imported");
    }
    Env { net, home, keys }
}

#[test]
fn the_lifecycle_from_admission_to_a_verified_certificate_on_four_validators() {
    let env = setup();
    let k = &env.keys;
    let dir = env.home.path();
    let report = dir.join("report-2021.pdf");
    std::fs::write(&report, b"Lianjiang kelp farm monitoring report 2021").expect("write");
    let report = report.to_str().expect("utf-8");
    let genesis = env.net.genesis_file();
    let genesis = genesis.to_str().expect("utf-8");

    // 0. Keys: the authority's key file as `bct-node dev` writes it, a new key, a node's key.
    let registry = env.json(&[
        "keys",
        "import",
        "registry",
        "--secret-file",
        env.net.authority_key_file().to_str().expect("utf-8"),
    ]);
    assert_eq!(registry["address"], a(&env.net.authority));
    let fjcc = env.json(&["keys", "new", "fjcc"]);
    let fjcc = fjcc["address"].as_str().expect("an address").to_string();
    let node_key = env.net.home(0).join("node_key.json");
    env.json(&["keys", "import", "validator-0", "--secret-file", node_key.to_str().expect("utf-8")]);
    let list = env.text(&["keys", "list"]);
    for name in ["authority", "registry", "fjcc", "tio", "airline", "validator-0"] {
        assert!(list.contains(name), "{list}");
    }
    assert!(env.text(&["keys", "show", "fjcc"]).contains(&fjcc));
    let exported = env.json(&["keys", "export", "airline"]);
    assert_eq!(exported["secret_key"], hex::encode(k.airline.to_bytes()));

    // 1. The authority admits two verifiers, the owner, the buyer, the bank and an exchange.
    let (tio, coop, airline, bank, exchange) = (a(&k.tio), a(&k.coop), a(&k.airline), a(&k.bank), a(&k.exchange));
    let first_admission = env.tx(&[
        "account",
        "admit",
        &tio,
        "--role",
        "verifier",
        "--name",
        "Third Institute of Oceanography",
        "--jurisdiction",
        "CN-FJ",
        "--key",
        "authority",
    ]);
    for (who, role, name) in [
        (&fjcc, "verifier", "Fujian certification centre"),
        (&coop, "holder", "Lianjiang kelp cooperative"),
        (&airline, "holder", "Xiamen Airlines"),
        (&bank, "holder", "Industrial Bank Fuzhou"),
        (&exchange, "exchange", "Haixia marine exchange"),
    ] {
        env.tx(&[
            "account",
            "admit",
            who,
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
    let shown = env.json(&["account", "show", &airline]);
    assert_eq!((shown["role"].as_str(), shown["next_nonce"].as_u64()), (Some("holder"), Some(1)));

    // The exchange admits a customer of its own and renames it; the authority suspends and
    // reinstates it.
    let customer = a(&key(10));
    env.tx(&[
        "account",
        "admit",
        &customer,
        "--role",
        "holder",
        "--name",
        "Zhangzhou food",
        "--jurisdiction",
        "CN-FJ",
        "--key",
        "fj-exchange",
    ]);
    env.tx(&["account", "update", &customer, "--name", "Zhangzhou Seafood Co.", "--key", "fj-exchange"]);
    env.tx(&["account", "suspend", &customer, "--reason", "KYC review", "--key", "authority"]);
    let shown = env.json(&["account", "show", &customer]);
    assert_eq!(
        (shown["name"].as_str(), shown["status"].as_str(), shown["suspended_reason"].as_str()),
        (Some("Zhangzhou Seafood Co."), Some("suspended"), Some("KYC review"))
    );
    assert_eq!(shown["admitted_by"], exchange);
    env.tx(&["account", "reinstate", &customer, "--key", "authority"]);
    assert!(env.text(&["account", "show", &customer]).contains("active"));

    // 2. The authority registers the project, and corrects its name.
    env.tx(&[
        "project",
        "register",
        PROJECT,
        "--name",
        "Lianjiang kelp",
        "--owner",
        &coop,
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
    env.tx(&["project", "update", PROJECT, "--name", "Lianjiang kelp farm", "--key", "authority"]);

    // 3. Two verifiers attest the same report (the methodology comes from the project).
    for v in ["tio", "fjcc"] {
        env.tx(&[
            "attest",
            "--project",
            PROJECT,
            "--period",
            PERIOD,
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

    // 4. A holder may not issue; the authority issues the ticket to the owner.
    let issue = ["issue", "--project", PROJECT, "--period", PERIOD, "--quantity", "6000t", "--report", report];
    let f = env.fails(3, &[&issue[..], &["--key", "kelp-coop"]].concat());
    assert!(f.stderr.contains("a holder account may not issue tickets"), "{}", f.stderr);
    let issued = env.tx(&[&issue[..], &["--key", "authority"]].concat());
    assert_eq!(issued["committed"]["result"]["ticket"], TICKET);

    // 5. The owner sells it to the airline at CNY 20 per tonne.
    let sold = env.tx(&[
        "transfer",
        TICKET,
        "--to",
        &airline,
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
    let sold_id = sold["tx_id"].as_str().expect("id");
    let tx = env.json(&["tx", sold_id]);
    assert_eq!(tx["tx"]["transfer"]["trade"]["price_per_tonne_minor"], 2000);
    assert!(env.text(&["tx", sold_id]).contains("at 20.00 CNY per tonne"));

    // 6. The airline pledges 1000 t to the bank, which releases them.
    env.tx(&["pledge", TICKET, "--quantity", "1000t", "--pledgee", &bank, "--key", "airline"]);
    let bal = env.json(&["balance", &airline]);
    assert_eq!(
        (bal["totals"]["pledged"]["t"].as_str(), bal["totals"]["active"]["t"].as_str()),
        (Some("1000t"), Some("5000t"))
    );
    env.tx(&["release", TICKET, "--holder", &airline, "--quantity", "1000000kg", "--key", "bank"]);

    // Not enough tonnes: refused at admission with the ledger's words, exit code 3.
    let f = env.fails(3, &["transfer", TICKET, "--to", &coop, "--quantity", "7000t", "--key", "airline"]);
    assert!(
        f.stderr.contains(&format!("{airline} holds 6000t active of ticket {TICKET}; 7000t requested")),
        "{}",
        f.stderr
    );
    assert!(f.stderr.contains("rejection code"), "{}", f.stderr);

    // 7. The airline retires 1500 t for its campaign and gets the certificate.
    let cert = dir.join("retirement-1.json");
    let cert = cert.to_str().expect("utf-8");
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
        cert,
        "--key",
        "airline",
    ]);
    assert_eq!(retired["committed"]["result"]["retirement"], 1);
    assert_eq!(retired["certificate_file"], cert);
    let retire_height = retired["committed"]["height"].as_u64().expect("a height");

    // 8. Anyone verifies it offline with the network's genesis file (no node: port 1).
    let offline = || {
        let mut c = Command::cargo_bin("bct").expect("bin");
        c.env("HOME", dir).env_remove("BCT_NODE").args(["--node", "http://127.0.0.1:1"]);
        c
    };
    let out = offline().args(["verify", cert, "--genesis", genesis]).output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("VERIFIED")
            && stdout.contains(BENEFICIARY)
            && stdout.contains("1500t of ticket")
            && stdout.contains(&format!("{retire_height} at")),
        "{stdout}"
    );
    // Against another network's genesis (same chain id, other validators): refused, exit code 5.
    let mut other: Value =
        serde_json::from_str(&std::fs::read_to_string(genesis).expect("read")).expect("genesis is JSON");
    for (i, v) in other["validators"].as_array_mut().expect("validators").iter_mut().enumerate() {
        v["public_key"] = Value::from(hex::encode(key(200 + i as u8).verifying_key().to_bytes()));
    }
    let other_file = dir.join("other-genesis.json");
    std::fs::write(&other_file, other.to_string()).expect("write");
    let f = fails(&mut offline(), 5, &["verify", cert, "--genesis", other_file.to_str().expect("utf-8")]);
    assert!(
        f.stderr.contains("is refused")
            && f.stderr.contains("history leads to from the genesis")
            && !f.stdout.contains("VERIFIED"),
        "{}{}",
        f.stdout,
        f.stderr
    );

    // The certificate again from another validator, verified before it is written. It proves
    // the same retirement; its commit may hold another quorum of precommits than the first one's
    // (each node keeps the largest set of signatures it saw).
    env.wait_height(&env.net.urls[2], retire_height);
    let again = dir.join("again.json");
    let got = json_of(
        &mut env.cmd_at(&env.net.urls[2]),
        &["certificate", "get", "1", "-o", again.to_str().expect("utf-8"), "--genesis", genesis],
    );
    assert_eq!(got["verified"], true);
    let summary = |path: &Path| -> Value {
        let file: Value = serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON");
        file["retirement"].clone()
    };
    assert_eq!(summary(&again), summary(Path::new(cert)));

    refusals(&env);
    holds_and_seizures(&env);
    validator_set_change(&env);
    not_committed_in_time(&env);
    queries(&env, first_admission["committed"]["height"].as_u64().expect("a height"), retire_height);
    watch(&env, retire_height);
    agreement(&env);
}

/// Wrong role, frozen lot, wrong passphrase, unknown key: each refused, saying what was wrong.
fn refusals(env: &Env) {
    let airline = a(&env.keys.airline);
    // An exchange may not freeze.
    let f = env.fails(3, &["freeze", "--ticket", TICKET, "--reason", "court order", "--key", "fj-exchange"]);
    assert!(f.stderr.contains("exchange account may not freeze accounts or tickets"), "{}", f.stderr);

    // The authority freezes the ticket: the airline can neither transfer nor retire it.
    env.tx(&["freeze", "--ticket", TICKET, "--reason", "court order 2022-17", "--key", "authority"]);
    let frozen = format!("ticket {TICKET} is frozen: court order 2022-17");
    let f = env.fails(3, &["transfer", TICKET, "--to", &a(&env.keys.bank), "--quantity", "1t", "--key", "airline"]);
    assert!(f.stderr.contains(&frozen), "{}", f.stderr);
    let f = env.fails(
        3,
        &[
            "retire",
            TICKET,
            "--quantity",
            "1t",
            "--beneficiary",
            "x",
            "--purpose",
            "voluntary",
            "--jurisdiction",
            "CN-FJ",
            "--key",
            "airline",
        ],
    );
    assert!(f.stderr.contains(&frozen), "{}", f.stderr);
    let bal = env.text(&["balance", &airline, "--ticket", TICKET]);
    assert!(bal.contains("frozen 4500t") && bal.contains("retired 1500t"), "{bal}");
    env.tx(&["unfreeze", "--ticket", TICKET, "--key", "authority"]);

    // More than the airline holds, after the retirement.
    let f = env.fails(3, &["transfer", TICKET, "--to", &a(&env.keys.coop), "--quantity", "5000t", "--key", "airline"]);
    assert!(f.stderr.contains("holds 4500t active of ticket") && f.stderr.contains("5000t requested"), "{}", f.stderr);

    // A wrong passphrase, and a key the keystore does not have: exit code 1, nothing sent.
    let pledge = ["pledge", TICKET, "--quantity", "1t", "--pledgee", &a(&env.keys.bank)];
    let o = env.cmd().env("BCT_PASSPHRASE", "wrong").args(pledge).args(["--key", "airline"]).output().expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("wrong passphrase for key airline"), "{stderr}");
    let f = env.fails(1, &[&pledge[..], &["--key", "nobody"]].concat());
    assert!(f.stderr.contains("no key named \"nobody\""), "{}", f.stderr);
    // None of it reached the chain: the airline signed two transactions, the pledge and the
    // retirement.
    let shown = env.json(&["account", "show", &airline]);
    assert_eq!(shown["next_nonce"], 3);
}

/// A pledge seized by the bank, then cancelled by the authority.
fn holds_and_seizures(env: &Env) {
    let (airline, bank) = (a(&env.keys.airline), a(&env.keys.bank));
    env.tx(&["pledge", TICKET, "--quantity", "500t", "--pledgee", &bank, "--key", "airline"]);
    env.tx(&["seize", TICKET, "--holder", &airline, "--quantity", "500t", "--key", "bank"]);
    let bal = env.json(&["balance", &bank]);
    assert_eq!(bal["totals"]["active"]["t"], "500t");
    env.tx(&[
        "cancel",
        TICKET,
        "--holder",
        &bank,
        "--quantity",
        "500t",
        "--reason",
        "reversal: double counting",
        "--key",
        "authority",
    ]);
    let bal = env.text(&["balance", &bank]);
    assert!(bal.contains("active 0t") && bal.contains("cancelled 500t"), "{bal}");
}

/// Approvals of a new validator set (the same four, as in genesis.json): one of four is refused,
/// three of four replace the set, and the chain goes on.
fn validator_set_change(env: &Env) {
    let genesis = env.net.genesis_file();
    let set = ["--validators-file", genesis.to_str().expect("utf-8")];
    let approve = |validator: &str| {
        let v = env.json(&[&["validators", "approve"][..], &set, &["--version", "1", "--key", validator]].concat());
        v["approval"].as_str().expect("an approval").to_string()
    };
    let first = approve("validator-0");
    assert!(first.starts_with(&hex::encode(env.net.validators[0].verifying_key().to_bytes())), "{first}");
    let update = |approvals: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["validators", "update"].iter().chain(&set).map(|s| s.to_string()).collect();
        for a in approvals {
            args.extend(["--approval".into(), a.to_string()]);
        }
        args.extend(["--key".into(), "authority".into()]);
        args
    };
    let f = env.fails(3, &update(&[&first]));
    assert!(f.stderr.contains("1 of 4 voting power; more than 2/3 is needed"), "{}", f.stderr);
    // A key that is not a validator's is refused before anything is signed.
    let f = env.fails(1, &[&["validators", "approve"][..], &set, &["--version", "1", "--key", "bank"]].concat());
    assert!(f.stderr.contains("is not a validator"), "{}", f.stderr);

    let (second, third) = (approve("validator-1"), approve("validator-2"));
    let changed = env.tx(&update(&[&first, &second, &third]));
    assert!(changed["committed"]["height"].as_u64().is_some(), "{changed}");
    let shown = env.json(&["validators", "show"]);
    assert_eq!(shown["total_power"], 4);
    assert_eq!(shown["validators"].as_array().map(Vec::len), Some(4));
    // The four validators go on deciding blocks with the new set: the next steps commit.
}

/// A transaction whose nonce leaves a gap is admitted but cannot commit: exit code 4, and the
/// message says how to follow it; once the gap is filled it commits.
fn not_committed_in_time(env: &Env) {
    let authority = a(&env.net.authority);
    let next = env.json(&["account", "show", &authority])["next_nonce"].as_u64().expect("a nonce");
    let ahead = (next + 1).to_string();
    let (port, ferry) = (a(&key(11)), a(&key(12)));
    let admit = |who: &str, name: &str, more: &[&str]| -> Vec<String> {
        ["account", "admit", who, "--role", "holder", "--name", name, "--jurisdiction", "CN-FJ", "--key", "authority"]
            .iter()
            .chain(more)
            .map(|s| s.to_string())
            .collect()
    };
    let f = env.fails(4, &admit(&port, "Xiamen port", &["--nonce", &ahead, "--wait-ms", "1000", "--json"]));
    assert!(f.stderr.contains("was admitted but not committed within the wait; it is still pending"), "{}", f.stderr);
    let pending: Value = serde_json::from_str(&f.stdout).expect("the receipt, as JSON");
    assert_eq!(pending["status"], "pending");
    let id = pending["tx_id"].as_str().expect("an id").to_string();
    assert!(f.stderr.contains(&format!("bct tx {id}")), "{}", f.stderr);
    assert_eq!(env.json(&["tx", &id])["status"], "pending");
    assert!(env.text(&["tx", &id]).contains("is pending"));
    // An id nobody knows is a failure (exit 1), and with --json the error is JSON on stdout.
    let unknown = env.fails(1, &["--json", "tx", &"ab".repeat(32)]);
    let v: Value = serde_json::from_str(&unknown.stdout).expect("a JSON error on stdout");
    assert_eq!(v["exit_code"], 1, "{v}");
    assert!(v["error"].as_str().is_some_and(|e| e.contains("unknown to this node")), "{v}");

    let ferry_admitted = env.tx(&admit(&ferry, "Fuzhou ferry", &[]));
    // Every kind in words, never as raw JSON or Rust names.
    let ferry_id = ferry_admitted["tx_id"].as_str().expect("an id").to_string();
    let shown = env.text(&["tx", &ferry_id]);
    assert!(shown.contains("Admit Fuzhou ferry as a holder (CN-FJ, address"), "{shown}");
    assert!(!shown.contains('{'), "{shown}");
    let deadline = Instant::now() + WAIT;
    loop {
        let v = env.json(&["tx", &id]);
        if v["status"] == "committed" {
            assert_eq!(v["committed"]["result"]["accepted"], true, "{v}");
            break;
        }
        assert!(Instant::now() < deadline, "{id} not committed within {WAIT:?}: {v}");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(env.json(&["account", "show", &port])["name"], "Xiamen port");
}

fn queries(env: &Env, first_admission: u64, retire_height: u64) {
    let (airline, bank) = (a(&env.keys.airline), a(&env.keys.bank));
    let ticket = env.json(&["ticket", "show", TICKET]);
    assert_eq!(ticket["attestations"].as_array().map(Vec::len), Some(2));
    assert_eq!(ticket["totals"]["retired"]["t"], "1500t");
    assert_eq!(ticket["totals"]["cancelled"]["t"], "500t");
    assert_eq!(ticket["retirements"][0]["beneficiary"], BENEFICIARY);
    let text = env.text(&["ticket", "show", TICKET]);
    assert!(text.contains("attestations:") && text.contains("retirements:") && text.contains("retired"), "{text}");

    let bal = env.text(&["balance", &airline]);
    assert!(bal.contains("active 4000t") && bal.contains("retired 1500t"), "{bal}");

    let list = env.json(&["retirements", "--beneficiary", BENEFICIARY]);
    assert_eq!(list["total"]["t"], "1500t");
    let by_ticket = env.json(&["retirements", "--ticket", TICKET, "--from-height", &retire_height.to_string()]);
    assert_eq!(by_ticket["retirements"].as_array().map(Vec::len), Some(1));
    let later = env.json(&["retirements", "--from-height", &(retire_height + 1).to_string()]);
    assert_eq!(later["retirements"].as_array().map(Vec::len), Some(0));
    // `bct export`: the retirements as CSV from the node's web API, filtered like the list.
    let out = env
        .cmd()
        .args(["export", "retirements", "--web", &env.net.webs[0], "--beneficiary", BENEFICIARY])
        .output()
        .expect("bct runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut reader = csv::Reader::from_reader(text.strip_prefix('\u{feff}').expect("a byte-order mark").as_bytes());
    let header = reader.headers().expect("a header").clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a row")).collect();
    assert_eq!(rows.len(), 1, "{text}");
    let col = |name: &str| rows[0][header.iter().position(|h| h == name).expect("a column")].to_string();
    assert_eq!(
        (col("beneficiary"), col("quantity_kg"), col("ticket")),
        (BENEFICIARY.to_string(), "1500000".to_string(), TICKET.to_string())
    );
    let refused = fails(&mut env.cmd(), 1, &["export", "projects", "--web", &env.net.webs[0], "--beneficiary", "x"]);
    assert!(refused.stderr.contains("does not filter by beneficiary"), "{}", refused.stderr);
    let unreachable = fails(&mut env.cmd(), 1, &["export", "projects", "--web", "http://127.0.0.1:1"]);
    assert!(unreachable.stderr.contains("cannot reach the node's web API"), "{}", unreachable.stderr);
    let one = env.json(&["retirements", "--id", "1"]);
    assert_eq!(one["serials"][0]["first"], 1);
    assert!(env.text(&["retirements"]).contains(BENEFICIARY));

    let project = env.text(&["project", "show", PROJECT]);
    assert!(
        project.contains("Lianjiang kelp farm")
            && project.contains("171.8 ha")
            && project.contains("26.2, 119.54")
            && project.contains(TICKET),
        "{project}"
    );
    assert!(env.text(&["project", "list"]).contains("seaweed_farm"));
    assert!(env.text(&["ticket", "list", PROJECT]).contains(PERIOD));

    let status = env.json(&["status"]);
    assert_eq!(status["chain_id"].as_str(), Some(env.net.chain_id.as_str()));
    assert!(status["height"].as_u64().is_some_and(|h| h > retire_height), "{status}");
    assert_eq!(status["peers"].as_array().map(Vec::len), Some(3), "{status}");
    let block = env.json(&["block", &retire_height.to_string()]);
    assert_eq!(block["header"]["height"], retire_height);
    assert_eq!(block["transactions"][0]["tx"]["kind"], "retire");
    let signatures = block["commit"]["signatures"].as_array().map(Vec::len).unwrap_or(0);
    assert!((3..=4).contains(&signatures), "{block}");
    assert!(env.text(&["block", &first_admission.to_string()]).contains("admit_account"));
    assert!(env.json(&["block"])["header"]["height"].as_u64().is_some_and(|h| h > retire_height));

    let supply = env.json(&["supply"]);
    let totals = &supply["totals"];
    assert_eq!(
        [&totals["issued"]["t"], &totals["active"]["t"], &totals["retired"]["t"], &totals["cancelled"]["t"]],
        ["6000t", "4000t", "1500t", "500t"],
        "{supply}"
    );
    assert!(env.text(&["supply"]).contains("seaweed_farm"));
    // As of the block of the retirement: retired then, cancelled not yet (the cancellation
    // came later); before any block, nothing.
    let then = env.json(&["supply", "--height", &retire_height.to_string()]);
    assert_eq!(then["height"], retire_height);
    assert_eq!(then["totals"]["retired"]["t"], "1500t", "{then}");
    assert_eq!(then["by_project"][0]["totals"]["retired"]["t"], "1500t", "{then}");
    assert_eq!(env.json(&["supply", "--height", "0"])["totals"]["issued"]["t"], "0t");
    let refused = env.fails(1, &["supply", "--height", "99999999"]);
    assert!(refused.stderr.contains("height 99999999"), "{}", refused.stderr);
    let txs = env.json(&["account", "txs", &airline]);
    assert!(txs.as_array().is_some_and(|l| l.len() >= 6), "{txs}");
    assert!(env.text(&["account", "txs", &bank, "--limit", "2"]).contains("cancel"));
    let validators = env.text(&["validators", "show"]);
    assert!(validators.contains("validator-3") && validators.contains("total power 4"), "{validators}");
}

/// `bct watch` from the retirement's height: one JSON document per block, in order, the first
/// one the retirement's.
fn watch(env: &Env, retire_height: u64) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bct"))
        .env("HOME", env.home.path())
        .args(["--node", env.net.url(), "--json", "watch", "--from-height", &retire_height.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("bct watch starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut blocks = Vec::new();
    while blocks.len() < 3 {
        let line = rx.recv_timeout(WAIT).expect("a block in time").expect("a line");
        blocks.push(serde_json::from_str::<Value>(&line).expect("one JSON document per line"));
    }
    let _ = child.kill();
    let _ = child.wait();
    let heights: Vec<u64> = blocks.iter().map(|b| b["header"]["height"].as_u64().expect("a height")).collect();
    assert_eq!(heights, [retire_height, retire_height + 1, retire_height + 2]);
    assert_eq!(blocks[0]["results"][0]["retirement"], 1, "{}", blocks[0]);
}

/// Every validator has the same blocks.
fn agreement(env: &Env) {
    let height = env.json(&["status"])["height"].as_u64().expect("a height");
    let hash = env.json(&["block", &height.to_string()])["header"]["hash"].clone();
    for url in &env.net.urls[1..] {
        env.wait_height(url, height);
        let other = json_of(&mut env.cmd_at(url), &["block", &height.to_string()]);
        assert_eq!(other["header"]["hash"], hash, "{url}");
    }
}
