//! CSV exports of the registry's lists (`/api/v1/export/<list>.csv`), with the lists' filters.
//!
//! RFC 4180 (the csv crate; CRLF line ends, quoting where needed), UTF-8 with a byte-order mark
//! so that spreadsheet programs show Chinese text. Streamed: the ledger is read a page of
//! [`CHUNK`] rows at a time under its read lock, which is released between pages, so an export
//! of any size holds neither memory nor commits back. Each page reflects the ledger when it was
//! read; rows committed during a long export may or may not appear.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};
use serde::Deserialize;
use utoipa::IntoParams;

use super::api::{AccountParams, ProjectParams, RetirementParams, TradeParams};
use super::view::{self, Found, Lookup, Page};
use super::Web;

/// Rows read per page of an export.
pub const CHUNK: usize = 1000;

/// The lists that export.
pub const LISTS: [&str; 6] = ["projects", "issuances", "tickets", "retirements", "trades", "participants"];

/// Parameters of any export: the union of the lists' filters (each list takes its own).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Text search (projects: id or name; participants: name).
    pub q: Option<String>,
    /// Ecosystem code (projects, issuances, tickets, retirements, trades).
    pub ecosystem: Option<String>,
    /// Region code prefix (projects).
    pub region: Option<String>,
    /// Status (projects: active, suspended, closed; participants: admitted, suspended, frozen).
    pub status: Option<String>,
    /// Role (participants).
    pub role: Option<String>,
    /// Project id (issuances, tickets, retirements, trades).
    pub project: Option<String>,
    /// Ticket id (tickets, retirements, trades).
    pub ticket: Option<String>,
    /// Beneficiary text (retirements).
    pub beneficiary: Option<String>,
    /// Purpose (retirements).
    pub purpose: Option<String>,
    /// Jurisdiction prefix (retirements).
    pub jurisdiction: Option<String>,
    /// From this day, `YYYY-MM-DD` (retirements, trades).
    pub from: Option<String>,
    /// Until this day, `YYYY-MM-DD` (retirements, trades).
    pub until: Option<String>,
}

impl ExportParams {
    /// The parameters a list does not take, if any were given.
    fn foreign(&self, list: &str) -> Option<&'static str> {
        let given: [(&'static str, bool); 12] = [
            ("q", self.q.is_some()),
            ("ecosystem", self.ecosystem.is_some()),
            ("region", self.region.is_some()),
            ("status", self.status.is_some()),
            ("role", self.role.is_some()),
            ("project", self.project.is_some()),
            ("ticket", self.ticket.is_some()),
            ("beneficiary", self.beneficiary.is_some()),
            ("purpose", self.purpose.is_some()),
            ("jurisdiction", self.jurisdiction.is_some()),
            ("from", self.from.is_some()),
            ("until", self.until.is_some()),
        ];
        let takes: &[&str] = match list {
            "projects" => &["q", "ecosystem", "region", "status"],
            "issuances" => &["ecosystem", "project"],
            "tickets" => &["ecosystem", "project", "ticket"],
            "retirements" => {
                &["beneficiary", "purpose", "project", "ticket", "ecosystem", "jurisdiction", "from", "until"]
            }
            "trades" => &["project", "ticket", "ecosystem", "from", "until"],
            _ => &["q", "role", "status"],
        };
        given.iter().find(|(name, set)| *set && !takes.contains(name)).map(|(name, _)| *name)
    }
}

/// One page of rows and where the next starts.
type Rows = (Vec<Vec<String>>, Option<String>);

fn q(v: &view::Quantity) -> [String; 2] {
    [v.kg.to_string(), v.tonnes_string()]
}

fn retirement_rows(page: Page<view::RetirementView>) -> Rows {
    let rows = page
        .items
        .into_iter()
        .map(|r| {
            let serials: Vec<String> = r.serials.iter().map(|s| format!("{}-{}", s.first, s.last)).collect();
            let [kg, t] = q(&r.quantity);
            vec![
                r.id.to_string(),
                r.time,
                r.height.to_string(),
                r.beneficiary,
                r.purpose,
                r.jurisdiction,
                r.note,
                r.ticket,
                r.project,
                r.ecosystem,
                r.vintage.to_string(),
                kg,
                t,
                serials.join(" "),
                r.retiree,
                r.retiree_name,
                r.tx,
            ]
        })
        .collect();
    (rows, page.next_cursor)
}

const RETIREMENT_HEADER: &[&str] = &[
    "id",
    "time_utc",
    "height",
    "beneficiary",
    "purpose",
    "jurisdiction",
    "note",
    "ticket",
    "project",
    "ecosystem",
    "vintage",
    "quantity_kg",
    "quantity_t",
    "serials",
    "retiree",
    "retiree_name",
    "tx",
];

