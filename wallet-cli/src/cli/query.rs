//! Query commands: accounts, balances, tickets, projects, retirements, blocks, transactions,
//! supply, status, and following blocks as they are committed.

use bct_ledger::state::Totals;
use bct_ledger::types::{Lot, LotState, Project, Retirement, Ticket};
use bct_ledger::{Address, Amount, Hash};
use bct_wallet::client::{Client, ClientError, Listing, RetirementQuery, TxStatus, LIST_ITEMS_MAX};
use bct_wallet::parse::price_text;
use bct_wallet::view;
use serde_json::{json, Value};

use super::output::{fields, section, Out, Table};
use super::RetirementsArgs;

fn truncated_note<T>(l: &Listing<T>) -> String {
    if l.truncated {
        format!("(only the first {} are shown)\n", l.items.len())
    } else {
        String::new()
    }
}

fn lots_table(lots: &[Lot], with_holder: bool) -> Table {
    let mut t = if with_holder {
        Table::new(&["TICKET", "SERIALS", "QUANTITY", "STATE", "HOLDER", "DETAIL"])
    } else {
        Table::new(&["TICKET", "SERIALS", "QUANTITY", "STATE", "DETAIL"])
    };
    for l in lots {
        let mut row = vec![
            l.ticket.clone(),
            format!("{}..{}", l.first, l.last),
            l.amount().to_string(),
            l.state.as_str().to_string(),
        ];
        if with_holder {
            row.push(l.holder.to_string());
        }
        row.push(view::lot_state_detail(&l.state));
        t.row(row);
    }
    t
}

fn totals_of(lots: &[Lot]) -> Totals {
    let mut t = Totals::default();
    for l in lots {
        let a = l.amount();
        let bucket = match l.state {
            LotState::Active => &mut t.active,
            LotState::Pledged { .. } => &mut t.pledged,
            LotState::Frozen { .. } => &mut t.frozen,
            LotState::Retired { .. } => &mut t.retired,
            LotState::Cancelled { .. } => &mut t.cancelled,
        };
        *bucket = bucket.checked_add(a).unwrap_or(*bucket);
    }
    t
}

fn totals_line(t: &Totals) -> String {
    format!(
        "active {}, pledged {}, frozen {}, retired {}, cancelled {}",
        t.active, t.pledged, t.frozen, t.retired, t.cancelled
    )
}

fn retirements_table(list: &[Retirement]) -> Table {
    let mut t = Table::new(&["ID", "TICKET", "QUANTITY", "BENEFICIARY", "PURPOSE", "HEIGHT", "TIME (UTC)"]);
    for r in list {
        t.row(vec![
            r.id.to_string(),
            r.ticket.clone(),
            r.quantity.to_string(),
            r.beneficiary.clone(),
            r.purpose.as_str().to_string(),
            r.height.to_string(),
            view::utc(r.time_ms),
        ]);
    }
    t
}

fn tickets_table(list: &[Ticket]) -> Table {
    let mut t = Table::new(&["TICKET", "PERIOD", "QUANTITY", "SERIALS", "ISSUED TO", "HEIGHT", "HOLD"]);
    for k in list {
        t.row(vec![
            k.id.clone(),
            k.period.to_string(),
            k.quantity.to_string(),
            format!("{}..{}", k.serial_first, k.serial_last),
            k.issued_to.to_string(),
            k.issued_at.to_string(),
            k.frozen.clone().unwrap_or_default(),
        ]);
    }
    t
}

fn project_text(p: &Project) -> String {
    fields(&[
        ("project", p.id.clone()),
        ("name", p.name.clone()),
        ("owner", p.owner.to_string()),
        ("ecosystem", p.ecosystem.as_str().to_string()),
        ("region", p.location.region.clone()),
        (
            "coordinates",
            p.location
                .coordinates
                .map(|(lat, lon)| format!("{}, {}", micro_degrees(lat), micro_degrees(lon)))
                .unwrap_or_default(),
        ),
        ("area", view::hectares(p.area_centiha)),
        ("methodology", format!("{} (version {})", p.methodology.id, p.methodology.version)),
        ("status", view::project_status(&p.status)),
        ("registered at", format!("height {}", p.registered_at)),
    ])
}

