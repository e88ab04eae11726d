//! The endpoints: each converts its HTTP request into the router's request and the router's
//! answer into OpenAI's HTTP answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use llmux_core::call::{Event, CHANNEL_CAPACITY};
use llmux_core::chat::ChatRequest;
use llmux_core::error::{Error, ErrorKind};
use llmux_core::router::embed::EmbedRouteRequest;
use llmux_core::router::RouteRequest;

use crate::config::Caller;
use crate::{body, errors, log, sse, App, Body};

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

fn json_response(status: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(full(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r.headers_mut().insert("content-type", "application/json".parse().expect("a header value"));
    r
}

/// An error as OpenAI answers it, with `retry-after` when waiting helps.
pub(crate) fn error_response(e: &Error, entry: &mut log::Entry) -> Response<Body> {
    entry.error = Some(e.kind.code());
    let status = errors::status(e);
    let mut r = Response::new(full(errors::body(e)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert("content-type", "application/json".parse().expect("a header value"));
    if let Some(after) = e.retry_after.filter(|_| status == 429 || status == 503) {
        let secs = after.as_secs_f64().ceil().max(1.0) as u64;
        h.insert("retry-after", secs.to_string().parse().expect("digits"));
        h.insert("retry-after-ms", (after.as_millis() as u64).to_string().parse().expect("digits"));
    }
    r
}

/// The API key a request presents: `Authorization: Bearer`, or LiteLLM's `x-litellm-api-key`.
fn presented_key(req: &Request<Incoming>) -> Option<String> {
    let h = req.headers();
    if let Some(k) = h.get("x-litellm-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim().trim_start_matches("Bearer ").trim().to_owned());
    }
    let auth = h.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_owned())
}

pub(crate) async fn route(app: &Arc<App>, req: Request<Incoming>, entry: &mut log::Entry, started: Instant) -> Response<Body> {
    let full_path = req.uri().path().to_owned();
    let path = match full_path.strip_prefix("/v1") {
        Some(rest) if rest.starts_with('/') => rest,
        _ => full_path.as_str(),
    };
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let method = req.method().clone();
    entry.route = match path {
        "/chat/completions" => "chat_completions",
        "/embeddings" => "embeddings",
        "/models" => "models",
        "/metrics" => "metrics",
        "/health/liveliness" | "/health/liveness" | "/health/readiness" => "health",
        _ => "other",
    };
    match (&method, path) {
        (&Method::GET, "/health/liveliness" | "/health/liveness") => return json_response(200, &json!("I'm alive!")),
        (&Method::GET, "/health/readiness") => {
            return json_response(200, &json!({"status": "healthy", "llmux_version": env!("CARGO_PKG_VERSION")}));
        }
        _ => {}
    }
    let Some(caller) = app.cfg.caller(presented_key(&req).as_deref()) else {
        let e = errors::gateway(
            ErrorKind::Auth,
            401,
            "Authentication Error: a valid API key is required (Authorization: Bearer <key>, or x-litellm-api-key)",
        );
        return error_response(&e, entry);
    };
    entry.user = caller.user().map(str::to_owned);
    match (&method, entry.route) {
        (&Method::POST, "chat_completions") => chat(app, req, &caller, entry, started).await,
        (&Method::POST, "embeddings") => embeddings(app, req, &caller, entry).await,
        (&Method::GET, "models") => models(app, &caller),
        (&Method::GET, "metrics") => {
            let mut text = app.router.metrics_text().await;
            app.http.render(&mut text);
            let mut r = Response::new(full(text));
            r.headers_mut().insert("content-type", "text/plain; version=0.0.4".parse().expect("a header value"));
            r
        }
        (_, "other") => error_response(&errors::gateway(ErrorKind::NotFound, 404, format!("no route {method} {full_path}")), entry),
        _ => error_response(&errors::gateway(ErrorKind::InvalidRequest, 405, format!("{method} is not allowed on {full_path}")), entry),
    }
}

/// Bodies over the limit are still read (and dropped, never kept) up to this much, so the client
/// gets its 413 instead of a connection reset halfway through sending; beyond, the connection
/// is closed.
const DRAIN_CAP: usize = 64 << 20;

/// The request's body, at most the configured size and within the body timeout.
async fn read_body(app: &App, req: Request<Incoming>) -> Result<Bytes, Error> {
    let limit = app.cfg.max_body_bytes;
    let declared = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_CAP as u64) {
        return Err(too_large(limit));
    }
    let mut body = req.into_body();
    let read = async {
        let mut kept = bytes::BytesMut::new();
        let mut seen = 0usize;
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| errors::gateway(ErrorKind::InvalidRequest, 400, format!("the request body could not be read: {e}")))?;
            if let Ok(data) = frame.into_data() {
                seen += data.len();
                if seen > DRAIN_CAP {
                    break;
                }
                if seen <= limit {
                    kept.extend_from_slice(&data);
                }
            }
        }
        if seen > limit {
            return Err(too_large(limit));
        }
        Ok(kept.freeze())
    };
    match tokio::time::timeout(app.cfg.body_timeout, read).await {
        Err(_) => Err(errors::gateway(
            ErrorKind::Timeout,
            408,
            format!("the request body did not arrive within {} s", app.cfg.body_timeout.as_secs()),
        )),
        Ok(r) => r,
    }
}