/// The header row of a list.
pub fn header_of(list: &str) -> &'static [&'static str] {
    match list {
        "projects" => &[
            "id",
            "name",
            "ecosystem",
            "region",
            "latitude",
            "longitude",
            "area_ha",
            "methodology",
            "methodology_version",
            "status",
            "status_reason",
            "owner",
            "owner_name",
            "registered_at",
        ],
        "issuances" => &[
            "ticket",
            "project",
            "vintage",
            "period_start",
            "period_end",
            "quantity_kg",
            "quantity_t",
            "serial_first",
            "serial_last",
            "issued_to",
            "issued_to_name",
            "issued_at",
            "report_hash",
        ],
        "tickets" => &[
            "ticket",
            "serial_first",
            "serial_last",
            "quantity_kg",
            "quantity_t",
            "holder",
            "holder_name",
            "state",
            "detail",
            "retirement",
        ],
        "retirements" => RETIREMENT_HEADER,
        "trades" => &[
            "time_utc",
            "height",
            "ticket",
            "project",
            "ecosystem",
            "seller",
            "buyer",
            "quantity_kg",
            "quantity_t",
            "price_per_tonne_minor",
            "currency",
            "reference",
            "tx",
        ],
        _ => &[
            "address",
            "name",
            "role",
            "jurisdiction",
            "status",
            "suspended_reason",
            "frozen_reason",
            "admitted_by",
            "admitted_at",
        ],
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One page of `list` after `cursor`.
async fn rows(web: &Web, list: &str, p: &ExportParams, cursor: Option<String>) -> Found<Rows> {
    let ledger = web.chain.read().await;
    let state = ledger.state();
    match list {
        "projects" => {
            let params = ProjectParams {
                q: p.q.clone(),
                ecosystem: p.ecosystem.clone(),
                region: p.region.clone(),
                status: p.status.clone(),
                ..Default::default()
            };
            let page = view::projects(state, &params.filter()?, cursor.as_deref(), CHUNK);
            let rows = page
                .items
                .into_iter()
                .map(|x| {
                    vec![
                        x.id,
                        x.name,
                        x.ecosystem,
                        x.region,
                        opt(x.latitude),
                        opt(x.longitude),
                        x.area_ha,
                        x.methodology,
                        x.methodology_version,
                        x.status,
                        x.status_reason.unwrap_or_default(),
                        x.owner,
                        x.owner_name,
                        x.registered_at.to_string(),
                    ]
                })
                .collect();
            Ok((rows, page.next_cursor))
        }
        "issuances" | "tickets" => {
            let ecosystem = p.ecosystem.as_deref().map(view::parse_ecosystem).transpose()?;
            let page = view::tickets(state, p.project.as_deref(), ecosystem, cursor.as_deref(), CHUNK);
            if list == "issuances" {
                let rows = page
                    .items
                    .iter()
                    .map(|t| {
                        let [kg, tn] = q(&t.quantity);
                        vec![
                            t.id.clone(),
                            t.project.clone(),
                            t.vintage.to_string(),
                            t.period_start.clone(),
                            t.period_end.clone(),
                            kg,
                            tn,
                            t.serial_first.to_string(),
                            t.serial_last.to_string(),
                            t.issued_to.clone(),
                            t.issued_to_name.clone(),
                            t.issued_at.to_string(),
                            t.report_hash.clone(),
                        ]
                    })
                    .collect();
                return Ok((rows, page.next_cursor));
            }
            let mut rows = Vec::new();
            for t in page.items.iter().filter(|t| p.ticket.as_ref().is_none_or(|x| *x == t.id)) {
                for lot in view::lots_of_ticket(state, &t.id) {
                    let [kg, tn] = q(&lot.quantity);
                    rows.push(vec![
                        lot.ticket,
                        lot.first.to_string(),
                        lot.last.to_string(),
                        kg,
                        tn,
                        lot.holder,
                        lot.holder_name,
                        lot.state,
                        lot.detail.unwrap_or_default(),
                        opt(lot.retirement),
                    ]);
                }
            }
            Ok((rows, page.next_cursor))
        }
        "retirements" => {
            let params = RetirementParams {
                beneficiary: p.beneficiary.clone(),
                purpose: p.purpose.clone(),
                project: p.project.clone(),
                ticket: p.ticket.clone(),
                ecosystem: p.ecosystem.clone(),
                jurisdiction: p.jurisdiction.clone(),
                from: p.from.clone(),
                until: p.until.clone(),
                ..Default::default()
            };
            let cursor = cursor.as_deref().map(view::parse_id_cursor).transpose()?;
            let filter = params.filter()?;
            let page =
                web.index.with_retirement_rows(state, |rows| view::retirements(state, rows, &filter, cursor, CHUNK));
            Ok(retirement_rows(page))
        }
        "trades" => {
            drop(ledger);
            let params = TradeParams {
                project: p.project.clone(),
                ticket: p.ticket.clone(),
                ecosystem: p.ecosystem.clone(),
                from: p.from.clone(),
                until: p.until.clone(),
                ..Default::default()
            };
            let cursor = cursor.as_deref().map(super::index::parse_trade_cursor).transpose()?;
            let page = web.index.trades(&params.filter()?, cursor, CHUNK)?;
            let rows = page
                .items
                .into_iter()
                .map(|t| {
                    let [kg, tn] = q(&t.quantity);
                    vec![
                        t.time,
                        t.height.to_string(),
                        t.ticket,
                        t.project,
                        t.ecosystem,
                        t.seller,
                        t.buyer,
                        kg,
                        tn,
                        t.price_per_tonne_minor.to_string(),
                        t.currency,
                        t.reference,
                        t.tx,
                    ]
                })
                .collect();
            Ok((rows, page.next_cursor))
        }
        _ => {
            let params =
                AccountParams { q: p.q.clone(), role: p.role.clone(), status: p.status.clone(), ..Default::default() };
            let cursor = cursor.as_deref().map(|c| view::parse_address("cursor", c)).transpose()?;
            let page = view::accounts(state, &params.filter()?, cursor, CHUNK);
            let rows = page
                .items
                .into_iter()
                .map(|a| {
                    vec![
                        a.address,
                        a.name,
                        a.role,
                        a.jurisdiction,
                        a.status,
                        a.suspended_reason.unwrap_or_default(),
                        a.frozen_reason.unwrap_or_default(),
                        a.admitted_by,
                        a.admitted_at.to_string(),
                    ]
                })
                .collect();
            Ok((rows, page.next_cursor))
        }
    }
}

fn encode(header: Option<&[&str]>, rows: &[Vec<String>]) -> Bytes {
    let mut out = Vec::new();
    if header.is_some() {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(&mut out);
        if let Some(h) = header {
            let _ = w.write_record(h);
        }
        for r in rows {
            let _ = w.write_record(r);
        }
        let _ = w.flush();
    }
    Bytes::from(out)
}

/// Streams list `file` (`retirements.csv`, ...) as CSV.
#[utoipa::path(get, path = "/export/{list}.csv", tag = "exports",
    params(("list" = String, Path, description = "projects, issuances, tickets (lots by holder and state), retirements, trades or participants"), ExportParams),
    responses((status = 200, description = "CSV, UTF-8 with a byte-order mark, RFC 4180", content_type = "text/csv"),
        (status = 400, body = super::api::Problem), (status = 404, body = super::api::Problem)))]
