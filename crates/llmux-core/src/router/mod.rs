//! The router: model groups of deployments read from LiteLLM's config, a routing strategy,
//! retries with backoff (never after the first chunk reached the caller), fallbacks across
//! groups, cooldowns of failing deployments, rate limits per deployment and per user, a
//! user-isolated response cache, and the ledger and metrics of what it served.

pub mod config;
pub mod deployment;
pub mod ledger;
pub mod strategy;
pub mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cache::{self, ResponseCache};
use crate::call::{self, Call, Event, Outcome, CHANNEL_CAPACITY};
use crate::chat::{ChatChunk, ChatRequest, Usage};
use crate::error::{Error, ErrorKind, Result};
use config::{RouterConfig, Settings};
use deployment::{Deployment, Refusal};
use ledger::{Ledger, Metrics};
use users::UserLimiter;

pub struct Router {
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    settings: Settings,
    users: UserLimiter,
    pub ledger: Ledger,
    pub metrics: Metrics,
    cache: ResponseCache,
    /// Group names in config order, for `listModels`.
    order: Vec<String>,
}

/// One request to route.
pub struct RouteRequest {
    pub request: ChatRequest,
    /// The request's OpenAI `user`, or the amplify account's.
    pub user: Option<String>,
    pub stream: bool,
    /// `Some(ttl)` caches this answer; `None` leaves it to the router's settings.
    pub cache_ttl: Option<Duration>,
    pub no_cache: bool,
}

/// How an attempt at one deployment ended.
enum Attempt {
    /// Chunks reached the caller, or the answer is whole: this is the answer.
    Committed(Outcome, Duration),
    /// It failed before anything reached the caller: another attempt may follow.
    Failed(Outcome),
}

fn ended(error: Error, usage: Option<Usage>) -> Outcome {
    Outcome::failed(error, usage, vec![])
}

impl Router {
    pub fn new(cfg: RouterConfig) -> Self {
        let mut groups: HashMap<String, Vec<Arc<Deployment>>> = HashMap::new();
        let mut order = Vec::new();
        for d in cfg.deployments {
            if !groups.contains_key(&d.group) {
                order.push(d.group.clone());
            }
            groups.entry(d.group.clone()).or_default().push(Arc::new(Deployment::new(d)));
        }
        Router {
            groups,
            users: UserLimiter::new(&cfg.settings.user_limits),
            // Always there: a request may ask for caching when the settings do not.
            cache: ResponseCache::new(cfg.settings.cache.as_ref().map(|c| c.max_bytes).unwrap_or(64 << 20)),
            settings: cfg.settings,
            ledger: Ledger::default(),
            metrics: Metrics::default(),
            order,
        }
    }

    /// The group a name means: a group, or an alias of one.
    pub fn group_name(&self, name: &str) -> Option<&str> {
        if let Some((k, _)) = self.groups.get_key_value(name) {
            return Some(k);
        }
        self.settings.aliases.get(name).map(String::as_str).filter(|g| self.groups.contains_key(*g))
    }

