//! The web pages: rendered on the server (maud, checked at compile time), usable with
//! JavaScript off, no asset from elsewhere, English and Chinese.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::api::{AccountParams, CertificateCheck, ProjectParams, RetirementParams, TradeParams};
use super::i18n::Lang;
use super::view::{self, Found, Lookup, Quantity, TotalsView};
use super::words;
use super::{lookup_status, Web};

const STYLE: &str = include_str!("style.css");

/// The language parameter every page takes.
#[derive(Debug, Default, Deserialize)]
pub struct LangParam {
    lang: Option<String>,
}

fn page(lang: Lang, title: &str, here: &str, body: Markup) -> Markup {
    let l = |s| lang.t(s);
    let switch = format!("/lang/{}?back={}", if lang == Lang::En { "zh" } else { "en" }, urlencode(here));
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · bct" }
                link rel="stylesheet" href="/style.css";
            }
            body {
                header.top {
                    a.brand href="/" { "bct · " (l("Blue carbon ticket registry")) }
                    nav {
                        a href="/" { (l("Overview")) }
                        a href="/projects" { (l("Projects")) }
                        a href="/retirements" { (l("Retirements")) }
                        a href="/trades" { (l("Trades")) }
                        a href="/serials" { (l("Serial lookup")) }
                        a href="/participants" { (l("Participants")) }
                        a href="/verify" { (l("Check a certificate")) }
                    }
                    a.lang href=(switch) hreflang=(lang.other().code()) { (lang.other().own_name()) }
                }
                main {
                    (body)
                    footer {
                        p { (l("Amounts in tonnes of CO₂-equivalent.")) " "
                            (l("Read-only view served by this node; the JSON API is at")) " "
                            a href="/api/v1/openapi.json" { "/api/v1/" } "." }
                    }
                }
            }
        }
    }
}

/// A page as HTML. Text committed before the ledger's text rule (or from any other source) may
/// hold right-to-left overrides or invisible characters that would reorder or hide what the
/// page shows; every one is written visibly as `\u{XXXX}` (bct's own templates hold none).
fn html_response(status: StatusCode, markup: Markup) -> Response {
    let html = bct_ledger::text::visible(&markup.into_string()).into_owned();
    let mut r = (status, html).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    super::no_store(r)
}

/// An error page: what was wrong, and a way back.
pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    let l = |s| lang.t(s);
    let title = match status {
        StatusCode::NOT_FOUND => l("Not found"),
        StatusCode::BAD_REQUEST => l("Bad request"),
        StatusCode::TOO_MANY_REQUESTS => l("Too many requests"),
        StatusCode::SERVICE_UNAVAILABLE => l("Busy"),
        _ => l("Something went wrong"),
    };
    let body = html! {
        h1 { (title) }
        div.error { p { (message) } }
        p { a href="/" { (l("Back to the overview")) } }
    };
    html_response(status, page(lang, title, "/", body))
}

fn lookup_page(lang: Lang, e: &Lookup) -> Response {
    let (status, _, message) = lookup_status(e);
    error_page(lang, status, &message)
}

fn bad_query(e: &QueryRejection) -> Lookup {
    Lookup::Bad(format!("the address's query is not understood ({}); use the form on the page", e.body_text()))
}

fn lang_of(p: Option<&str>, headers: &HeaderMap) -> Lang {
    Lang::choose(p, headers)
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn t(q: &Quantity) -> String {
    // thousands separators on the whole tonnes
    let s = q.tonnes_string();
    let (whole, frac) = s.split_once('.').map_or((s.as_str(), None), |(w, f)| (w, Some(f)));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    }
}

impl Quantity {
    /// The tonnes as a plain string.
    pub fn tonnes_string(&self) -> String {
        view::tonnes(self.tonnes.0)
    }
}

fn totals_cards(lang: Lang, totals: &TotalsView) -> Markup {
    let l = |s| lang.t(s);
    let items = [
        (l("Issued"), &totals.issued),
        (l("Active"), &totals.active),
        (l("Pledged"), &totals.pledged),
        (l("Frozen"), &totals.frozen),
        (l("Retired"), &totals.retired),
        (l("Cancelled"), &totals.cancelled),
    ];
    html! {
        div.cards {
            @for (label, q) in items {
                div.card { div.label { (label) } div.value { (t(q)) " t" } }
            }
        }
    }
}

fn totals_table(lang: Lang, heading: &str, groups: &[view::GroupTotals], key: &dyn Fn(&str) -> Markup) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr {
                th { (heading) }
                th.num { (l("Issued")) } th.num { (l("Active")) } th.num { (l("Pledged")) }
                th.num { (l("Frozen")) } th.num { (l("Retired")) } th.num { (l("Cancelled")) }
            } }
            tbody {
                @for g in groups {
                    tr {
                        td { (key(&g.key)) }
                        td.num { (t(&g.totals.issued)) } td.num { (t(&g.totals.active)) }
                        td.num { (t(&g.totals.pledged)) } td.num { (t(&g.totals.frozen)) }
                        td.num { (t(&g.totals.retired)) } td.num { (t(&g.totals.cancelled)) }
                    }
                }
            }
        }
    }
}

/// Horizontal bars: issued (light) and retired (dark) per ecosystem, drawn on the server.
fn ecosystem_chart(lang: Lang, groups: &[view::GroupTotals]) -> Markup {
    let max = groups.iter().map(|g| g.totals.issued.kg).max().unwrap_or(0).max(1);
    let (row, left, width) = (34u64, 150u64, 360u64);
    let height = row * groups.len() as u64 + 30;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width="680" height=(height) viewBox=(format!("0 0 680 {height}"))
            role="img" aria-label=(lang.t("By ecosystem")) {
            @for (i, g) in groups.iter().enumerate() {
                @let y = 10 + row * i as u64;
                @let issued = g.totals.issued.kg * width / max;
                @let retired = g.totals.retired.kg * width / max;
                text x="8" y=(y + 17) font-size="13" fill="#14232e" { (words::ecosystem(&g.key, lang)) }
                rect x=(left) y=(y + 4) width=(issued.max(1)) height="18" fill="#9fd0de" {}
                rect x=(left) y=(y + 4) width=(retired) height="18" fill="#0b6e8a" {}
                text x=(left + issued.max(1) + 6) y=(y + 17) font-size="12" fill="#5b6b76" {
                    (t(&g.totals.issued)) " / " (t(&g.totals.retired)) " t"
                }
            }
            (legend(lang, left, height - 16))
        }
    }
}