fn micro_degrees(v: i32) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    let frac = format!("{:06}", a % 1_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{}", a / 1_000_000)
    } else {
        format!("{sign}{}.{frac}", a / 1_000_000)
    }
}

pub(crate) async fn account(client: &Client, address: &Address, out: Out) -> anyhow::Result<()> {
    let info = match client.account(address).await {
        Err(ClientError::NotFound { .. }) => {
            anyhow::bail!("account {address} is not admitted on this chain (or not yet committed)")
        }
        r => r?,
    };
    let a = &info.account;
    out.show(&view::account(a, Some(info.next_nonce)), || {
        fields(&[
            ("address", a.address.to_string()),
            ("name", a.name.clone()),
            ("role", a.role.as_str().to_string()),
            ("jurisdiction", a.jurisdiction.clone()),
            (
                "status",
                match &a.status {
                    bct_ledger::types::AccountStatus::Active => "active".into(),
                    bct_ledger::types::AccountStatus::Suspended { reason } => format!("suspended: {reason}"),
                },
            ),
            ("frozen", a.frozen.clone().unwrap_or_default()),
            ("next nonce", info.next_nonce.to_string()),
            ("admitted by", a.admitted_by.to_string()),
            ("admitted at", format!("height {}", a.admitted_at)),
        ])
    });
    Ok(())
}

pub(crate) async fn account_txs(client: &Client, address: &Address, limit: usize, out: Out) -> anyhow::Result<()> {
    let list = client.account_transactions(address, limit).await?;
    let v = json!(list
        .items
        .iter()
        .map(|t| json!({ "tx": view::signed_tx(&t.tx), "committed": view::committed(&t.committed) }))
        .collect::<Vec<_>>());
    out.show(&v, || {
        let mut t = Table::new(&["HEIGHT", "KIND", "SIGNER", "RESULT", "TX"]);
        for a in &list.items {
            t.row(vec![
                a.committed.height.to_string(),
                a.tx.body().kind.name().to_string(),
                a.tx.body().signer.to_string(),
                view::tx_result_text(&a.committed.result),
                a.tx.id().to_hex(),
            ]);
        }
        if t.is_empty() {
            format!("no transactions concern {address}")
        } else {
            format!("{}{}", t.render(), truncated_note(&list))
        }
    });
    Ok(())
}

pub(crate) async fn balance(client: &Client, address: &Address, ticket: Option<&str>, out: Out) -> anyhow::Result<()> {
    let lots = client.lots(address, ticket, LIST_ITEMS_MAX).await?;
    let totals = totals_of(&lots.items);
    let v = json!({
        "holder": address.to_string(),
        "lots": lots.items.iter().map(view::lot).collect::<Vec<_>>(),
        "totals": view::totals(&totals),
        "truncated": lots.truncated,
    });
    out.show(&v, || {
        if lots.items.is_empty() {
            return format!(
                "{address} holds no units{}",
                ticket.map(|t| format!(" of ticket {t}")).unwrap_or_default()
            );
        }
        format!(
            "{}{}\ntotal: {}\n",
            lots_table(&lots.items, false).render(),
            truncated_note(&lots),
            totals_line(&totals)
        )
    });
    Ok(())
}

