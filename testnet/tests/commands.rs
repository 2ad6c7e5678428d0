//! The `bct-testnet` binary as a user runs it: generate, up, status, demo (twice), bench, down.
//! Real node processes on loopback; runs after any other network test of any test process
//! (the same lock file as the other system tests), and waits generously, never asserting on time.

use std::net::TcpListener;
use std::process::Command;

/// A base port whose 5 x 10 following ports are free now.
fn free_base() -> u16 {
    let seed = std::process::id() as u16;
    for attempt in 0..200u16 {
        let base = 30_000 + (seed.wrapping_mul(7).wrapping_add(attempt * 97)) % 30_000;
        let all_free =
            (0..5u16).all(|i| (0..3u16).all(|k| TcpListener::bind(("127.0.0.1", base + 10 * i + k)).is_ok()));
        if all_free {
            return base;
        }
    }
    panic!("no free port range");
}

fn run(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bct-testnet"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run bct-testnet");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn generate_up_status_demo_bench_down() {
    let _lock = bct_testnet::net::network_test_lock().expect("network test lock");
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("net");
    let base = free_base().to_string();

    let (ok, out) = run(&dir, &["generate", "--base-port", &base, "--empty-block-interval-ms", "200"]);
    assert!(ok, "{out}");
    assert!(out.contains("Generated 5 nodes"), "{out}");
    let (ok, out) = run(&dir, &["generate", "--base-port", &base]);
    assert!(!ok && out.contains("already holds a testnet"), "a second generate must refuse: {out}");

    let (ok, out) = run(&dir, &["up"]);
    let guard = Down(dir.clone());
    assert!(ok, "{out}");
    assert!(out.contains("The testnet is up: 5 nodes"), "{out}");

    let (ok, out) = run(&dir, &["status"]);
    assert!(ok, "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("validator-") || l.starts_with("observer-")).collect();
    assert_eq!(rows.len(), 5, "{out}");
    assert!(rows.iter().all(|r| !r.contains("stopped") && !r.contains("not answering")), "{out}");

    let certificate = temp.path().join("cert.json");
    let (ok, out) = run(&dir, &["demo", "--certificate", certificate.to_str().expect("utf-8")]);
    assert!(ok, "{out}");
    for expected in [
        "The authority issues 27456t for FJ-LJ-KELP-001",
        "The authority issues 38745.44t for GD-SZ-FUTIAN-001",
        "The authority issues 240000t for FJ-ZZ-MARI-2020",
        "A second issuance for FJ-LJ-KELP-001 over 2021-10..2022-03 is refused",
        "While pledged, selling 16,000 t is refused",
        "Retiring the same 1,000 t again is refused",
        "verified it against genesis.json alone",
        "The observer's totals equal validator-0's",
        "40 transactions committed in this demo.",
    ] {
        assert!(out.contains(expected), "demo output lacks {expected:?}:\n{out}");
    }
    assert!(certificate.exists());
    let (ok, out) = run(&dir, &["demo"]);
    assert!(ok && out.contains("already played"), "{out}");

    let report = temp.path().join("bench.json");
    let (ok, out) = run(
        &dir,
        &[
            "bench",
            "--rate",
            "40",
            "--duration",
            "4",
            "--warmup",
            "1",
            "--accounts",
            "20",
            "--report",
            report.to_str().expect("utf-8"),
        ],
    );
    assert!(ok, "{out}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    // Transfers submitted in the window and committed (by the end of the drain).
    assert!(json["latency_ms"]["samples"].as_u64().expect("samples") > 0, "{json}");
    assert_eq!(json["rejected_in_blocks"].as_u64(), Some(0), "{json}");
    assert!(json["ed25519"]["single_per_s"].as_f64().expect("rate") > 0.0, "{json}");

    drop(guard);
    let (ok, out) = run(&dir, &["status"]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().filter(|l| l.contains("stopped")).count(), 5, "every node stopped:\n{out}");
    let (ok, out) = run(&dir, &["down", "--clean"]);
    assert!(ok && !dir.exists(), "{out}");
}

/// Stops the network even when an assertion fails.
struct Down(std::path::PathBuf);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = run(&self.0, &["down"]);
    }
}