/// The two colours of the charts, named.
fn legend(lang: Lang, x: u64, y: u64) -> Markup {
    html! {
        rect x=(x) y=(y) width="10" height="10" fill="#9fd0de" {}
        text x=(x + 14) y=(y + 9) font-size="11" fill="#5b6b76" { (lang.t("Issued")) }
        rect x=(x + 90) y=(y) width="10" height="10" fill="#0b6e8a" {}
        text x=(x + 104) y=(y + 9) font-size="11" fill="#5b6b76" { (lang.t("Retired")) }
    }
}

/// Columns per month: issued (light) and retired (dark) in the months that saw either.
fn time_chart(lang: Lang, months: &BTreeMap<String, (u64, u64)>) -> Markup {
    let max = months.values().map(|(i, r)| (*i).max(*r)).max().unwrap_or(0).max(1);
    let (col, top, h) = (44u64, 10u64, 160u64);
    let width = (col * months.len() as u64 + 40).max(300);
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(width) height=(h + 50) viewBox=(format!("0 0 {width} {}", h + 50))
            role="img" aria-label=(lang.t("Issuance and retirement over time")) {
            @for (i, (month, (issued, retired))) in months.iter().enumerate() {
                @let x = 20 + col * i as u64;
                @let hi = issued * h / max;
                @let hr = retired * h / max;
                rect x=(x) y=(top + h - hi) width="16" height=(hi) fill="#9fd0de" {}
                rect x=(x + 17) y=(top + h - hr) width="16" height=(hr) fill="#0b6e8a" {}
                text x=(x) y=(top + h + 16) font-size="10" fill="#5b6b76" { (month) }
            }
            (legend(lang, 20, h + 34))
        }
    }
}

async fn style() -> Response {
    let mut r = STYLE.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

#[derive(Debug, Deserialize)]
struct Back {
    back: Option<String>,
}

/// Sets the `lang` cookie and goes back to the page the switch was on.
async fn set_lang(Path(code): Path<String>, Query(b): Query<Back>) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::En);
    // Only a path of this site, in visible ASCII (no other host, no header tricks).
    let back = b
        .back
        .filter(|p| p.starts_with('/') && !p.starts_with("//") && p.len() <= 2048)
        .filter(|p| p.bytes().all(|c| (0x21..0x7f).contains(&c) && c != b'\\'))
        .unwrap_or("/".into());
    let mut r = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("lang={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code())) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn overview(State(web): State<Web>, Query(p): Query<LangParam>, headers: HeaderMap) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let status = match web.status().await {
        Ok(s) => s,
        Err(e) => return lookup_page(lang, &e),
    };
    let overview = web.overview().await;
    let (supply, months) = (&overview.supply, &overview.months);
    let body = html! {
        h1 { (l("Overview")) }
        div.cards {
            div.card { div.label { (l("Chain")) } div.value.mono { (status.chain_id) } }
            div.card { div.label { (l("Height")) } div.value { a href=(format!("/blocks/{}", status.height)) { (status.height) } } }
            div.card { div.label { (l("Last block")) } div.value style="font-size:1rem" { (status.last_block_time) } }
            div.card { div.label { (l("Mempool")) } div.value { (status.mempool_size) } }
        }
        h2 { (l("Totals")) }
        (totals_cards(lang, &supply.totals))
        @if supply.by_ecosystem.is_empty() {
            p.muted { (l("Nothing issued yet.")) }
        } @else {
            h2 { (l("By ecosystem")) }
            (ecosystem_chart(lang, &supply.by_ecosystem))
            (totals_table(lang, l("Ecosystem"), &supply.by_ecosystem, &|k| html! { a href=(format!("/projects?ecosystem={k}")) { (words::ecosystem(k, lang)) } }))
            h2 { (l("Issuance and retirement over time")) }
            (time_chart(lang, &months))
            h2 { (l("By region")) }
            (totals_table(lang, l("Region"), &supply.by_region, &|k| html! { a href=(format!("/projects?region={}", urlencode(k))) { (k) } }))
            h2 { (l("By vintage")) }
            (totals_table(lang, l("Vintage"), &supply.by_vintage, &|k| html! { (k) }))
            h2 { (l("By project")) }
            (totals_table(lang, l("Project"), &supply.by_project, &|k| html! { a href=(format!("/projects/{}", urlencode(k))) { (k) } }))
        }
        h2 { (l("Validators")) }
        table {
            thead { tr { th { (l("Name")) } th { "Address" } th.num { (l("Voting power")) } th.num { (l("Last signed")) } } }
            tbody {
                @for v in &status.validators {
                    tr {
                        td { (v.name) }
                        td.mono { (v.address) }
                        td.num { (v.power) }
                        td.num { @if let Some(h) = v.last_signed_height { a href=(format!("/blocks/{h}")) { (h) } } @else { "—" } }
                    }
                }
            }
        }
        h2 { (l("Peers")) " (" (l("This node")) ": " (status.node_role) ")" }
        table {
            tbody {
                @for p in &status.peers {
                    tr { td.mono { (p.id) } td.mono { (p.address) } td { @if p.connected { span.ok { (l("connected")) } } @else { span.bad { (l("not connected")) } } } }
                }
            }
        }
    };
    html_response(StatusCode::OK, page(lang, l("Overview"), "/", body))
}

fn ecosystem_options(lang: Lang, selected: Option<&str>) -> Markup {
    html! {
        option value="" { (lang.t("Any")) }
        @for e in bct_ledger::types::Ecosystem::ALL {
            option value=(e.as_str()) selected[selected == Some(e.as_str())] { (words::ecosystem(e.as_str(), lang)) }
        }
    }
}

/// A link to the CSV export of `list` with the page's filters.
fn csv_link(list: &str, query: &[(&str, Option<&str>)], lang: Lang) -> Markup {
    let q: Vec<String> = query
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| format!("{k}={}", urlencode(v))))
        .collect();
    let href = if q.is_empty() {
        format!("/api/v1/export/{list}.csv")
    } else {
        format!("/api/v1/export/{list}.csv?{}", q.join("&"))
    };
    html! { p.noprint { a href=(href) download { (lang.t("Download as CSV")) } } }
}

fn next_link(base: &str, query: &[(&str, Option<&str>)], cursor: Option<&str>, lang: Lang) -> Markup {
    let Some(cursor) = cursor else { return html! {} };
    let mut q: Vec<String> = query
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| format!("{k}={}", urlencode(v))))
        .collect();
    q.push(format!("cursor={}", urlencode(cursor)));
    html! { p { a.button href=(format!("{base}?{}", q.join("&"))) { (lang.t("Next page")) " →" } } }
}