pub(crate) async fn ticket(client: &Client, id: &str, out: Out) -> anyhow::Result<()> {
    let info = client.ticket(id).await?;
    let retirements = client
        .retirements(&RetirementQuery { ticket: Some(id.to_string()), ..Default::default() }, LIST_ITEMS_MAX)
        .await?;
    let t = &info.ticket;
    let totals = totals_of(&info.lots);
    let v = json!({
        "ticket": view::ticket(t),
        "attestations": info.attestations.iter().map(view::attestation).collect::<Vec<_>>(),
        "lots": info.lots.iter().map(view::lot).collect::<Vec<_>>(),
        "totals": view::totals(&Totals { issued: t.quantity, ..totals.clone() }),
        "retirements": retirements.items.iter().map(view::retirement).collect::<Vec<_>>(),
    });
    out.show(&v, || {
        let mut text = fields(&[
            ("ticket", t.id.clone()),
            ("project", t.project.clone()),
            ("period", format!("{} (vintage {})", t.period, t.period.vintage())),
            ("quantity", t.quantity.to_string()),
            ("serials", format!("{}..{}", t.serial_first, t.serial_last)),
            ("report hash", t.report_hash.to_hex()),
            ("issued to", t.issued_to.to_string()),
            ("issued at", format!("height {}", t.issued_at)),
            ("hold", t.frozen.clone().unwrap_or_default()),
            ("now", totals_line(&totals)),
        ]);
        let mut att = Table::new(&["VERIFIER", "QUANTITY", "PERIOD", "HEIGHT", "STATEMENT"]);
        for a in &info.attestations {
            att.row(vec![
                a.verifier.to_string(),
                a.quantity.to_string(),
                a.period.to_string(),
                a.height.to_string(),
                a.statement.clone(),
            ]);
        }
        text.push_str(&section("attestations", &att, "none"));
        text.push_str(&section(
            "lots (history of holdings, lowest serials first)",
            &lots_table(&info.lots, true),
            "none",
        ));
        text.push_str(&section("retirements", &retirements_table(&retirements.items), "none"));
        text
    });
    Ok(())
}

pub(crate) async fn tickets(client: &Client, project: &str, out: Out) -> anyhow::Result<()> {
    let list = client.tickets(project, LIST_ITEMS_MAX).await?;
    out.show(&json!(list.items.iter().map(view::ticket).collect::<Vec<_>>()), || {
        if list.items.is_empty() {
            format!("no tickets issued for project {project}")
        } else {
            format!("{}{}", tickets_table(&list.items).render(), truncated_note(&list))
        }
    });
    Ok(())
}

pub(crate) async fn project(client: &Client, id: &str, out: Out) -> anyhow::Result<()> {
    let p = client.project(id).await?;
    let tickets = client.tickets(id, LIST_ITEMS_MAX).await?;
    let attestations = client.attestations(id, LIST_ITEMS_MAX).await?;
    let v = json!({
        "project": view::project(&p),
        "tickets": tickets.items.iter().map(view::ticket).collect::<Vec<_>>(),
        "attestations": attestations.items.iter().map(view::attestation).collect::<Vec<_>>(),
    });
    out.show(&v, || {
        let mut text = project_text(&p);
        text.push_str(&section("tickets", &tickets_table(&tickets.items), "none issued"));
        let mut att = Table::new(&["REPORT", "VERIFIER", "PERIOD", "QUANTITY", "HEIGHT"]);
        for a in &attestations.items {
            att.row(vec![
                a.report_hash.to_hex()[..16].to_string(),
                a.verifier.to_string(),
                a.period.to_string(),
                a.quantity.to_string(),
                a.height.to_string(),
            ]);
        }
        text.push_str(&section("attestations", &att, "none"));
        text
    });
    Ok(())
}

pub(crate) async fn projects(client: &Client, out: Out) -> anyhow::Result<()> {
    let list = client.projects(LIST_ITEMS_MAX).await?;
    out.show(&json!(list.items.iter().map(view::project).collect::<Vec<_>>()), || {
        let mut t = Table::new(&["PROJECT", "ECOSYSTEM", "REGION", "AREA", "STATUS", "NAME"]);
        for p in &list.items {
            t.row(vec![
                p.id.clone(),
                p.ecosystem.as_str().to_string(),
                p.location.region.clone(),
                view::hectares(p.area_centiha),
                view::project_status(&p.status),
                p.name.clone(),
            ]);
        }
        if t.is_empty() {
            "no projects registered".to_string()
        } else {
            format!("{}{}", t.render(), truncated_note(&list))
        }
    });
    Ok(())
}

