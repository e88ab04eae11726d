//! The shared HTTP transport: pooled reqwest clients (rustls, HTTP/2 where offered), timeouts,
//! retries of retryable failures before any response byte is used, and cancellation. It knows
//! HTTP, not providers: a request is plain data, and a provider's error mapping is passed in.
//!
//! A pooled keep-alive connection may have died while a Lambda was frozen. A POST that fails
//! before any response arrived is therefore sent once more, on a client with no pool, so the
//! retry is certain to use a fresh connection.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, ErrorKind, Result};

/// Idle connections are dropped before providers' load balancers would (typically 60 s+).
const POOL_IDLE: Duration = Duration::from_secs(45);
/// The longest `Retry-After` we wait for; a longer one is returned to the caller.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
/// Error bodies are read up to this size.
const MAX_ERROR_BODY: usize = 1 << 20;

/// A request ready for the transport: plain data, no client attached.
#[derive(Clone)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: bytes::Bytes,
}

impl std::fmt::Debug for HttpRequest {
    // Headers carry keys and URLs may carry them in the query: neither is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| *k).collect();
        let url = self.url.split('?').next().unwrap_or("");
        f.debug_struct("HttpRequest").field("url", &url).field("headers", &names).field("body_bytes", &self.body.len()).finish()
    }
}

/// How one request is sent: whose it is, how long to wait, how often to retry.
pub struct SendPolicy<'a> {
    pub provider: &'static str,
    pub first_byte: Duration,
    pub max_retries: u32,
    /// Headers the caller asked for, sent after the provider's own.
    pub extra_headers: &'a [(String, String)],
    /// The provider's reading of an error answer.
    pub map_error: &'a (dyn Fn(u16, &HeaderMap, &[u8]) -> Error + Sync),
}

/// The clients of one engine: pooled for normal use, pool-less for the reconnect-once path.
pub struct HttpClients {
    pooled: reqwest::Client,
    fresh: reqwest::Client,
    connect: Duration,
    /// Endpoints already parsed: a URL's parse (with IDNA) costs microseconds on every
    /// request, and a process calls few distinct endpoints.
    urls: std::sync::Mutex<std::collections::HashMap<String, reqwest::Url>>,
}

/// Parsed endpoints kept at most; beyond, the map starts afresh (a process with this many
/// distinct endpoints loses nothing but the saving).
const MAX_URLS: usize = 512;

/// Redirects stay on the origin they started from and never go from https to http: a provider's
/// headers carry its key (`x-api-key`, `api-key`, `x-goog-api-key`, `authorization`), and
/// reqwest's default policy would forward them to any host a redirect names.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else { return attempt.stop() };
        let next = attempt.url();
        let same_origin = first.scheme() == next.scheme()
            && first.host_str() == next.host_str()
            && first.port_or_known_default() == next.port_or_known_default();
        if attempt.previous().len() > 5 || !same_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

fn build_client(connect: Duration, pooled: bool) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .redirect(redirect_policy())
        .connect_timeout(connect)
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("llmux/", env!("CARGO_PKG_VERSION")));
    b = if pooled { b.pool_idle_timeout(POOL_IDLE) } else { b.pool_max_idle_per_host(0) };
    // Building fails only if the TLS backend cannot initialise, which is a broken build.
    b.build().unwrap_or_else(|_| reqwest::Client::new())
}

impl HttpClients {
    pub fn new(connect: Duration) -> HttpClients {
        HttpClients { pooled: build_client(connect, true), fresh: build_client(connect, false), connect, urls: Default::default() }
    }

