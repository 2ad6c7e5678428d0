//! The `bct-testnet` binary as a user runs it: generate, up, status, demo (twice), bench, down.
//! Real node processes on loopback; runs after any other network test of any test process
//! (the same lock file as the other system tests), and waits generously, never asserting on time.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

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

/// The paths of Chromium and its WebDriver, if this machine has them (`.ci/run` installs
/// Debian's `chromium` and `chromium-driver`).
fn chromium() -> Option<(PathBuf, PathBuf)> {
    let find = |var: &str, names: &[&str]| -> Option<PathBuf> {
        if let Some(p) = std::env::var_os(var) {
            return Some(p.into());
        }
        names.iter().map(PathBuf::from).find(|p| p.exists())
    };
    let browser = find("BCT_CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])?;
    let driver = find("BCT_CHROMEDRIVER", &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])?;
    Some((browser, driver))
}

/// A WebDriver session in headless Chromium, through a chromedriver of its own (stopped on drop).
struct Browser {
    driver: std::process::Child,
    client: Client,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn open(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--hide-scrollbars", "--window-size=1280,1400",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session with Chromium through {url}: {e}"),
            }
        };
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots");
        let _ = std::fs::create_dir_all(&shots);
        Browser { driver, client, shots, _profile: profile }
    }

    /// The text the page shows now, after saving a screenshot as `<name>.png`.
    async fn shown(&self, name: &str) -> String {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join(format!("{name}.png")), png);
        }
        self.client.find(Locator::Css("body")).await.expect("a body").text().await.expect("its text")
    }

    async fn visit(&self, url: &str, name: &str) -> String {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("Chromium could not open {url}: {e}"));
        self.shown(name).await
    }

    async fn click(&self, css: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
        e.click().await.unwrap_or_else(|e| panic!("{css} cannot be clicked: {e}"));
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
        e.clear().await.unwrap_or_else(|e| panic!("{css} cannot be cleared: {e}"));
        e.send_keys(text).await.unwrap_or_else(|e| panic!("{css} takes no text: {e}"));
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.client.find(Locator::Css(css)).await.ok()?;
        e.attr(name).await.ok().flatten()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
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

/// The regulator's observer in a real headless Chromium driven through WebDriver, after the
/// demo, used as a person would: the overview's totals are gRPC GetSupply's; typing "food" in
/// the retirement search finds the food company's retirement, whose page offers the certificate
/// file that the offline check accepts and that the certificate page checks when uploaded; a
/// serial of the Futian auction lot typed into the lookup shows the auction winner; the Chinese
/// switch shows Chinese labels; a bad serial gives an error page.
fn browser_checks(dir: &Path) {
    let Some((chromium, chromedriver)) = chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the browser checks: .ci/run installs chromium");
        eprintln!(
            "no Chromium or chromedriver on this machine: the browser checks are skipped \
             (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let net = bct_testnet::Testnet::open(dir, bct_testnet::NodeCommand::this_executable().expect("command"))
        .expect("the testnet");
    let observer = (0..net.len()).find(|i| !net.node(*i).validator).expect("an observer");
    let web = net.node(observer).web_url().expect("the observer serves the web view");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let checks = async {
        let client = net.client(observer, Duration::from_secs(30)).await.expect("a client");
        let supply = client.supply().await.expect("supply");
        let genesis = net.genesis().expect("genesis");
        let base = web.trim_end_matches('/').to_string();
        let fetch = |path: String| {
            let base = base.clone();
            async move {
                let mut body = Vec::new();
                bct_wallet::client::web::get_into(&base, &path, &mut body).await.expect("an HTTP answer");
                body
            }
        };
        let b = Browser::open(&chromium, &chromedriver).await;

        let overview = b.visit(&web, "overview").await;
        for q in [supply.totals.issued, supply.totals.active, supply.totals.retired] {
            let shown = format!("{} t", tonnes(q));
            assert!(overview.contains(&shown), "the overview lacks GetSupply's {shown}:\n{overview}");
        }
        assert!(overview.contains("GD-SZ-FUTIAN-001"), "the overview lists the projects");

        // The retirement search, typed into its form.
        b.click("nav a[href='/retirements']").await;
        b.type_into("form[action='/retirements'] input[name=beneficiary]", "food").await;
        b.click("form[action='/retirements'] button[type=submit]").await;
        let found = b.shown("retirements-food").await;
        assert!(found.contains("Zhangzhou food company"), "the search for food finds the food company:\n{found}");
        let url = b.client.current_url().await.expect("url");
        assert!(url.as_str().contains("beneficiary=food"), "{url}");
        // Its page: a printable certificate offering the file.
        b.click("table a[href^='/retirements/']").await;
        let page = b.shown("certificate").await;
        assert!(page.contains("Zhangzhou food company") && page.contains("Download the certificate file"), "{page}");
        let link = b.attribute("a[href$='/certificate']", "href").await.expect("a link to the certificate file");
        let path = link.trim_start_matches(&base).to_string();
        let file = fetch(path).await;
        let verified =
            bct_wallet::client::certificate::verify_file(&file, &genesis).expect("bct verify accepts the file");
        assert_eq!(verified.summary.beneficiary, "Zhangzhou food company");

        // The certificate page checks the file, uploaded.
        let upload = tempfile::NamedTempFile::new().expect("a file");
        std::fs::write(upload.path(), &file).expect("written");
        b.click("nav a[href='/verify']").await;
        let input = b.client.find(Locator::Css("input[type=file]")).await.expect("a file input");
        input.send_keys(&upload.path().display().to_string()).await.expect("the file is chosen");
        b.click("form[action='/verify'] button[type=submit]").await;
        let checked = b.shown("certificate-check").await;
        assert!(checked.contains("VERIFIED"), "{checked}");
        assert_eq!(checked.matches("✔").count(), 12, "the verdict and each of the 11 checks: {checked}");
        assert!(checked.contains("bct verify"), "the page points to the offline check");

        // Serial lookup, typed: a serial of the Futian auction lot shows the winner.
        let trades: serde_json::Value = serde_json::from_slice(&fetch("/api/v1/trades".into()).await).expect("JSON");
        let auction = trades["items"]
            .as_array()
            .expect("trades")
            .iter()
            .find(|t| t["reference"] == "SZEE-AUCTION-2023-09-26")
            .expect("the Futian auction is among the trades")
            .clone();
        let ticket: serde_json::Value = serde_json::from_slice(
            &fetch(format!("/api/v1/tickets/{}", auction["ticket"].as_str().expect("ticket"))).await,
        )
        .expect("JSON");
        let lot = ticket["lots"]
            .as_array()
            .expect("lots")
            .iter()
            .find(|l| l["holder"] == auction["buyer"])
            .expect("the winner's lot")
            .clone();
        let serial = lot["first"].as_u64().expect("serial") + 1;
        b.click("nav a[href='/serials']").await;
        b.type_into("form[action='/serials'] input[name=serial]", &serial.to_string()).await;
        b.click("form[action='/serials'] button[type=submit]").await;
        let lookup = b.shown("serial").await;
        assert!(lookup.contains("Futian auction winner"), "serial {serial} shows the auction winner:\n{lookup}");

        // A bad serial: an error page that says what was wrong.
        b.type_into("form[action='/serials'] input[name=serial]", "not-a-serial").await;
        b.click("form[action='/serials'] button[type=submit]").await;
        let bad = b.shown("bad-serial").await;
        assert!(bad.contains("Bad request") && bad.contains("serial"), "a bad serial shows an error page:\n{bad}");

        // The language switch, clicked on the overview.
        b.visit(&web, "overview-again").await;
        b.click("a.lang").await;
        let zh = b.shown("overview-zh").await;
        assert!(zh.contains("概览") && zh.contains("签发") && zh.contains("红树林"), "Chinese labels:\n{zh}");
        let _ = b.client.clone().close().await;
    };
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(300), checks)
            .await
            .expect("the browser checks finish within 5 minutes")
    });
}

