//! The JSON API under `/api/v1/`: everything the pages show, as JSON, with its OpenAPI 3
//! document (generated from these handlers and the view types) at `/api/v1/openapi.json`.
//! Errors are `application/problem+json` with a stable `code`: 400 for a bad parameter, 404 for
//! an unknown id or route, 429 and 503 when limits are reached.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bct_proto::certificate::{check_file, CertificateFile};
use bct_proto::pb;
use bct_proto::pb::query_server::Query as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::index::{parse_trade_cursor, TradeFilter, TradeView, VolumeView};
use super::view::{self, Found, Lookup, Page, PAGE_DEFAULT, PAGE_MAX};
use super::Web;

/// An error body (RFC 9457 problem details).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A stable code: `bad_parameter`, `not_found`, `no_such_route`, `rate_limited`, `busy`,
    /// `storage`, `certificate_refused`.
    pub code: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong and what to do.
    pub detail: String,
}

/// A problem response.
pub fn problem(status: StatusCode, code: &str, detail: String) -> Response {
    let body = Problem {
        code: code.to_string(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
    };
    let mut r = (status, Json(body)).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    r
}

fn bad_query(e: QueryRejection) -> Lookup {
    Lookup::Bad(format!("the query string is not understood: {}", e.body_text()))
}

/// `limit`: absent means the default; 1 to 500.
fn page_size(limit: Option<usize>) -> Found<usize> {
    match limit {
        None => Ok(PAGE_DEFAULT),
        Some(n) if (1..=PAGE_MAX).contains(&n) => Ok(n),
        Some(n) => Err(Lookup::Bad(format!("limit: {n} is outside 1..={PAGE_MAX}"))),
    }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Parameters of the project list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectParams {
    /// Text in the project id or name (case and full-width forms ignored).
    pub q: Option<String>,
    /// Ecosystem code.
    pub ecosystem: Option<String>,
    /// Region code or its prefix (`CN-FJ`).
    pub region: Option<String>,
    /// `active`, `suspended` or `closed`.
    pub status: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Page language (pages only): `en` or `zh`.
    #[serde(default)]
    #[param(ignore)]
    pub lang: Option<String>,
}

impl ProjectParams {
    /// The filter these parameters ask for.
    pub fn filter(&self) -> Found<view::ProjectFilter> {
        Ok(view::ProjectFilter {
            q: nonempty(&self.q).map(str::to_string),
            ecosystem: nonempty(&self.ecosystem).map(view::parse_ecosystem).transpose()?,
            region: nonempty(&self.region).map(str::to_string),
            status: nonempty(&self.status).map(view::parse_project_status).transpose()?,
        })
    }
}

/// Parameters of the retirement search.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RetirementParams {
    /// Text in the beneficiary (case and full-width forms ignored).
    pub beneficiary: Option<String>,
    /// `voluntary`, `event`, `compliance`, `judicial_restoration` or `other`.
    pub purpose: Option<String>,
    /// Project id.
    pub project: Option<String>,
    /// Ticket id.
    pub ticket: Option<String>,
    /// Ecosystem code.
    pub ecosystem: Option<String>,
    /// Jurisdiction code or its prefix.
    pub jurisdiction: Option<String>,
    /// From this day (`YYYY-MM-DD`, UTC, inclusive).
    pub from: Option<String>,
    /// Until this day (`YYYY-MM-DD`, UTC, inclusive).
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Page language (pages only).
    #[serde(default)]
    #[param(ignore)]
    pub lang: Option<String>,
}

impl RetirementParams {
    /// The filter these parameters ask for.
    pub fn filter(&self) -> Found<view::RetirementFilter> {
        let from_ms = nonempty(&self.from).map(|d| view::parse_date("from", d)).transpose()?;
        let until_ms =
            nonempty(&self.until).map(|d| view::parse_date("until", d)).transpose()?.map(|ms| ms + 86_400_000);
        if let (Some(f), Some(u)) = (from_ms, until_ms) {
            if f >= u {
                return Err(Lookup::Bad("from: the first day is after the last (until)".into()));
            }
        }
        Ok(view::RetirementFilter {
            beneficiary: nonempty(&self.beneficiary).map(str::to_string),
            purpose: nonempty(&self.purpose).map(view::parse_purpose).transpose()?,
            project: nonempty(&self.project).map(str::to_string),
            ticket: nonempty(&self.ticket).map(str::to_string),
            ecosystem: nonempty(&self.ecosystem).map(view::parse_ecosystem).transpose()?,
            jurisdiction: nonempty(&self.jurisdiction).map(str::to_string),
            from_ms,
            until_ms,
        })
    }

    /// The cursor, parsed.
    pub fn cursor(&self) -> Found<Option<u64>> {
        nonempty(&self.cursor).map(view::parse_id_cursor).transpose()
    }
}

/// Parameters of the participant list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountParams {
    /// `authority`, `verifier`, `exchange` or `holder`.
    pub role: Option<String>,
    /// `admitted`, `suspended` or `frozen`.
    pub status: Option<String>,
    /// Text in the name (case and full-width forms ignored).
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Page language (pages only).
    #[serde(default)]
    #[param(ignore)]
    pub lang: Option<String>,
}

