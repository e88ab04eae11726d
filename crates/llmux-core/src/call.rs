//! One call from start to end: resolve the model, send, decode, and deliver events to a
//! consumer through a bounded channel (so a slow consumer slows the upstream read, never
//! memory). The call always ends with exactly one `Event::End`, which carries the usage the
//! caller must record: reported by the provider, or estimated when the stream was cut short.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::chat::{ChatChunk, ChatCompletion, ChatRequest, StreamAccumulator, Usage};
use crate::engine::{Engine, Limits};
use crate::error::{Error, ErrorKind, Result};
use crate::options::CallOptions;
use crate::providers::{self, resolve, Adapter, InProcess, Route, Target};
use crate::structured::{self, Structured};
use crate::transport::{self, HttpClients, SendPolicy};

/// Capacity of the event channel: enough to batch a fast stream, small enough to push back.
pub const CHANNEL_CAPACITY: usize = 1024;

/// A request resolved and ready to run.
#[derive(Clone)]
pub struct Call {
    pub request: ChatRequest,
    pub target: Target,
    /// The model string the caller asked for, for usage records.
    pub model_label: String,
    /// A `json_schema` response format: how it is asked for, and the schema to check.
    pub structured: Option<Structured>,
    /// The engine's clients when the call was prepared.
    pub http: Arc<HttpClients>,
    pub limits: Limits,
    /// What preparing the call found worth saying (an unknown model), before the provider's own.
    pub warnings: Vec<String>,
    /// Where a cloud credential (`target.cloud`) is fetched and kept.
    pub credentials: Arc<crate::credentials::CredentialCache>,
    /// `drop_params: false`: a parameter the provider does not take fails the call.
    pub strict_params: bool,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call").field("model_label", &self.model_label).field("target", &self.target).finish_non_exhaustive()
    }
}

impl Call {
    /// Parses and checks a request, takes its call options out and resolves its model: every
    /// input error surfaces here, before anything is sent.
    pub fn prepare(engine: &Engine, mut request: ChatRequest) -> Result<Call> {
        let options = CallOptions::take_from(&mut request)?;
        Call::prepare_with(engine, request, &options)
    }

    /// As `prepare`, with the call options already taken (a router passes its deployment's).
    pub fn prepare_with(engine: &Engine, mut request: ChatRequest, options: &CallOptions) -> Result<Call> {
        request.normalize_legacy_functions()?;
        request.validate()?;
        structured::check_tool_schemas(&request)?;
        let target = resolve::resolve(engine, &request.model, options, engine.timeouts())?;
        if target.provider == crate::providers::ProviderKind::Mock && !options.configured && !engine.mock_enabled() {
            return Err(Error::invalid_request(format!(
                "model \"{}\": the offline mock provider is off; enable it with configure({{ mock: true }}) or LLMUX_MOCK=1 (demos and tests)",
                request.model
            )));
        }
        let structured = structured::from_response_format(&mut request, &target)?;
        let warnings = crate::models::warning_for(&target, options).into_iter().collect();
        Ok(Call {
            model_label: request.model.clone(),
            request,
            target,
            structured,
            http: engine.http(),
            limits: engine.limits(),
            warnings,
            credentials: engine.credentials(),
            strict_params: options.drop_params == Some(false),
        })
    }
}

pub enum Event {
    Chunk(ChatChunk),
    End(Box<Outcome>),
}

/// Where a call went: for logging callbacks and traces (never a key or a URL).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RouteInfo {
    /// The provider that answered (or was last tried).
    pub provider: String,
    /// The model as the provider named it.
    pub model: String,
    /// Behind a router: the group that answered, and its deployment's id.
    pub group: Option<String>,
    pub deployment: Option<String>,
    /// Requests made (1 without retries).
    pub attempts: u32,
    /// Groups tried after the first (fallbacks), in order.
    pub fallbacks: Vec<String>,
    /// Answered from the router's cache.
    pub cache_hit: bool,
    /// The host the request went to (OpenTelemetry's `server.address`; no path, no query).
    pub server_address: Option<String>,
    /// What `model: "auto"` chose, and why.
    pub auto: Option<crate::router::auto::AutoChoice>,
}

/// How a call ended.
#[derive(Debug)]
pub struct Outcome {
    /// The whole answer (assembled from the stream when streamed).
    pub completion: ChatCompletion,
    /// What to bill: `None` only when the provider never accepted the request.
    pub usage: Option<Usage>,
    /// What `usage` cost at the model's prices (`None` when unpriced or nothing to bill).
    pub cost: Option<crate::models::Cost>,
    pub error: Option<Error>,
    pub warnings: Vec<String>,
    pub route: Option<Box<RouteInfo>>,
}