async fn projects(
    State(web): State<Web>,
    params: Result<Query<ProjectParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return lookup_page(lang_of(None, &headers), &bad_query(&e)),
    };
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let result: Found<_> = async {
        let filter = p.filter()?;
        let ledger = web.chain.read().await;
        Ok(view::projects(ledger.state(), &filter, p.cursor.as_deref().filter(|c| !c.is_empty()), view::PAGE_DEFAULT))
    }
    .await;
    let list = match result {
        Ok(list) => list,
        Err(e) => return lookup_page(lang, &e),
    };
    let body = html! {
        h1 { (l("Projects")) }
        form.filters method="get" action="/projects" {
            label { (l("Search by id or name")) input type="search" name="q" value=(p.q.clone().unwrap_or_default()); }
            label { (l("Ecosystem")) select name="ecosystem" { (ecosystem_options(lang, p.ecosystem.as_deref())) } }
            label { (l("Region")) input type="text" name="region" value=(p.region.clone().unwrap_or_default()) placeholder="CN-FJ"; }
            label { (l("Status")) select name="status" {
                option value="" { (l("Any")) }
                @for s in ["active", "suspended", "closed"] {
                    option value=(s) selected[p.status.as_deref() == Some(s)] { (words::status(s, lang)) }
                }
            } }
            button type="submit" { (l("Search")) }
        }
        @if list.items.is_empty() { p.muted { (l("No results.")) } } @else {
            table {
                thead { tr { th { "ID" } th { (l("Name")) } th { (l("Ecosystem")) } th { (l("Region")) } th { (l("Owner")) } th { (l("Status")) } } }
                tbody { @for pr in &list.items {
                    tr {
                        td.mono { a href=(format!("/projects/{}", urlencode(&pr.id))) { (pr.id) } }
                        td { (pr.name) }
                        td { (words::ecosystem(&pr.ecosystem, lang)) }
                        td { (pr.region) }
                        td { a href=(format!("/participants/{}", pr.owner)) { (pr.owner_name) } }
                        td { (words::status(&pr.status, lang)) }
                    }
                } }
            }
        }
        (next_link("/projects", &[("q", p.q.as_deref()), ("ecosystem", p.ecosystem.as_deref()), ("region", p.region.as_deref()), ("status", p.status.as_deref())], list.next_cursor.as_deref(), lang))
        (csv_link("projects", &[("q", p.q.as_deref()), ("ecosystem", p.ecosystem.as_deref()), ("region", p.region.as_deref()), ("status", p.status.as_deref())], lang))
    };
    html_response(StatusCode::OK, page(lang, l("Projects"), "/projects", body))
}

fn tickets_table(lang: Lang, tickets: &[view::TicketView]) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr { th { (l("Ticket")) } th { (l("Vintage")) } th { (l("Period")) } th.num { (l("Quantity")) } th { (l("Serials")) } th { (l("Issued to")) } th.num { (l("Issued at height")) } } }
            tbody { @for tk in tickets {
                tr {
                    td.mono { a href=(format!("/tickets/{}", urlencode(&tk.id))) { (tk.id) } }
                    td { (tk.vintage) }
                    td { (tk.period_start) " – " (tk.period_end) }
                    td.num { (t(&tk.quantity)) }
                    td.mono { (tk.serial_first) "–" (tk.serial_last) }
                    td { a href=(format!("/participants/{}", tk.issued_to)) { (tk.issued_to_name) } }
                    td.num { a href=(format!("/blocks/{}", tk.issued_at)) { (tk.issued_at) } }
                }
            } }
        }
    }
}

fn attestations_table(lang: Lang, list: &[view::AttestationView]) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr { th { (l("Verifier")) } th { (l("Period")) } th.num { (l("Quantity")) } th { (l("Methodology")) } th { (l("Report hash")) } th { (l("Statement")) } th { (l("Transaction")) } } }
            tbody { @for a in list {
                tr {
                    td { a href=(format!("/participants/{}", a.verifier)) { (a.verifier_name) } }
                    td { (a.period_start) " – " (a.period_end) }
                    td.num { (t(&a.quantity)) }
                    td { (a.methodology) }
                    td.mono { (a.report_hash) }
                    td { (a.statement) }
                    td.mono { a href=(format!("/transactions/{}", a.tx)) { (a.tx[..12]) "…" } }
                }
            } }
        }
    }
}

async fn project(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(p): Query<LangParam>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let d = match view::project(web.chain.read().await.state(), &id) {
        Ok(d) => d,
        Err(e) => return lookup_page(lang, &e),
    };
    let pr = &d.project;
    let body = html! {
        h1 { (l("Project")) " " span.mono { (pr.id) } }
        dl.fields {
            dt { (l("Name")) } dd { (pr.name) }
            dt { (l("Owner")) } dd { a href=(format!("/participants/{}", pr.owner)) { (pr.owner_name) } }
            dt { (l("Ecosystem")) } dd { (words::ecosystem(&pr.ecosystem, lang)) }
            dt { (l("Location")) } dd { (pr.region) }
            dt { (l("Coordinates")) } dd { @if let (Some(la), Some(lo)) = (pr.latitude, pr.longitude) { (format!("{la:.6}, {lo:.6}")) } @else { "—" } }
            dt { (l("Area")) } dd { (pr.area_ha) " ha" }
            dt { (l("Methodology")) } dd { (pr.methodology) " (" (pr.methodology_version) ")" }
            dt { (l("Status")) } dd { (words::status(&pr.status, lang)) @if let Some(r) = &pr.status_reason { ": " (r) } }
            dt { (l("Registered at height")) } dd { a href=(format!("/blocks/{}", pr.registered_at)) { (pr.registered_at) } }
        }
        h2 { (l("Totals")) }
        (totals_cards(lang, &d.totals))
        h2 { (l("Attestations")) }
        (attestations_table(lang, &d.attestations))
        h2 { (l("Tickets")) }
        (tickets_table(lang, &d.tickets))
        (csv_link("tickets", &[("project", Some(pr.id.as_str()))], lang))
        p { a href=(format!("/retirements?project={}", urlencode(&pr.id))) { (l("Retirements")) " →" } }
    };
    html_response(StatusCode::OK, page(lang, &pr.id, &format!("/projects/{}", urlencode(&pr.id)), body))
}

