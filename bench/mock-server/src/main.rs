//! A fast OpenAI Chat Completions mock for the benchmarks, on 127.0.0.1. Every answer is
//! encoded once and then served from memory, so the mock is never the bottleneck.
//!
//! The shape of the answer is in the base URL: `/c<chunks>/s<chunk size>/l<latency ms>/d<ms
//! between chunks>/v1/chat/completions`. A request with `"stream": true` gets SSE chunks, a
//! finish chunk, a usage chunk and `[DONE]`; otherwise one `chat.completion`.
//! Embeddings: `/e<dims>/v1/embeddings` answers one vector of `<dims>` per input, as base64
//! when the request asks for it (`encoding_format: base64`), else as JSON floats.
//! Usage: `llmux-bench-mock [port]` (0 picks a free port); prints `listening <port>`.
//!
//! `llmux-bench-mock proxy <upstream port> [port]` is the floor the gateway is measured
//! against: a proxy that does nothing but forward each request, as it came, over one kept-alive
//! upstream connection per client connection, and forward the answer back. What it adds to a
//! round trip is what any HTTP proxy costs on the machine, before any work of its own.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

#[derive(Clone, Copy, Hash, PartialEq, Eq)]
struct Shape {
    chunks: u32,
    size: u32,
    stream: bool,
}

type Encoded = Arc<RwLock<HashMap<Shape, (Bytes, Vec<Bytes>)>>>;

/// An embeddings answer for `n` inputs of `dims`, base64 or floats, built once per shape.
fn encode_embeddings(n: usize, dims: usize, base64: bool) -> Bytes {
    use std::fmt::Write;
    let row: Vec<f32> = (0..dims).map(|j| ((j * 7919 % 2000) as f32) / 1000.0 - 1.0).collect();
    let b64 = {
        let bytes: Vec<u8> = row.iter().flat_map(|f| f.to_le_bytes()).collect();
        base64_encode(&bytes)
    };
    let floats = row.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(",");
    let mut out = String::from("{\"object\":\"list\",\"data\":[");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        if base64 {
            let _ = write!(out, "{{\"object\":\"embedding\",\"index\":{i},\"embedding\":\"{b64}\"}}");
        } else {
            let _ = write!(out, "{{\"object\":\"embedding\",\"index\":{i},\"embedding\":[{floats}]}}");
        }
    }
    let _ = write!(out, "],\"model\":\"text-embedding-3-small\",\"usage\":{{\"prompt_tokens\":{n},\"total_tokens\":{n}}}}}");
    Bytes::from(out)
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        s.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    s
}

type EncodedEmbeddings = Arc<RwLock<HashMap<(usize, usize, bool), Bytes>>>;

async fn embeddings(path: &str, body: &[u8], cache: &EncodedEmbeddings) -> Option<Bytes> {
    let dims: usize = path.strip_prefix("/e")?.split('/').next()?.parse().ok()?;
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let n = match v.get("input")? {
        serde_json::Value::Array(a) => a.len(),
        _ => 1,
    };
    let base64 = v.get("encoding_format").and_then(|f| f.as_str()) == Some("base64");
    let key = (n, dims, base64);
    if let Some(b) = cache.read().ok().and_then(|m| m.get(&key).cloned()) {
        return Some(b);
    }
    let b = encode_embeddings(n, dims, base64);
    if let Ok(mut m) = cache.write() {
        m.insert(key, b.clone());
    }
    Some(b)
}

fn chunk(delta: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"bench\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":null}}]}}\n\n"
    )
}

/// The whole body, and the same bytes split per chunk (for delayed streams).
fn encode(s: Shape) -> (Bytes, Vec<Bytes>) {
    let size = s.size.max(1) as usize;
    // Chunks differ (a zero-padded index), as a model's do: LiteLLM refuses a stream that
    // repeats one chunk over and over.
    let piece = |i: u32| format!("{i:0>size$}");
    let usage = format!(
        "{{\"prompt_tokens\":10,\"completion_tokens\":{},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":0}}}}",
        s.chunks,
        s.chunks + 10
    );
    if !s.stream {
        let text: String = (0..s.chunks).map(piece).collect();
        let body = format!(
            "{{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"bench\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\"}},\"finish_reason\":\"stop\"}}],\"usage\":{usage}}}"
        );
        return (Bytes::from(body), vec![]);
    }
    let mut parts = vec![chunk("{\"role\":\"assistant\",\"content\":\"\"}")];
    for i in 0..s.chunks {
        parts.push(chunk(&format!("{{\"content\":\"{}\"}}", piece(i))));
    }
    parts.push(
        "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".to_owned(),
    );
    parts.push(format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"bench\",\"choices\":[],\"usage\":{usage}}}\n\ndata: [DONE]\n\n"
    ));
    let whole = Bytes::from(parts.concat());
    (whole, parts.into_iter().map(Bytes::from).collect())
}