fn too_large(limit: usize) -> Error {
    errors::gateway(
        ErrorKind::InvalidRequest,
        413,
        format!("the request body is over {} bytes (general_settings.max_request_size_mb)", limit),
    )
}

/// Takes a slot among the requests in progress, or says the gateway is full.
fn permit(app: &App) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
    app.permits.clone().try_acquire_owned().map_err(|_| {
        errors::gateway(
            ErrorKind::RateLimit,
            429,
            format!("the gateway is at its limit of {} requests in progress; retry shortly", app.cfg.max_parallel),
        )
        .with_retry_after(Some(Duration::from_secs(1)))
    })
}

/// The group a request's model names (or `auto`), checked against what the caller may call.
fn group_for(app: &App, caller: &Caller, model: &str) -> Result<String, Error> {
    let router = &app.router;
    let group = if model == "auto" && router.group_name("auto").is_none() {
        "auto".to_owned()
    } else {
        router.group_name(model).map(str::to_owned).ok_or_else(|| {
            let mut e = errors::gateway(
                ErrorKind::NotFound,
                404,
                format!("The model `{model}` does not exist (GET /v1/models lists the models this gateway serves)"),
            );
            e.provider_code = Some("model_not_found".into());
            e.param = Some("model".into());
            e
        })?
    };
    if !caller.may_call(model, &group) {
        let mut e = errors::gateway(ErrorKind::Auth, 401, format!("this key is not allowed to call model `{model}`"));
        e.provider_code = Some("key_model_access_denied".into());
        e.param = Some("model".into());
        return Err(e);
    }
    Ok(group)
}

/// Cancels the upstream request when dropped armed (the client went away while it waited).
struct CancelOnDrop(Option<CancellationToken>);

impl CancelOnDrop {
    fn disarm(&mut self) -> Option<CancellationToken> {
        self.0.take()
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.cancel();
        }
    }
}

async fn chat(app: &Arc<App>, req: Request<Incoming>, caller: &Caller, entry: &mut log::Entry, started: Instant) -> Response<Body> {
    let permit = match permit(app) {
        Ok(p) => p,
        Err(e) => return error_response(&e, entry),
    };
    let q = body::query(req.uri().query());
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = match read_body(app, req).await {
        Ok(b) => b,
        Err(e) => return error_response(&e, entry),
    };
    let mut v = match body::chat_request(&bytes, content_type.as_deref(), &q) {
        Ok(v) => v,
        Err(e) => return error_response(&e, entry),
    };
    let stream = v.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = v.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    if let Some(m) = v.as_object_mut() {
        m.remove("stream");
        m.remove("stream_options");
    }
    let model = match v.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => return error_response(&errors::gateway(ErrorKind::InvalidRequest, 400, "model is required").with_param("model"), entry),
    };
    let group = match group_for(app, caller, &model) {
        Ok(g) => g,
        Err(e) => return error_response(&e, entry),
    };
    entry.model = Some(group.clone());
    let mut request = match ChatRequest::from_value(v) {
        Ok(r) => r,
        Err(e) => return error_response(&e.with_status(400), entry),
    };
    request.model = group;
    let mut rr = match RouteRequest::new(request, caller.user().map(str::to_owned), stream) {
        Ok(rr) => rr,
        Err(e) => return error_response(&e, entry),
    };
    caller.tag(&mut rr.tags);
    entry.user = rr.user.clone();
    let cancel = CancellationToken::new();
    let mut guard = CancelOnDrop(Some(cancel.clone()));
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    tokio::spawn(app.router.clone().run(rr, cancel.clone(), tx));
    if !stream {
        let mut outcome = None;
        let wait = async {
            while let Some(ev) = rx.recv().await {
                if let Event::End(o) = ev {
                    outcome = Some(*o);
                    break;
                }
            }
        };
        tokio::select! {
            _ = wait => {}
            _ = app.stop_requests.cancelled() => {
                // Shutdown's grace is over (the guard cancels the upstream request).
                let e = errors::gateway(ErrorKind::ProviderUnavailable, 503, "the gateway is shutting down").with_retry_after(Some(Duration::from_secs(1)));
                return error_response(&e, entry);
            }
        }
        guard.disarm();
        let Some(o) = outcome else {
            return error_response(&Error::new(ErrorKind::Internal, "the request ended without an answer"), entry);
        };
        let usage = o.usage.or(o.completion.usage);
        entry.prompt_tokens = usage.map(|u| u.prompt_tokens);
        entry.completion_tokens = usage.map(|u| u.completion_tokens);
        entry.cost_usd = o.cost.map(|c| c.total);
        if let Some(e) = &o.error {
            return error_response(e, entry);
        }
        let mut completion = o.completion;
        completion.usage = completion.usage.or(o.usage);
        let mut r = Response::new(full(serde_json::to_vec(&completion).unwrap_or_default()));
        r.headers_mut().insert("content-type", "application/json".parse().expect("a header value"));
        return r;
    }
    // The first event decides the status: a failure before any chunk is an HTTP error the
    // client's SDK raises as such; after it, errors travel in the stream.
    let first = match rx.recv().await {
        Some(ev) => ev,
        None => return error_response(&Error::new(ErrorKind::Internal, "the request ended without an answer"), entry),
    };
    if let Event::End(o) = &first {
        if let Some(e) = &o.error {
            guard.disarm();
            return error_response(e, entry);
        }
    }
    let cancel = guard.disarm().unwrap_or_default();
    let mut e = std::mem::take(entry);
    e.stream = true;
    e.status = 200;
    entry.stream = true;
    entry.status = 200;
    // The stream holds its slot among the requests in progress until it ends.
    let body = sse::SseBody::new(rx, first, include_usage, cancel, app.clone(), e, started, permit);
    let mut r = Response::new(http_body_util::BodyExt::boxed_unsync(body));
    let h = r.headers_mut();
    h.insert("content-type", "text/event-stream".parse().expect("a header value"));
    h.insert("cache-control", "no-cache".parse().expect("a header value"));
    r
}

