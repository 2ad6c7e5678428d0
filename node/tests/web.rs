//! The web view and JSON API end to end, on the observer of a one-validator network: every
//! API route with good and bad parameters and unknown ids, the OpenAPI document against the
//! routes, the certificate file and its check, and the pages in both languages.

mod common;

use std::net::SocketAddr;

use bct_ledger::tx::{AdmitAccount, Attest, Issue, RegisterProject, Retire, Trade, Transfer, TxBody, TxKind};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role};
use bct_ledger::{Amount, Genesis, Hash, SignedTx};
use bct_node::keys::NodeKey;
use bct_proto::pb;
use common::{serially, Net};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn signed(key: &NodeKey, nonce: u64, kind: TxKind) -> SignedTx {
    let body = TxBody { chain_id: "bct-test".into(), signer: key.address(), nonce, expiry_height: 0, kind };
    bct_proto::sign(key.signing_key(), &body)
}

fn accepted(c: &pb::Committed) -> pb::Accepted {
    match c.result.as_ref().and_then(|r| r.outcome.clone()) {
        Some(pb::tx_result::Outcome::Accepted(a)) => a,
        other => panic!("not accepted: {other:?}"),
    }
}

/// An HTTP/1.0 exchange (the server then sends no chunked body and closes): status, headers
/// (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect to the web server");
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("send");
    s.write_all(body).await.expect("send body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("UTF-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply { status, headers, body: body.to_string() }
}

async fn get(addr: SocketAddr, path: &str) -> Reply {
    http(addr, "GET", path, &[], b"").await
}

/// A JSON API answer that must be 200.
async fn api(addr: SocketAddr, path: &str) -> Value {
    let r = get(addr, path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "GET {path}");
    r.json()
}

/// A JSON API refusal: `status`, a problem body with `code`, and a detail mentioning `needle`.
async fn refused(addr: SocketAddr, path: &str, status: u16, code: &str, needle: &str) {
    let r = get(addr, path).await;
    assert_eq!(r.status, status, "GET {path}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"), "GET {path}");
    let p = r.json();
    assert_eq!(p["code"], code, "GET {path}: {p}");
    assert_eq!(p["status"], status, "GET {path}: {p}");
    let detail = p["detail"].as_str().expect("detail");
    assert!(detail.contains(needle), "GET {path}: {detail:?} should mention {needle:?}");
    assert!(detail.len() < 400, "GET {path}: the detail quotes too much: {detail}");
}

/// A page that must be 200 HTML and contain every one of `needles`.
async fn page(addr: SocketAddr, path: &str, needles: &[&str]) -> String {
    let r = get(addr, path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.body);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"), "GET {path}");
    for n in needles {
        assert!(r.body.contains(n), "GET {path} should show {n:?}");
    }
    r.body
}