    /// `url` parsed, from the endpoints already seen when it is one.
    fn url(&self, url: &str) -> std::result::Result<reqwest::Url, String> {
        let mut seen = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = seen.get(url) {
            return Ok(u.clone());
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        if seen.len() >= MAX_URLS {
            seen.clear();
        }
        seen.insert(url.to_owned(), parsed.clone());
        Ok(parsed)
    }

    pub fn connect_timeout(&self) -> Duration {
        self.connect
    }

    /// The pooled client, for credential endpoints.
    pub fn pooled(&self) -> &reqwest::Client {
        &self.pooled
    }

    fn client(&self, fresh: bool) -> &reqwest::Client {
        if fresh {
            &self.fresh
        } else {
            &self.pooled
        }
    }
}

/// Appends `s` percent-encoded: every byte but RFC 3986's unreserved characters (a URL path
/// segment such as a Bedrock model id or ARN, a form field).
pub fn percent_encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// A reqwest failure in our terms.
pub fn network_error(e: &reqwest::Error, provider: &'static str) -> Error {
    let kind = if e.is_timeout() { ErrorKind::Timeout } else { ErrorKind::Network };
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    // reqwest names the whole URL; user info and the query (Gemini's `key=`) may be secrets.
    if let Some(url) = e.url() {
        msg = msg.replace(url.as_str(), &redact_url(url.as_str()));
    }
    Error::new(kind, msg).with_provider(provider)
}

/// A URL's scheme, `host[:port]` (user info dropped) and path, the query and fragment gone;
/// `None` without a scheme. Read without a URL parser: it runs on every answer.
fn url_parts(url: &str) -> Option<(&str, &str, &str)> {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    let (scheme, rest) = no_query.split_once("://")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit('@').next().unwrap_or(authority);
    Some((scheme, host, path))
}

/// A URL with its user info and query removed, for messages.
pub fn redact_url(url: &str) -> String {
    match url_parts(url) {
        Some((scheme, host, path)) => format!("{scheme}://{host}{path}"),
        None => url.split(['?', '#']).next().unwrap_or("").to_owned(),
    }
}

/// The host of a URL, lowercase, without port or brackets (for traces' `server.address`).
pub fn host_of(url: &str) -> Option<String> {
    let (_, hostport, _) = url_parts(url)?;
    let host = match hostport.strip_prefix('[') {
        Some(v6) => v6.split_once(']').map(|(h, _)| h)?,
        None => hostport.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn timeout_error(what: &str, after: Duration, provider: &'static str) -> Error {
    Error::new(ErrorKind::Timeout, format!("{what} within {:.1} s", after.as_secs_f64())).with_provider(provider)
}

/// The default first backoff step.
pub const BACKOFF_BASE: Duration = Duration::from_millis(500);

/// Exponential backoff with jitter: `base`, 2×, 4×... (at most 16×, capped at 8 s), each drawn
/// from its upper half.
pub fn backoff(attempt: u32, base: Duration) -> Duration {
    let cap = base.saturating_mul(1 << attempt.min(4)).min(Duration::from_secs(8));
    cap.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// The instant `d` from now; an absurd `d` (a Rust caller's `Duration::MAX`) is a year.
pub fn deadline_in(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(365 * 86_400))
}

/// Waits for `d`, or returns the cancellation error.
pub async fn sleep_or_cancel(d: Duration, cancel: &CancellationToken) -> Result<()> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::cancelled()),
        _ = tokio::time::sleep(d) => Ok(()),
    }
}

/// Sends the request and returns a successful response (2xx), with its body unread. On failure,
/// `reached` says whether the provider may have accepted the request (it was sent and no refusal
/// came back: cancelled or timed out while waiting, or the connection broke after sending), so
/// the caller can bill an estimate; a refusal (4xx, 5xx) or a failed connect bills nothing.
pub async fn send(
    clients: &HttpClients,
    http: &HttpRequest,
    policy: &SendPolicy<'_>,
    cancel: &CancellationToken,
    deadline: Instant,
    reached: &mut bool,
) -> Result<reqwest::Response> {
    let provider = policy.provider;
    let mut attempt = 0u32;
    let mut fresh = false;
    loop {
        let url = clients
            .url(&http.url)
            .map_err(|e| Error::invalid_request(format!("the endpoint URL is not valid: {e}")).with_provider(provider))?;
        let mut rb = clients.client(fresh).post(url).body(http.body.clone());
        for (k, v) in &http.headers {
            rb = rb.header(*k, v);
        }
        for (k, v) in policy.extra_headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let now = Instant::now();
        let wait = policy.first_byte.min(deadline.saturating_duration_since(now));
        *reached = false;
        let sent = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                *reached = true;
                return Err(Error::cancelled());
            }
            r = tokio::time::timeout(wait, rb.send()) => r,
        };
        let resp = match sent {
            Err(_) => {
                // The provider may be generating (and billing) already: bill an estimate. (A
                // connect that failed first is a connect error, below, and bills nothing.)
                *reached = true;
                return Err(timeout_error("no response", wait, provider));
            }
            Ok(Err(e)) => {
                let before_response = (e.is_connect() || e.is_request()) && !e.is_timeout() && !e.is_builder();
                if before_response && !fresh {
                    fresh = true;
                    continue;
                }
                // A failed connect or a redirect llmux refused reached no model.
                *reached = !e.is_connect() && !e.is_builder() && !e.is_redirect();
                return Err(network_error(&e, provider));
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        if status < 300 {
            return Ok(resp);
        }
        if status < 400 {
            // A redirect the policy did not follow (another origin, a downgrade, too many).
            let to = resp.headers().get("location").and_then(|v| v.to_str().ok()).map(redact_url).unwrap_or_default();
            return Err(Error::new(
                ErrorKind::Provider,
                format!("the endpoint redirected to {to:?}, which llmux does not follow (another origin or a downgrade to http)"),
            )
            .with_status(status)
            .with_provider(provider));
        }
        let headers = resp.headers().clone();
        let body =
            read_capped(resp, MAX_ERROR_BODY, OverCap::Truncate, policy.first_byte, cancel, deadline, provider).await.unwrap_or_default();
        let err = (policy.map_error)(status, &headers, &body);
        if !err.retryable || attempt >= policy.max_retries {
            return Err(err);
        }
        let delay = err.retry_after.unwrap_or_else(|| backoff(attempt, BACKOFF_BASE));
        if delay > MAX_RETRY_WAIT || Instant::now() + delay >= deadline {
            return Err(err);
        }
        sleep_or_cancel(delay, cancel).await?;
        attempt += 1;
    }
}