/// Audit item 14: an ordinary user error is one line of words, without Rust's debug form or a
/// backtrace, even with `RUST_BACKTRACE=1`.
#[test]
fn user_errors_are_words_without_backtraces() {
    let out = Command::new(env!("CARGO_BIN_EXE_bct-testnet"))
        .args(["--dir", "/nonexistent/bct-testnet-dir", "status"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run bct-testnet");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.starts_with("Error: no testnet in /nonexistent/bct-testnet-dir"), "{text}");
    assert!(!text.contains("Stack backtrace") && !text.contains("Os {"), "{text}");
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
}

/// Issue 13, item 3: `bct-testnet generate --tls` makes a CA and node certificates; the network
/// runs with gRPC over TLS and forwarding between nodes over TLS; `status` reaches every node
/// over https; the wallet connects with `--ca-cert` and is refused, in words, without it.
#[test]
fn generate_tls_up_status_down() {
    let _lock = bct_testnet::net::network_test_lock().expect("network test lock");
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path();
    let base = free_base().to_string();
    let (ok, out) = run(dir, &["generate", "--tls", "--validators", "2", "--observers", "1", "--base-port", &base]);
    assert!(ok && out.contains("https://127.0.0.1") && out.contains("--ca-cert"), "{out}");
    assert!(out.contains("Generated 3 nodes"), "{out}");
    let (ok, out) = run(dir, &["up"]);
    assert!(ok, "{out}");
    let (ok, out) = run(dir, &["status"]);
    assert!(ok && !out.contains("unreachable"), "{out}");
    // The observer (node 2) over https, with the network's CA and without it.
    let url = format!("https://127.0.0.1:{}", base.parse::<u16>().expect("port") + 21);
    let ca = std::fs::read(dir.join("tls-ca.crt")).expect("the CA certificate");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let client = bct_wallet::client::Client::connect_tls(&url, Some(&ca)).await.expect("the wallet over TLS");
        let status = client.network_status().await.expect("status over TLS");
        assert!(status.height >= 1, "{status:?}");
        let e = match bct_wallet::client::Client::connect_tls(&url, None).await {
            Ok(c) => c.network_status().await.err().map(|e| e.to_string()).unwrap_or_default(),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("--ca-cert"), "without the CA: {e}");
    });
    let (ok, out) = run(dir, &["down", "--clean"]);
    assert!(ok, "{out}");
}