impl Outcome {
    /// A call that ended in `error`, with whatever usage it incurred.
    pub fn failed(error: Error, usage: Option<Usage>, warnings: Vec<String>) -> Outcome {
        Outcome { completion: StreamAccumulator::default().into_completion(), usage, cost: None, error: Some(error), warnings, route: None }
    }
}

/// Runs a call to its end, sending chunks (when `stream`) and then one `End`.
pub async fn run(mut call: Call, stream: bool, cancel: CancellationToken, tx: mpsc::Sender<Event>) {
    let mut acc = StreamAccumulator::default();
    let mut warnings = std::mem::take(&mut call.warnings);
    let mut sent = false;
    let result = match providers::provider(call.target.provider).route() {
        Route::InProcess(p) => run_in_process(p, &mut call, stream, &cancel, &tx, &mut acc, &mut sent).await,
        Route::Http(adapter) => run_http(adapter, &call, stream, &cancel, &tx, &mut acc, &mut warnings, &mut sent).await,
    };
    // Decoders shared between providers (Azure speaks OpenAI's wire) name the provider called.
    let result = result.map_err(|mut e| {
        if e.kind != ErrorKind::Cancelled {
            e.provider = Some(call.target.provider.name());
        }
        e
    });
    let (completion, usage, error) = match result {
        Ok(Some(done)) => {
            let usage = match done.usage {
                Some(u) => Some(u),
                None => Some(estimate_off_thread(&call, String::new(), &done).await),
            };
            (done, usage, None)
        }
        other => {
            let error = other.err();
            let generated = acc.generated_text();
            let usage_reported = acc.usage;
            let mut completion = std::mem::take(&mut acc).into_completion();
            if completion.model.is_empty() {
                completion.model.clone_from(&call.target.model);
            }
            let usage = match (error.is_some(), usage_reported) {
                (false, Some(u)) => Some(u),
                // A provider bills what it accepted; count it ourselves when it could not say.
                _ if sent => Some(estimate_off_thread(&call, generated, &completion).await),
                _ => None,
            };
            (completion, usage, error)
        }
    };
    let mut completion = completion;
    finish_completion(&call, &mut completion, &mut warnings);
    let cost = usage.map(|u| call.target.info.cost(&u)).filter(|c| c.priced);
    completion.warnings.clone_from(&warnings);
    completion.llmux = cost.map(|c| crate::chat::Extension { cost: Some(c), auto: None });
    let route = Some(Box::new(RouteInfo {
        provider: call.target.provider.name().to_owned(),
        model: call.target.model.clone(),
        attempts: 1,
        server_address: crate::transport::host_of(&call.target.base_url),
        ..Default::default()
    }));
    let _ = tx.send(Event::End(Box::new(Outcome { completion, usage, cost, error, warnings, route }))).await;
}

/// Whether a provider's warning says it dropped a parameter (the wording every provider uses:
/// "`x` is not ... and was dropped", "... was sent as auto").
fn is_dropped_param(w: &str) -> bool {
    w.ends_with(" was dropped") || w.contains(" and was dropped") || w.ends_with("was sent as auto")
}

/// Last touches on the whole answer: structured output checked (and moved out of its forced
/// tool call), and tool arguments that are not a JSON object flagged.
fn finish_completion(call: &Call, done: &mut ChatCompletion, warnings: &mut Vec<String>) {
    if let Some(st) = &call.structured {
        structured::move_tool_output_to_content(done, st);
        if let Some(c) = done.choices.first_mut() {
            let text = c.message.content.as_deref().unwrap_or("").trim();
            let checked = serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("not JSON: {e}")).and_then(|v| {
                structured::compile(&st.schema, "schema").map_err(|e| e.message).and_then(|val| structured::check(&val, &v).map(|_| v))
            });
            match checked {
                Ok(v) => c.message.parsed = Some(v),
                Err(why) if !text.is_empty() => warnings.push(format!("the answer does not match the response schema: {why}")),
                Err(_) => {}
            }
        }
    }
    for c in &mut done.choices {
        for t in c.message.tool_calls.iter_mut().flatten() {
            t.malformed_arguments =
                !matches!(serde_json::from_str::<serde_json::Value>(&t.function.arguments), Ok(serde_json::Value::Object(_)));
        }
    }
}