fn lots_table(lang: Lang, lots: &[view::LotView]) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr { th { (l("Ticket")) } th { (l("Serials")) } th.num { (l("Quantity")) } th { (l("Holder")) } th { (l("State")) } th { (l("Detail")) } } }
            tbody { @for lot in lots {
                tr {
                    td.mono { a href=(format!("/tickets/{}", urlencode(&lot.ticket))) { (lot.ticket) } }
                    td.mono { (lot.first) "–" (lot.last) }
                    td.num { (t(&lot.quantity)) }
                    td { a href=(format!("/participants/{}", lot.holder)) { (lot.holder_name) } }
                    td { (words::lot_state(&lot.state, lang)) }
                    td {
                        @if let Some(r) = lot.retirement { a href=(format!("/retirements/{r}")) { (l("Retirement")) " #" (r) } }
                        @else if let Some(d) = &lot.detail { (d) }
                    }
                }
            } }
        }
    }
}

fn retirements_table(lang: Lang, list: &[view::RetirementView]) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr { th { "#" } th { (l("Time")) } th { (l("Beneficiary")) } th { (l("Purpose")) } th { (l("Ticket")) } th { (l("Ecosystem")) } th.num { (l("Quantity")) } th { (l("Jurisdiction")) } } }
            tbody { @for r in list {
                tr {
                    td { a href=(format!("/retirements/{}", r.id)) { (r.id) } }
                    td { (r.time) }
                    td { (r.beneficiary) }
                    td { (words::purpose(&r.purpose, lang)) }
                    td.mono { a href=(format!("/tickets/{}", urlencode(&r.ticket))) { (r.ticket) } }
                    td { (words::ecosystem(&r.ecosystem, lang)) }
                    td.num { (t(&r.quantity)) }
                    td { (r.jurisdiction) }
                }
            } }
        }
    }
}

async fn ticket(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(p): Query<LangParam>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let d = match web.ticket_detail(web.chain.read().await.state(), &id) {
        Ok(d) => d,
        Err(e) => return lookup_page(lang, &e),
    };
    let tk = &d.ticket;
    let body = html! {
        h1 { (l("Ticket")) " " span.mono { (tk.id) } }
        dl.fields {
            dt { (l("Project")) } dd { a href=(format!("/projects/{}", urlencode(&tk.project))) { (tk.project) } " · " (d.project.name) }
            dt { (l("Ecosystem")) } dd { (words::ecosystem(&d.project.ecosystem, lang)) }
            dt { (l("Vintage")) } dd { (tk.vintage) }
            dt { (l("Period")) } dd { (tk.period_start) " – " (tk.period_end) }
            dt { (l("Quantity")) } dd { (t(&tk.quantity)) " t" }
            dt { (l("Serials")) } dd.mono { (tk.serial_first) "–" (tk.serial_last) }
            dt { (l("Issued to")) } dd { a href=(format!("/participants/{}", tk.issued_to)) { (tk.issued_to_name) } }
            dt { (l("Issued at height")) } dd { a href=(format!("/blocks/{}", tk.issued_at)) { (tk.issued_at) } }
            dt { (l("Report hash")) } dd.mono { (tk.report_hash) }
            @if let Some(r) = &tk.frozen_reason { dt { (l("Frozen")) } dd { (r) } }
        }
        h2 { (l("Totals")) }
        (totals_cards(lang, &d.totals))
        h2 { (l("Lots")) }
        (lots_table(lang, &d.lots))
        @if d.lots_truncated { p.muted { "…" } }
        h2 { (l("Attestations")) }
        (attestations_table(lang, &d.attestations))
        h2 { (l("History")) }
        table {
            thead { tr { th { (l("Time")) } th { (l("Block")) } th { (l("What it does")) } th { (l("Transaction")) } } }
            tbody { @for e in &d.history {
                tr {
                    td { (e.time) }
                    td { a href=(format!("/blocks/{}", e.height)) { (e.height) } }
                    td { (if lang == Lang::Zh { &e.summary_zh } else { &e.summary }) }
                    td.mono { a href=(format!("/transactions/{}", e.tx)) { (e.tx[..12]) "…" } }
                }
            } }
        }
        @if d.history_truncated { p.muted { "…" } }
        h2 { (l("Retirements of this ticket")) }
        @if d.retirements.is_empty() { p.muted { (l("No results.")) } } @else { (retirements_table(lang, &d.retirements)) }
    };
    html_response(StatusCode::OK, page(lang, &tk.id, &format!("/tickets/{}", urlencode(&tk.id)), body))
}

#[derive(Debug, Default, Deserialize)]
struct SerialParams {
    serial: Option<String>,
    lang: Option<String>,
}

async fn serials(
    State(web): State<Web>,
    params: Result<Query<SerialParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let p = params.map(|Query(p)| p).unwrap_or_default();
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let asked = p.serial.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let found = match asked {
        None => None,
        Some(s) => {
            let result = match view::parse_serial(s) {
                Ok(n) => view::serial(web.chain.read().await.state(), n),
                Err(e) => Err(e),
            };
            match result {
                Ok(f) => Some(f),
                Err(e) => return lookup_page(lang, &e),
            }
        }
    };
    let body = html! {
        h1 { (l("Serial lookup")) }
        form.filters method="get" action="/serials" {
            label { (l("Serial number")) input type="text" name="serial" inputmode="numeric" value=(asked.unwrap_or("")) required; }
            button type="submit" { (l("Look up")) }
        }
        @if let Some(f) = &found {
            h2 { (l("Serial number")) " " (f.serial) }
            dl.fields {
                dt { (l("Ticket")) } dd { a href=(format!("/tickets/{}", urlencode(&f.ticket.id))) { (f.ticket.id) } }
                dt { (l("Project")) } dd { a href=(format!("/projects/{}", urlencode(&f.ticket.project))) { (f.ticket.project) } }
                dt { (l("Vintage")) } dd { (f.ticket.vintage) }
                dt { (l("Holder")) } dd { a href=(format!("/participants/{}", f.lot.holder)) { (f.lot.holder_name) } }
                dt { (l("State")) } dd { (words::lot_state(&f.lot.state, lang)) @if let Some(d) = &f.lot.detail { ": " (d) } }
                dt { (l("Lots")) } dd.mono { (f.lot.first) "–" (f.lot.last) }
                @if let Some(r) = &f.retirement {
                    dt { (l("Consumed by retirement")) } dd { a href=(format!("/retirements/{}", r.id)) { "#" (r.id) } " · " (r.beneficiary) " · " (r.time) }
                }
            }
        }
    };
    html_response(StatusCode::OK, page(lang, l("Serial lookup"), "/serials", body))
}