pub(crate) async fn retirements(client: &Client, a: &RetirementsArgs, out: Out) -> anyhow::Result<()> {
    if let Some(id) = a.id {
        let r = client.retirement(id).await?;
        out.show(&view::retirement(&r), || {
            let serials: Vec<String> =
                r.serials.iter().map(|s| format!("{}..{} of {}", s.first, s.last, s.ticket)).collect();
            fields(&[
                ("retirement", r.id.to_string()),
                ("retiree", r.retiree.to_string()),
                ("beneficiary", r.beneficiary.clone()),
                ("purpose", r.purpose.as_str().to_string()),
                ("jurisdiction", r.jurisdiction.clone()),
                ("note", r.note.clone()),
                ("ticket", r.ticket.clone()),
                ("quantity", r.quantity.to_string()),
                ("serials", serials.join(", ")),
                ("height", format!("{} ({})", r.height, view::utc(r.time_ms))),
                ("tx", r.tx.to_hex()),
                ("certificate", format!("bct certificate get {} -o retirement-{}.json", r.id, r.id)),
            ])
        });
        return Ok(());
    }
    let q = RetirementQuery {
        beneficiary: a.beneficiary.clone(),
        ticket: a.ticket.clone(),
        from_height: a.from_height,
        to_height: a.to_height,
    };
    let list = client.retirements(&q, a.limit).await?;
    let total = list.items.iter().fold(Amount::ZERO, |acc, r| acc.checked_add(r.quantity).unwrap_or(acc));
    let v = json!({
        "retirements": list.items.iter().map(view::retirement).collect::<Vec<_>>(),
        "total": view::amount(total),
        "truncated": list.truncated,
    });
    out.show(&v, || {
        if list.items.is_empty() {
            return "no retirements".to_string();
        }
        format!("{}{}total: {total}\n", retirements_table(&list.items).render(), truncated_note(&list))
    });
    Ok(())
}

pub(crate) async fn block(client: &Client, height: Option<u64>, out: Out) -> anyhow::Result<()> {
    let b = client.block(height).await?;
    let h = &b.block.header;
    let v = json!({
        "header": view::header(h),
        "transactions": b.block.txs.iter().zip(&b.results).map(|(t, r)| json!({
            "tx": view::signed_tx(t),
            "result": view::tx_result(r),
        })).collect::<Vec<_>>(),
        "commit": b.commit.as_ref().map(view::commit),
    });
    out.show(&v, || {
        let mut text = fields(&[
            ("height", h.height.to_string()),
            ("hash", h.hash().to_hex()),
            ("time", view::utc(h.time_ms)),
            ("proposer", if h.height == 0 { String::new() } else { h.proposer.to_string() }),
            ("prev hash", h.prev_hash.to_hex()),
            ("tx root", h.tx_root.to_hex()),
            ("results root", h.results_root.to_hex()),
            ("state root", h.state_root.to_hex()),
            ("validator set", h.validator_set_hash.to_hex()),
            (
                "commit",
                b.commit
                    .as_ref()
                    .map(|c| format!("round {}, {} precommit signatures", c.round, c.signatures.len()))
                    .unwrap_or_default(),
            ),
        ]);
        let mut t = Table::new(&["#", "KIND", "SIGNER", "RESULT", "TX"]);
        for (i, (tx, r)) in b.block.txs.iter().zip(&b.results).enumerate() {
            t.row(vec![
                i.to_string(),
                tx.body().kind.name().to_string(),
                tx.body().signer.to_string(),
                view::tx_result_text(r),
                tx.id().to_hex(),
            ]);
        }
        text.push_str(&section("transactions", &t, "none"));
        text
    });
    Ok(())
}

