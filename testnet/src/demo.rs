//! The real-case demo: the blue carbon cases of `domain.md` played end to end on a running
//! network through the wallet's client library, narrated in plain words with transaction ids.
//!
//! Numbers are the published ones (27,456 t; 38,745.44 t; 240,000 t; 6,000 t at CNY 20/t;
//! 3,875 t at CNY 183/t; 1,000 t to a food company; CNY 105,000 of court-ordered restoration).
//! Where a source gives no number (the Yancheng quantity, the pledge size), the demo says that
//! its number is illustrative.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use bct_ledger::tx::{AdmitAccount, Attest, Issue, Pledge, RegisterProject, Release, Retire, Trade, Transfer, TxKind};
use bct_ledger::types::{Date, Ecosystem, Location, Methodology, Period, Purpose, Role};
use bct_ledger::{Address, Amount, Hash};
use bct_node::web::i18n::Lang;
use bct_node::web::words;
use bct_wallet::client::certificate::{verify_file, CertificateFile};
use bct_wallet::client::{address_of, Client, Receipt, TxOptions};
use ed25519_dalek::SigningKey;

use crate::Testnet;

/// A participant: a name and a key.
struct Party {
    name: &'static str,
    key: SigningKey,
}

impl Party {
    fn new(name: &'static str) -> Party {
        Party { name, key: SigningKey::generate(&mut rand_core::OsRng) }
    }

    fn address(&self) -> Address {
        address_of(&self.key)
    }
}

/// The play: one client, the narration, and a count of steps.
struct Play {
    client: Client,
    step: usize,
}

impl Play {
    /// Sends `kind` signed by `who`, waits for the commit, and prints one line.
    async fn send(&mut self, who: &Party, kind: TxKind, what: String) -> Result<Receipt> {
        self.step += 1;
        let receipt = self
            .client
            .send(&who.key, kind, &TxOptions::default())
            .await
            .with_context(|| format!("step {}: {what}", self.step))?;
        let Some((committed, _)) = receipt.accepted() else {
            bail!("step {}: {what}: not committed in time", self.step);
        };
        println!(
            "{:>3}. {what}\n       {} signed tx {} (block {})",
            self.step,
            who.name,
            short(&receipt.tx_id.to_string()),
            committed.height
        );
        Ok(receipt)
    }
}

fn short(id: &str) -> String {
    id.chars().take(16).collect()
}

fn date(v: u32) -> Result<Date> {
    Date::from_yyyymmdd(v).with_context(|| format!("{v} is not a date"))
}

fn tonnes(s: &str) -> Result<Amount> {
    s.parse::<Amount>().map_err(|e| anyhow::anyhow!("{s}: {e}"))
}

struct Case {
    id: &'static str,
    name: &'static str,
    ecosystem: Ecosystem,
    region: &'static str,
    coordinates: Option<(i32, i32)>,
    area_centiha: u64,
    methodology: (&'static str, &'static str),
    period: (u32, u32),
    quantity: &'static str,
    report: &'static str,
}