async fn retirements(
    State(web): State<Web>,
    params: Result<Query<RetirementParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return lookup_page(lang_of(None, &headers), &bad_query(&e)),
    };
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let result: Found<_> = async {
        let (filter, cursor) = (p.filter()?, p.cursor()?);
        let ledger = web.chain.read().await;
        let state = ledger.state();
        Ok(web
            .index
            .with_retirement_rows(state, |rows| view::retirements(state, rows, &filter, cursor, view::PAGE_DEFAULT)))
    }
    .await;
    let list = match result {
        Ok(list) => list,
        Err(e) => return lookup_page(lang, &e),
    };
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        h1 { (l("Retirements")) }
        form.filters method="get" action="/retirements" {
            label { (l("Beneficiary")) input type="search" name="beneficiary" value=(v(&p.beneficiary)); }
            label { (l("Purpose")) select name="purpose" {
                option value="" { (l("Any")) }
                @for pu in view::PURPOSES {
                    option value=(pu.as_str()) selected[p.purpose.as_deref() == Some(pu.as_str())] { (words::purpose(pu.as_str(), lang)) }
                }
            } }
            label { (l("Project")) input type="text" name="project" value=(v(&p.project)); }
            label { (l("Ecosystem")) select name="ecosystem" { (ecosystem_options(lang, p.ecosystem.as_deref())) } }
            label { (l("Jurisdiction")) input type="text" name="jurisdiction" value=(v(&p.jurisdiction)) placeholder="CN-FJ"; }
            label { (l("From")) input type="date" name="from" value=(v(&p.from)); }
            label { (l("Until")) input type="date" name="until" value=(v(&p.until)); }
            button type="submit" { (l("Search")) }
        }
        @if list.items.is_empty() { p.muted { (l("No results.")) } } @else { (retirements_table(lang, &list.items)) }
        (csv_link("retirements", &[("beneficiary", p.beneficiary.as_deref()), ("purpose", p.purpose.as_deref()), ("project", p.project.as_deref()), ("ticket", p.ticket.as_deref()), ("ecosystem", p.ecosystem.as_deref()), ("jurisdiction", p.jurisdiction.as_deref()), ("from", p.from.as_deref()), ("until", p.until.as_deref())], lang))
        (next_link("/retirements", &[("beneficiary", p.beneficiary.as_deref()), ("purpose", p.purpose.as_deref()), ("project", p.project.as_deref()), ("ticket", p.ticket.as_deref()), ("ecosystem", p.ecosystem.as_deref()), ("jurisdiction", p.jurisdiction.as_deref()), ("from", p.from.as_deref()), ("until", p.until.as_deref())], list.next_cursor.as_deref(), lang))
    };
    html_response(StatusCode::OK, page(lang, l("Retirements"), "/retirements", body))
}

async fn retirement(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(p): Query<LangParam>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let Ok(n) = id.parse::<u64>() else {
        return lookup_page(
            lang,
            &Lookup::Bad(format!("retirement id: expected a whole number, got {}", view::quote(&id))),
        );
    };
    let (r, block) = {
        let ledger = web.chain.read().await;
        let r = match view::retirement(ledger.state(), n) {
            Ok(r) => r,
            Err(e) => return lookup_page(lang, &e),
        };
        let block = view::block(&ledger, r.height);
        (r, block)
    };
    let block = match block {
        Ok(b) => b,
        Err(e) => return lookup_page(lang, &e),
    };
    let certificate_id = bct_proto::certificate::certificate_id(&web.chain.genesis().fingerprint(), r.id);
    let body = html! {
        div.certificate {
            h1 { (l("Retirement certificate")) " #" (r.id) }
            dl.fields {
                dt { (l("Certificate")) } dd.mono { (certificate_id) }
                dt { (l("Beneficiary")) } dd { strong { (r.beneficiary) } }
                dt { (l("Quantity")) } dd { strong { (t(&r.quantity)) " t" } " CO₂e" }
                dt { (l("Purpose")) } dd { (words::purpose(&r.purpose, lang)) }
                dt { (l("Jurisdiction")) } dd { (r.jurisdiction) }
                @if !r.note.is_empty() { dt { (l("Note")) } dd { (r.note) } }
                dt { (l("Project")) } dd { a href=(format!("/projects/{}", urlencode(&r.project))) { (r.project) } " · " (words::ecosystem(&r.ecosystem, lang)) }
                dt { (l("Ticket")) } dd.mono { a href=(format!("/tickets/{}", urlencode(&r.ticket))) { (r.ticket) } }
                dt { (l("Vintage")) } dd { (r.vintage) }
                dt { (l("Serials")) } dd.mono { @for s in &r.serials { (s.first) "–" (s.last) " " } }
                dt { (l("Retiree")) } dd { a href=(format!("/participants/{}", r.retiree)) { (r.retiree_name) } }
                dt { (l("Time")) } dd { (r.time) }
                dt { (l("Block")) } dd { a href=(format!("/blocks/{}", r.height)) { (r.height) } " · " span.mono { (block.hash) } }
                dt { (l("Transaction")) } dd.mono { a href=(format!("/transactions/{}", r.tx)) { (r.tx) } }
                dt { (l("Signed by")) } dd {
                    @for (i, s) in block.signatures.iter().enumerate() { @if i > 0 { ", " } (s.validator) }
                    " (" (block.signed_power) " / " (block.total_power) ")"
                }
            }
        }
        p.noprint {
            a.button href=(format!("/api/v1/retirements/{}/certificate", r.id)) download=(format!("retirement-{}.cert.json", r.id)) { (l("Download the certificate file")) }
        }
        p.muted { (l("Check it offline with `bct verify <file> --genesis genesis.json`: that check trusts no server, this page included.")) }
    };
    html_response(
        StatusCode::OK,
        page(lang, &format!("{} #{}", l("Retirement"), r.id), &format!("/retirements/{}", r.id), body),
    )
}