impl AccountParams {
    /// The filter these parameters ask for.
    pub fn filter(&self) -> Found<view::AccountFilter> {
        Ok(view::AccountFilter {
            role: nonempty(&self.role).map(view::parse_role).transpose()?,
            status: nonempty(&self.status).map(view::parse_account_status).transpose()?,
            q: nonempty(&self.q).map(str::to_string),
        })
    }

    /// The cursor, parsed.
    pub fn cursor(&self) -> Found<Option<bct_ledger::Address>> {
        nonempty(&self.cursor).map(|c| view::parse_address("cursor", c)).transpose()
    }
}

/// The chain's status: height, last block, validators with the last height each signed,
/// the answering node's peers and mempool.
#[utoipa::path(get, path = "/status", tag = "chain",
    responses((status = 200, body = view::Status), (status = 500, body = Problem)))]
async fn status(State(web): State<Web>) -> Found<Json<view::Status>> {
    Ok(Json(web.status().await?))
}

/// Parameters of the totals.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SupplyParams {
    /// The totals as they were after this block; absent means now.
    pub height: Option<u64>,
}

/// Totals issued, active, pledged, frozen, retired and cancelled: overall and by ecosystem,
/// region, vintage and project (the same figures as gRPC `GetSupply`), now or as of a height.
#[utoipa::path(get, path = "/supply", tag = "chain", params(SupplyParams),
    responses((status = 200, body = view::Supply), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn supply(
    State(web): State<Web>,
    params: Result<Query<SupplyParams>, QueryRejection>,
) -> Found<Json<view::Supply>> {
    let Query(p) = params.map_err(bad_query)?;
    let ledger = web.chain.read().await;
    Ok(Json(match p.height {
        Some(h) => view::supply_at(&ledger, h)?,
        None => view::supply(&ledger),
    }))
}

/// Projects, in id order, filtered.
#[utoipa::path(get, path = "/projects", tag = "registry", params(ProjectParams),
    responses((status = 200, body = Page<view::ProjectView>), (status = 400, body = Problem)))]
async fn projects(
    State(web): State<Web>,
    params: Result<Query<ProjectParams>, QueryRejection>,
) -> Found<Json<Page<view::ProjectView>>> {
    let Query(p) = params.map_err(bad_query)?;
    let (filter, limit) = (p.filter()?, page_size(p.limit)?);
    let ledger = web.chain.read().await;
    Ok(Json(view::projects(ledger.state(), &filter, nonempty(&p.cursor), limit)))
}

/// A project with its totals, every attestation and every ticket.
#[utoipa::path(get, path = "/projects/{id}", tag = "registry", params(("id" = String, Path, description = "Project id")),
    responses((status = 200, body = view::ProjectDetail), (status = 404, body = Problem)))]
async fn project(State(web): State<Web>, Path(id): Path<String>) -> Found<Json<view::ProjectDetail>> {
    Ok(Json(view::project(web.chain.read().await.state(), &id)?))
}

/// A ticket: its serial block, lots by holder and state (adjacent lots merged), totals,
/// attestations and retirements.
#[utoipa::path(get, path = "/tickets/{id}", tag = "registry", params(("id" = String, Path, description = "Ticket id")),
    responses((status = 200, body = view::TicketDetail), (status = 404, body = Problem)))]
async fn ticket(State(web): State<Web>, Path(id): Path<String>) -> Found<Json<view::TicketDetail>> {
    Ok(Json(web.ticket_detail(web.chain.read().await.state(), &id)?))
}

