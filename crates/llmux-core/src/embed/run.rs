//! One embedding call from start to end: resolve the model, check every input against the
//! model's limit, split the inputs into the batches the provider takes (count and tokens), send
//! them with bounded concurrency over the shared transport, put the vectors back in input
//! order, and end with one outcome that carries the usage to bill once.

use std::ops::Range;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{EmbeddingInput, EmbeddingRequest, Item, Vectors};
use crate::chat::Usage;
use crate::engine::{Engine, Limits};
use crate::error::{Error, ErrorKind, Result};
use crate::models::Cost;
use crate::options::CallOptions;
use crate::providers::{self, resolve, EmbedAdapter, EmbedLimits, Target};
use crate::transport::{self, HttpClients, OverCap, SendPolicy};

/// An embedding request resolved and ready to run.
#[derive(Clone)]
pub struct EmbedCall {
    pub request: EmbeddingRequest,
    pub target: Target,
    /// The model string the caller asked for.
    pub model_label: String,
    pub http: Arc<HttpClients>,
    pub limits: Limits,
    pub credentials: Arc<crate::credentials::CredentialCache>,
    pub warnings: Vec<String>,
}

/// How an embedding call ended.
#[derive(Debug, Default)]
pub struct EmbedOutcome {
    /// The vectors, one row per input in input order; `None` when the call failed.
    pub vectors: Option<Vectors>,
    /// What to bill: the batches the provider answered, even when another failed.
    pub usage: Option<Usage>,
    pub cost: Option<Cost>,
    pub error: Option<Error>,
    pub warnings: Vec<String>,
    /// The model as the provider names it.
    pub model: String,
}

/// Parses and resolves a request (an embedding request's JSON).
pub fn prepare(engine: &Engine, value: serde_json::Value) -> Result<EmbedCall> {
    let (request, options) = EmbeddingRequest::from_value(value)?;
    prepare_with(engine, request, &options)
}

/// As `prepare`, with the options already taken (a router passes its deployment's).
pub fn prepare_with(engine: &Engine, request: EmbeddingRequest, options: &CallOptions) -> Result<EmbedCall> {
    let target = resolve::resolve(engine, &request.model, options, engine.timeouts())?;
    if target.provider == providers::ProviderKind::Mock {
        return Err(Error::invalid_request("the mock provider does not embed"));
    }
    if providers::provider(target.provider).embed().is_none() {
        return Err(Error::invalid_request(format!("{} has no embedding API llmux speaks", target.provider.name())));
    }
    let warnings = crate::models::warning_for(&target, options).into_iter().collect();
    Ok(EmbedCall {
        model_label: request.model.clone(),
        request,
        target,
        http: engine.http(),
        limits: engine.limits(),
        credentials: engine.credentials(),
        warnings,
    })
}

