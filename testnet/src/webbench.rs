//! `bct-testnet web-bench`: how fast a node's web view answers what a regulator asks most
//! (the overview page, a retirement search, a serial lookup) under N concurrent clients, and how
//! fast the retirements CSV streams. One HTTP/1.0 request per connection (what a browser
//! without keep-alive or a script does): the figures include the TCP handshake on loopback.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use bct_wallet::client::web::get_into;
use serde::Serialize;

/// What to measure.
#[derive(Clone, Debug)]
pub struct WebBenchOptions {
    /// The node's web address, `http://host:port`.
    pub url: String,
    /// Concurrent clients.
    pub clients: usize,
    /// Seconds per scenario.
    pub duration: Duration,
}

/// One scenario's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    /// What was asked.
    pub name: String,
    /// The request path.
    pub path: String,
    /// Answers received.
    pub requests: u64,
    /// Answers that were not 200 (or failed).
    pub errors: u64,
    /// Answers per second.
    pub per_second: f64,
    /// Latency percentiles in ms.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct WebBenchReport {
    /// The node.
    pub url: String,
    /// Its height when the run began.
    pub height: u64,
    /// Retirements on the ledger.
    pub retirements: u64,
    /// Concurrent clients.
    pub clients: usize,
    /// Cores of this machine.
    pub cores: usize,
    /// Per scenario.
    pub scenarios: Vec<ScenarioReport>,
    /// Rows of the retirements CSV.
    pub csv_rows: u64,
    /// Its bytes.
    pub csv_bytes: u64,
    /// Rows per second while it streamed.
    pub csv_rows_per_second: f64,
}

async fn get_json(url: &str, path: &str) -> Result<serde_json::Value> {
    let mut body = Vec::new();
    get_into(url, path, &mut body).await.with_context(|| format!("GET {path}"))?;
    serde_json::from_slice(&body).with_context(|| format!("GET {path}: not JSON"))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn scenario(o: &WebBenchOptions, name: &str, path: String) -> ScenarioReport {
    let deadline = Instant::now() + o.duration;
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.clients {
        let (url, path) = (o.url.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let mut sink = tokio::io::sink();
                match get_into(&url, &path, &mut sink).await {
                    Ok(_) => samples.push(t.elapsed()),
                    Err(_) => errors += 1,
                }
            }
            (samples, errors)
        }));
    }
    let mut samples = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((s, e)) = t.await {
            samples.extend(s);
            errors += e;
        }
    }
    let elapsed = began.elapsed().as_secs_f64();
    samples.sort();
    ScenarioReport {
        name: name.to_string(),
        path,
        requests: samples.len() as u64,
        errors,
        per_second: samples.len() as f64 / elapsed,
        p50_ms: percentile(&samples, 0.50),
        p95_ms: percentile(&samples, 0.95),
        p99_ms: percentile(&samples, 0.99),
        max_ms: samples.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    }
}

/// Runs the three page scenarios one after the other, then one CSV export.
pub async fn run(o: &WebBenchOptions) -> Result<WebBenchReport> {
    let url = o.url.trim_end_matches('/').to_string();
    let o = WebBenchOptions { url: url.clone(), ..o.clone() };
    let status = get_json(&url, "/api/v1/status").await?;
    let height = status["height"].as_u64().unwrap_or(0);
    let newest = get_json(&url, "/api/v1/retirements?limit=1").await?;
    let Some(first) = newest["items"].as_array().and_then(|a| a.first()).cloned() else {
        bail!("the ledger has no retirement to search for: run `bct-testnet demo` first");
    };
    let retirements = first["id"].as_u64().unwrap_or(0);
    // a word of the newest retirement's beneficiary, and a serial of its ticket
    let term = first["beneficiary"].as_str().unwrap_or("").split_whitespace().last().unwrap_or("").to_lowercase();
    let serial = first["serials"][0]["first"].as_u64().unwrap_or(1);
    let mut scenarios = Vec::new();
    for (name, path) in [
        ("overview page", "/".to_string()),
        (
            "retirement search page",
            format!("/retirements?{}", bct_wallet::client::web::query_string(&[("beneficiary", &term)])),
        ),
        ("serial lookup page", format!("/serials?serial={serial}")),
    ] {
        let r = scenario(&o, name, path).await;
        eprintln!(
            "  {:<24} {:>8.0}/s  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  errors {}",
            r.name, r.per_second, r.p50_ms, r.p95_ms, r.p99_ms, r.max_ms, r.errors
        );
        scenarios.push(r);
    }
    let began = Instant::now();
    let mut csv = Vec::new();
    get_into(&url, "/api/v1/export/retirements.csv", &mut csv).await.context("the retirements CSV")?;
    let secs = began.elapsed().as_secs_f64();
    let csv_rows = csv.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count().saturating_sub(1) as u64;
    Ok(WebBenchReport {
        url,
        height,
        retirements,
        clients: o.clients,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        scenarios,
        csv_rows,
        csv_bytes: csv.len() as u64,
        csv_rows_per_second: csv_rows as f64 / secs.max(1e-9),
    })
}

/// Prints the report.
pub fn print(r: &WebBenchReport) {
    println!(
        "web view of {} at height {} ({} retirements), {} concurrent clients, {} cores:",
        r.url, r.height, r.retirements, r.clients, r.cores
    );
    for s in &r.scenarios {
        println!(
            "  {:<24} {:>8.0}/s  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  errors {}",
            s.name, s.per_second, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms, s.errors
        );
    }
    println!("  retirements CSV: {} rows, {} bytes, {:.0} rows/s", r.csv_rows, r.csv_bytes, r.csv_rows_per_second);
}
