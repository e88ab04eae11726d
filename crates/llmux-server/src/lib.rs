//! `llmux serve`: an OpenAI-compatible HTTP gateway over the llmux router, read from a LiteLLM
//! proxy config, so a LiteLLM proxy's users switch by changing one command. It converts HTTP to
//! the engine's requests and the engine's events back to HTTP, nothing more: routing, limits,
//! budgets, the cache and shared state are the router's.
//!
//! Endpoints, with and without `/v1`: `POST /chat/completions` (SSE when `stream`),
//! `POST /embeddings`, `GET /models`, `GET /health/liveliness`, `GET /health/readiness`,
//! `GET /metrics`. It protects itself: a body size limit, header and body timeouts, a cap on
//! requests in progress (429 beyond), a client that goes away cancels its upstream request (its
//! usage still recorded), and a graceful shutdown that lets requests finish for a bounded time.

pub mod body;
pub mod config;
pub mod errors;
mod handlers;
pub mod log;
mod sse;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use llmux_core::engine::Engine;
use llmux_core::error::{Error, ErrorKind, Result};
use llmux_core::router::config::RouterConfig;
use llmux_core::router::Router;

pub use config::GatewayConfig;
pub use log::AccessLog;

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// What every request's handler shares.
pub(crate) struct App {
    pub router: Arc<Router>,
    pub cfg: GatewayConfig,
    pub permits: Arc<Semaphore>,
    pub http: log::HttpMetrics,
    pub log: AccessLog,
    /// Cancelled at shutdown once the grace period is over: requests still in progress end.
    pub stop_requests: CancellationToken,
}

/// A running gateway.
pub struct Served {
    pub local_addr: SocketAddr,
    stop: CancellationToken,
    done: tokio::sync::watch::Receiver<bool>,
}

impl Served {
    /// `http://HOST:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting, lets requests in progress finish (at most the configured grace), then
    /// ends the rest; resolves once every connection is closed.
    pub async fn close(&self) {
        self.stop.cancel();
        let mut done = self.done.clone();
        while !*done.borrow() {
            if done.changed().await.is_err() {
                break;
            }
        }
    }
}

/// Builds the router and the gateway's settings from a LiteLLM proxy config (JSON value, its
/// YAML already read).
pub fn from_config(engine: Arc<Engine>, mut config: serde_json::Value) -> Result<(Arc<Router>, GatewayConfig, Vec<String>)> {
    let (gw, mut warnings) = GatewayConfig::from_config(&mut config, &*engine)?;
    let (cfg, w) = RouterConfig::parse(&config)?;
    warnings.extend(w);
    let router = Router::new(engine, cfg)?;
    Ok((Arc::new(router), gw, warnings))
}

/// Listens on `host:port` (0: a free port) and serves until `close()`.
pub async fn serve(router: Arc<Router>, cfg: GatewayConfig, host: &str, port: u16, log: AccessLog) -> Result<Served> {
    let listener =
        TcpListener::bind((host, port)).await.map_err(|e| Error::new(ErrorKind::Config, format!("cannot listen on {host}:{port}: {e}")))?;
    let local_addr = listener.local_addr().map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
    let app = Arc::new(App {
        permits: Arc::new(Semaphore::new(cfg.max_parallel)),
        router,
        cfg,
        http: log::HttpMetrics::default(),
        log,
        stop_requests: CancellationToken::new(),
    });
    let stop = CancellationToken::new();
    let (done_tx, done) = tokio::sync::watch::channel(false);
    tokio::spawn(accept_loop(listener, app, stop.clone(), done_tx));
    Ok(Served { local_addr, stop, done })
}

async fn accept_loop(listener: TcpListener, app: Arc<App>, stop: CancellationToken, done: tokio::sync::watch::Sender<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, _) = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                // Out of file descriptors and the like: wait a little, never spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let header_timeout = app.cfg.header_timeout;
        let app = app.clone();
        let service = hyper::service::service_fn(move |req| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(handle(app, req).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    // Requests in progress may finish within the grace period; then open streams are ended.
    let grace = app.cfg.shutdown_timeout;
    let drained = tokio::time::timeout(grace, graceful.shutdown()).await.is_ok();
    if !drained {
        app.stop_requests.cancel();
        // The handlers answer (503) or end their streams, and the connections close.
        let _ = tokio::time::timeout(Duration::from_secs(1), graceful_rest(&app)).await;
    }
    let _ = done.send(true);
}

/// Waits until no request holds a slot (after `stop_requests`, they end at once).
async fn graceful_rest(app: &App) {
    let _all = app.permits.acquire_many(app.cfg.max_parallel as u32).await;
}

/// A request id: the client's `x-request-id` when it is a plain short token, else a new one.
fn request_id(req: &Request<Incoming>) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("req_{:016x}{:08x}", fastrand::u64(..), fastrand::u32(..)))
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let id = request_id(&req);
    let mut entry = log::Entry { request_id: id.clone(), method: req.method().to_string(), ..Default::default() };
    let mut resp = handlers::route(&app, req, &mut entry, started).await;
    if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    entry.status = resp.status().as_u16();
    // A stream logs itself when it ends; everything else, now.
    if !entry.stream || entry.status != 200 {
        app.http.observe(entry.route, entry.status, started.elapsed());
        log::write(app.log, &entry, started.elapsed());
    }
    resp
}