async fn participants(
    State(web): State<Web>,
    params: Result<Query<AccountParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return lookup_page(lang_of(None, &headers), &bad_query(&e)),
    };
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let result: Found<_> = async {
        let (filter, cursor) = (p.filter()?, p.cursor()?);
        let ledger = web.chain.read().await;
        Ok(view::accounts(ledger.state(), &filter, cursor, view::PAGE_DEFAULT))
    }
    .await;
    let list = match result {
        Ok(list) => list,
        Err(e) => return lookup_page(lang, &e),
    };
    let body = html! {
        h1 { (l("Participants")) }
        form.filters method="get" action="/participants" {
            label { (l("Name")) input type="search" name="q" value=(p.q.clone().unwrap_or_default()); }
            label { (l("Role")) select name="role" {
                option value="" { (l("Any")) }
                @for r in ["authority", "verifier", "exchange", "holder"] { option value=(r) selected[p.role.as_deref() == Some(r)] { (words::role(r, lang)) } }
            } }
            label { (l("Status")) select name="status" {
                option value="" { (l("Any")) }
                @for s in ["admitted", "suspended", "frozen"] { option value=(s) selected[p.status.as_deref() == Some(s)] { (words::status(s, lang)) } }
            } }
            button type="submit" { (l("Search")) }
        }
        @if list.items.is_empty() { p.muted { (l("No results.")) } } @else {
            table {
                thead { tr { th { (l("Name")) } th { (l("Role")) } th { (l("Jurisdiction")) } th { (l("Status")) } th { "Address" } } }
                tbody { @for a in &list.items {
                    tr {
                        td { a href=(format!("/participants/{}", a.address)) { (a.name) } }
                        td { (words::role(&a.role, lang)) }
                        td { (a.jurisdiction) }
                        td { (words::status(&a.status, lang)) @if a.frozen_reason.is_some() { " · " (words::status("frozen", lang)) } }
                        td.mono { (a.address) }
                    }
                } }
            }
        }
        (next_link("/participants", &[("q", p.q.as_deref()), ("role", p.role.as_deref()), ("status", p.status.as_deref())], list.next_cursor.as_deref(), lang))
        (csv_link("participants", &[("q", p.q.as_deref()), ("role", p.role.as_deref()), ("status", p.status.as_deref())], lang))
    };
    html_response(StatusCode::OK, page(lang, l("Participants"), "/participants", body))
}

async fn participant(
    State(web): State<Web>,
    Path(address): Path<String>,
    Query(p): Query<LangParam>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let d = match view::parse_address("address", &address) {
        Ok(a) => view::account_with_history(&*web.chain.read().await, a),
        Err(e) => Err(e),
    };
    let d = match d {
        Ok(d) => d,
        Err(e) => return lookup_page(lang, &e),
    };
    let a = &d.account;
    let body = html! {
        h1 { (a.name) }
        dl.fields {
            dt { "Address" } dd.mono { (a.address) }
            dt { (l("Role")) } dd { (words::role(&a.role, lang)) }
            dt { (l("Jurisdiction")) } dd { (a.jurisdiction) }
            dt { (l("Status")) } dd { (words::status(&a.status, lang)) @if let Some(r) = &a.suspended_reason { ": " (r) } }
            @if let Some(r) = &a.frozen_reason { dt { (l("Frozen")) } dd { (r) } }
            dt { (l("Admitted by")) } dd { a href=(format!("/participants/{}", a.admitted_by)) { (a.admitted_by) } }
            dt { (l("Admitted at height")) } dd { a href=(format!("/blocks/{}", a.admitted_at)) { (a.admitted_at) } }
            dt { (l("Nonce")) } dd { (a.nonce) }
        }
        h2 { (l("Holdings")) }
        @if d.holdings.is_empty() { p.muted { (l("No results.")) } } @else {
            table {
                thead { tr { th { (l("Ticket")) } th { (l("State")) } th.num { (l("Quantity")) } } }
                tbody { @for h in &d.holdings {
                    tr { td.mono { a href=(format!("/tickets/{}", urlencode(&h.ticket))) { (h.ticket) } } td { (words::lot_state(&h.state, lang)) } td.num { (t(&h.quantity)) } }
                } }
            }
            h2 { (l("Lots")) }
            (lots_table(lang, &d.lots))
        }
        h2 { (l("History")) }
        @if d.history.is_empty() { p.muted { (l("No results.")) } } @else {
            (history_rows(lang, &d.history))
        }
    };
    html_response(StatusCode::OK, page(lang, &a.name, &format!("/participants/{}", a.address), body))
}

/// A participant's transactions: when, which block, what in words, the result.
fn history_rows(lang: Lang, txs: &[view::TxView]) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr { th { (l("Time")) } th { (l("Block")) } th { (l("What it does")) } th { (l("Result")) } th { (l("Transaction")) } } }
            tbody { @for tx in txs {
                tr {
                    td { (tx.time) }
                    td { a href=(format!("/blocks/{}", tx.height)) { (tx.height) } }
                    td { (if lang == Lang::Zh { &tx.summary_zh } else { &tx.summary }) }
                    td { @if tx.accepted { span.ok { (l("accepted")) } } @else { span.bad { (l("rejected")) } ": " (tx.rejection.clone().unwrap_or_default()) } }
                    td.mono { a href=(format!("/transactions/{}", tx.id)) { (tx.id[..12]) "…" } }
                }
            } }
        }
    }
}

fn tx_rows(lang: Lang, txs: &[view::TxView]) -> Markup {
    let l = |s| lang.t(s);
    html! {
        table {
            thead { tr { th { "#" } th { (l("What it does")) } th { (l("Signer")) } th { (l("Result")) } th { (l("Transaction")) } } }
            tbody { @for tx in txs {
                tr {
                    td { (tx.index) }
                    td { (if lang == Lang::Zh { &tx.summary_zh } else { &tx.summary }) }
                    td { a href=(format!("/participants/{}", tx.signer)) { (tx.signer_name) } }
                    td { @if tx.accepted { span.ok { (l("accepted")) } } @else { span.bad { (l("rejected")) } ": " (tx.rejection.clone().unwrap_or_default()) } }
                    td.mono { a href=(format!("/transactions/{}", tx.id)) { (tx.id[..12]) "…" } }
                }
            } }
        }
    }
}