async fn embeddings(app: &Arc<App>, req: Request<Incoming>, caller: &Caller, entry: &mut log::Entry) -> Response<Body> {
    let _permit = match permit(app) {
        Ok(p) => p,
        Err(e) => return error_response(&e, entry),
    };
    let bytes = match read_body(app, req).await {
        Ok(b) => b,
        Err(e) => return error_response(&e, entry),
    };
    let mut v: Value = match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return error_response(
                &errors::gateway(ErrorKind::InvalidRequest, 400, "the request body must be a JSON object").with_param("body"),
                entry,
            )
        }
    };
    let model = v.get("model").and_then(Value::as_str).unwrap_or("").to_owned();
    if model.is_empty() {
        return error_response(&errors::gateway(ErrorKind::InvalidRequest, 400, "model is required").with_param("model"), entry);
    }
    let group = match group_for(app, caller, &model) {
        Ok(g) => g,
        Err(e) => return error_response(&e, entry),
    };
    entry.model = Some(group.clone());
    let base64 = v.get("encoding_format").and_then(Value::as_str) == Some("base64");
    v["model"] = Value::String(group.clone());
    let mut er = match EmbedRouteRequest::new(v, caller.user().map(str::to_owned)) {
        Ok(er) => er,
        Err(e) => return error_response(&e, entry),
    };
    caller.tag(&mut er.tags);
    let cancel = CancellationToken::new();
    let mut guard = CancelOnDrop(Some(cancel.clone()));
    // Run apart, so a client that goes away cancels it without losing its settlement.
    let task = tokio::spawn(app.router.clone().embed(er, cancel));
    let o = match task.await {
        Ok(o) => o,
        Err(_) => return error_response(&Error::new(ErrorKind::Internal, "the embedding request failed (internal error)"), entry),
    };
    guard.disarm();
    entry.prompt_tokens = o.usage.map(|u| u.prompt_tokens);
    entry.cost_usd = o.cost.map(|c| c.total);
    if let Some(e) = &o.error {
        return error_response(e, entry);
    }
    let vectors = o.vectors.unwrap_or_default();
    let data: Vec<Value> = (0..vectors.rows())
        .map(|i| {
            let emb = if base64 { json!(vectors.row_base64(i)) } else { json!(vectors.row(i)) };
            json!({"object": "embedding", "index": i, "embedding": emb})
        })
        .collect();
    let usage = o.usage.unwrap_or_default();
    let mut out = json!({"object": "list", "data": data, "model": if o.model.is_empty() { group } else { o.model },
        "usage": {"prompt_tokens": usage.prompt_tokens, "total_tokens": usage.prompt_tokens}});
    if !o.warnings.is_empty() {
        out["warnings"] = json!(o.warnings);
    }
    json_response(200, &out)
}

fn models(app: &App, caller: &Caller) -> Response<Body> {
    let mut list = app.router.list_models();
    if let (Caller::Key(k), Some(data)) = (caller, list.get_mut("data").and_then(Value::as_array_mut)) {
        if !k.models.is_empty() {
            data.retain(|m| m.get("id").and_then(Value::as_str).is_some_and(|id| k.models.iter().any(|x| x == id)));
        }
    }
    json_response(200, &list)
}