    /// The first of `names` that names a group (amplify passes its model id and model string).
    pub fn find_group(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.group_name(n)).map(str::to_owned)
    }

    pub fn list_models(&self) -> Value {
        let mut names: Vec<Value> = self.order.iter().map(|g| json!({"id": g, "object": "model", "owned_by": "llmux"})).collect();
        for alias in self.settings.aliases.keys() {
            names.push(json!({"id": alias, "object": "model", "owned_by": "llmux", "alias_of": self.settings.aliases[alias]}));
        }
        json!({"object": "list", "data": names})
    }

    pub fn model_info(&self, name: &str) -> Option<Value> {
        let g = self.group_name(name)?;
        let ds = &self.groups[g];
        Some(json!({
            "model_name": g,
            "deployments": ds.iter().map(|d| json!({
                "id": d.cfg.id, "model": d.cfg.model, "rpm": d.cfg.rpm, "tpm": d.cfg.tpm, "weight": d.cfg.weight,
                "model_info": d.cfg.info.raw,
            })).collect::<Vec<_>>(),
        }))
    }

    pub fn health(&self) -> Value {
        let now = Instant::now();
        let mut out = Vec::new();
        for g in &self.order {
            for d in &self.groups[g] {
                let (healthy, cooling, last) = d.health(now);
                out.push(json!({
                    "model_group": g, "deployment": d.cfg.id, "model": d.cfg.model, "healthy": healthy,
                    "cooling_seconds": cooling, "in_flight": d.in_flight(), "ttft_ms": d.ttft_ms(),
                    "last_error": last.map(|(code, message)| json!({"code": code, "message": message})),
                }));
            }
        }
        Value::Array(out)
    }

    /// The call for one deployment: its model and parameters over the caller's request.
    fn call_for(&self, d: &Deployment, req: &ChatRequest, remaining: Duration) -> Result<Call> {
        let mut r = req.clone();
        r.model = d.cfg.model.clone();
        for (k, p) in &d.cfg.params {
            if let Some(v) = p.resolve() {
                r.extra.insert(k.clone(), v);
            }
        }
        if r.max_tokens.is_none() && r.max_completion_tokens.is_none() {
            r.max_tokens = d.cfg.max_tokens;
        }
        let timeout = d.cfg.timeout.map(Duration::from_secs_f64).unwrap_or(remaining).min(remaining);
        r.extra.insert("timeout".into(), json!(timeout.as_secs_f64()));
        // The router retries itself, across deployments; the transport only reconnects once.
        r.extra.insert("max_retries".into(), json!(0));
        Call::prepare(r)
    }

    /// Runs one attempt, forwarding chunks to the caller as they come.
    async fn attempt(
        &self,
        call: Call,
        stream: bool,
        cancel: &CancellationToken,
        tx: &mpsc::Sender<Event>,
        seen: &mut Vec<ChatChunk>,
        keep: bool,
    ) -> Attempt {
        let (itx, mut irx) = mpsc::channel(CHANNEL_CAPACITY);
        let child = cancel.child_token();
        let task = tokio::spawn(call::run(call, stream, child.clone(), itx));
        let start = Instant::now();
        let mut ttft = None;
        let mut outcome = None;
        while let Some(ev) = irx.recv().await {
            match ev {
                Event::Chunk(c) => {
                    ttft.get_or_insert_with(|| start.elapsed());
                    if keep {
                        seen.push(c.clone());
                    }
                    if tx.send(Event::Chunk(c)).await.is_err() {
                        child.cancel();
                    }
                }
                Event::End(o) => outcome = Some(*o),
            }
        }
        let _ = task.await;
        let o = outcome.unwrap_or_else(|| ended(Error::new(ErrorKind::Internal, "attempt ended without an outcome"), None));
        match (ttft, &o.error) {
            (Some(t), _) => Attempt::Committed(o, t),
            (None, None) => Attempt::Committed(o, start.elapsed()),
            (None, Some(_)) => Attempt::Failed(o),
        }
    }

    /// The resolved target of a group's first deployment (to choose a structured-output strategy).
    pub fn first_target(&self, group: &str) -> Result<crate::providers::Target> {
        let d = self
            .groups
            .get(group)
            .and_then(|ds| ds.first())
            .ok_or_else(|| Error::new(ErrorKind::NotFound, format!("no model group \"{group}\"")))?;
        let probe = ChatRequest { messages: vec![crate::chat::Message::new(crate::chat::Role::User, "x")], ..Default::default() };
        Ok(self.call_for(d, &probe, self.settings.timeout)?.target)
    }

    /// Routes a request to its outcome without streaming (for callers that need the whole answer).
    pub async fn complete(self: Arc<Self>, rr: RouteRequest, cancel: CancellationToken) -> Outcome {
        call::collect(move |tx| self.run(rr, cancel, tx)).await.1
    }

    /// Routes a request to its end: one `Event::End` after any chunks, like `call::run`.
    pub async fn run(self: Arc<Self>, rr: RouteRequest, cancel: CancellationToken, tx: mpsc::Sender<Event>) {
        let outcome = self.route(rr, &cancel, &tx).await;
        let _ = tx.send(Event::End(Box::new(outcome))).await;
    }

    async fn route(&self, rr: RouteRequest, cancel: &CancellationToken, tx: &mpsc::Sender<Event>) -> Outcome {
        let Some(first) = self.group_name(&rr.request.model).map(str::to_owned) else {
            let mut known: Vec<&str> = self.order.iter().map(String::as_str).collect();
            known.extend(self.settings.aliases.keys().map(String::as_str));
            return ended(
                Error::new(ErrorKind::NotFound, format!("no model group named \"{}\" (known: {})", rr.request.model, known.join(", "))),
                None,
            );
        };
        let needs_tokens = self.users.uses_tokens()
            || self.groups.values().flatten().any(|d| d.cfg.tpm.is_some() || d.cfg.info.max_input_tokens.is_some());
        let prompt_tokens = if needs_tokens { crate::usage::estimate_prompt_tokens(&rr.request, "gpt-4o") as u32 } else { 0 };
        if let Some(user) = &rr.user {
            if let Err(e) = self.users.admit(user, prompt_tokens, &self.ledger) {
                return ended(e, None);
            }
        }
        let cache_ttl = if rr.no_cache { None } else { rr.cache_ttl.or_else(|| self.settings.cache.as_ref().map(|c| c.ttl)) };
        let cache_key = cache_ttl.map(|_| cache::key(rr.user.as_deref(), &rr.request));
        if let Some(k) = &cache_key {
            if let Some(hit) = self.cache.get(k) {
                self.metrics.cache(true);
                if rr.stream {
                    for ch in &hit.chunks {
                        if tx.send(Event::Chunk(ch.clone())).await.is_err() {
                            break;
                        }
                    }
                }
                // A cached answer costs nothing: no usage to bill.
                return Outcome { completion: hit.completion.clone(), usage: None, error: None, warnings: vec![] };
            }
            self.metrics.cache(false);
        }
        let deadline = Instant::now() + self.settings.timeout;
        let mut queue: Vec<String> = vec![first.clone()];
        let mut queued_for: Vec<&'static str> = Vec::new();
        let mut usage = None;
        let mut last_error: Option<Error> = None;
        let mut seen = Vec::new();
        let mut qi = 0;
        while qi < queue.len() {
            let group = queue[qi].clone();
            qi += 1;
            let result = self.try_group(&group, &rr, prompt_tokens, deadline, cancel, tx, &mut seen, cache_key.is_some(), &mut usage).await;
            match result {
                Ok((mut o, latency, ttft, deployment_info)) => {
                    Usage::add_to(&mut usage, o.usage.take());
                    o.usage = usage;
                    let cost = o.usage.map(|u| ledger::cost(&deployment_info, &u)).unwrap_or(0.0);
                    if let Some(u) = &o.usage {
                        self.ledger.record(&group, rr.user.as_deref(), *u, cost);
                        self.metrics.success(&group, latency, ttft, u, cost);
                    }
                    if o.error.is_none() {
                        if let (Some(k), Some(ttl)) = (cache_key, cache_ttl) {
                            self.cache.put(k, o.completion.clone(), rr.stream.then(|| std::mem::take(&mut seen)), ttl);
                        }
                    }
                    return o;
                }
                Err(e) => {
                    let kind = e.kind;
                    last_error = Some(e);
                    if matches!(kind, ErrorKind::InvalidRequest | ErrorKind::BadRequest | ErrorKind::Cancelled | ErrorKind::InvalidOutput)
                        || Instant::now() >= deadline
                    {
                        break;
                    }
                    // Fallbacks are those of the group first asked for, by the kind of failure.
                    let (label, map) = match kind {
                        ErrorKind::ContentFilter => ("content_policy", &self.settings.content_policy_fallbacks),
                        ErrorKind::ContextWindow => ("context_window", &self.settings.context_window_fallbacks),
                        _ => ("default", &self.settings.fallbacks),
                    };
                    if !queued_for.contains(&label) {
                        queued_for.push(label);
                        for g in map.get(&first).into_iter().flatten() {
                            if let Some(name) = self.group_name(g) {
                                if !queue.iter().any(|q| q == name) {
                                    queue.push(name.to_owned());
                                }
                            }
                        }
                    }
                }
            }
        }
        ended(last_error.unwrap_or_else(|| Error::new(ErrorKind::Internal, "no attempt was made")), usage)
    }

    /// Tries one group: picks deployments by strategy and retries retryable failures.
    #[allow(clippy::too_many_arguments)]
    async fn try_group(
        &self,
        group: &str,
        rr: &RouteRequest,
        prompt_tokens: u32,
        deadline: Instant,
        cancel: &CancellationToken,
        tx: &mpsc::Sender<Event>,
        seen: &mut Vec<ChatChunk>,
        keep: bool,
        usage: &mut Option<Usage>,
    ) -> Result<(Outcome, Duration, Duration, config::ModelInfo)> {
        let all = &self.groups[group];
        let s = &self.settings;
        let mut last: Option<Error> = None;
        // A retry goes to another deployment while the group has one that has not failed yet.
        let mut failed: Vec<String> = Vec::new();
        for attempt in 0..=s.num_retries {
            let now = Instant::now();
            if now >= deadline {
                return Err(last.unwrap_or_else(|| {
                    Error::new(ErrorKind::Timeout, format!("model group \"{group}\" did not answer before the router's deadline"))
                }));
            }
            // Deployments whose context window the prompt fits.
            let fits: Vec<&Arc<Deployment>> =
                all.iter().filter(|d| d.cfg.info.max_input_tokens.is_none_or(|m| u64::from(prompt_tokens) <= m)).collect();
            if fits.is_empty() {
                return Err(Error::new(
                    ErrorKind::ContextWindow,
                    format!("the prompt (~{prompt_tokens} tokens) exceeds every deployment of \"{group}\""),
                ));
            }
            let untried: Vec<&Arc<Deployment>> = fits.iter().copied().filter(|d| !failed.contains(&d.cfg.id)).collect();
            let mut candidates = if untried.is_empty() { fits } else { untried };
            let mut waits: Vec<(bool, Duration)> = Vec::new();
            let chosen = loop {
                if candidates.is_empty() {
                    break None;
                }
                let i = strategy::pick(s.strategy, &candidates, now);
                match candidates[i].admit(prompt_tokens, now) {
                    Ok(guard) => break Some((candidates[i].clone(), guard)),
                    Err(Refusal::Cooling(d)) => waits.push((true, d)),
                    Err(Refusal::OverLimit(d)) => waits.push((false, d)),
                }
                candidates.swap_remove(i);
            };
            let Some((d, _in_flight)) = chosen else {
                // Nothing can take it now: answer at once, never wait out a cooldown here.
                let wait = waits.iter().map(|w| w.1).min();
                let all_cooling = waits.iter().all(|w| w.0);
                let e = match (&last, all_cooling) {
                    (Some(prev), true) => {
                        let mut e = Error::new(
                            prev.kind,
                            format!("every deployment of \"{group}\" is cooling down after failures ({})", prev.message),
                        );
                        e.retryable = true;
                        e.status = prev.status;
                        e
                    }
                    (None, true) => Error::new(
                        ErrorKind::ProviderUnavailable,
                        format!("every deployment of \"{group}\" is cooling down after failures"),
                    ),
                    _ => Error::new(ErrorKind::RateLimit, format!("every deployment of \"{group}\" is at its rate limit")),
                };
                return Err(e.with_retry_after(wait));
            };
            self.metrics.request(group, &d.cfg.id);
            let call = match self.call_for(&d, &rr.request, deadline.saturating_duration_since(Instant::now())) {
                Ok(c) => c,
                Err(e) => {
                    self.metrics.error(group, &d.cfg.id, e.kind.code());
                    d.record_failure(&e, s.allowed_fails, s.cooldown_time, Instant::now());
                    failed.push(d.cfg.id.clone());
                    last = Some(e);
                    continue;
                }
            };
            let start = Instant::now();
            match self.attempt(call, rr.stream, cancel, tx, seen, keep).await {
                Attempt::Committed(o, ttft) => {
                    if let Some(e) = &o.error {
                        // It failed after the caller had chunks: no retry, no fallback.
                        self.metrics.error(group, &d.cfg.id, e.kind.code());
                        d.record_failure(e, s.allowed_fails, s.cooldown_time, Instant::now());
                    } else {
                        d.record_success(ttft);
                    }
                    return Ok((o, start.elapsed(), ttft, d.cfg.info.clone()));
                }
                Attempt::Failed(mut o) => {
                    Usage::add_to(usage, o.usage.take());
                    let e = o.error.take().unwrap_or_else(|| Error::new(ErrorKind::Internal, "failed without an error"));
                    self.metrics.error(group, &d.cfg.id, e.kind.code());
                    d.record_failure(&e, s.allowed_fails, s.cooldown_time, Instant::now());
                    failed.push(d.cfg.id.clone());
                    if !e.retryable || e.kind == ErrorKind::Cancelled || attempt == s.num_retries {
                        return Err(e);
                    }
                    // Backoff from `retry_after` (0.5 s when unset), never below it.
                    let base = if s.retry_after.is_zero() { crate::transport::BACKOFF_BASE } else { s.retry_after };
                    let delay = e.retry_after.unwrap_or_else(|| crate::transport::backoff(attempt, base).max(base)).max(s.retry_after);
                    last = Some(e);
                    if Instant::now() + delay >= deadline {
                        break;
                    }
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return Err(Error::cancelled()),
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::ProviderUnavailable, format!("model group \"{group}\" did not answer"))))
    }
}