fn parse_path(path: &str) -> Option<(u32, u32, u64, u64)> {
    let mut it = path.trim_start_matches('/').split('/');
    let mut num = |prefix: char| it.next()?.strip_prefix(prefix)?.parse::<u64>().ok();
    let (c, s, l, d) = (num('c')?, num('s')?, num('l')?, num('d')?);
    Some((c as u32, s as u32, l, d))
}

async fn handle(req: Request<Incoming>, enc: Encoded, emb: EncodedEmbeddings) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if path.ends_with("/v1/embeddings") {
        return Ok(match embeddings(&path, &body, &emb).await {
            Some(b) => Response::builder().header("content-type", "application/json").body(Full::new(b).boxed()).unwrap_or_default(),
            None => {
                Response::builder().status(400).body(Full::new(Bytes::from_static(b"bad embeddings request")).boxed()).unwrap_or_default()
            }
        });
    }
    let Some((chunks, size, latency, delay)) = parse_path(&path).filter(|_| path.ends_with("/v1/chat/completions")) else {
        return Ok(Response::builder().status(404).body(Full::new(Bytes::from_static(b"not found")).boxed()).unwrap_or_default());
    };
    #[derive(Default)]
    struct Probe {
        stream: bool,
    }
    let probe = serde_json::from_slice::<serde_json::Value>(&body)
        .map(|v| Probe { stream: v.get("stream").and_then(|s| s.as_bool()).unwrap_or(false) })
        .unwrap_or_default();
    let shape = Shape { chunks, size, stream: probe.stream };
    let cached = enc.read().ok().and_then(|m| m.get(&shape).cloned());
    let (whole, parts) = match cached {
        Some(e) => e,
        None => {
            let e = encode(shape);
            if let Ok(mut m) = enc.write() {
                m.insert(shape, e.clone());
            }
            e
        }
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let ctype = if shape.stream { "text/event-stream" } else { "application/json" };
    let body = if shape.stream && delay > 0 {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
        tokio::spawn(async move {
            for p in parts {
                if tx.send(Ok(Frame::data(p))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
        });
        BoxBody::new(ChannelBody(rx))
    } else {
        Full::new(whole).boxed()
    };
    Ok(Response::builder().header("content-type", ctype).body(body).unwrap_or_default())
}

/// A channel of frames as a response body (for streams with a delay between chunks).
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx)
    }
}

/// Forwards every request of one client connection over one upstream connection.
async fn forward(sock: tokio::net::TcpStream, upstream: u16) {
    let Ok(up) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
    let _ = up.set_nodelay(true);
    let Ok((sender, conn)) = hyper::client::conn::http1::handshake::<_, Incoming>(TokioIo::new(up)).await else { return };
    tokio::spawn(conn);
    let sender = Arc::new(tokio::sync::Mutex::new(sender));
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let sender = sender.clone();
        async move {
            let r = sender.lock().await.send_request(req).await;
            Ok::<_, hyper::Error>(match r {
                Ok(resp) => resp.map(|b| b.boxed()),
                Err(_) => Response::builder()
                    .status(502)
                    .body(Full::new(Bytes::new()).map_err(|never| match never {}).boxed())
                    .unwrap_or_default(),
            })
        }
    });
    let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(sock), svc).await;
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let upstream = if args.peek().map(String::as_str) == Some("proxy") {
        args.next();
        Some(args.next().and_then(|p| p.parse::<u16>().ok()).expect("proxy <upstream port> [port]"))
    } else {
        None
    };
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if let Some(upstream) = upstream {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind 127.0.0.1");
        println!("listening {}", listener.local_addr().map(|a| a.port()).unwrap_or(0));
        loop {
            let Ok((sock, _)) = listener.accept().await else { continue };
            let _ = sock.set_nodelay(true);
            tokio::spawn(forward(sock, upstream));
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind 127.0.0.1");
    println!("listening {}", listener.local_addr().map(|a| a.port()).unwrap_or(0));
    let enc: Encoded = Arc::default();
    let emb: EncodedEmbeddings = Arc::default();
    loop {
        let Ok((sock, _)) = listener.accept().await else { continue };
        let _ = sock.set_nodelay(true);
        let (enc, emb) = (enc.clone(), emb.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(req, enc.clone(), emb.clone()));
            let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(sock), svc).await;
        });
    }
}
