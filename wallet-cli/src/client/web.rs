//! The node's read-only web API (`[web]` in the node's config.toml) over plain HTTP/1.0: what
//! `bct export` streams the CSV exports from. One request per connection, the body streamed to
//! a writer as it arrives; an error answer's JSON problem becomes the error message.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The web address `bct-node dev` serves by default.
pub const DEFAULT_WEB_URL: &str = "http://127.0.0.1:8080";
/// Longest wait for the connection and the answer's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of an answer's head.
const HEAD_BYTES_MAX: usize = 16 * 1024;
/// Most bytes of an error answer's body that are read.
const ERROR_BYTES_MAX: usize = 64 * 1024;

/// Why a web request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The URL is not `http://host:port`.
    #[error("{0}")]
    Url(String),
    /// No connection, or no answer in time.
    #[error("cannot reach the node's web API at {url}: {reason} (is [web] listen_addr set in the node's config.toml? `bct-node dev` serves it on {DEFAULT_WEB_URL})")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node answered with an error.
    #[error("the node refused: {0}")]
    Refused(String),
    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Write(std::io::Error),
}

fn host_port(base: &str) -> Result<String, WebError> {
    let rest = base.strip_prefix("http://").ok_or_else(|| {
        WebError::Url(format!(
            "--web must be an http:// address such as {DEFAULT_WEB_URL}, got {base:?} (the web API has no TLS of its own; put a TLS proxy in front and reach it from the proxy's side)"
        ))
    })?;
    let hp = rest.trim_end_matches('/');
    if hp.is_empty() || hp.contains('/') {
        return Err(WebError::Url(format!("--web must be http://host:port with no path, got {base:?}")));
    }
    Ok(if hp.contains(':') { hp.to_string() } else { format!("{hp}:80") })
}

/// GETs `path_and_query` from the web API at `base` and copies the body into `out`; returns the
/// bytes written.
pub async fn get_into(base: &str, path_and_query: &str, out: &mut (impl AsyncWrite + Unpin)) -> Result<u64, WebError> {
    let hp = host_port(base)?;
    let unreachable = |reason: String| WebError::Unreachable { url: base.to_string(), reason };
    let stream = tokio::time::timeout(HEAD_TIMEOUT, tokio::net::TcpStream::connect(&hp))
        .await
        .map_err(|_| unreachable(format!("no connection within {} s", HEAD_TIMEOUT.as_secs())))?
        .map_err(|e| unreachable(e.to_string()))?;
    let mut stream = BufReader::new(stream);
    let request = format!("GET {path_and_query} HTTP/1.0\r\nHost: {hp}\r\nUser-Agent: bct-wallet\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes()).await.map_err(|e| unreachable(e.to_string()))?;
    let head = tokio::time::timeout(HEAD_TIMEOUT, async {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = stream.read_until(b'\n', &mut line).await?;
            if n == 0 || line == b"\r\n" || line == b"\n" {
                return Ok::<_, std::io::Error>(head);
            }
            head.extend_from_slice(&line);
            if head.len() > HEAD_BYTES_MAX {
                return Err(std::io::Error::other("the answer's head is too long"));
            }
        }
    })
    .await
    .map_err(|_| unreachable(format!("no answer within {} s", HEAD_TIMEOUT.as_secs())))?
    .map_err(|e| unreachable(e.to_string()))?;
    let head = String::from_utf8_lossy(&head);
    let status: u16 =
        head.lines().next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).ok_or_else(|| {
            unreachable("the answer is not HTTP (is --web the node's web address, not its gRPC port?)".into())
        })?;
    if status != 200 {
        let mut body = Vec::new();
        let _ = (&mut stream).take(ERROR_BYTES_MAX as u64).read_to_end(&mut body).await;
        let detail = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(WebError::Refused(detail));
    }
    let n = tokio::io::copy(&mut stream, out).await.map_err(WebError::Write)?;
    out.flush().await.map_err(WebError::Write)?;
    Ok(n)
}

/// `key=value` pairs as a query string, values percent-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut o = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => o.push(b as char),
                _ => o.push_str(&format!("%{b:02X}")),
            }
        }
        o
    };
    pairs.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_queries() {
        assert_eq!(host_port("http://127.0.0.1:8080/").ok(), Some("127.0.0.1:8080".into()));
        assert_eq!(host_port("http://registry.example").ok(), Some("registry.example:80".into()));
        assert!(host_port("https://x:1").is_err());
        assert!(host_port("http://x:1/api").is_err());
        assert_eq!(
            query_string(&[("beneficiary", "食品 co"), ("from", "2024-01-01")]),
            "beneficiary=%E9%A3%9F%E5%93%81%20co&from=2024-01-01"
        );
    }
}
