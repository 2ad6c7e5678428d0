//! The web view and JSON API, served by the node itself (`[web]` in config.toml): pages for
//! regulators, auditors and enterprises, and `/api/v1/` with its OpenAPI document. Read-only:
//! nothing here signs or submits. Every request is bounded: its body
//! (`web.request_bytes_max`), the requests served at once (`web.concurrent_requests_max`, more
//! get 503), requests per second per client address (`web.requests_per_second_per_client`, more
//! get 429), and the size of every page of a list.

pub mod api;
pub mod export;
pub mod i18n;
pub mod index;
pub mod pages;
pub mod view;
pub mod words;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::chain::Chain;
use crate::config::WebConfig;
use crate::error::NodeError;
use crate::limits::RateLimiter;
use crate::query::QueryService;

/// What the handlers read.
#[derive(Clone)]
pub struct Web {
    /// The ledger.
    pub chain: Arc<Chain>,
    /// The gRPC query service (the same answers, e.g. certificates, network status).
    pub query: QueryService,
    /// `validator` or `observer`.
    pub role: &'static str,
    /// Trades, ticket histories and issuance times, kept by a follower of the chain.
    pub index: index::Index,
    /// The overview's totals and monthly series, computed once per height.
    pub overview: Arc<Mutex<Option<(u64, Arc<Overview>)>>>,
}

/// What the overview shows that depends only on the committed state: the same for every
/// request at one height.
#[derive(Debug)]
pub struct Overview {
    /// The totals.
    pub supply: view::Supply,
    /// Per month (`YYYY-MM`, the last 24 with any): kg issued and kg retired.
    pub months: std::collections::BTreeMap<String, (u64, u64)>,
}

impl Web {
    /// The overview's data at the current height (computed at most once per height).
    pub async fn overview(&self) -> Arc<Overview> {
        let ledger = self.chain.read().await;
        let height = ledger.height();
        if let Ok(cached) = self.overview.lock() {
            if let Some((h, o)) = cached.as_ref() {
                if *h == height {
                    return o.clone();
                }
            }
        }
        let state = ledger.state();
        let mut months: std::collections::BTreeMap<String, (u64, u64)> = std::collections::BTreeMap::new();
        self.index.with_retirement_rows(state, |rows| {
            for r in rows.iter().rev().take(view::SCAN_MAX) {
                months.entry(view::utc_date(r.time_ms)[..7].to_string()).or_default().1 += r.quantity_kg;
            }
        });
        for (month, kg) in self.index.issued_by_month(view::SCAN_MAX).unwrap_or_default() {
            months.entry(month).or_default().0 += kg;
        }
        while months.len() > 24 {
            months.pop_first();
        }
        let o = Arc::new(Overview { supply: view::supply(&ledger), months });
        if let Ok(mut cached) = self.overview.lock() {
            *cached = Some((height, o.clone()));
        }
        o
    }
}

impl Web {
    /// A ticket with its history from the index.
    pub fn ticket_detail(&self, state: &bct_ledger::state::State, id: &str) -> view::Found<view::TicketDetail> {
        let mut d = view::ticket(state, id)?;
        let (events, truncated) = self.index.history(id, view::PAGE_MAX)?;
        d.history = events
            .into_iter()
            .map(|e| view::HistoryEvent {
                height: e.height,
                time: view::utc(e.time_ms),
                tx: e.tx,
                kind: e.kind,
                summary: e.summary,
                summary_zh: e.summary_zh,
            })
            .collect();
        d.history_truncated = truncated;
        Ok(d)
    }
}

/// Admission of requests: at most N at once, and a token bucket per client address.
struct Limits {
    in_flight: Arc<Semaphore>,
    rate: RateLimiter,
    trusted_proxies: Vec<IpAddr>,
}

/// The client of a request from `peer`: `peer` itself, unless it is a trusted proxy; then the
/// last address of `X-Forwarded-For` (each proxy appends the address it heard from) that is
/// not a trusted proxy. A header that cannot be read leaves the proxy as the client.
fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else { return peer };
        for hop in text.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                Err(_) => return peer,
            }
        }
    }
    hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

/// An error in the form the client asked for: a JSON problem under `/api/`, a page elsewhere.
fn refusal(path: &str, status: StatusCode, code: &'static str, message: String) -> Response {
    if path.starts_with("/api/") {
        api::problem(status, code, message)
    } else {
        pages::error_page(i18n::Lang::En, status, &message)
    }
}