/// With structured output through a forced tool, a stream shows the object as content.
fn tool_output_as_content(st: &Option<Structured>, chunk: &mut ChatChunk) {
    if !st.as_ref().is_some_and(|s| s.via_tool) {
        return;
    }
    for c in &mut chunk.choices {
        if let Some(calls) = c.delta.tool_calls.take() {
            let args: String = calls.iter().filter_map(|t| t.function.as_ref()?.arguments.as_deref()).collect();
            if !args.is_empty() {
                c.delta.content.get_or_insert_with(String::new).push_str(&args);
            }
        }
        if c.finish_reason == Some(crate::chat::FinishReason::ToolCalls) {
            c.finish_reason = Some(crate::chat::FinishReason::Stop);
        }
    }
}

/// Counts tokens on the blocking pool: the tokenizer tables take a while to load the first
/// time, and an async worker must never stall (it may be driving other connections' I/O).
async fn estimate_off_thread(call: &Call, generated: String, done: &ChatCompletion) -> Usage {
    let generated = if generated.is_empty() { generated_text(done) } else { generated };
    let request = call.request.clone();
    let model = call.target.model.clone();
    tokio::task::spawn_blocking(move || crate::usage::estimate(&request, &model, &generated))
        .await
        .unwrap_or(Usage { estimated: true, ..Default::default() })
}

fn generated_text(done: &ChatCompletion) -> String {
    let mut s = String::new();
    for c in &done.choices {
        s.push_str(c.message.reasoning_content.as_deref().unwrap_or(""));
        s.push_str(c.message.content.as_deref().unwrap_or(""));
        for t in c.message.tool_calls.iter().flatten() {
            s.push_str(&t.function.name);
            s.push_str(&t.function.arguments);
        }
    }
    s
}

/// Delivers a chunk to the consumer; `false` when the consumer is gone. A consumer that stops
/// reading holds the call only until its deadline (or its cancellation).
async fn deliver(tx: &mpsc::Sender<Event>, cancel: &CancellationToken, deadline: Instant, chunk: ChatChunk) -> Result<bool> {
    // The common case, room in the channel, costs no timer: a stream's chunks come by the
    // thousand, and arming a deadline for each is most of what delivering one would cost.
    let chunk = match tx.try_send(Event::Chunk(chunk)) {
        Ok(()) => return Ok(true),
        Err(mpsc::error::TrySendError::Closed(_)) => return Ok(false),
        Err(mpsc::error::TrySendError::Full(Event::Chunk(c))) => c,
        Err(mpsc::error::TrySendError::Full(_)) => return Ok(true),
    };
    if cancel.is_cancelled() {
        return Err(Error::cancelled());
    }
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::cancelled()),
        r = tx.send(Event::Chunk(chunk)) => Ok(r.is_ok()),
        _ = tokio::time::sleep_until(deadline.into()) => Err(Error::new(ErrorKind::Timeout, "the answer was not read before the deadline")),
    }
}