fn kind_text(k: &bct_ledger::TxKind) -> String {
    use bct_ledger::TxKind as K;
    match k {
        K::Transfer(t) => {
            let trade = t
                .trade
                .as_ref()
                .map(|tr| {
                    format!(
                        " at {} per tonne (trade {})",
                        price_text(tr.price_per_tonne_minor, &tr.currency),
                        tr.reference
                    )
                })
                .unwrap_or_default();
            format!("{} of {} to {}{trade}", t.quantity, t.ticket, t.to)
        }
        K::Retire(t) => format!(
            "{} of {} for {:?} ({}, {}){}",
            t.quantity,
            t.ticket,
            t.beneficiary,
            t.purpose.as_str(),
            t.jurisdiction,
            if t.note.is_empty() { String::new() } else { format!(": {}", t.note) }
        ),
        other => bct_ledger::words::describe(other, &|a| a.to_string(), bct_ledger::words::Lang::En),
    }
}

pub(crate) async fn transaction(client: &Client, id: &Hash, out: Out) -> anyhow::Result<()> {
    match client.transaction(id).await {
        Ok(t) => {
            let v = json!({ "tx": view::signed_tx(&t.tx), "status": "committed", "committed": view::committed(&t.committed) });
            out.show(&v, || {
                let b = t.tx.body();
                fields(&[
                    ("tx", t.tx.id().to_hex()),
                    ("kind", b.kind.name().to_string()),
                    ("what", kind_text(&b.kind)),
                    ("signer", b.signer.to_string()),
                    ("nonce", b.nonce.to_string()),
                    ("result", view::tx_result_text(&t.committed.result)),
                    (
                        "height",
                        format!(
                            "{} (position {}, {})",
                            t.committed.height,
                            t.committed.index,
                            view::utc(t.committed.time_ms)
                        ),
                    ),
                ])
            });
            Ok(())
        }
        Err(ClientError::NotFound { .. }) => match client.tx_status(id).await? {
            TxStatus::Pending => {
                out.show(&json!({ "tx_id": id.to_hex(), "status": "pending" }), || {
                    format!("transaction {id} is pending: admitted, not committed yet")
                });
                Ok(())
            }
            // Not found is a failure (exit code 1), like any other id that does not exist.
            _ => anyhow::bail!("transaction {id} is unknown to this node: never seen, dropped, or expired"),
        },
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn supply(client: &Client, height: Option<u64>, out: Out) -> anyhow::Result<()> {
    let s = client.supply_at(height).await?;
    let v = json!({
        "height": s.height,
        "totals": view::totals(&s.totals),
        "by_ecosystem": s.by_ecosystem.iter().map(|(e, t)| json!({ "ecosystem": e.as_str(), "totals": view::totals(t) })).collect::<Vec<_>>(),
        "by_region": s.by_region.iter().map(|(r, t)| json!({ "region": r, "totals": view::totals(t) })).collect::<Vec<_>>(),
        "by_vintage": s.by_vintage.iter().map(|(y, t)| json!({ "vintage": y, "totals": view::totals(t) })).collect::<Vec<_>>(),
        "by_project": s.by_project.iter().map(|(p, t)| json!({ "project": p, "totals": view::totals(t) })).collect::<Vec<_>>(),
    });
    out.show(&v, || {
        let header = ["", "ISSUED", "ACTIVE", "PLEDGED", "FROZEN", "RETIRED", "CANCELLED"];
        let row = |name: String, t: &Totals| {
            vec![
                name,
                t.issued.to_string(),
                t.active.to_string(),
                t.pledged.to_string(),
                t.frozen.to_string(),
                t.retired.to_string(),
                t.cancelled.to_string(),
            ]
        };
        let mut all = Table::new(&header);
        all.row(row("all".into(), &s.totals));
        let mut text = format!("as of height {}\n", s.height);
        text.push_str(&all.render());
        let mut by = |title: &str, rows: Vec<(String, &Totals)>| {
            let mut t = Table::new(&header);
            for (n, tot) in rows {
                t.row(row(n, tot));
            }
            text.push_str(&section(title, &t, "none"));
        };
        by("by ecosystem", s.by_ecosystem.iter().map(|(e, t)| (e.as_str().to_string(), t)).collect());
        by("by region", s.by_region.iter().map(|(r, t)| (r.clone(), t)).collect());
        by("by vintage", s.by_vintage.iter().map(|(y, t)| (y.to_string(), t)).collect());
        by("by project", s.by_project.iter().map(|(p, t)| (p.clone(), t)).collect());
        text
    });
    Ok(())
}

fn validators_table(vs: &[bct_ledger::types::Validator]) -> Table {
    let mut t = Table::new(&["NAME", "POWER", "ADDRESS", "PUBLIC KEY"]);
    for v in vs {
        t.row(vec![v.name.clone(), v.power.to_string(), v.address().to_string(), hex::encode(v.public_key)]);
    }
    t
}

pub(crate) async fn status(client: &Client, out: Out) -> anyhow::Result<()> {
    let s = client.network_status().await?;
    let v = json!({
        "node": client.url(),
        "chain_id": s.chain_id,
        "height": s.height,
        "latest_block_hash": s.latest_block_hash.to_hex(),
        "latest_block_time_ms": s.latest_block_time_ms,
        "latest_block_time_utc": view::utc(s.latest_block_time_ms),
        "state_root": s.state_root.to_hex(),
        "role": s.role.map(|r| r.as_str()),
        "node_id": s.node_id,
        "mempool_size": s.mempool_size,
        "validators": s.validators.iter().map(view::validator).collect::<Vec<_>>(),
        "peers": s.peers.iter().map(|p| json!({ "id": p.id, "address": p.address, "connected": p.connected })).collect::<Vec<_>>(),
    });
    out.show(&v, || {
        let mut text = fields(&[
            ("node", client.url().to_string()),
            ("chain", s.chain_id.clone()),
            ("height", format!("{} ({})", s.height, view::utc(s.latest_block_time_ms))),
            ("block hash", s.latest_block_hash.to_hex()),
            ("state root", s.state_root.to_hex()),
            ("role", s.role.map(|r| r.as_str().to_string()).unwrap_or_default()),
            ("node id", s.node_id.clone()),
            ("mempool", format!("{} transactions", s.mempool_size)),
        ]);
        text.push_str(&section("validators", &validators_table(&s.validators), "none"));
        let mut peers = Table::new(&["PEER", "ADDRESS", "CONNECTED"]);
        for p in &s.peers {
            peers.row(vec![p.id.clone(), p.address.clone(), if p.connected { "yes" } else { "no" }.to_string()]);
        }
        text.push_str(&section("peers", &peers, "none"));
        text
    });
    Ok(())
}

pub(crate) async fn validators(client: &Client, out: Out) -> anyhow::Result<()> {
    let s = client.network_status().await?;
    let total: u64 = s.validators.iter().map(|v| v.power).sum();
    let v: Value = json!({
        "chain_id": s.chain_id,
        "validator_set_hash": bct_ledger::block::validator_set_hash(&s.validators).to_hex(),
        "total_power": total,
        "validators": s.validators.iter().map(view::validator).collect::<Vec<_>>(),
    });
    out.show(&v, || {
        format!(
            "{}\ntotal power {total}; a change needs approvals carrying more than {}\n",
            validators_table(&s.validators).render(),
            total * 2 / 3
        )
    });
    Ok(())
}

pub(crate) async fn watch(client: &Client, from_height: Option<u64>, out: Out) -> anyhow::Result<()> {
    let from = match from_height {
        Some(h) => h,
        None => client.network_status().await?.height + 1,
    };
    let mut events = client.subscribe(from).await?;
    if !out.json {
        eprintln!("following blocks from height {from} (Ctrl-C stops)");
    }
    while let Some(e) = events.next().await? {
        let h = &e.header;
        let v = json!({
            "header": view::header(h),
            "results": e.results.iter().map(view::tx_result).collect::<Vec<_>>(),
        });
        if out.json {
            // One JSON document per line, so the output can be streamed.
            super::output::emit(&format!("{v}\n"));
        } else {
            super::output::emit(&format!(
                "block {} ({}) {} transactions, hash {}\n",
                h.height,
                view::utc(h.time_ms),
                h.tx_count,
                h.hash()
            ));
            for r in &e.results {
                super::output::emit(&format!("  {}  {}\n", r.tx, view::tx_result_text(r)));
            }
        }
    }
    Ok(())
}