/// Runs a call to its end. Never panics; every failure is in the outcome.
pub async fn run(call: EmbedCall, cancel: CancellationToken) -> EmbedOutcome {
    let mut warnings = call.warnings.clone();
    let adapter = match providers::provider(call.target.provider).embed() {
        Some(a) => a,
        None => return failed(Error::invalid_request("this provider does not embed"), None, warnings),
    };
    let mut target = call.target.clone();
    let deadline = transport::deadline_in(target.timeouts.total);
    if let Err(e) = crate::credentials::authorize(&mut target, &call.credentials, &call.http, &cancel, deadline).await {
        let e = if e.kind == ErrorKind::Cancelled { e } else { e.with_provider(target.provider.name()) };
        return failed(e, None, warnings);
    }
    let limits = adapter.limits(&call.request, &target);
    let model = target.model.clone();
    // Checking and splitting count tokens: CPU work, kept off the async workers.
    let request = call.request.clone();
    let planned = tokio::task::spawn_blocking(move || plan(request, &model, &limits)).await;
    let (request, batches, counted) = match planned {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return failed(e, None, warnings),
        Err(_) => return failed(Error::new(ErrorKind::Internal, "planning the embedding batches failed"), None, warnings),
    };
    if request.input.len() != call.request.input.len() || counted.truncated > 0 {
        warnings.push(format!("{} input(s) over the model's limit were truncated to fit (truncate: true)", counted.truncated));
    }
    // On the first failure (or the caller's cancellation) the batches still in flight are
    // stopped through this token, and each says whether its request had reached the provider:
    // one that had may be billed, so it is counted here (estimated), as a cut chat stream is.
    let batch_cancel = cancel.child_token();
    let mut results = Box::pin(
        stream::iter(batches.iter().cloned().enumerate())
            .map(|(i, range)| {
                let (request, target, http, cancel) = (&request, &target, &call.http, &batch_cancel);
                let max = call.limits.max_response_bytes;
                async move {
                    let mut reached = false;
                    let r = send_batch(adapter, request, range, target, http, cancel, deadline, max, &mut reached).await;
                    (i, r, reached)
                }
            })
            .buffer_unordered(limits.concurrency.max(1)),
    );
    let mut parts: Vec<Option<Vectors>> = vec![None; batches.len()];
    let mut usage: Option<Usage> = None;
    // Batches whose tokens are counted here: a provider that says nothing (Gemini's API), and
    // batches cut off in flight. Counted at the end, on the blocking pool.
    let mut to_count: Vec<Range<usize>> = Vec::new();
    let mut error: Option<Error> = None;
    while let Some((i, r, reached)) = results.next().await {
        match r {
            Ok(b) => {
                match b.prompt_tokens {
                    Some(tokens) => Usage::add_to(&mut usage, Some(Usage { prompt_tokens: tokens, ..Default::default() })),
                    None => to_count.push(batches[i].clone()),
                }
                parts[i] = Some(b.vectors);
            }
            Err(e) => {
                // Sent and then cut (cancelled, timed out, broken): the provider may bill it.
                // Refused with a status, or never connected: it bills nothing.
                if reached && e.status.is_none() {
                    to_count.push(batches[i].clone());
                }
                // The first failure ends the call: the rest are stopped at once and drained (the
                // failures that stop causes are not the call's error).
                if error.is_none() {
                    error = Some(e);
                    batch_cancel.cancel();
                }
            }
        }
    }
    drop(results);
    if !to_count.is_empty() {
        // The tokenizer's tables load on first use: never on an async worker.
        let (req, model) = (request.clone(), target.model.clone());
        let tokens =
            tokio::task::spawn_blocking(move || to_count.iter().map(|r| estimate(&req, r, &model)).sum::<u64>()).await.unwrap_or(0);
        Usage::add_to(&mut usage, Some(Usage { prompt_tokens: tokens, estimated: true, ..Default::default() }));
    }
    let info = &target.info;
    let cost = usage.map(|u| info.cost(&u)).filter(|c| c.priced);
    if let Some(e) = error {
        let e = if e.kind == ErrorKind::Cancelled { e } else { e.with_provider(target.provider.name()) };
        return EmbedOutcome { usage, cost, error: Some(e), warnings, model: target.model.clone(), vectors: None };
    }
    let mut vectors = Vectors::default();
    for p in parts.into_iter().flatten() {
        if let Err(e) = vectors.append(p, target.provider.name()) {
            return EmbedOutcome { usage, cost, error: Some(e), warnings, model: target.model.clone(), vectors: None };
        }
    }
    if let Some(d) = request.dimensions.filter(|d| *d as usize != vectors.dims) {
        warnings.push(format!("dimensions {d} was asked for; {} answered with {}", target.model, vectors.dims));
    }
    EmbedOutcome { vectors: Some(vectors), usage, cost, error: None, warnings, model: target.model.clone() }
}

fn estimate(request: &EmbeddingRequest, range: &Range<usize>, model: &str) -> u64 {
    range
        .clone()
        .map(|i| match request.input.item(i) {
            Item::Text(t) => crate::usage::count_text_tokens(t, model),
            Item::Tokens(t) => t.len() as u64,
        })
        .sum()
}

fn failed(error: Error, usage: Option<Usage>, warnings: Vec<String>) -> EmbedOutcome {
    EmbedOutcome { error: Some(error), usage, warnings, ..Default::default() }
}

#[allow(clippy::too_many_arguments)]
async fn send_batch(
    adapter: &dyn EmbedAdapter,
    request: &EmbeddingRequest,
    range: Range<usize>,
    target: &Target,
    http: &HttpClients,
    cancel: &CancellationToken,
    deadline: std::time::Instant,
    max_bytes: usize,
    reached: &mut bool,
) -> Result<providers::EmbedBatch> {
    let items: Vec<Item<'_>> = range.clone().map(|i| request.input.item(i)).collect();
    let built = adapter.build_embed(request, &items, target)?;
    let provider = target.provider.name();
    let map_error = |status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]| adapter.map_error(status, headers, body);
    let policy = SendPolicy {
        provider,
        first_byte: target.timeouts.first_byte,
        max_retries: target.max_retries,
        extra_headers: &target.extra_headers,
        map_error: &map_error,
    };
    let resp = transport::send(http, &built.http, &policy, cancel, deadline, reached).await?;
    *reached = true;
    let headers = resp.headers().clone();
    let body = transport::read_capped(resp, max_bytes, OverCap::Fail, target.timeouts.idle, cancel, deadline, provider).await?;
    adapter.parse_embed(&body, &headers, items.len(), target)
}

/// What planning found: how many inputs it cut to fit.
#[derive(Debug)]
struct Counted {
    truncated: usize,
}