/// Parameters of the trade list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TradeParams {
    /// Project id.
    pub project: Option<String>,
    /// Ticket id.
    pub ticket: Option<String>,
    /// Ecosystem code.
    pub ecosystem: Option<String>,
    /// From this day (`YYYY-MM-DD`, UTC, inclusive).
    pub from: Option<String>,
    /// Until this day (`YYYY-MM-DD`, UTC, inclusive).
    pub until: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    pub limit: Option<usize>,
    /// Page language (pages only).
    #[serde(default)]
    #[param(ignore)]
    pub lang: Option<String>,
}

impl TradeParams {
    /// The filter these parameters ask for.
    pub fn filter(&self) -> Found<TradeFilter> {
        let from_ms = nonempty(&self.from).map(|d| view::parse_date("from", d)).transpose()?;
        let until_ms =
            nonempty(&self.until).map(|d| view::parse_date("until", d)).transpose()?.map(|ms| ms + 86_400_000);
        Ok(TradeFilter {
            project: nonempty(&self.project).map(str::to_string),
            ticket: nonempty(&self.ticket).map(str::to_string),
            ecosystem: nonempty(&self.ecosystem)
                .map(|e| view::parse_ecosystem(e).map(|e| view::ecosystem_code(e).to_string()))
                .transpose()?,
            from_ms,
            until_ms,
        })
    }

    /// The cursor, parsed.
    pub fn cursor(&self) -> Found<Option<(u64, u32)>> {
        nonempty(&self.cursor).map(parse_trade_cursor).transpose()
    }
}

/// Trades (transfers carrying a price, currency and reference), newest first, filtered.
#[utoipa::path(get, path = "/trades", tag = "trades", params(TradeParams),
    responses((status = 200, body = Page<TradeView>), (status = 400, body = Problem)))]
async fn trades(
    State(web): State<Web>,
    params: Result<Query<TradeParams>, QueryRejection>,
) -> Found<Json<Page<TradeView>>> {
    let Query(p) = params.map_err(bad_query)?;
    let (filter, cursor, limit) = (p.filter()?, p.cursor()?, page_size(p.limit)?);
    Ok(Json(web.index.trades(&filter, cursor, limit)?))
}

/// Traded volume and volume-weighted price per ecosystem and currency, over every trade.
#[utoipa::path(get, path = "/trades/volumes", tag = "trades", responses((status = 200, body = Vec<VolumeView>)))]
async fn volumes(State(web): State<Web>) -> Found<Json<Vec<VolumeView>>> {
    Ok(Json(web.index.volumes()?))
}

/// The ticket, current holder and state of a serial number, and the retirement that consumed
/// it, if any.
#[utoipa::path(get, path = "/serials/{serial}", tag = "registry",
    params(("serial" = String, Path, description = "A serial number, e.g. 1200345")),
    responses((status = 200, body = view::SerialLookup), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn serial(State(web): State<Web>, Path(serial): Path<String>) -> Found<Json<view::SerialLookup>> {
    let n = view::parse_serial(&serial)?;
    Ok(Json(view::serial(web.chain.read().await.state(), n)?))
}

/// Retirements, newest first, filtered.
#[utoipa::path(get, path = "/retirements", tag = "retirements", params(RetirementParams),
    responses((status = 200, body = Page<view::RetirementView>), (status = 400, body = Problem)))]
async fn retirements(
    State(web): State<Web>,
    params: Result<Query<RetirementParams>, QueryRejection>,
) -> Found<Json<Page<view::RetirementView>>> {
    let Query(p) = params.map_err(bad_query)?;
    let (filter, cursor, limit) = (p.filter()?, p.cursor()?, page_size(p.limit)?);
    let ledger = web.chain.read().await;
    let state = ledger.state();
    Ok(Json(web.index.with_retirement_rows(state, |rows| view::retirements(state, rows, &filter, cursor, limit))))
}

fn retirement_id(s: &str) -> Found<u64> {
    s.parse().map_err(|_| Lookup::Bad(format!("retirement id: expected a whole number, got {}", view::quote(s))))
}

/// A retirement.
#[utoipa::path(get, path = "/retirements/{id}", tag = "retirements",
    params(("id" = String, Path, description = "Retirement id")),
    responses((status = 200, body = view::RetirementView), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn retirement(State(web): State<Web>, Path(id): Path<String>) -> Found<Json<view::RetirementView>> {
    let id = retirement_id(&id)?;
    Ok(Json(view::retirement(web.chain.read().await.state(), id)?))
}

/// The certificate file of a retirement, as `bct certificate get` writes it: check it offline
/// with `bct verify <file> --genesis genesis.json`.
#[utoipa::path(get, path = "/retirements/{id}/certificate", tag = "retirements",
    params(("id" = String, Path, description = "Retirement id")),
    responses((status = 200, description = "The certificate file (JSON)", content_type = "application/json"),
        (status = 404, body = Problem)))]