async fn block(
    State(web): State<Web>,
    Path(h): Path<String>,
    Query(p): Query<LangParam>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let Ok(height) = h.parse::<u64>() else {
        return lookup_page(lang, &Lookup::Bad(format!("height: expected a whole number, got {}", view::quote(&h))));
    };
    let b = match view::block(&*web.chain.read().await, height) {
        Ok(b) => b,
        Err(e) => return lookup_page(lang, &e),
    };
    let body = html! {
        h1 { (l("Block")) " " (b.height) }
        dl.fields {
            dt { (l("Hash")) } dd.mono { (b.hash) }
            dt { (l("Previous block")) } dd.mono { @if b.height > 0 { a href=(format!("/blocks/{}", b.height - 1)) { (b.prev_hash) } } @else { (b.prev_hash) } }
            dt { (l("Time")) } dd { (b.time) }
            dt { (l("Proposer")) } dd { (b.proposer_name) }
            dt { (l("State root")) } dd.mono { (b.state_root) }
            dt { "tx root" } dd.mono { (b.tx_root) }
            dt { "results root" } dd.mono { (b.results_root) }
            dt { (l("Round")) } dd { (b.round.map(|r| r.to_string()).unwrap_or_else(|| "—".into())) }
            dt { (l("Signed power")) } dd { (b.signed_power) " / " (b.total_power) }
        }
        h2 { (l("Commit signatures")) }
        table {
            thead { tr { th { (l("Validator")) } th.num { (l("Voting power")) } th { "Public key" } } }
            tbody { @for s in &b.signatures { tr { td { (s.validator) } td.num { (s.power) } td.mono { (s.public_key) } } } }
        }
        h2 { (l("Transactions in this block")) }
        @if b.txs.is_empty() { p.muted { (l("No results.")) } } @else { (tx_rows(lang, &b.txs)) }
        p { @if b.height > 0 { a href=(format!("/blocks/{}", b.height - 1)) { "← " (b.height - 1) } } " " a href=(format!("/blocks/{}", b.height + 1)) { (b.height + 1) " →" } }
    };
    html_response(
        StatusCode::OK,
        page(lang, &format!("{} {}", l("Block"), b.height), &format!("/blocks/{}", b.height), body),
    )
}

async fn transaction(
    State(web): State<Web>,
    Path(id): Path<String>,
    Query(p): Query<LangParam>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let tx = match view::parse_tx_id(&id) {
        Ok(h) => view::transaction(&*web.chain.read().await, &h),
        Err(e) => Err(e),
    };
    let tx = match tx {
        Ok(t) => t,
        Err(e) => return lookup_page(lang, &e),
    };
    let body = html! {
        h1 { (l("Transaction")) }
        p { strong { (if lang == Lang::Zh { &tx.summary_zh } else { &tx.summary }) } }
        dl.fields {
            dt { "ID" } dd.mono { (tx.id) }
            dt { (l("Result")) } dd { @if tx.accepted { span.ok { (l("accepted")) } } @else { span.bad { (l("rejected")) } ": " (tx.rejection.clone().unwrap_or_default()) } }
            @if let Some(tk) = &tx.issued_ticket { dt { (l("Ticket")) } dd { a href=(format!("/tickets/{}", urlencode(tk))) { (tk) } } }
            @if let Some(r) = tx.retirement { dt { (l("Retirement")) } dd { a href=(format!("/retirements/{r}")) { "#" (r) } } }
            dt { (l("Signer")) } dd { a href=(format!("/participants/{}", tx.signer)) { (tx.signer_name) } }
            dt { (l("Nonce")) } dd { (tx.nonce) }
            dt { (l("Block")) } dd { a href=(format!("/blocks/{}", tx.height)) { (tx.height) } " #" (tx.index) }
            dt { (l("Time")) } dd { (tx.time) }
        }
    };
    html_response(StatusCode::OK, page(lang, l("Transaction"), &format!("/transactions/{}", tx.id), body))
}

/// The fields of a verified certificate's summary the page shows, with their labels (the
/// machine forms, such as the time in ms, stay in the API).
const CERTIFICATE_FIELDS: [(&str, &str); 13] = [
    ("retirement_id", "Retirement"),
    ("beneficiary", "Beneficiary"),
    ("purpose", "Purpose"),
    ("jurisdiction", "Jurisdiction"),
    ("note", "Note"),
    ("ticket", "Ticket"),
    ("quantity", "Quantity"),
    ("retiree", "Retiree"),
    ("chain_id", "Chain"),
    ("height", "Height"),
    ("time_utc", "Time"),
    ("block_hash", "Block hash"),
    ("tx_id", "Transaction"),
];

