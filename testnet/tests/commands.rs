//! The `bct-testnet` binary as a user runs it: generate, up, status, demo (twice), bench, down.
//! Real node processes on loopback; runs after any other network test of any test process
//! (the same lock file as the other system tests), and waits generously, never asserting on time.

use std::net::TcpListener;
use std::process::Command;

/// A base port whose ports for 5 nodes (each `base + 10 i + k`, k below PORTS_PER_NODE) are
/// free now.
fn free_base() -> u16 {
    let seed = std::process::id() as u16;
    let per_node = bct_node::localnet::PORTS_PER_NODE as u16;
    for attempt in 0..200u16 {
        let base = 30_000 + (seed.wrapping_mul(7).wrapping_add(attempt * 97)) % 30_000;
        let all_free =
            (0..5u16).all(|i| (0..per_node).all(|k| TcpListener::bind(("127.0.0.1", base + 10 * i + k)).is_ok()));
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
    assert!(out.contains("See the registry in a browser: http://127.0.0.1:"), "{out}");
    browser_checks(&dir);
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

/// The path of Chromium, if this machine has it (`.ci/run` installs Debian's `chromium`).
fn chromium() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("BCT_CHROMIUM") {
        return Some(p.into());
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

/// Headless Chromium's view of `url`: the DOM after loading (`--dump-dom`), and a screenshot
/// written to `target/web-screenshots/<name>.png`.
fn browse(chromium: &std::path::Path, url: &str, name: &str) -> String {
    let profile = tempfile::tempdir().expect("a profile directory");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=1280,1400",
    ];
    let dom_file = profile.path().join("dom.html");
    let mut dump = Command::new(chromium);
    dump.args(flags)
        .arg(format!("--user-data-dir={}", profile.path().join("p").display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(std::fs::File::create(&dom_file).expect("a DOM file"))
        .stderr(std::process::Stdio::null());
    assert!(finishes(&mut dump), "chromium failed or hung on {url}");
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots");
    let _ = std::fs::create_dir_all(&shots);
    let mut shot = Command::new(chromium);
    shot.args(flags)
        .arg(format!("--user-data-dir={}", profile.path().join("s").display()))
        .arg(format!("--screenshot={}", shots.join(format!("{name}.png")).display()))
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _ = finishes(&mut shot);
    std::fs::read_to_string(&dom_file).expect("the DOM")
}

/// Runs `c` and waits at most 90 s (a hung browser is killed): whether it exited with success.
fn finishes(c: &mut Command) -> bool {
    let Ok(mut child) = c.spawn() else { return false };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// Thousands separators and tonnes, as the pages print a quantity.
fn tonnes(a: bct_ledger::Amount) -> String {
    let s = a.to_string();
    let s = s.trim_end_matches('t');
    let (whole, frac) = s.split_once('.').map_or((s, None), |(w, f)| (w, Some(f)));
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    frac.map_or(out.clone(), |f| format!("{out}.{f}"))
}

/// The regulator's observer in a real headless Chromium, after the demo: the overview's totals
/// are gRPC GetSupply's; "food" finds the food company's retirement, whose page offers the
/// certificate file that the offline check accepts; a serial of the Futian auction lot shows the
/// auction winner; the Chinese switch shows Chinese labels; a bad serial gives an error page.
fn browser_checks(dir: &std::path::Path) {
    let Some(chromium) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the browser checks: .ci/run installs chromium");
        eprintln!("no Chromium on this machine: the browser checks are skipped (apt-get install chromium)");
        return;
    };
    let net = bct_testnet::Testnet::open(dir, bct_testnet::NodeCommand::this_executable().expect("command"))
        .expect("the testnet");
    let observer = (0..net.len()).find(|i| !net.node(*i).validator).expect("an observer");
    let web = net.node(observer).web_url().expect("the observer serves the web view");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (supply, genesis) = rt.block_on(async {
        let client = net.client(observer, std::time::Duration::from_secs(30)).await.expect("a client");
        (client.supply().await.expect("supply"), net.genesis().expect("genesis"))
    });
    let fetch = |path: &str| -> Vec<u8> {
        rt.block_on(async {
            let mut body = Vec::new();
            bct_wallet::client::web::get_into(web.trim_end_matches('/'), path, &mut body).await.expect(path);
            body
        })
    };

    let overview = browse(&chromium, &web, "overview");
    for q in [supply.totals.issued, supply.totals.active, supply.totals.retired] {
        let shown = format!("{} t", tonnes(q));
        assert!(overview.contains(&shown), "the overview lacks GetSupply's {shown}");
    }
    assert!(overview.contains("Futian") || overview.contains("GD-SZ-FUTIAN-001"), "the overview lists the projects");

    let found = browse(&chromium, &format!("{web}retirements?beneficiary=food"), "retirements-food");
    assert!(found.contains("Zhangzhou food company"), "the search for food finds the food company's retirement");
    let list: serde_json::Value = serde_json::from_slice(&fetch("/api/v1/retirements?beneficiary=food")).expect("JSON");
    let id = list["items"][0]["id"].as_u64().expect("a retirement id");
    let page = browse(&chromium, &format!("{web}retirements/{id}"), "certificate");
    let link = format!("/api/v1/retirements/{id}/certificate");
    assert!(page.contains(&link) && page.contains("Download the certificate file"), "the page offers the file");
    let file = fetch(&link);
    let verified = bct_wallet::client::certificate::verify_file(&file, &genesis).expect("bct verify accepts the file");
    assert_eq!(verified.summary.beneficiary, "Zhangzhou food company");

    let trades: serde_json::Value = serde_json::from_slice(&fetch("/api/v1/trades")).expect("JSON");
    let auction = trades["items"]
        .as_array()
        .expect("trades")
        .iter()
        .find(|t| t["reference"] == "SZEE-AUCTION-2023-09-26")
        .expect("the Futian auction is among the trades")
        .clone();
    let ticket: serde_json::Value =
        serde_json::from_slice(&fetch(&format!("/api/v1/tickets/{}", auction["ticket"].as_str().expect("ticket"))))
            .expect("JSON");
    let lot = ticket["lots"]
        .as_array()
        .expect("lots")
        .iter()
        .find(|l| l["holder"] == auction["buyer"])
        .expect("the winner's lot")
        .clone();
    let serial = lot["first"].as_u64().expect("serial") + 1;
    let lookup = browse(&chromium, &format!("{web}serials?serial={serial}"), "serial");
    assert!(lookup.contains("Futian auction winner"), "serial {serial} shows the auction winner as holder");

    let zh = browse(&chromium, &format!("{web}lang/zh?back=/"), "overview-zh");
    assert!(
        zh.contains("概览") && zh.contains("签发") && zh.contains("红树林"),
        "the Chinese switch shows Chinese labels"
    );

    let bad = browse(&chromium, &format!("{web}serials?serial=not-a-serial"), "bad-serial");
    assert!(bad.contains("Bad request") && bad.contains("serial"), "a bad serial shows an error page");
}