async fn limit(
    State(limits): State<Arc<Limits>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let client = client_ip(peer.ip(), request.headers(), &limits.trusted_proxies);
    if !limits.rate.allow(client) {
        let mut r = refusal(
            &path,
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests from {}: at most {} per second; wait a moment and try again",
                client,
                limits.rate.per_second()
            ),
        );
        r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        return r;
    }
    let Ok(_permit) = limits.in_flight.clone().try_acquire_owned() else {
        let mut r = refusal(
            &path,
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the node is serving as many web requests as it allows; try again in a moment".into(),
        );
        r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
        return r;
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if !path.starts_with("/api/") {
        // Pages load nothing from elsewhere and run no script.
        headers.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'"),
        );
    }
    response
}

async fn not_found(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let lang = i18n::Lang::choose(None, request.headers());
    if path.starts_with("/api/") {
        api::problem(
            StatusCode::NOT_FOUND,
            "no_such_route",
            format!("no API route {}; see /api/v1/openapi.json", view::quote(&path)),
        )
    } else {
        pages::error_page(lang, StatusCode::NOT_FOUND, &format!("no page {}", view::quote(&path)))
    }
}

/// The whole router: pages, `/api/v1/`, limits.
pub fn router(web: Web, config: &WebConfig) -> Router {
    let limits = Arc::new(Limits {
        in_flight: Arc::new(Semaphore::new(config.concurrent_requests_max)),
        rate: RateLimiter::new(config.requests_per_second_per_client),
        trusted_proxies: config.trusted_proxies.clone(),
    });
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .fallback(not_found)
        .with_state(web)
        .layer(axum::middleware::from_fn_with_state(limits, limit))
        .layer(DefaultBodyLimit::max(config.request_bytes_max))
}

/// Starts the web server on `config.listen_addr`; returns the bound address and its task.
pub async fn serve(config: &WebConfig, web: Web) -> Result<Option<(SocketAddr, JoinHandle<()>)>, NodeError> {
    let Some(addr) = config.listen_addr else { return Ok(None) };
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        NodeError::Config(format!("cannot listen for the web view on {addr} (web.listen_addr in config.toml): {e}"))
    })?;
    let bound = listener.local_addr()?;
    let app = router(web, config).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!("the web server stopped: {e}");
        }
    });
    info!(web = %format!("http://{bound}/"), "web view and JSON API listening");
    Ok(Some((bound, task)))
}

/// A response that is never stored by caches (the ledger moves on).
pub fn no_store(mut r: Response) -> Response {
    r.headers_mut().insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

/// A status code for a lookup failure.
pub fn lookup_status(e: &view::Lookup) -> (StatusCode, &'static str, String) {
    match e {
        view::Lookup::Bad(m) => (StatusCode::BAD_REQUEST, "bad_parameter", m.clone()),
        view::Lookup::NotFound(m) => {
            (StatusCode::NOT_FOUND, "not_found", format!("{m} does not exist on this chain (or is not committed yet)"))
        }
        view::Lookup::Store(m) => (StatusCode::INTERNAL_SERVER_ERROR, "storage", m.clone()),
    }
}

impl IntoResponse for view::Lookup {
    fn into_response(self) -> Response {
        let (status, code, message) = lookup_status(&self);
        api::problem(status, code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn the_client_behind_a_trusted_proxy_is_the_forwarded_address() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let proxy = ip("10.0.0.2");
        let trusted = [proxy, ip("10.0.0.3")];
        // Straight from a client: the header is whatever the client wrote, so it is ignored.
        assert_eq!(client_ip(ip("203.0.113.7"), &headers(&["198.51.100.1"]), &trusted), ip("203.0.113.7"));
        // Through the proxy: the address the proxy heard from.
        assert_eq!(client_ip(proxy, &headers(&["203.0.113.7"]), &trusted), ip("203.0.113.7"));
        // A client that forges an earlier hop: the proxy's own entry (the last) wins.
        assert_eq!(client_ip(proxy, &headers(&["1.2.3.4, 203.0.113.7"]), &trusted), ip("203.0.113.7"));
        // Two trusted proxies in a row, the hops over two header lines.
        assert_eq!(client_ip(proxy, &headers(&["203.0.113.7", "10.0.0.3"]), &trusted), ip("203.0.113.7"));
        // No header, or one that cannot be read: the proxy itself.
        assert_eq!(client_ip(proxy, &headers(&[]), &trusted), proxy);
        assert_eq!(client_ip(proxy, &headers(&["not-an-address"]), &trusted), proxy);
        // No trusted proxy configured: never the header.
        assert_eq!(client_ip(proxy, &headers(&["203.0.113.7"]), &[]), proxy);
    }
}