fn verify_form(lang: Lang, check: Option<&CertificateCheck>) -> Markup {
    let l = |s| lang.t(s);
    html! {
        h1 { (l("Check a certificate")) }
        p { (l("Choose a certificate file (from this site or from `bct certificate get`) or paste its content: the node checks it against its genesis with the code of `bct verify`.")) }
        @if let Some(c) = check {
            @if c.verified {
                div.certificate {
                    p.ok { "✔ VERIFIED" }
                    @if let Some(r) = &c.retirement {
                        dl.fields {
                            @if let Some(id) = &c.certificate_id { dt { (l("Certificate")) } dd.mono { (id) } }
                            @for (key, label) in CERTIFICATE_FIELDS {
                                @if let Some(v) = r.get(key) {
                                    dt { (l(label)) } dd { (v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())) }
                                }
                            }
                            @if let Some(serials) = r.get("serials").and_then(|s| s.as_array()) {
                                dt { (l("Serials")) }
                                dd { @for s in serials { (s["first"]) "–" (s["last"]) " " } }
                            }
                            dt { (l("Signed by")) } dd { (c.signers.join(", ")) " (" (c.signed_power.unwrap_or(0)) " / " (c.total_power.unwrap_or(0)) ")" }
                        }
                    }
                }
            } @else {
                div.error { p.bad { "✘ REFUSED" } p { (c.reason.clone().unwrap_or_default()) } }
            }
            h2 { (l("Each check")) }
            table.checks {
                tbody {
                    @for v in &c.checks {
                        tr class=(v.verdict) {
                            td { (match v.verdict.as_str() { "passed" => "✔", "failed" => "✘", _ => "–" }) }
                            td { (lang.tr(&v.description)) }
                            td { (l(match v.verdict.as_str() { "passed" => "passed", "failed" => "failed", _ => "not run" })) }
                            td { (v.reason.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
            p.muted { (c.offline_check) }
        }
        form method="post" action="/verify" enctype="multipart/form-data" {
            p { input type="file" name="file" accept=".json,application/json"; }
            p { textarea name="text" rows="8" cols="80" placeholder="{ \"format\": \"bct-retirement-certificate/v1\", ... }" {} }
            p { button type="submit" { (l("Check")) } }
        }
        p.muted { (l("Check it offline with `bct verify <file> --genesis genesis.json`: that check trusts no server, this page included.")) }
    }
}

async fn verify_get(Query(p): Query<LangParam>, headers: HeaderMap) -> Response {
    let lang = lang_of(p.lang.as_deref(), &headers);
    html_response(StatusCode::OK, page(lang, lang.t("Check a certificate"), "/verify", verify_form(lang, None)))
}

async fn verify_post(State(web): State<Web>, headers: HeaderMap, mut form: Multipart) -> Response {
    let lang = lang_of(None, &headers);
    let mut content: Option<Bytes> = None;
    loop {
        match form.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_string();
                match field.bytes().await {
                    Ok(b) if !b.iter().all(u8::is_ascii_whitespace) && (name == "file" || name == "text") => {
                        content.get_or_insert(b);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        return error_page(
                            lang,
                            StatusCode::BAD_REQUEST,
                            &format!("the upload could not be read: {}", e.body_text()),
                        )
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                return error_page(
                    lang,
                    StatusCode::BAD_REQUEST,
                    &format!("the upload could not be read: {}", e.body_text()),
                )
            }
        }
    }
    let Some(content) = content else {
        return error_page(
            lang,
            StatusCode::BAD_REQUEST,
            "no certificate: choose a certificate file or paste its content",
        );
    };
    let check = web.check_certificate(&content);
    html_response(
        StatusCode::OK,
        page(lang, lang.t("Retirement certificate"), "/verify", verify_form(lang, Some(&check))),
    )
}

async fn trades(
    State(web): State<Web>,
    params: Result<Query<TradeParams>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let p = match params {
        Ok(Query(p)) => p,
        Err(e) => return lookup_page(lang_of(None, &headers), &bad_query(&e)),
    };
    let lang = lang_of(p.lang.as_deref(), &headers);
    let l = |s| lang.t(s);
    let result = p
        .filter()
        .and_then(|f| Ok((f, p.cursor()?)))
        .and_then(|(f, c)| Ok((web.index.trades(&f, c, view::PAGE_DEFAULT)?, web.index.volumes()?)));
    let (list, volumes) = match result {
        Ok(x) => x,
        Err(e) => return lookup_page(lang, &e),
    };
    let names = {
        let ledger = web.chain.read().await;
        let state = ledger.state();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for t in &list.items {
            for a in [&t.seller, &t.buyer] {
                if let Ok(addr) = a.parse::<bct_ledger::Address>() {
                    names.insert(a.clone(), state.accounts.get(&addr).map_or_else(|| a.clone(), |x| x.name.clone()));
                }
            }
        }
        names
    };
    let name = |a: &String| names.get(a).cloned().unwrap_or_else(|| a.clone());
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let body = html! {
        h1 { (l("Trades")) }
        h2 { (l("Volume and volume-weighted price")) }
        @if volumes.is_empty() { p.muted { (l("No results.")) } } @else {
            table {
                thead { tr { th { (l("Ecosystem")) } th { (l("Currency")) } th.num { (l("Trades")) } th.num { (l("Quantity")) } th.num { (l("Volume-weighted price")) } } }
                tbody { @for vo in &volumes {
                    tr { td { (words::ecosystem(&vo.ecosystem, lang)) } td { (vo.currency) } td.num { (vo.trades) } td.num { (t(&vo.volume)) } td.num { (vo.volume_weighted_price_per_tonne) } }
                } }
            }
        }
        form.filters method="get" action="/trades" {
            label { (l("Project")) input type="text" name="project" value=(v(&p.project)); }
            label { (l("Ecosystem")) select name="ecosystem" { (ecosystem_options(lang, p.ecosystem.as_deref())) } }
            label { (l("From")) input type="date" name="from" value=(v(&p.from)); }
            label { (l("Until")) input type="date" name="until" value=(v(&p.until)); }
            button type="submit" { (l("Search")) }
        }
        @if list.items.is_empty() { p.muted { (l("No results.")) } } @else {
            table {
                thead { tr { th { (l("Time")) } th { (l("Ticket")) } th { (l("Seller")) } th { (l("Buyer")) } th.num { (l("Quantity")) } th.num { (l("Price")) } th { (l("Reference")) } } }
                tbody { @for tr in &list.items {
                    tr {
                        td { a href=(format!("/transactions/{}", tr.tx)) { (tr.time) } }
                        td.mono { a href=(format!("/tickets/{}", urlencode(&tr.ticket))) { (tr.ticket) } }
                        td { a href=(format!("/participants/{}", tr.seller)) { (name(&tr.seller)) } }
                        td { a href=(format!("/participants/{}", tr.buyer)) { (name(&tr.buyer)) } }
                        td.num { (t(&tr.quantity)) }
                        td.num { (tr.price) }
                        td { (tr.reference) }
                    }
                } }
            }
        }
        (next_link("/trades", &[("project", p.project.as_deref()), ("ecosystem", p.ecosystem.as_deref()), ("from", p.from.as_deref()), ("until", p.until.as_deref())], list.next_cursor.as_deref(), lang))
        (csv_link("trades", &[("project", p.project.as_deref()), ("ecosystem", p.ecosystem.as_deref()), ("from", p.from.as_deref()), ("until", p.until.as_deref())], lang))
    };
    html_response(StatusCode::OK, page(lang, l("Trades"), "/trades", body))
}

/// The pages' routes.
pub fn routes() -> Router<Web> {
    Router::new()
        .route("/", get(overview))
        .route("/style.css", get(style))
        .route("/lang/{code}", get(set_lang))
        .route("/projects", get(projects))
        .route("/projects/{id}", get(project))
        .route("/tickets/{id}", get(ticket))
        .route("/serials", get(serials))
        .route("/retirements", get(retirements))
        .route("/trades", get(trades))
        .route("/retirements/{id}", get(retirement))
        .route("/participants", get(participants))
        .route("/participants/{address}", get(participant))
        .route("/blocks/{height}", get(block))
        .route("/transactions/{id}", get(transaction))
        .route("/verify", get(verify_get).post(verify_post))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Audit item 2: a page never passes a right-to-left override or an invisible character
    /// through; it shows them as `\u{XXXX}`.
    #[tokio::test]
    async fn pages_show_reordering_and_hidden_characters_visibly() {
        let r = error_page(Lang::En, StatusCode::NOT_FOUND, "no ticket abc\u{202E}fed\u{200B}");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.expect("body");
        let html = String::from_utf8(body.to_vec()).expect("utf-8");
        assert!(html.contains("abc\\u{202E}fed\\u{200B}"), "{html}");
        assert!(!html.contains('\u{202E}') && !html.contains('\u{200B}'));
    }
}