/// What to do with a body over its cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverCap {
    /// Keep its start (an error body, kept for diagnosis).
    Truncate,
    /// Fail the call with a `decode` error (an answer that large is not one we hold).
    Fail,
}

/// Reads a whole body, bounded in size, by the deadline and by the longest silence allowed.
pub async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
    over: OverCap,
    idle: Duration,
    cancel: &CancellationToken,
    deadline: Instant,
    provider: &'static str,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::cancelled()),
            _ = tokio::time::sleep_until(deadline.into()) => {
                return Err(Error::new(ErrorKind::Timeout, "response not complete before the deadline").with_provider(provider))
            }
            c = tokio::time::timeout(idle, resp.chunk()) => c,
        };
        match next {
            Err(_) => return Err(timeout_error("response body silent, no byte", idle, provider)),
            Ok(Ok(Some(bytes))) => {
                let room = cap.saturating_sub(out.len());
                if bytes.len() > room && over == OverCap::Fail {
                    return Err(Error::decode(provider, format!("the response body exceeds {cap} bytes")));
                }
                out.extend_from_slice(&bytes[..bytes.len().min(room)]);
                // A body to decode must be read to its end (a byte more is an error above); an
                // error body's start is all we keep.
                if out.len() >= cap && over == OverCap::Truncate {
                    return Ok(out);
                }
            }
            Ok(Ok(None)) => return Ok(out),
            Ok(Err(e)) => return Err(network_error(&e, provider)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_messages_lose_user_info_and_query() {
        assert_eq!(
            redact_url("https://user:pw@host.example:8443/v1/models/x:generate?key=SECRET#f"),
            "https://host.example:8443/v1/models/x:generate"
        );
        assert_eq!(redact_url("http://h"), "http://h");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for _ in 0..50 {
            let b0 = backoff(0, BACKOFF_BASE);
            assert!(b0 >= Duration::from_millis(250) && b0 <= Duration::from_millis(500));
            assert!(backoff(10, BACKOFF_BASE) <= Duration::from_secs(8));
        }
    }

    #[test]
    fn host_of_reads_the_host_as_a_url_parser_would() {
        for (url, host) in [
            ("https://api.openai.com/v1", Some("api.openai.com")),
            ("http://127.0.0.1:8080/c10/v1", Some("127.0.0.1")),
            ("https://user:pw@Example.COM:443/x?y=1", Some("example.com")),
            ("https://[::1]:4000/v1", Some("::1")),
            ("https://bedrock-runtime.us-east-1.amazonaws.com", Some("bedrock-runtime.us-east-1.amazonaws.com")),
            ("https://host?q=a/b", Some("host")),
            ("https:///nohost", None),
        ] {
            assert_eq!(host_of(url).as_deref(), host, "{url}");
        }
    }
}
