//! The `bct` binary: argument errors exit non-zero and say what to fix; keys and offline
//! verification work end to end without a node.

mod common;

use assert_cmd::Command;

/// `bct` with a clean environment: no node, keystore or passphrase from the caller's shell.
fn bct(home: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("bct").expect("the bct binary is built");
    for var in ["BCT_NODE", "BCT_KEYSTORE", "BCT_PASSPHRASE", "BCT_KEY"] {
        c.env_remove(var);
    }
    c.env("HOME", home);
    c
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(c: &mut Command) -> Run {
    let o = c.output().expect("runs");
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

const ADDRESS: &str = "bct1sdtp4kee3lv8lrn7mqe3hle0ew29wv7vvlqanz";

#[test]
fn amounts_need_a_unit_and_at_most_three_decimals_of_a_tonne() {
    let home = tempfile::tempdir().expect("tempdir");
    let r = run(bct(home.path()).args(["transfer", "T-1", "--to", ADDRESS, "--quantity", "12.5", "--key", "k"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("needs a unit") && r.stderr.contains("12.5t") && r.stderr.contains("12500kg"),
        "{}",
        r.stderr
    );

    let r = run(bct(home.path()).args([
        "retire",
        "T-1",
        "--quantity",
        "0.0001t",
        "--beneficiary",
        "b",
        "--purpose",
        "voluntary",
        "--jurisdiction",
        "CN",
        "--key",
        "k",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("more than 3 decimals"), "{}", r.stderr);

    let r = run(bct(home.path()).args(["pledge", "T-1", "--quantity", "1.5kg", "--pledgee", ADDRESS, "--key", "k"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("kilograms must be a whole number"), "{}", r.stderr);
}

#[test]
fn typed_addresses_periods_and_names_are_checked() {
    let home = tempfile::tempdir().expect("tempdir");
    let typo = format!("{}q", &ADDRESS[..ADDRESS.len() - 1]);
    let r = run(bct(home.path()).args(["balance", &typo]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not a bct address") && r.stderr.contains("typos"), "{}", r.stderr);

    let r = run(bct(home.path()).args([
        "issue",
        "--project",
        "P",
        "--period",
        "2021-12-31..2021-01-01",
        "--quantity",
        "1t",
        "--report-hash",
        &"00".repeat(32),
        "--key",
        "k",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("ends before it starts"), "{}", r.stderr);

    let r = run(bct(home.path()).args([
        "retire",
        "T-1",
        "--quantity",
        "1t",
        "--beneficiary",
        "b",
        "--purpose",
        "fun",
        "--jurisdiction",
        "CN",
        "--key",
        "k",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("judicial_restoration"), "{}", r.stderr);
}

#[test]
fn missing_and_conflicting_arguments_say_what_to_give() {
    let home = tempfile::tempdir().expect("tempdir");
    let r = run(&mut bct(home.path()));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Usage: bct"), "{}", r.stderr);

    // No signer: --key (or BCT_KEY) is required.
    let r = run(bct(home.path()).args(["transfer", "T-1", "--to", ADDRESS, "--quantity", "1t"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--key <NAME>"), "{}", r.stderr);

    // A hold is on an account or a ticket, not both.
    let r = run(bct(home.path()).args([
        "freeze",
        "--account",
        ADDRESS,
        "--ticket",
        "T-1",
        "--reason",
        "court order",
        "--key",
        "k",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);

    // A report is needed to attest.
    let r = run(bct(home.path()).args([
        "attest",
        "--project",
        "P",
        "--period",
        "2021-01-01..2021-12-31",
        "--quantity",
        "1t",
        "--key",
        "k",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--report"), "{}", r.stderr);

    // A certificate needs the commit.
    let r = run(bct(home.path()).args([
        "retire",
        "T-1",
        "--quantity",
        "1t",
        "--beneficiary",
        "b",
        "--purpose",
        "event",
        "--jurisdiction",
        "CN",
        "--key",
        "k",
        "--no-wait",
        "--certificate",
        "c.json",
    ]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);

    // verify needs the genesis.
    let r = run(bct(home.path()).args(["verify", "c.json"]));
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--genesis <FILE>"), "{}", r.stderr);
}

#[test]
fn an_unreachable_node_says_where_it_looked_and_how_to_change_it() {
    let home = tempfile::tempdir().expect("tempdir");
    let r = run(bct(home.path()).args(["--node", "http://127.0.0.1:1", "status"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is the node running at http://127.0.0.1:1"), "{}", r.stderr);
    assert!(r.stderr.contains("--node or BCT_NODE"), "{}", r.stderr);

    let r = run(bct(home.path()).env("BCT_NODE", "127.0.0.1:9090").arg("supply"));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("http://"), "{}", r.stderr);
}

#[test]
fn keys_new_show_list_export_and_a_wrong_passphrase() {
    let home = tempfile::tempdir().expect("tempdir");
    let store = home.path().join("store");
    let pass_file = home.path().join("pass.txt");
    std::fs::write(&pass_file, "tide and mangrove\n").expect("write");
    let ks = store.to_str().expect("utf-8");
    let pf = pass_file.to_str().expect("utf-8");

    // The secret of docs/PROTOCOL.md's vector key, imported from standard input.
    let r = run(bct(home.path())
        .args(["--keystore", ks, "--passphrase-file", pf, "keys", "import", "vector", "--secret-file", "-"])
        .write_stdin(format!("{}\n", "01".repeat(32))));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(ADDRESS), "{}", r.stdout);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.join("vector.json")).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let r = run(bct(home.path()).args(["--keystore", ks, "--json", "keys", "show", "vector"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["address"], ADDRESS);
    assert_eq!(v["public_key"], "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");

    let r = run(bct(home.path()).env("BCT_KEYSTORE", ks).args(["keys", "list"]));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("vector") && r.stdout.contains(ADDRESS), "{}", r.stdout);

    // The passphrase file wins over BCT_PASSPHRASE; export gives the secret back.
    let r = run(bct(home.path()).env("BCT_PASSPHRASE", "not this one").args([
        "--keystore",
        ks,
        "--passphrase-file",
        pf,
        "keys",
        "export",
        "vector",
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), "01".repeat(32));

    let r = run(bct(home.path()).env("BCT_PASSPHRASE", "wrong").args(["--keystore", ks, "keys", "export", "vector"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("wrong passphrase for key vector"), "{}", r.stderr);
    assert!(r.stdout.is_empty());

    let r = run(bct(home.path()).args(["--keystore", ks, "keys", "show", "nobody"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no key named \"nobody\"") && r.stderr.contains("bct keys new nobody"), "{}", r.stderr);

    // The same name twice is refused before anything is asked.
    let r = run(bct(home.path()).env("BCT_PASSPHRASE", "x").args(["--keystore", ks, "keys", "new", "vector"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("already exists"), "{}", r.stderr);
}

#[test]
fn verify_accepts_the_genuine_certificate_and_refuses_an_edited_one() {
    let home = tempfile::tempdir().expect("tempdir");
    let f = common::fixture();
    let cert = home.path().join("retirement-1.json");
    let genesis = home.path().join("genesis.json");
    std::fs::write(&cert, &f.file_json).expect("write");
    std::fs::write(&genesis, f.genesis.to_json()).expect("write");
    let (c, g) = (cert.to_str().expect("utf-8"), genesis.to_str().expect("utf-8"));

    // Offline: the node URL points nowhere.
    let r = run(bct(home.path()).args(["--node", "http://127.0.0.1:1", "verify", c, "--genesis", g]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("VERIFIED"), "{}", r.stdout);
    assert!(r.stdout.contains(common::BENEFICIARY), "{}", r.stdout);
    assert!(r.stdout.contains("1500t of ticket FJ-LJ-KELP-001-20210101-20211231-1"), "{}", r.stdout);
    assert!(r.stdout.contains("1000001..2500000"), "{}", r.stdout);
    assert!(r.stdout.contains("3 of 4 voting power"), "{}", r.stdout);

    let r = run(bct(home.path()).args(["--json", "verify", c, "--genesis", g]));
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["verified"], true);
    assert_eq!(v["retirement"]["purpose"], "event");

    let edited = f.file_json.replace("\"height\": 2", "\"height\": 3");
    assert_ne!(edited, f.file_json);
    std::fs::write(&cert, edited).expect("write");
    let r = run(bct(home.path()).args(["verify", c, "--genesis", g]));
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("is refused") && r.stderr.contains("retirement.height"), "{}", r.stderr);

    let r = run(bct(home.path()).args(["--json", "verify", c, "--genesis", g]));
    assert_eq!(r.code, 5);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["verified"], false);
    assert!(v["reason"].as_str().expect("reason").contains("the file was edited"));

    std::fs::write(&genesis, "{}").expect("write");
    let r = run(bct(home.path()).args(["verify", c, "--genesis", g]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not a usable genesis file"), "{}", r.stderr);
}