async fn certificate(State(web): State<Web>, Path(id): Path<String>) -> Result<Response, Lookup> {
    let id = retirement_id(&id)?;
    let content = web.certificate_file(id).await?;
    let mut r = content.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"retirement-{id}.cert.json\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// What the certificate check found.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateCheck {
    /// Whether the certificate verified against this chain's genesis.
    pub verified: bool,
    /// Its stable identifier (`BCT-` genesis fingerprint prefix `-` retirement id), if it verified.
    pub certificate_id: Option<String>,
    /// Why not, if it did not.
    pub reason: Option<String>,
    /// What it proves, if it verified.
    #[schema(value_type = Option<Object>)]
    pub retirement: Option<serde_json::Value>,
    /// Signed voting power and the set's total, if it verified.
    pub signed_power: Option<u64>,
    /// Total voting power of the set that decided the block.
    pub total_power: Option<u64>,
    /// The validators that signed.
    pub signers: Vec<String>,
    /// Every check, in the order they run, with its verdict.
    pub checks: Vec<CheckVerdict>,
    /// A reminder: the offline `bct verify` is the check that trusts no server.
    pub offline_check: String,
}

/// One check of a certificate and its verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckVerdict {
    /// Stable code: `file`, `summary`, `chain`, `signer`, `result`, `proofs`, `validator_set`,
    /// `commit_target`, `record`, `tx_signature`, `commit_signatures`.
    pub check: String,
    /// What it checks, in English.
    pub description: String,
    /// `passed`, `failed`, or `not_run` (the file could not be read).
    pub verdict: String,
    /// Why it failed.
    pub reason: Option<String>,
}

/// Checks a certificate file (the request body) with the same code as `bct verify`, against
/// this node's genesis. The offline `bct verify` is the check that trusts no server.
#[utoipa::path(post, path = "/certificates/verify", tag = "retirements",
    request_body(content = String, description = "The certificate file's content", content_type = "application/json"),
    responses((status = 200, body = CertificateCheck)))]
async fn verify(State(web): State<Web>, body: Bytes) -> Json<CertificateCheck> {
    Json(web.check_certificate(&body))
}

/// Participants, in address order, filtered.
#[utoipa::path(get, path = "/accounts", tag = "registry", params(AccountParams),
    responses((status = 200, body = Page<view::AccountView>), (status = 400, body = Problem)))]
async fn accounts(
    State(web): State<Web>,
    params: Result<Query<AccountParams>, QueryRejection>,
) -> Found<Json<Page<view::AccountView>>> {
    let Query(p) = params.map_err(bad_query)?;
    let (filter, cursor, limit) = (p.filter()?, p.cursor()?, page_size(p.limit)?);
    let ledger = web.chain.read().await;
    Ok(Json(view::accounts(ledger.state(), &filter, cursor, limit)))
}