#[test]
fn n1o1_the_observer_serves_the_registry_as_pages_and_json() {
    serially(async {
        let mut net = Net::new(1, 1, 1);
        net.start(0);
        net.start(1);
        net.wait_height(0, 1).await;
        let web = net.net.nodes[1].web;
        let authority = net.net.authorities[0].clone();
        let (v1, v2, seller, buyer) =
            (NodeKey::generate(), NodeKey::generate(), NodeKey::generate(), NodeKey::generate());
        let people = [
            (&v1, Role::Verifier, "Fujian Verification Centre"),
            (&v2, Role::Verifier, "Xiamen Marine Verifier"),
            (&seller, Role::Holder, "Zhangzhou Food Company 漳州食品"),
            (&buyer, Role::Holder, "Futian Auction Winner"),
        ];
        for (nonce, (who, role, name)) in (1..).zip(people) {
            let admit = AdmitAccount { address: who.address(), role, name: name.into(), jurisdiction: "CN-FJ".into() };
            net.submit_committed(0, &signed(&authority, nonce, TxKind::AdmitAccount(admit))).await;
        }
        let methodology = Methodology { id: "HY/T 0349-2022".into(), version: "2022".into() };
        let project = "GD-FT-MANGROVE-1".to_string();
        let register = RegisterProject {
            id: project.clone(),
            name: "Futian mangrove restoration".into(),
            owner: seller.address(),
            ecosystem: Ecosystem::Mangrove,
            location: Location { region: "CN-GD-440304".into(), coordinates: Some((22_523_000, 114_005_000)) },
            area_centiha: 36_840,
            methodology: methodology.clone(),
        };
        net.submit_committed(0, &signed(&authority, 5, TxKind::RegisterProject(register))).await;
        let period = Period {
            start: Date::from_yyyymmdd(20240101).expect("date"),
            end: Date::from_yyyymmdd(20241231).expect("date"),
        };
        let report = Hash::of(b"Futian monitoring report 2024");
        for v in [&v1, &v2] {
            let attest = Attest {
                project: project.clone(),
                period,
                quantity: Amount::from_kg(100_000),
                methodology: methodology.clone(),
                report_hash: report,
                statement: "verified on site".into(),
            };
            net.submit_committed(0, &signed(v, 1, TxKind::Attest(attest))).await;
        }
        let issue = Issue {
            project: project.clone(),
            period,
            report_hash: report,
            quantity: Amount::from_kg(100_000),
            recipient: None,
        };
        let issued = net.submit_committed(0, &signed(&authority, 6, TxKind::Issue(issue))).await;
        let ticket = accepted(&issued).ticket.expect("ticket id");
        let sale = Transfer {
            ticket: ticket.clone(),
            to: buyer.address(),
            quantity: Amount::from_kg(30_000),
            trade: Some(Trade {
                price_per_tonne_minor: 48_500,
                currency: "CNY".into(),
                reference: "SZ-AUCTION-1".into(),
            }),
        };
        let sale_tx = signed(&seller, 1, TxKind::Transfer(sale));
        net.submit_committed(0, &sale_tx).await;
        let retire = Retire {
            ticket: ticket.clone(),
            quantity: Amount::from_kg(10_000),
            beneficiary: "Zhangzhou Food Company".into(),
            purpose: Purpose::Voluntary,
            jurisdiction: "CN-FJ".into(),
            note: "2024 operations".into(),
        };
        let retired = net.submit_committed(0, &signed(&seller, 2, TxKind::Retire(retire))).await;
        let retirement = accepted(&retired).retirement.expect("retirement id");
        net.wait_height(1, retired.height).await;

        // Status and totals: the observer's answers, the same as gRPC GetSupply.
        let status = api(web, "/api/v1/status").await;
        assert_eq!(status["chain_id"], "bct-test");
        assert_eq!(status["node_role"], "observer");
        assert!(status["height"].as_u64().expect("height") >= retired.height);
        assert_eq!(status["validators"][0]["name"], "validator-0");
        assert!(status["validators"][0]["last_signed_height"].as_u64().is_some(), "{status}");
        let supply = api(web, "/api/v1/supply").await;
        let grpc =
            net.query(1).await.get_supply(pb::GetSupplyRequest { height: None }).await.expect("supply").into_inner();
        let totals = grpc.totals.expect("totals");
        assert_eq!(supply["totals"]["issued"]["kg"], totals.issued_kg);
        assert_eq!(supply["totals"]["retired"]["kg"], totals.retired_kg);
        assert_eq!(supply["totals"]["active"]["kg"], totals.active_kg);
        assert_eq!(supply["totals"]["retired"]["tonnes"], "10");
        assert_eq!(supply["by_ecosystem"][0]["key"], "mangrove");
        assert_eq!(supply["by_project"][0]["key"], project.as_str());
        assert_eq!(grpc.by_project[0].project, project);
        assert_eq!(grpc.by_project[0].totals.as_ref().map(|t| t.retired_kg), Some(10_000));

        // Totals as of a height: before the issuance, after it, after the retirement.
        let before = api(web, &format!("/api/v1/supply?height={}", issued.height - 1)).await;
        assert_eq!(before["totals"]["issued"]["kg"], 0);
        assert_eq!(before["by_project"].as_array().map(Vec::len), Some(0), "{before}");
        let at_issue = api(web, &format!("/api/v1/supply?height={}", issued.height)).await;
        assert_eq!(at_issue["height"], issued.height);
        assert_eq!(at_issue["totals"]["issued"]["kg"], 100_000);
        assert_eq!(at_issue["totals"]["retired"]["kg"], 0);
        assert_eq!(at_issue["by_project"][0]["totals"]["active"]["kg"], 100_000);
        let at_retire = net
            .query(1)
            .await
            .get_supply(pb::GetSupplyRequest { height: Some(retired.height) })
            .await
            .expect("supply as of a height")
            .into_inner();
        assert_eq!(at_retire.totals.as_ref().map(|t| (t.issued_kg, t.retired_kg)), Some((100_000, 10_000)));
        let above = net.query(1).await.get_supply(pb::GetSupplyRequest { height: Some(1_000_000) }).await;
        assert_eq!(above.expect_err("above the chain").code(), tonic::Code::NotFound);
        refused(web, "/api/v1/supply?height=1000000", 404, "not_found", "height 1000000").await;
        refused(web, "/api/v1/supply?height=yesterday", 400, "bad_parameter", "height").await;

        // Projects: filters, details, unknown ids, bad parameters.
        let list = api(web, "/api/v1/projects?ecosystem=mangrove&region=CN-GD").await;
        assert_eq!(list["items"].as_array().expect("items").len(), 1);
        assert_eq!(list["items"][0]["latitude"], 22.523);
        assert_eq!(
            api(web, "/api/v1/projects?q=%EF%BC%A6%EF%BC%B5%EF%BC%B4%EF%BC%A9%EF%BC%A1%EF%BC%AE").await["items"][0]
                ["id"],
            project.as_str()
        );
        assert_eq!(api(web, "/api/v1/projects?ecosystem=seagrass").await["items"].as_array().expect("items").len(), 0);
        refused(web, "/api/v1/projects?ecosystem=kelp", 400, "bad_parameter", "ecosystem").await;
        refused(web, "/api/v1/projects?limit=100000", 400, "bad_parameter", "limit").await;
        refused(web, "/api/v1/projects?colour=blue", 400, "bad_parameter", "colour").await;
        let p = api(web, &format!("/api/v1/projects/{project}")).await;
        assert_eq!(p["attestations"].as_array().expect("attestations").len(), 2);
        assert_eq!(p["tickets"][0]["id"], ticket.as_str());
        assert_eq!(p["project"]["area_ha"], "368.4");
        refused(web, "/api/v1/projects/NO-SUCH", 404, "not_found", "NO-SUCH").await;

        // Trades, volumes and histories come from the node's index, which follows commits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let trades = loop {
            let trades = api(web, "/api/v1/trades").await;
            let t = api(web, &format!("/api/v1/tickets/{ticket}")).await;
            if trades["items"].as_array().is_some_and(|a| !a.is_empty())
                && t["history"].as_array().is_some_and(|h| h.len() == 3)
            {
                break trades;
            }
            assert!(std::time::Instant::now() < deadline, "the index never caught up: {trades} {}", t["history"]);
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        assert_eq!(trades["items"].as_array().expect("items").len(), 1);
        assert_eq!(trades["items"][0]["price_per_tonne_minor"], 48_500);
        assert_eq!(trades["items"][0]["reference"], "SZ-AUCTION-1");
        assert_eq!(trades["items"][0]["buyer"], buyer.address().to_string());
        assert_eq!(trades["items"][0]["quantity"]["kg"], 30_000);
        assert_eq!(api(web, "/api/v1/trades?ecosystem=seagrass").await["items"].as_array().expect("items").len(), 0);
        assert_eq!(
            api(web, &format!("/api/v1/trades?project={project}&from=2020-01-01")).await["items"]
                .as_array()
                .expect("items")
                .len(),
            1
        );
        refused(web, "/api/v1/trades?cursor=yesterday", 400, "bad_parameter", "cursor").await;
        refused(web, "/api/v1/trades?ecosystem=kelp", 400, "bad_parameter", "ecosystem").await;
        // The same lists over gRPC.
        let mut q = net.query(1).await;
        let grpc_trades = q
            .list_trades(pb::ListTradesRequest { project: Some(project.clone()), ..Default::default() })
            .await
            .expect("trades")
            .into_inner();
        assert_eq!(grpc_trades.trades.len(), 1);
        assert_eq!(grpc_trades.trades[0].trade.as_ref().map(|t| t.price_per_tonne_minor), Some(48_500));
        assert_eq!(grpc_trades.trades[0].buyer, buyer.address().0.to_vec());
        assert_eq!(grpc_trades.trades[0].ecosystem, pb::Ecosystem::Mangrove as i32);
        let none = q
            .list_trades(pb::ListTradesRequest { ecosystem: pb::Ecosystem::Seagrass as i32, ..Default::default() })
            .await
            .expect("trades");
        assert!(none.into_inner().trades.is_empty());
        let bad = q.list_trades(pb::ListTradesRequest { ecosystem: 99, ..Default::default() }).await;
        assert_eq!(bad.expect_err("unknown ecosystem").code(), tonic::Code::InvalidArgument);
        let vols = q.get_trade_volumes(pb::GetTradeVolumesRequest {}).await.expect("volumes").into_inner();
        assert_eq!(vols.volumes[0].volume_weighted_price_per_tonne_minor, 48_500);
        assert_eq!(vols.volumes[0].quantity_kg, 30_000);
        let holders = q
            .list_accounts(pb::ListAccountsRequest { role: Some(pb::Role::Holder as i32), ..Default::default() })
            .await
            .expect("accounts")
            .into_inner();
        assert_eq!(holders.accounts.len(), 2, "{holders:?}");
        let named = q
            .list_accounts(pb::ListAccountsRequest { name_contains: Some("ｆｏｏｄ".into()), ..Default::default() })
            .await
            .expect("accounts")
            .into_inner();
        assert_eq!(named.accounts.len(), 1);
        assert_eq!(named.accounts[0].address, seller.address().0.to_vec());
        let bad = q.list_accounts(pb::ListAccountsRequest { status: 9, ..Default::default() }).await;
        assert_eq!(bad.expect_err("unknown status").code(), tonic::Code::InvalidArgument);
        let found = q
            .search_retirements(pb::SearchRetirementsRequest {
                beneficiary_contains: Some("FOOD".into()),
                ..Default::default()
            })
            .await
            .expect("search")
            .into_inner();
        assert_eq!(found.retirements.iter().map(|r| r.id).collect::<Vec<_>>(), vec![retirement]);
        let nobody = q
            .search_retirements(pb::SearchRetirementsRequest {
                purpose: pb::Purpose::Compliance as i32,
                ..Default::default()
            })
            .await
            .expect("search");
        assert!(nobody.into_inner().retirements.is_empty());
        let bad = q.search_retirements(pb::SearchRetirementsRequest { purpose: 77, ..Default::default() }).await;
        assert_eq!(bad.expect_err("unknown purpose").code(), tonic::Code::InvalidArgument);

        let volumes = api(web, "/api/v1/trades/volumes").await;
        assert_eq!(volumes[0]["ecosystem"], "mangrove");
        assert_eq!(volumes[0]["currency"], "CNY");
        assert_eq!(volumes[0]["trades"], 1);
        assert_eq!(volumes[0]["volume_weighted_price_per_tonne_minor"], 48_500);

        // The ticket: lots by holder and state with names, and its history.
        let t = api(web, &format!("/api/v1/tickets/{ticket}")).await;
        let kinds: Vec<&str> =
            t["history"].as_array().expect("history").iter().filter_map(|e| e["kind"].as_str()).collect();
        assert_eq!(kinds, ["issue", "transfer", "retire"]);
        let lots = t["lots"].as_array().expect("lots");
        let find = |holder: &str, state: &str| {
            lots.iter()
                .find(|l| l["holder_name"] == holder && l["state"] == state)
                .unwrap_or_else(|| panic!("no {state} lot of {holder}: {lots:?}"))
                .clone()
        };
        let bought = find("Futian Auction Winner", "active");
        assert_eq!(bought["quantity"]["kg"], 30_000);
        assert_eq!(find("Zhangzhou Food Company 漳州食品", "retired")["retirement"], retirement);
        assert_eq!(t["totals"]["retired"]["kg"], 10_000);
        refused(web, "/api/v1/tickets/NO-SUCH", 404, "not_found", "NO-SUCH").await;

        // Serial lookup: the auction lot's serial shows the winner.
        let serial = bought["first"].as_u64().expect("serial") + 5;
        let s = api(web, &format!("/api/v1/serials/{serial}")).await;
        assert_eq!(s["lot"]["holder_name"], "Futian Auction Winner");
        assert_eq!(s["ticket"]["id"], ticket.as_str());
        refused(web, "/api/v1/serials/abc", 400, "bad_parameter", "serial").await;
        refused(web, "/api/v1/serials/999999999999", 404, "not_found", "999999999999").await;
        let mut q = net.query(1).await;
        let by_grpc = q.lookup_serial(pb::LookupSerialRequest { serial }).await.expect("serial").into_inner();
        assert_eq!(by_grpc.lot.as_ref().map(|l| l.holder.clone()), Some(buyer.address().0.to_vec()));
        assert_eq!(by_grpc.ticket.as_ref().map(|t| t.id.clone()), Some(ticket.clone()));
        assert!(by_grpc.retirement.is_none());
        let retired_serial = find("Zhangzhou Food Company 漳州食品", "retired")["first"].as_u64().expect("serial");
        let r = q.lookup_serial(pb::LookupSerialRequest { serial: retired_serial }).await.expect("serial");
        assert_eq!(r.into_inner().retirement.map(|r| r.id), Some(retirement));
        let missing = q.lookup_serial(pb::LookupSerialRequest { serial: 999_999_999_999 }).await;
        assert_eq!(missing.expect_err("no such serial").code(), tonic::Code::NotFound);

        // Retirements: substring, case-insensitive, full-width forms.
        for q in ["food", "FOOD", "%EF%BD%86%EF%BD%8F%EF%BD%8F%EF%BD%84"] {
            let found = api(web, &format!("/api/v1/retirements?beneficiary={q}")).await;
            assert_eq!(found["items"].as_array().expect("items").len(), 1, "beneficiary={q}");
            assert_eq!(found["items"][0]["id"], retirement);
        }
        let none = api(web, "/api/v1/retirements?beneficiary=food&purpose=compliance").await;
        assert_eq!(none["items"].as_array().expect("items").len(), 0);
        let by_project =
            api(web, &format!("/api/v1/retirements?project={project}&ecosystem=mangrove&from=2020-01-01")).await;
        assert_eq!(by_project["items"].as_array().expect("items").len(), 1);
        refused(web, "/api/v1/retirements?from=2024-13-01", 400, "bad_parameter", "from").await;
        refused(web, "/api/v1/retirements?purpose=fun", 400, "bad_parameter", "purpose").await;
        refused(web, "/api/v1/retirements?cursor=x", 400, "bad_parameter", "cursor").await;
        let r = api(web, &format!("/api/v1/retirements/{retirement}")).await;
        assert_eq!(r["beneficiary"], "Zhangzhou Food Company");
        assert_eq!(r["quantity"]["kg"], 10_000);
        refused(web, "/api/v1/retirements/987654", 404, "not_found", "987654").await;
        refused(web, "/api/v1/retirements/x", 400, "bad_parameter", "retirement id").await;

        // The certificate file: what `bct verify` accepts, and the node's check of it.
        let file = get(web, &format!("/api/v1/retirements/{retirement}/certificate")).await;
        assert_eq!(file.status, 200);
        assert!(file.header("content-disposition").is_some_and(|d| d.contains("attachment")));
        let genesis = Genesis::from_json(&std::fs::read_to_string(net.home(1).join("genesis.json")).expect("genesis"))
            .expect("genesis");
        let verified = bct_proto::certificate::verify_file(file.body.as_bytes(), &genesis).expect("the file verifies");
        assert_eq!(verified.summary.retirement_id, retirement);
        let check = http(web, "POST", "/api/v1/certificates/verify", &[], file.body.as_bytes()).await.json();
        assert_eq!(check["verified"], true, "{check}");
        let checks = check["checks"].as_array().expect("each check");
        assert_eq!(checks.len(), 11);
        assert!(checks.iter().all(|c| c["verdict"] == "passed"), "{check}");
        let tampered = file.body.replace("Zhangzhou Food Company", "Someone Else Entirely");
        let check = http(web, "POST", "/api/v1/certificates/verify", &[], tampered.as_bytes()).await.json();
        assert_eq!(check["verified"], false, "{check}");
        assert!(check["reason"].as_str().is_some_and(|r| r.contains("beneficiary")), "{check}");
        let failed: Vec<&str> = check["checks"]
            .as_array()
            .expect("each check")
            .iter()
            .filter(|c| c["verdict"] == "failed")
            .filter_map(|c| c["check"].as_str())
            .collect();
        assert_eq!(failed, vec!["summary"], "{check}");
        let check = http(web, "POST", "/api/v1/certificates/verify", &[], b"not a certificate").await.json();
        assert_eq!(check["checks"][0]["verdict"], "failed", "{check}");
        assert_eq!(check["checks"][1]["verdict"], "not_run", "{check}");
        refused(web, "/api/v1/retirements/987654/certificate", 404, "not_found", "987654").await;

        // CSV: the retirements export read with a CSV reader equals the JSON API row by row.
        let csv_reply = get(web, "/api/v1/export/retirements.csv?beneficiary=food").await;
        assert_eq!(csv_reply.status, 200, "{}", csv_reply.body);
        assert_eq!(csv_reply.header("content-type"), Some("text/csv; charset=utf-8"));
        let body = csv_reply.body.strip_prefix('\u{feff}').expect("a byte-order mark for spreadsheet programs");
        let mut reader = csv::Reader::from_reader(body.as_bytes());
        let header: Vec<String> = reader.headers().expect("header").iter().map(str::to_string).collect();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
        let json = api(web, "/api/v1/retirements?beneficiary=food").await;
        let items = json["items"].as_array().expect("items");
        assert_eq!(rows.len(), items.len());
        for (row, item) in rows.iter().zip(items) {
            let col = |name: &str| &row[header.iter().position(|h| h == name).expect("column")];
            assert_eq!(col("id"), item["id"].to_string());
            assert_eq!(col("beneficiary"), item["beneficiary"].as_str().expect("beneficiary"));
            assert_eq!(col("quantity_kg"), item["quantity"]["kg"].to_string());
            assert_eq!(col("quantity_t"), item["quantity"]["tonnes"].as_str().expect("tonnes"));
            assert_eq!(col("ticket"), item["ticket"].as_str().expect("ticket"));
            assert_eq!(col("time_utc"), item["time"].as_str().expect("time"));
            assert_eq!(col("tx"), item["tx"].as_str().expect("tx"));
        }
        let lots_csv = get(web, &format!("/api/v1/export/tickets.csv?project={project}")).await;
        assert_eq!(lots_csv.status, 200);
        assert!(
            lots_csv.body.contains("Futian Auction Winner")
                && lots_csv.body.contains("Zhangzhou Food Company 漳州食品")
        );
        for list in ["projects", "issuances", "trades", "participants"] {
            let r = get(web, &format!("/api/v1/export/{list}.csv")).await;
            assert_eq!(r.status, 200, "{list}: {}", r.body);
            assert!(r.body.lines().count() >= 2, "{list}: {}", r.body);
        }
        refused(web, "/api/v1/export/secrets.csv", 404, "not_found", "retirements.csv").await;
        refused(web, "/api/v1/export/projects.csv?beneficiary=x", 400, "bad_parameter", "beneficiary").await;
        refused(web, "/api/v1/export/retirements.csv?from=someday", 400, "bad_parameter", "from").await;

        // Participants.
        let verifiers = api(web, "/api/v1/accounts?role=verifier").await;
        assert_eq!(verifiers["items"].as_array().expect("items").len(), 2);
        refused(web, "/api/v1/accounts?role=king", 400, "bad_parameter", "role").await;
        let a = api(web, &format!("/api/v1/accounts/{}", buyer.address())).await;
        assert_eq!(a["account"]["name"], "Futian Auction Winner");
        assert_eq!(a["holdings"][0]["quantity"]["kg"], 30_000);
        // Its history: its admission and the sale that paid it, newest first, in words.
        let history = a["history"].as_array().expect("history");
        assert_eq!(history.len(), 2, "{a}");
        assert_eq!(history[0]["kind"], "transfer");
        assert_eq!(history[0]["id"], sale_tx.id().to_string());
        assert_eq!(history[1]["kind"], "admit_account");
        page(web, &format!("/participants/{}", buyer.address()), &["History", "Futian Auction Winner"]).await;
        refused(web, "/api/v1/accounts/nobody", 400, "bad_parameter", "address").await;
        refused(web, &format!("/api/v1/accounts/{}", NodeKey::generate().address()), 404, "not_found", "account").await;

        // Blocks and transactions in words.
        let b = api(web, &format!("/api/v1/blocks/{}", sale_tx_height(&net, &sale_tx).await)).await;
        assert_eq!(b["signatures"][0]["validator"], "validator-0");
        assert_eq!(b["signed_power"], b["total_power"]);
        let tx = api(web, &format!("/api/v1/transactions/{}", sale_tx.id())).await;
        assert_eq!(tx["kind"], "transfer");
        assert!(
            tx["summary"].as_str().is_some_and(|s| s.contains("485.00 CNY/t") && s.contains("Futian Auction Winner")),
            "{tx}"
        );
        assert!(tx["summary_zh"].as_str().is_some_and(|s| s.contains("转让")), "{tx}");
        refused(web, "/api/v1/blocks/99999999", 404, "not_found", "99999999").await;
        refused(web, "/api/v1/blocks/top", 400, "bad_parameter", "height").await;
        refused(web, &format!("/api/v1/transactions/{}", "ab".repeat(32)), 404, "not_found", "transaction").await;
        refused(web, "/api/v1/transactions/xyz", 400, "bad_parameter", "64 hex").await;
        refused(web, "/api/v1/no/such/route", 404, "no_such_route", "openapi").await;

        // The OpenAPI document names every route.
        let doc = api(web, "/api/v1/openapi.json").await;
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{doc}");
        let paths = doc["paths"].as_object().expect("paths");
        for route in [
            "/status",
            "/supply",
            "/projects",
            "/projects/{id}",
            "/tickets/{id}",
            "/serials/{serial}",
            "/trades",
            "/trades/volumes",
            "/retirements",
            "/retirements/{id}",
            "/retirements/{id}/certificate",
            "/certificates/verify",
            "/accounts",
            "/accounts/{address}",
            "/blocks/{height}",
            "/transactions/{id}",
            "/export/{list}.csv",
        ] {
            assert!(paths.contains_key(route), "{route} is missing from the OpenAPI document");
        }
        assert_eq!(paths.len(), 17, "a route is served but not documented, or the other way round");

        // Pages, in English and Chinese.
        page(web, "/", &["Overview", "validator-0", "Mangrove", "<svg"]).await;
        page(web, "/?lang=zh", &["概览", "红树林", "注销"]).await;
        let zh = get_with(web, "/projects", &[("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")]).await;
        assert!(zh.contains("项目") && zh.contains("Futian mangrove restoration"));
        page(web, "/retirements?beneficiary=food", &["Zhangzhou Food Company", &format!("/retirements/{retirement}")])
            .await;
        page(
            web,
            &format!("/retirements/{retirement}"),
            &["Retirement certificate", "Download the certificate file", "bct verify", "validator-0"],
        )
        .await;
        page(web, &format!("/serials?serial={serial}"), &["Futian Auction Winner", &ticket]).await;
        page(web, &format!("/projects/{project}"), &["Fujian Verification Centre", "22.523000, 114.005000", &ticket])
            .await;
        page(web, &format!("/tickets/{ticket}"), &["Futian Auction Winner", "Retired"]).await;
        page(web, "/participants?role=verifier", &["Xiamen Marine Verifier"]).await;
        page(web, "/trades", &["485.00 CNY/t", "Futian Auction Winner", "SZ-AUCTION-1"]).await;
        page(web, &format!("/tickets/{ticket}?lang=zh"), &["流转记录", "转让"]).await;
        page(web, &format!("/transactions/{}", sale_tx.id()), &["485.00 CNY/t"]).await;
        page(web, "/verify", &["bct verify"]).await;
        let bad = get(web, "/serials?serial=not-a-number").await;
        assert_eq!(bad.status, 400);
        assert!(bad.body.contains("serial number") && bad.body.contains("<html"), "{}", bad.body);
        let missing = get(web, "/tickets/NO-SUCH").await;
        assert_eq!(missing.status, 404);
        assert!(missing.body.contains("NO-SUCH") && missing.body.contains("<html"));
        assert_eq!(get(web, "/no/such/page").await.status, 404);
        let switch = get(web, "/lang/zh?back=/projects").await;
        assert_eq!(switch.status, 303);
        assert_eq!(switch.header("location"), Some("/projects"));
        assert!(switch.header("set-cookie").is_some_and(|c| c.starts_with("lang=zh-CN")));
        let elsewhere = get(web, "/lang/zh?back=//evil.example/").await;
        assert_eq!(elsewhere.header("location"), Some("/"), "the switch never sends people to another site");
        let injected = get(web, "/lang/zh?back=/projects%0d%0aSet-Cookie:%20x=1").await;
        assert_eq!(injected.status, 303);
        assert_eq!(injected.header("location"), Some("/"), "a back path with control characters goes home");
        // Pages load nothing from elsewhere.
        let css = get(web, "/style.css").await;
        assert_eq!(css.status, 200);
        assert!(!css.body.contains("http"));
    });
}

async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> String {
    let r = http(addr, "GET", path, headers, b"").await;
    assert_eq!(r.status, 200, "GET {path}");
    r.body
}

async fn sale_tx_height(net: &Net, tx: &SignedTx) -> u64 {
    net.wait_committed(1, tx).await.height
}