/// `Ok(Some)` a non-streamed answer; `Ok(None)` a stream ended normally (its state is in `acc`).
#[allow(clippy::too_many_arguments)]
async fn run_http(
    adapter: &dyn Adapter,
    call: &Call,
    stream: bool,
    cancel: &CancellationToken,
    tx: &mpsc::Sender<Event>,
    acc: &mut StreamAccumulator,
    warnings: &mut Vec<String>,
    sent: &mut bool,
) -> Result<Option<ChatCompletion>> {
    // One deadline for the whole call, the credential's wait included.
    let deadline = transport::deadline_in(call.target.timeouts.total);
    // A cloud credential is fetched (or taken from the cache) only now, on the call's task.
    let authorized;
    let target = if call.target.cloud.is_some() {
        let mut t = call.target.clone();
        crate::credentials::authorize(&mut t, &call.credentials, &call.http, cancel, deadline).await.map_err(|e| {
            if e.kind == ErrorKind::Cancelled {
                e
            } else {
                e.with_provider(call.target.provider.name())
            }
        })?;
        authorized = t;
        &authorized
    } else {
        &call.target
    };
    let built = adapter.build_request(&call.request, target, stream)?;
    if call.strict_params {
        if let Some(w) = built.warnings.iter().find(|w| is_dropped_param(w)) {
            let param = w.split_whitespace().next().unwrap_or_default().to_owned();
            return Err(Error::invalid_request(format!(
                "unsupported parameter for {} {}: {w} (drop_params: true, the default, drops it with a warning)",
                target.provider.name(),
                target.model
            ))
            .with_param(param));
        }
    }
    warnings.extend(built.warnings);
    let provider = call.target.provider.name();
    let map_error = |status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]| adapter.map_error(status, headers, body);
    let policy = SendPolicy {
        provider,
        first_byte: call.target.timeouts.first_byte,
        max_retries: call.target.max_retries,
        extra_headers: &call.target.extra_headers,
        map_error: &map_error,
    };
    let mut reached = false;
    let resp = match transport::send(&call.http, &built.http, &policy, cancel, deadline, &mut reached).await {
        Ok(r) => r,
        Err(e) => {
            // Sent and then cancelled, timed out or cut: the provider may be generating (and
            // billing) already, so the caller gets an estimate.
            *sent = reached;
            return Err(e);
        }
    };
    *sent = true;
    if !stream {
        let max = call.limits.max_response_bytes;
        let body =
            transport::read_capped(resp, max, transport::OverCap::Fail, call.target.timeouts.idle, cancel, deadline, provider).await?;
        let mut done = adapter.parse_response(&body)?;
        if done.model.is_empty() {
            done.model.clone_from(&call.target.model);
        }
        return Ok(Some(done));
    }
    let mut decoder = adapter.stream_decoder(&call.target);
    decoder.limit_event(call.limits.max_event_bytes);
    // Everything a stream accumulates is bounded by what it received.
    let mut received = 0usize;
    let mut resp = resp;
    let mut out = Vec::with_capacity(16);
    let idle = call.target.timeouts.idle;
    loop {
        let next = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::cancelled()),
            _ = tokio::time::sleep_until(deadline.into()) => {
                return Err(Error::new(ErrorKind::Timeout, "stream not complete before the deadline").with_provider(provider))
            }
            r = tokio::time::timeout(idle, resp.chunk()) => r,
        };
        let bytes = match next {
            Err(_) => {
                return Err(Error::new(ErrorKind::Timeout, format!("stream silent for {:.1} s", idle.as_secs_f64())).with_provider(provider))
            }
            Ok(Err(e)) => return Err(transport::network_error(&e, provider)),
            Ok(Ok(None)) => {
                decoder.finish(&mut out)?;
                for mut c in out.drain(..) {
                    tool_output_as_content(&call.structured, &mut c);
                    acc.push(&c);
                    if !deliver(tx, cancel, deadline, c).await? {
                        return Err(Error::cancelled());
                    }
                }
                return Ok(None);
            }
            Ok(Ok(Some(b))) => b,
        };
        received += bytes.len();
        if received > call.limits.max_response_bytes {
            return Err(Error::decode(provider, format!("the streamed answer exceeds {} bytes", call.limits.max_response_bytes)));
        }
        decoder.feed(&bytes, &mut out)?;
        for mut c in out.drain(..) {
            tool_output_as_content(&call.structured, &mut c);
            acc.push(&c);
            if !deliver(tx, cancel, deadline, c).await? {
                return Err(Error::cancelled());
            }
        }
    }
}

async fn run_in_process(
    provider: &dyn InProcess,
    call: &mut Call,
    stream: bool,
    cancel: &CancellationToken,
    tx: &mpsc::Sender<Event>,
    acc: &mut StreamAccumulator,
    sent: &mut bool,
) -> Result<Option<ChatCompletion>> {
    let plan = provider.plan(&mut call.request, &call.target)?;
    *sent = true;
    let deadline = transport::deadline_in(call.target.timeouts.total);
    for mut c in plan.chunks {
        tool_output_as_content(&call.structured, &mut c);
        if !plan.delay.is_zero() {
            if Instant::now().checked_add(plan.delay).is_none_or(|at| at > deadline) {
                return Err(Error::new(ErrorKind::Timeout, "the mock's delay runs past the call's deadline").with_provider("mock"));
            }
            transport::sleep_or_cancel(plan.delay, cancel).await?;
        } else if cancel.is_cancelled() {
            return Err(Error::cancelled());
        }
        acc.push(&c);
        if stream && !deliver(tx, cancel, deadline, c).await? {
            return Err(Error::cancelled());
        }
    }
    Ok(None)
}

/// Runs a call on the current runtime and returns its outcome (for Rust callers and tests).
pub async fn run_to_end(call: Call, stream: bool, cancel: CancellationToken) -> (Vec<ChatChunk>, Outcome) {
    collect(move |tx| run(call, stream, cancel, tx)).await
}

/// Spawns a job that reports through `Event`s and gathers its chunks and its one outcome.
pub async fn collect<F, Fut>(job: F) -> (Vec<ChatChunk>, Outcome)
where
    F: FnOnce(mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let task = tokio::spawn(job(tx));
    let mut chunks = Vec::new();
    let mut end = None;
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Chunk(c) => chunks.push(c),
            Event::End(o) => {
                // The job may still settle with shared state: the caller need not wait for it.
                end = Some(*o);
                break;
            }
        }
    }
    if end.is_none() {
        let _ = task.await;
    }
    let outcome = end.unwrap_or_else(|| Outcome::failed(Error::new(ErrorKind::Internal, "call ended without an outcome"), None, vec![]));
    (chunks, outcome)
}