/// A participant with its holdings and lots.
#[utoipa::path(get, path = "/accounts/{address}", tag = "registry",
    params(("address" = String, Path, description = "Address, bct1...")),
    responses((status = 200, body = view::AccountDetail), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn account(State(web): State<Web>, Path(address): Path<String>) -> Found<Json<view::AccountDetail>> {
    let a = view::parse_address("address", &address)?;
    Ok(Json(view::account_with_history(&*web.chain.read().await, a)?))
}

fn height(s: &str) -> Found<u64> {
    s.parse().map_err(|_| Lookup::Bad(format!("height: expected a whole number, got {}", view::quote(s))))
}

/// A block: header, commit signatures with validator names and power, transactions in words.
#[utoipa::path(get, path = "/blocks/{height}", tag = "chain",
    params(("height" = String, Path, description = "Block height")),
    responses((status = 200, body = view::BlockView), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn block(State(web): State<Web>, Path(h): Path<String>) -> Found<Json<view::BlockView>> {
    let h = height(&h)?;
    Ok(Json(view::block(&*web.chain.read().await, h)?))
}

/// A committed transaction, in words, with its result.
#[utoipa::path(get, path = "/transactions/{id}", tag = "chain",
    params(("id" = String, Path, description = "Transaction id, 64 hex digits")),
    responses((status = 200, body = view::TxView), (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn transaction(State(web): State<Web>, Path(id): Path<String>) -> Found<Json<view::TxView>> {
    let id = view::parse_tx_id(&id)?;
    Ok(Json(view::transaction(&*web.chain.read().await, &id)?))
}

/// The OpenAPI document of this API.
#[derive(OpenApi)]
#[openapi(
    info(title = "bct registry API", description = "Read-only JSON API of a bct node: the blue carbon ticket registry. Amounts are integer kilograms (`kg`) and tonne strings (`tonnes`)."),
    servers((url = "/api/v1")),
    paths(status, supply, projects, project, ticket, serial, trades, volumes, retirements, retirement, certificate, verify, accounts, account, block, transaction, super::export::export),
    components(schemas(Problem))
)]
pub struct ApiDoc;

async fn openapi() -> Response {
    let mut r = Json(ApiDoc::openapi()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// The API's routes (under `/api/v1`).
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/status", get(status))
        .route("/supply", get(supply))
        .route("/projects", get(projects))
        .route("/projects/{id}", get(project))
        .route("/tickets/{id}", get(ticket))
        .route("/serials/{serial}", get(serial))
        .route("/trades", get(trades))
        .route("/trades/volumes", get(volumes))
        .route("/export/{file}", get(super::export::export))
        .route("/retirements", get(retirements))
        .route("/retirements/{id}", get(retirement))
        .route("/retirements/{id}/certificate", get(certificate))
        .route("/certificates/verify", post(verify))
        .route("/accounts", get(accounts))
        .route("/accounts/{address}", get(account))
        .route("/blocks/{height}", get(block))
        .route("/transactions/{id}", get(transaction))
}

impl Web {
    /// The chain's status.
    pub async fn status(&self) -> Found<view::Status> {
        let net = self
            .query
            .get_network_status(tonic::Request::new(pb::GetNetworkStatusRequest {}))
            .await
            .map_err(|s| Lookup::Store(s.message().to_string()))?
            .into_inner();
        let peers = net
            .peers
            .into_iter()
            .map(|p| view::PeerView { id: p.id, address: p.address, connected: p.connected })
            .collect();
        let ledger = self.chain.read().await;
        view::status(&ledger, self.role, net.mempool_size as usize, peers)
    }

    /// The certificate file of retirement `id`, as `bct certificate get` writes it.
    pub async fn certificate_file(&self, id: u64) -> Found<String> {
        let response = self
            .query
            .get_retirement_certificate(tonic::Request::new(pb::GetRetirementCertificateRequest { retirement_id: id }))
            .await
            .map_err(|s| match s.code() {
                tonic::Code::NotFound => Lookup::NotFound(format!("retirement {id}")),
                _ => Lookup::Store(s.message().to_string()),
            })?
            .into_inner();
        let file = CertificateFile::from_certificate_bytes(&response.certificate_bytes)
            .map_err(|e| Lookup::Store(format!("the certificate of retirement {id} cannot be read: {e}")))?;
        Ok(file.to_json())
    }

    /// Checks a certificate file against this chain's genesis, with `bct verify`'s code.
    pub fn check_certificate(&self, content: &[u8]) -> CertificateCheck {
        let offline_check = "This check ran on the node that answered. The check that trusts no server is the \
                             offline one: bct verify <file> --genesis genesis.json"
            .to_string();
        let (verdicts, outcome) = check_file(content, self.chain.genesis());
        let checks = verdicts
            .into_iter()
            .map(|v| CheckVerdict {
                check: v.check.code().to_string(),
                description: v.check.describe().to_string(),
                verdict: match &v.outcome {
                    Some(Ok(())) => "passed",
                    Some(Err(_)) => "failed",
                    None => "not_run",
                }
                .to_string(),
                reason: v.outcome.and_then(Result::err).map(|e| e.to_string()),
            })
            .collect();
        match outcome {
            Ok(v) => CertificateCheck {
                verified: true,
                certificate_id: Some(v.certificate_id.clone()),
                reason: None,
                retirement: serde_json::to_value(&v.summary).ok(),
                signed_power: Some(v.signed_power),
                total_power: Some(v.total_power),
                signers: v.signers.iter().map(|s| s.name.clone()).collect(),
                checks,
                offline_check,
            },
            Err(e) => CertificateCheck {
                verified: false,
                certificate_id: None,
                reason: Some(e.to_string()),
                retirement: None,
                signed_power: None,
                total_power: None,
                signers: Vec::new(),
                checks,
                offline_check,
            },
        }
    }
}