/// Plays the cases on `net` and writes a retirement certificate to `certificate`.
pub async fn run(net: &Testnet, certificate: &Path) -> Result<()> {
    let client = net.client(0, Duration::from_secs(30)).await?;
    if client.project("FJ-LJ-KELP-001").await.is_ok() {
        println!("The demo was already played on this network (project FJ-LJ-KELP-001 exists).");
        println!("Explore it with the wallet, or start afresh: bct-testnet down --clean && bct-testnet demo");
        return Ok(());
    }
    let mut play = Play { client: client.clone(), step: 0 };
    let authority =
        Party { name: "Fujian ocean & fisheries bureau (authority)", key: net.authority()?.signing_key().clone() };
    println!();
    println!("Blue carbon tickets on bct: the real cases, played on a {}-node local network", net.len());
    println!("(validators are trading centres; the observer is the regulator's replica).");
    println!();

    // ---- participants ----------------------------------------------------------------------
    println!("Admitting the participants");
    let strait = Party::new("Strait Resources & Environment Exchange");
    let shenzhen = Party::new("Shenzhen Emissions Exchange");
    let institute = Party::new("State ocean institute (verifier)");
    let certifier = Party::new("Coastal certification company (verifier)");
    let lianjiang = Party::new("Lianjiang kelp farming company");
    let futian = Party::new("Futian mangrove reserve administration");
    let zhangzhou = Party::new("Zhangzhou carbon-asset company");
    let yancheng = Party::new("Yancheng salt marsh company");
    let bank = Party::new("Coastal commercial bank");
    let campaign = Party::new("Carbon-neutral air ticket campaign (bank & airline)");
    let auction_winner = Party::new("Futian auction winner");
    let food = Party::new("Zhangzhou food company");
    let defendant = Party::new("Dongshan defendant (court order)");
    let tech = Party::new("Yancheng technology company");
    for (p, role, jurisdiction) in [
        (&strait, Role::Exchange, "CN-FJ"),
        (&shenzhen, Role::Exchange, "CN-GD"),
        (&institute, Role::Verifier, "CN"),
        (&certifier, Role::Verifier, "CN"),
        (&lianjiang, Role::Holder, "CN-FJ"),
        (&futian, Role::Holder, "CN-GD"),
        (&zhangzhou, Role::Holder, "CN-FJ"),
        (&yancheng, Role::Holder, "CN-JS"),
        (&bank, Role::Holder, "CN-FJ"),
    ] {
        let kind = TxKind::AdmitAccount(AdmitAccount {
            address: p.address(),
            role,
            name: p.name.into(),
            jurisdiction: jurisdiction.into(),
        });
        play.send(&authority, kind, format!("The authority admits {} as {} {role}", p.name, role.article())).await?;
    }
    for (exchange, buyer) in
        [(&strait, &campaign), (&shenzhen, &auction_winner), (&strait, &food), (&strait, &defendant), (&strait, &tech)]
    {
        let kind = TxKind::AdmitAccount(AdmitAccount {
            address: buyer.address(),
            role: Role::Holder,
            name: buyer.name.into(),
            jurisdiction: "CN".into(),
        });
        play.send(exchange, kind, format!("{} onboards its customer {}", exchange.name, buyer.name)).await?;
    }

    // ---- projects, attestations, issuance --------------------------------------------------
    println!();
    println!("Registering the projects, attesting the monitoring reports, issuing the tickets");
    let cases = [
        (
            Case {
                id: "FJ-LJ-KELP-001",
                name: "Lianjiang kelp farm (first blue carbon ticket)",
                ecosystem: Ecosystem::SeaweedFarm,
                region: "CN-FJ-350122",
                coordinates: Some((26_200_000, 119_540_000)),
                area_centiha: 17_180,
                methodology: ("HY/T 0349-2022", "2022"),
                period: (20210101, 20211231),
                quantity: "27456t",
                report: "Lianjiang kelp farm carbon-sink verification report, state ocean institute",
            },
            &lianjiang,
        ),
        (
            Case {
                id: "GD-SZ-FUTIAN-001",
                name: "Futian mangrove reserve, Shenzhen",
                ecosystem: Ecosystem::Mangrove,
                region: "CN-GD-440304",
                coordinates: Some((22_520_000, 114_010_000)),
                area_centiha: 12_600,
                methodology: ("SZ mangrove conservation carbon-sink methodology", "2023-05-25"),
                period: (20100101, 20200101),
                quantity: "38745.44t",
                report: "Futian mangrove conservation carbon sink, monitoring 2010-2020",
            },
            &futian,
        ),
        (
            Case {
                id: "FJ-ZZ-MARI-2020",
                name: "Zhangzhou mariculture carbon-sink accounting",
                ecosystem: Ecosystem::ShellfishFarm,
                region: "CN-FJ-350600",
                coordinates: None,
                area_centiha: 1_700_000,
                methodology: ("HY/T 0349-2022", "2022"),
                period: (20200101, 20221231),
                quantity: "240000t",
                report: "Zhangzhou city-wide mariculture carbon-sink accounting 2020-2022",
            },
            &zhangzhou,
        ),
        (
            Case {
                id: "JS-YC-MARSH-001",
                name: "Yancheng salt marsh (first salt-marsh carbon product)",
                ecosystem: Ecosystem::SaltMarsh,
                region: "CN-JS-320900",
                coordinates: None,
                area_centiha: 100_000,
                methodology: ("Salt marsh carbon-sink methodology", "2023"),
                period: (20220101, 20221231),
                // The sources give no quantity for Yancheng: illustrative.
                quantity: "5000t",
                report: "Yancheng salt marsh validation and verification, expert-committee reviewed",
            },
            &yancheng,
        ),
    ];
    let mut tickets = Vec::new();
    for (case, owner) in &cases {
        let methodology = Methodology { id: case.methodology.0.into(), version: case.methodology.1.into() };
        play.send(
            &authority,
            TxKind::RegisterProject(RegisterProject {
                id: case.id.into(),
                name: case.name.into(),
                owner: owner.address(),
                ecosystem: case.ecosystem,
                location: Location { region: case.region.into(), coordinates: case.coordinates },
                area_centiha: case.area_centiha,
                methodology: methodology.clone(),
            }),
            format!(
                "The authority registers {} ({}, {} ha), owned by {}",
                case.id,
                case.name,
                case.area_centiha as f64 / 100.0,
                owner.name
            ),
        )
        .await?;
        let period = Period { start: date(case.period.0)?, end: date(case.period.1)? };
        let quantity = tonnes(case.quantity)?;
        let report = Hash(*blake3::hash(case.report.as_bytes()).as_bytes());
        for verifier in [&institute, &certifier] {
            play.send(
                verifier,
                TxKind::Attest(Attest {
                    project: case.id.into(),
                    period,
                    quantity,
                    methodology: methodology.clone(),
                    report_hash: report,
                    statement: format!("verified {quantity} over {}..{}", case.period.0, case.period.1),
                }),
                format!("{} attests {quantity} for {} (report {})", verifier.name, case.id, short(&report.to_string())),
            )
            .await?;
        }
        let receipt = play
            .send(
                &authority,
                TxKind::Issue(Issue {
                    project: case.id.into(),
                    period,
                    report_hash: report,
                    quantity,
                    recipient: None,
                }),
                format!("The authority issues {quantity} for {} to {}", case.id, owner.name),
            )
            .await?;
        let ticket = receipt.accepted().and_then(|(_, a)| a.ticket.clone()).context("the issuance named no ticket")?;
        println!("       ticket {ticket}");
        tickets.push(ticket);
    }
    let (kelp, mangrove, mariculture, marsh) = (&tickets[0], &tickets[1], &tickets[2], &tickets[3]);

    // A second issuance over an overlapping period is refused: no tonne is issued twice.
    {
        let case = &cases[0].0;
        let report = Hash(*blake3::hash(case.report.as_bytes()).as_bytes());
        let kind = TxKind::Issue(Issue {
            project: case.id.into(),
            period: Period { start: date(20211001)?, end: date(20220331)? },
            report_hash: report,
            quantity: tonnes("1000t")?,
            recipient: None,
        });
        match play.client.send(&authority.key, kind, &TxOptions::default()).await {
            Err(e) => println!("     A second issuance for {} over 2021-10..2022-03 is refused: {e}", case.id),
            Ok(_) => bail!("an overlapping issuance was accepted"),
        }
    }

    // ---- trades ------------------------------------------------------------------------------
    println!();
    println!("Trading through the exchanges");
    let trade = |price: u64, reference: &str| Trade {
        price_per_tonne_minor: price * 100,
        currency: "CNY".into(),
        reference: reference.into(),
    };
    play.send(
        &lianjiang,
        TxKind::Transfer(Transfer {
            ticket: kelp.clone(),
            to: campaign.address(),
            quantity: tonnes("6000t")?,
            trade: Some(trade(20, "SREE-2022-0001")),
        }),
        "Lianjiang sells 6,000 t at CNY 20/t (CNY 120,000) on the Strait exchange to the air ticket campaign".into(),
    )
    .await?;
    play.send(
        &futian,
        TxKind::Transfer(Transfer {
            ticket: mangrove.clone(),
            to: auction_winner.address(),
            quantity: tonnes("3875t")?,
            trade: Some(trade(183, "SZEE-AUCTION-2023-09-26")),
        }),
        "Futian's 3,875 t of mangrove carbon go at auction (starting price CNY 183/t) on the Shenzhen exchange".into(),
    )
    .await?;
    play.send(
        &zhangzhou,
        TxKind::Transfer(Transfer {
            ticket: mariculture.clone(),
            to: food.address(),
            quantity: tonnes("1000t")?,
            trade: None,
        }),
        "The Zhangzhou carbon-asset company sells 1,000 t to a food company (price not published)".into(),
    )
    .await?;
    play.send(
        &lianjiang,
        TxKind::Transfer(Transfer {
            ticket: kelp.clone(),
            to: defendant.address(),
            quantity: tonnes("5250t")?,
            trade: Some(trade(20, "SREE-JUDICIAL-DS-001")),
        }),
        "A Dongshan defendant buys CNY 105,000 of kelp carbon (5,250 t at CNY 20/t) for court-ordered restoration"
            .into(),
    )
    .await?;
    play.send(
        &yancheng,
        TxKind::Transfer(Transfer {
            ticket: marsh.clone(),
            to: tech.address(),
            quantity: tonnes("1000t")?,
            trade: None,
        }),
        "Yancheng's salt-marsh company sells 1,000 t (illustrative) to a technology company".into(),
    )
    .await?;

    // ---- pledge ------------------------------------------------------------------------------
    println!();
    println!("A carbon-sink loan: tickets as collateral");
    play.send(
        &lianjiang,
        TxKind::Pledge(Pledge { ticket: kelp.clone(), quantity: tonnes("10000t")?, pledgee: bank.address() }),
        "Lianjiang pledges 10,000 t (illustrative) to the bank for a loan, like Yantai's ocean carbon-sink loan".into(),
    )
    .await?;
    let blocked = TxKind::Transfer(Transfer {
        ticket: kelp.clone(),
        to: tech.address(),
        quantity: tonnes("16000t")?,
        trade: None,
    });
    match play.client.send(&lianjiang.key, blocked, &TxOptions::default()).await {
        Err(e) => println!("     While pledged, selling 16,000 t is refused: {e}"),
        Ok(_) => bail!("pledged units were sold"),
    }
    play.send(
        &bank,
        TxKind::Release(Release { ticket: kelp.clone(), holder: lianjiang.address(), quantity: tonnes("10000t")? }),
        "The loan is repaid: the bank releases the 10,000 t".into(),
    )
    .await?;

    // ---- retirements ---------------------------------------------------------------------------
    println!();
    println!("Retiring: the offsets are claimed, for good");
    let food_retirement = play
        .send(
            &food,
            TxKind::Retire(Retire {
                ticket: mariculture.clone(),
                quantity: tonnes("1000t")?,
                beneficiary: "Zhangzhou food company".into(),
                purpose: Purpose::Voluntary,
                jurisdiction: "CN-FJ".into(),
                note: "the city's first mariculture blue carbon ticket".into(),
            }),
            "The food company retires its 1,000 t".into(),
        )
        .await?;
    play.send(
        &defendant,
        TxKind::Retire(Retire {
            ticket: kelp.clone(),
            quantity: tonnes("5250t")?,
            beneficiary: "Dongshan county marine ecology (substitute restoration)".into(),
            purpose: Purpose::JudicialRestoration,
            jurisdiction: "CN-FJ-350626".into(),
            note: "substitute ecological restoration ordered by the court in a marine-ecology case".into(),
        }),
        "The defendant retires 5,250 t with purpose judicial restoration".into(),
    )
    .await?;
    play.send(
        &campaign,
        TxKind::Retire(Retire {
            ticket: kelp.clone(),
            quantity: tonnes("6000t")?,
            beneficiary: "Carbon-neutral air ticket passengers".into(),
            purpose: Purpose::Event,
            jurisdiction: "CN-FJ".into(),
            note: "carbon-neutral air ticket campaign".into(),
        }),
        "The air ticket campaign retires its 6,000 t".into(),
    )
    .await?;
    let again = TxKind::Retire(Retire {
        ticket: mariculture.clone(),
        quantity: tonnes("1000t")?,
        beneficiary: "Zhangzhou food company".into(),
        purpose: Purpose::Voluntary,
        jurisdiction: "CN-FJ".into(),
        note: "again".into(),
    });
    match play.client.send(&food.key, again, &TxOptions::default()).await {
        Err(e) => println!("     Retiring the same 1,000 t again is refused: {e}"),
        Ok(_) => bail!("retired units were retired again"),
    }

    // ---- certificate -------------------------------------------------------------------------
    println!();
    println!("A retirement certificate, verified offline");
    let retirement_id =
        food_retirement.accepted().and_then(|(_, a)| a.retirement).context("the retirement named no id")?;
    let bytes = play.client.retirement_certificate_bytes(retirement_id).await?;
    let file = CertificateFile::from_certificate_bytes(&bytes)?;
    if let Some(dir) = certificate.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(certificate, file.to_json())?;
    let genesis = net.genesis()?;
    let content = std::fs::read(certificate)?;
    let verified = verify_file(&content, &genesis)?;
    println!("     Wrote {} and verified it against genesis.json alone:", certificate.display());
    println!(
        "     retirement #{}: {} of {} retired for {} ({}), serials {}; block {}, signed by {} of {} voting power",
        verified.summary.retirement_id,
        verified.summary.quantity,
        verified.summary.ticket,
        verified.summary.beneficiary,
        verified.summary.purpose,
        verified.summary.serials.iter().map(|s| format!("{}..{}", s.first, s.last)).collect::<Vec<_>>().join(", "),
        verified.summary.height,
        verified.signed_power,
        verified.total_power
    );
    println!(
        "     Anyone can check it: bct verify {} --genesis {}",
        certificate.display(),
        net.node(0).home.join("genesis.json").display()
    );

    // ---- the regulator's view -------------------------------------------------------------------
    println!();
    let observer = (0..net.len()).find(|i| !net.node(*i).validator);
    let height = play.client.network_status().await?.height;
    let (view_name, view) = match observer {
        Some(o) => {
            net.wait_height(o, height, Duration::from_secs(60)).await?;
            (net.node(o).name.clone(), net.client(o, Duration::from_secs(10)).await?)
        }
        None => (net.node(0).name.clone(), play.client.clone()),
    };
    let theirs = view.supply().await?;
    let ours = play.client.supply().await?;
    println!("Totals as the regulator's observer ({view_name}) sees them, after block {height}:");
    println!("  {:<16} {:>14} {:>14} {:>14} {:>14}", "ecosystem", "issued", "active", "pledged", "retired");
    for (eco, t) in &theirs.by_ecosystem {
        println!(
            "  {:<16} {:>14} {:>14} {:>14} {:>14}",
            words::ecosystem(eco.as_str(), Lang::En),
            t.issued.to_string(),
            t.active.to_string(),
            t.pledged.to_string(),
            t.retired.to_string()
        );
    }
    let t = &theirs.totals;
    println!(
        "  {:<16} {:>14} {:>14} {:>14} {:>14}",
        "all",
        t.issued.to_string(),
        t.active.to_string(),
        t.pledged.to_string(),
        t.retired.to_string()
    );
    if theirs.totals != ours.totals {
        bail!("the observer's totals differ from {}'s: {:?} vs {:?}", net.node(0).name, theirs.totals, ours.totals);
    }
    println!("  The observer's totals equal validator-0's: every tonne is accounted for on both.");
    println!();
    println!("Retirements on the ledger:");
    let retirements = play.client.retirements(&Default::default(), 100).await?;
    println!("  {:>3}  {:<12} {:<22} {:<58}", "id", "quantity", "purpose", "beneficiary");
    for r in &retirements.items {
        println!(
            "  {:>3}  {:<12} {:<22} {:<58}",
            r.id,
            r.quantity.to_string(),
            words::purpose(r.purpose.as_str(), Lang::En),
            r.beneficiary
        );
    }
    println!();
    println!("{} transactions committed in this demo.", play.step);
    if let Some(url) = observer.and_then(|o| net.node(o).web_url()).or_else(|| net.node(0).web_url()) {
        println!();
        println!("See the registry in a browser: {url}  (the regulator's observer; read-only)");
        if let Some(r) = retirements.items.first() {
            println!("  retirements: {url}retirements   a printable certificate: {url}retirements/{}", r.id);
        }
        println!("  JSON API: {url}api/v1/   (OpenAPI document: {url}api/v1/openapi.json)");
    }
    Ok(())
}