/// Checks every input against the per-input limit (cutting it when asked), then splits the
/// inputs into batches under the count and token limits. Tokens are counted only where a
/// byte length cannot settle it.
fn plan(mut request: EmbeddingRequest, model: &str, limits: &EmbedLimits) -> Result<(EmbeddingRequest, Vec<Range<usize>>, Counted)> {
    if matches!(request.input, EmbeddingInput::Tokens(_)) && !limits.takes_tokens {
        return Err(Error::invalid_request("this provider embeds text only: token-id inputs are not taken").with_param("input"));
    }
    let n = request.input.len();
    let mut tokens = Vec::with_capacity(n);
    let mut truncated = 0;
    for i in 0..n {
        let t = match request.input.item(i) {
            Item::Tokens(t) => t.len() as u64,
            Item::Text(s) => s.len() as u64,
        };
        let t = match (limits.max_input_tokens, request.input.item(i)) {
            (Some(max), Item::Text(s)) if t > max => {
                let exact = crate::usage::count_text_tokens(s, model);
                if exact > max {
                    if !request.truncate {
                        return Err(over_limit(i, exact, max, model));
                    }
                    let cut = crate::usage::truncate_to_tokens(s, model, max as usize);
                    if let EmbeddingInput::Texts(texts) = &mut request.input {
                        texts[i] = cut;
                    }
                    truncated += 1;
                    max
                } else {
                    exact
                }
            }
            (Some(max), Item::Tokens(_)) if t > max => {
                if !request.truncate {
                    return Err(over_limit(i, t, max, model));
                }
                if let EmbeddingInput::Tokens(ts) = &mut request.input {
                    ts[i].truncate(max as usize);
                }
                truncated += 1;
                max
            }
            _ => t,
        };
        tokens.push(t);
    }
    let mut batches = Vec::new();
    let mut start = 0;
    let mut sum = 0u64;
    for (i, bound) in tokens.iter().enumerate() {
        let mut t = *bound;
        if let (Some(cap), Item::Text(s)) = (limits.max_request_tokens, request.input.item(i)) {
            // A byte bound that would overflow the batch is made exact before it splits one.
            if sum + t > cap && t == s.len() as u64 {
                t = crate::usage::count_text_tokens(s, model);
            }
        }
        let full = i - start >= limits.max_inputs.max(1) || limits.max_request_tokens.is_some_and(|cap| sum + t > cap && i > start);
        if full {
            batches.push(start..i);
            start = i;
            sum = 0;
        }
        sum += t;
    }
    if start < n {
        batches.push(start..n);
    }
    Ok((request, batches, Counted { truncated }))
}

fn over_limit(i: usize, tokens: u64, max: u64, model: &str) -> Error {
    Error::invalid_request(format!("input[{i}] is {tokens} tokens, over {model}'s limit of {max} (pass truncate: true to cut it to fit)"))
        .with_param(format!("input[{i}]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(input: serde_json::Value) -> EmbeddingRequest {
        EmbeddingRequest::from_value(json!({"model": "openai/text-embedding-3-small", "input": input})).unwrap().0
    }

    const OPENAI: EmbedLimits = EmbedLimits {
        max_inputs: 2048,
        max_request_tokens: Some(300_000),
        max_input_tokens: Some(8191),
        concurrency: 4,
        takes_tokens: true,
    };

    #[test]
    fn batches_respect_count_and_token_caps() {
        let texts: Vec<String> = (0..5000).map(|i| format!("chunk number {i}")).collect();
        let (_, b, _) = plan(req(json!(texts)), "text-embedding-3-small", &OPENAI).unwrap();
        assert_eq!(b, vec![0..2048, 2048..4096, 4096..5000]);
        // 60 inputs of ~8,000 tokens: 37 fit under 300,000 tokens.
        let big = "word ".repeat(8000);
        let (_, b, _) = plan(req(json!(vec![big.clone(); 60])), "text-embedding-3-small", &OPENAI).unwrap();
        assert_eq!(b.len(), 2, "{b:?}");
        let each = crate::usage::count_text_tokens(&big, "text-embedding-3-small");
        assert!(b.iter().all(|r| (r.end - r.start) as u64 * each <= 300_000));
        assert_eq!(b[0].end - b[0].start + b[1].end - b[1].start, 60);
    }

    #[test]
    fn an_input_over_the_limit_is_named_or_cut() {
        let long = "word ".repeat(9000);
        let e = plan(req(json!(["ok", long.clone()])), "text-embedding-3-small", &OPENAI).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[1]"));
        assert!(e.message.contains("8191"), "{}", e.message);
        let mut r = req(json!(["ok", long]));
        r.truncate = true;
        let (r, _, c) = plan(r, "text-embedding-3-small", &OPENAI).unwrap();
        assert_eq!(c.truncated, 1);
        let EmbeddingInput::Texts(t) = &r.input else { panic!() };
        assert_eq!(crate::usage::count_text_tokens(&t[1], "text-embedding-3-small"), 8191);
    }

    #[test]
    fn single_input_apis_get_one_input_a_request() {
        let one = EmbedLimits { max_inputs: 1, max_request_tokens: None, max_input_tokens: None, concurrency: 8, takes_tokens: false };
        let (_, b, _) = plan(req(json!(["a", "b", "c"])), "m", &one).unwrap();
        assert_eq!(b, vec![0..1, 1..2, 2..3]);
        assert!(plan(req(json!([[1, 2]])), "m", &one).is_err(), "token inputs are refused where not taken");
    }
}