pub async fn export(
    State(web): State<Web>,
    Path(file): Path<String>,
    params: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, Lookup> {
    let list = file
        .strip_suffix(".csv")
        .filter(|l| LISTS.contains(l))
        .ok_or_else(|| {
            Lookup::NotFound(format!(
                "export {} (there are {})",
                view::quote(&file),
                LISTS.map(|l| format!("{l}.csv")).join(", ")
            ))
        })?
        .to_string();
    let Query(p) = params.map_err(|e| Lookup::Bad(format!("the query string is not understood: {}", e.body_text())))?;
    if let Some(name) = p.foreign(&list) {
        return Err(Lookup::Bad(format!("{name}: the {list} export does not filter by {name}")));
    }
    // The first page is read before answering, so a bad filter is a 400, not a broken file.
    let (first, next) = rows(&web, &list, &p, None).await?;
    let head = encode(Some(header_of(&list)), &first);
    let rest = stream::unfold(Some((web, list.clone(), p, next)), |state| async move {
        let (web, list, p, cursor) = state?;
        let cursor = cursor?;
        match rows(&web, &list, &p, Some(cursor)).await {
            Ok((rows, next)) => Some((encode(None, &rows), Some((web, list, p, next)))),
            // The cursors come from the previous page: a failure here is the store's. The
            // file then ends early; the error is in the node's log.
            Err(e) => {
                tracing::warn!("CSV export of {list} stopped: {e}");
                None
            }
        }
    });
    let body = stream::once(async move { head }).chain(rest).map(Ok::<Bytes, Infallible>);
    let mut r = (StatusCode::OK, Body::from_stream(body)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"bct-{list}.csv\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
