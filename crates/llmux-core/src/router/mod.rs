//! The router: model groups of deployments read from LiteLLM's config, a routing strategy,
//! retries with backoff (never after the first chunk reached the caller), fallbacks across
//! groups, cooldowns of failing deployments, rate limits per deployment and per user, a
//! user-isolated response cache, and the ledger and metrics of what it served.

pub mod auto;
pub mod config;
pub mod deployment;
pub mod embed;
mod group;
pub mod ledger;
mod probe;
pub mod strategy;

use futures_util::FutureExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::cache;
use crate::cache::Cached;
use crate::call::{self, Call, Event, Outcome, CHANNEL_CAPACITY};
use crate::chat::{ChatChunk, ChatRequest, Usage};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{CacheChoice, CallOptions};
use crate::state::{Admission, Finish, MemoryState, RedisConfig, RedisState, RouterState, Subject};
use config::{RouterConfig, Settings};
use deployment::{counts_toward_cooldown, Deployment};
use group::{Attempter, Bill, Tried};
use ledger::{Ledger, Metrics};

pub struct Router {
    engine: Arc<Engine>,
    groups: HashMap<String, Vec<Arc<Deployment>>>,
    settings: Settings,
    state: Arc<dyn RouterState>,
    pub ledger: Ledger,
    pub metrics: Metrics,
    /// Group names in config order, for `listModels`.
    order: Vec<String>,
    /// Requests answered but not yet settled with the state (counted before the answer goes,
    /// so `flush` never misses one).
    settling: std::sync::atomic::AtomicUsize,
    settled: tokio::sync::Notify,
    /// When metrics last went to the shared totals.
    metrics_sent: std::sync::Mutex<Option<Instant>>,
}

/// How often an instance adds its metrics to the shared totals (with a request's settlement).
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// One request to route.
pub struct RouteRequest {
    pub request: ChatRequest,
    /// The caller's options, its endpoint and credentials already dropped (`for_router`).
    pub options: CallOptions,
    /// Who the request is for (limits, budgets, the cache namespace): the authenticated user
    /// when there is one, else the request's `user`.
    pub user: Option<String>,
    pub stream: bool,
    /// What the router dropped from the caller's request, said aloud.
    pub warnings: Vec<String>,
    /// `metadata.tags` (LiteLLM's convention; an MCP tool's name is a tag): tag limits apply.
    pub tags: Vec<String>,
    /// For `model: "auto"`.
    pub hints: Option<auto::RoutingHints>,
}

/// `metadata.tags`, as LiteLLM reads them: strings only, at most 32.
pub fn tags_of(metadata: Option<&Value>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in metadata.and_then(|m| m.get("tags")).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        // A tag named twice counts once.
        if tags.len() < 32 && !tags.iter().any(|x| x == t) {
            tags.push(t.to_owned());
        }
    }
    tags
}

/// A user id as the limits see it: one that begins like the router's own keys (tags, the
/// global key) is set apart, so no caller can spend against those.
pub fn user_key(user: String) -> String {
    if user.starts_with('\u{1}') {
        format!("\u{2}{user}")
    } else {
        user
    }
}

impl RouteRequest {
    /// A caller's request for a router: checked, its call options taken out, and the caller's
    /// endpoint, credentials and headers dropped (the deployments own them).
    pub fn new(mut request: ChatRequest, user: Option<String>, stream: bool) -> Result<RouteRequest> {
        request.normalize_legacy_functions()?;
        request.validate()?;
        crate::structured::check_tool_schemas(&request)?;
        let mut options = CallOptions::take_from(&mut request)?;
        let warnings = options.drop_endpoint();
        // The authenticated user (the amplify account's, a gateway key's) wins over the
        // request's own `user` field, which anyone can set: limits, budgets and the cache
        // namespace follow who is really asking.
        let user = user.or_else(|| request.user.clone()).map(user_key);
        let tags = tags_of(options.metadata.as_ref());
        let hints = options.routing_hints.as_ref().map(auto::RoutingHints::from_value).transpose()?;
        Ok(RouteRequest { request, options, user, stream, warnings, tags, hints })
    }
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
    /// A router whose state is this process's own.
    /// A router whose state is this process's own, or shared through Redis when the config
    /// (or the environment) names one; a Redis setting that cannot be used is an error.
    pub fn new(engine: Arc<Engine>, cfg: RouterConfig) -> Result<Self> {
        let cache_bytes = cfg.settings.cache.as_ref().map(|c| c.max_bytes).unwrap_or(64 << 20);
        let state: Arc<dyn RouterState> = match RedisConfig::resolve(&cfg.settings.redis, &*engine)? {
            Some(mut r) => {
                r.reservation_life = cfg.settings.timeout + Duration::from_secs(60);
                Arc::new(RedisState::new(r, cache_bytes))
            }
            None => Arc::new(MemoryState::new(cache_bytes)),
        };
        Ok(Router::with_state(engine, cfg, state))
    }

    /// A router over a given state (shared with other instances).
    pub fn with_state(engine: Arc<Engine>, cfg: RouterConfig, state: Arc<dyn RouterState>) -> Self {
        let mut groups: HashMap<String, Vec<Arc<Deployment>>> = HashMap::new();
        let mut order = Vec::new();
        for d in cfg.deployments {
            if !groups.contains_key(&d.group) {
                order.push(d.group.clone());
            }
            groups.entry(d.group.clone()).or_default().push(Arc::new(Deployment::new(d)));
        }
        let metrics = if state.shared() { Metrics::shared() } else { Metrics::default() };
        Router {
            engine,
            groups,
            state,
            settings: cfg.settings,
            ledger: Ledger::default(),
            metrics,
            order,
            settling: Default::default(),
            settled: tokio::sync::Notify::new(),
            metrics_sent: std::sync::Mutex::new(None),
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
        self.list_models_with(None)
    }

    pub fn model_info(&self, name: &str) -> Option<Value> {
        let g = self.group_name(name)?;
        let ds = &self.groups[g];
        Some(json!({
            "model_name": g,
            "deployments": ds.iter().map(|d| json!({
                "id": d.cfg.id, "model": d.cfg.model, "rpm": d.cfg.rpm, "tpm": d.cfg.tpm, "weight": d.cfg.weight,
                "model_info": &*d.cfg.info,
                "config_model_info": d.cfg.info_raw,
            })).collect::<Vec<_>>(),
        }))
    }

    /// Usage since `since` (unix seconds), of every instance when the state is shared (and
    /// readable now), else of this one.
    pub async fn usage(&self, since: f64) -> Value {
        match self.state.records_since(since).await {
            Some(records) => {
                let mut v = ledger::summarise(records.iter(), since);
                v["scope"] = json!("shared");
                v
            }
            None => {
                let mut v = self.ledger.usage_since(since);
                v["scope"] = json!(if self.state.shared() { "instance (the shared state is unavailable)" } else { "instance" });
                v
            }
        }
    }

    /// Prometheus text: the totals of every instance when the state is shared (and readable
    /// now), else this one's; then the state's own metrics.
    pub async fn metrics_text(&self) -> String {
        let mut out = match self.state.metric_fields().await {
            Some(fields) => {
                // Totals in the state, plus what this instance has not settled yet.
                let mut all = fields;
                all.extend(self.metrics.pending_fields());
                Metrics::render_fields(&all)
            }
            None => self.metrics.render(),
        };
        self.state.render_own_metrics(&mut out);
        out
    }

    pub fn health(&self) -> Value {
        let mut out = Vec::new();
        for g in &self.order {
            for d in &self.groups[g] {
                let cooling = self.state.cooling_for(&d.cfg.id).map(|c| c.as_secs_f64());
                let (healthy, last) = (cooling.is_none(), d.last_error());
                out.push(json!({
                    "model_group": g, "deployment": d.cfg.id, "model": d.cfg.model, "healthy": healthy,
                    "cooling_seconds": cooling, "in_flight": d.in_flight(), "ttft_ms": d.ttft_ms(),
                    "last_error": last.map(|(code, message)| json!({"code": code, "message": message})),
                }));
            }
        }
        Value::Array(out)
    }

    /// The call for one deployment: its model and parameters over the caller's request, its
    /// endpoint and credentials (trusted: they come from the config) as the call options.
    fn call_for(&self, d: &Deployment, req: &ChatRequest, remaining: Duration, drop_params: Option<bool>) -> Result<Call> {
        let mut r = req.clone();
        r.model = d.cfg.model.clone();
        for (k, p) in &d.cfg.params {
            if let Some(v) = p.resolve(&*self.engine) {
                r.extra.insert(k.clone(), v);
            }
        }
        if r.max_tokens.is_none() && r.max_completion_tokens.is_none() {
            r.max_tokens = d.cfg.max_tokens;
        }
        let mut options = CallOptions::take_from(&mut r)?;
        let own = d.cfg.timeout.and_then(|t| Duration::try_from_secs_f64(t).ok()).unwrap_or(remaining);
        options.timeout = Some(own.min(remaining));
        // The router retries itself, across deployments; the transport only reconnects once.
        options.max_retries = Some(0);
        options.configured = true;
        // The deployment's facts (the database under its model_info) are already merged.
        options.resolved_info = Some(d.cfg.info.clone());
        // drop_params: the deployment's own, else the caller's, else the config's.
        options.drop_params = options.drop_params.or(drop_params).or(self.settings.drop_params);
        Call::prepare_with(&self.engine, r, &options)
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
        // The call runs in this task beside the loop that forwards its events: a task of its
        // own would cost two cross-thread wake-ups per answer. A panic in it still ends only
        // this attempt (its sender is dropped while unwinding, which ends the loop).
        let run = std::panic::AssertUnwindSafe(call::run(call, stream, child.clone(), itx)).catch_unwind();
        let start = Instant::now();
        let mut ttft = None;
        let mut outcome = None;
        let forward = async {
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
        };
        let (ran, ()) = tokio::join!(run, forward);
        let o = outcome.unwrap_or_else(|| {
            let why = if ran.is_err() { "the call panicked" } else { "attempt ended without an outcome" };
            ended(Error::new(ErrorKind::Internal, why), None)
        });
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
        Ok(self.call_for(d, &probe, self.settings.timeout, None)?.target)
    }

    /// Routes a request to its outcome without streaming (for callers that need the whole answer).
    pub async fn complete(self: Arc<Self>, rr: RouteRequest, cancel: CancellationToken) -> Outcome {
        call::collect(move |tx| self.run(rr, cancel, tx)).await.1
    }

    /// Routes a request to its end: one `Event::End` after any chunks, like `call::run`. The
    /// request is settled with the state (spend, ledger, cache) after the caller has its end.
    pub async fn run(self: Arc<Self>, rr: RouteRequest, cancel: CancellationToken, tx: mpsc::Sender<Event>) {
        let (outcome, finish) = self.route(rr, &cancel, &tx).await;
        self.settling.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if !self.state.shared() {
            // In-process settling costs nothing: done before the answer, so a caller's next
            // request always sees this one's spend and cache entry.
            self.settle(finish).await;
            let _ = tx.send(Event::End(Box::new(outcome))).await;
            return;
        }
        let _ = tx.send(Event::End(Box::new(outcome))).await;
        drop(tx);
        self.settle(finish).await;
    }

    /// Settles a request with the state, with the metrics changed since the last settlement
    /// (the caller counted it in `settling`).
    async fn settle(&self, mut f: Finish) {
        if self.state.shared() {
            // Metrics go to the shared totals at most once a second: a request's own changes
            // are dozens of fields (histogram buckets), too many to write every time.
            if self.metrics_due() {
                f.metrics = self.metrics.drain();
            }
        }
        self.state.finish(f).await;
        if self.settling.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            self.settled.notify_waiters();
        }
    }

    fn metrics_due(&self) -> bool {
        let mut last = self.metrics_sent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_none_or(|t| now.duration_since(t) >= METRICS_EVERY) {
            *last = Some(now);
            true
        } else {
            false
        }
    }

    /// Waits until every answered request is settled with the state, and writes what Redis
    /// could not take earlier; `false` if that did not finish within `within` (before a process
    /// exits, or at the end of a Lambda handler).
    pub async fn flush(&self, within: Duration) -> bool {
        let done = async {
            loop {
                let notified = self.settled.notified();
                if self.settling.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    break;
                }
                notified.await;
            }
            if self.state.shared() {
                let metrics = self.metrics.drain();
                if !metrics.is_empty() {
                    self.state.finish(Finish { metrics, ..Default::default() }).await;
                }
            }
            self.state.flush().await
        };
        tokio::time::timeout(within, done).await.unwrap_or(false)
    }

    async fn route(&self, rr: RouteRequest, cancel: &CancellationToken, tx: &mpsc::Sender<Event>) -> (Outcome, Finish) {
        // `model: "auto"`: the group the hints choose, and why (on the answer).
        let auto = if rr.request.model == "auto" && self.group_name("auto").is_none() {
            let hints = rr.hints.clone().unwrap_or_default();
            let prompt = crate::usage::estimate_prompt_tokens(&rr.request, "gpt-4o");
            let max_out = u64::from(rr.request.max_completion_tokens.or(rr.request.max_tokens).unwrap_or(1024));
            match self.choose(&hints, prompt, max_out) {
                Ok(c) => Some(c),
                Err(e) => return (ended(e, None), Finish::default()),
            }
        } else {
            None
        };
        let (mut o, f) = self.route_to(rr, auto.as_ref().map(|c| c.model_group.as_str()), cancel, tx).await;
        if let Some(c) = auto {
            if let Some(r) = o.route.as_mut() {
                r.auto = Some(c.clone());
            }
            o.completion.llmux.get_or_insert_with(Default::default).auto = Some(c);
        }
        (o, f)
    }

    /// The subjects a request is admitted under: the router, its tags, its user (those with a
    /// limit or a budget).
    fn subjects(&self, user: Option<&str>, tags: &[String]) -> Vec<Subject> {
        let s = &self.settings;
        let mut out = Vec::new();
        if s.global_limits.any() {
            out.push(Subject { key: crate::state::GLOBAL_KEY.to_owned(), limits: s.global_limits.clone() });
        }
        for t in tags {
            if let Some(l) = s.tag_limits.get(t).filter(|l| l.any()) {
                out.push(Subject { key: crate::state::tag_key(t), limits: l.clone() });
            }
        }
        if let Some(user) = user.filter(|_| s.user_limits.any()) {
            out.push(Subject { key: user.to_owned(), limits: s.user_limits.clone() });
        }
        out
    }

    /// The budgets a request's cost counts against, with their windows.
    fn budgets(subjects: &[Subject]) -> Vec<(String, Option<Duration>)> {
        subjects.iter().filter(|s| s.limits.budget_usd.is_some()).map(|s| (s.key.clone(), s.limits.budget_duration)).collect()
    }

    /// The most a request can cost on any deployment of `group` (its prompt, and its output at
    /// the most it may ask for): what a budget reserves while it is in flight.
    fn most_it_can_cost(&self, group: &str, prompt_tokens: u32, max_out: Option<u32>) -> f64 {
        self.groups[group]
            .iter()
            .map(|d| {
                let out = max_out.or(d.cfg.max_tokens).map(u64::from).or(d.cfg.info.max_output_tokens).unwrap_or(4096);
                let u = Usage { prompt_tokens: u64::from(prompt_tokens), completion_tokens: out, ..Default::default() };
                let c = d.cfg.info.cost(&u);
                if c.priced && c.total.is_finite() {
                    c.total
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    async fn route_to(
        &self,
        rr: RouteRequest,
        chosen: Option<&str>,
        cancel: &CancellationToken,
        tx: &mpsc::Sender<Event>,
    ) -> (Outcome, Finish) {
        let Some(first) = chosen.or_else(|| self.group_name(&rr.request.model)).map(str::to_owned) else {
            let mut known: Vec<&str> = self.order.iter().map(String::as_str).collect();
            known.extend(self.settings.aliases.keys().map(String::as_str));
            let e = Error::new(ErrorKind::NotFound, format!("no model group named \"{}\" (known: {})", rr.request.model, known.join(", ")));
            return (ended(e, None), Finish::default());
        };
        let subjects = self.subjects(rr.user.as_deref(), &rr.tags);
        let budgets = Self::budgets(&subjects);
        let needs_tokens = self.limits_count_tokens(&rr.tags)
            || !budgets.is_empty()
            || self.groups.values().flatten().any(|d| d.cfg.tpm.is_some() || d.cfg.max_input_tokens.is_some());
        let prompt_tokens = if needs_tokens { crate::usage::estimate_prompt_tokens(&rr.request, "gpt-4o") as u32 } else { 0 };
        let cache_ttl = match rr.options.cache {
            CacheChoice::Skip => None,
            CacheChoice::Ttl(t) => Some(t),
            // Anonymous requests share one namespace: cached only when the request opts in.
            CacheChoice::Default if rr.user.is_none() => None,
            CacheChoice::Default => self.settings.cache.as_ref().map(|c| c.ttl),
        };
        // `model: "auto"` is cached under the group it chose: two requests with other hints never
        // get each other's answer.
        let cache_key = cache_ttl.map(|_| match chosen {
            Some(g) => cache::key(rr.user.as_deref(), &ChatRequest { model: g.to_owned(), ..rr.request.clone() }),
            None => cache::key(rr.user.as_deref(), &rr.request),
        });
        let reserve = if budgets.is_empty() {
            0.0
        } else {
            self.most_it_can_cost(&first, prompt_tokens, rr.request.max_completion_tokens.or(rr.request.max_tokens))
        };
        // The first attempt's deployment is chosen in the same round trip as the admission.
        let first_candidates = self.candidates(&first, prompt_tokens, &[], Instant::now()).unwrap_or_default();
        let ids: Vec<(&str, crate::state::DeploymentLimits)> = first_candidates.iter().map(|d| (d.cfg.id.as_str(), d.limits())).collect();
        let admission = Admission { subjects: &subjects, tokens: prompt_tokens, reserve, cache: cache_key.as_ref(), candidates: &ids };
        let admitted = match self.state.admit(admission).await {
            Ok(a) => a,
            Err(e) => return (ended(e, None), Finish::default()),
        };
        drop(ids);
        let mut warnings = rr.warnings.clone();
        warnings.extend(admitted.warning);
        let mut finish = Finish { ticket: admitted.ticket, spend: budgets, ..Default::default() };
        if let Some(hit) = admitted.cached {
            self.metrics.cache(true);
            if rr.stream {
                for ch in &hit.chunks {
                    if tx.send(Event::Chunk(ch.clone())).await.is_err() {
                        break;
                    }
                }
            }
            // A cached answer costs nothing: no usage to bill.
            let route = Some(Box::new(crate::call::RouteInfo { group: Some(first.clone()), cache_hit: true, ..Default::default() }));
            let mut completion = hit.completion.clone();
            completion.warnings.clone_from(&warnings);
            let o = Outcome { completion, usage: None, cost: None, error: None, warnings, route };
            finish.spend.clear();
            return (o, finish);
        }
        if cache_key.is_some() {
            self.metrics.cache(false);
        }
        let mut pre = admitted.deployment.map(|d| (first_candidates, d));
        // The caller's own `timeout` shortens the router's, never lengthens it.
        let deadline = crate::transport::deadline_in(rr.options.timeout.map_or(self.settings.timeout, |t| t.min(self.settings.timeout)));
        let mut queue: Vec<String> = vec![first.clone()];
        let mut queued_for: Vec<&'static str> = Vec::new();
        let mut bill = Bill::default();
        let mut last_error: Option<Error> = None;
        let mut seen = Vec::new();
        let mut qi = 0;
        let mut attempts = 0u32;
        while qi < queue.len() {
            let group = queue[qi].clone();
            qi += 1;
            let result = self
                .try_group(
                    &group,
                    &rr,
                    prompt_tokens,
                    deadline,
                    cancel,
                    tx,
                    &mut seen,
                    cache_key.is_some(),
                    &mut bill,
                    &mut attempts,
                    pre.take(),
                )
                .await;
            match result {
                Ok((mut o, latency, ttft, deployment_info, deployment_id)) => {
                    let route = o.route.get_or_insert_with(Default::default);
                    route.group = Some(group.clone());
                    route.deployment = Some(deployment_id);
                    route.attempts = attempts;
                    route.fallbacks = queue[1..qi].to_vec();
                    // The bill covers every attempt, each at its deployment's prices.
                    bill.add(o.usage.take(), &deployment_info);
                    o.usage = bill.usage;
                    o.cost = bill.cost;
                    if let Some(c) = o.cost {
                        o.completion.llmux.get_or_insert_with(Default::default).cost = Some(c);
                    }
                    let cost = bill.dollars();
                    finish.cost = cost;
                    if let Some(u) = &o.usage {
                        finish.record = Some(self.ledger.record(&group, rr.user.as_deref(), *u, cost));
                        self.metrics.success(&group, latency, ttft, u, cost);
                    }
                    if o.error.is_none() {
                        if let (Some(k), Some(ttl)) = (cache_key, cache_ttl) {
                            let entry = Cached::new(o.completion.clone(), rr.stream.then(|| std::mem::take(&mut seen)), ttl);
                            finish.cache = Some((k, Arc::new(entry)));
                        }
                    }
                    o.warnings.splice(0..0, warnings);
                    // The answer says what the router said too (dropped settings, local state).
                    o.completion.warnings.clone_from(&o.warnings);
                    return (o, finish);
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
                        self.queue_fallbacks(&mut queue, map, &first);
                    }
                }
            }
        }
        let mut o = ended(last_error.unwrap_or_else(|| Error::new(ErrorKind::Internal, "no attempt was made")), bill.usage);
        o.cost = bill.cost;
        o.warnings = warnings;
        o.route = Some(Box::new(crate::call::RouteInfo {
            group: queue.get(qi.saturating_sub(1)).cloned(),
            attempts,
            fallbacks: queue.get(1..qi).map(<[String]>::to_vec).unwrap_or_default(),
            ..Default::default()
        }));
        // What failed attempts used is billed too, each at its deployment's prices.
        finish.cost = if o.usage.is_some() { bill.dollars() } else { 0.0 };
        (o, finish)
    }

    /// Appends `first`'s fallback groups from `map` to the queue, each once.
    fn queue_fallbacks(&self, queue: &mut Vec<String>, map: &HashMap<String, Vec<String>>, first: &str) {
        for g in map.get(first).into_iter().flatten() {
            if let Some(name) = self.group_name(g) {
                if !queue.iter().any(|q| q == name) {
                    queue.push(name.to_owned());
                }
            }
        }
    }

    /// Whether a token count is needed for the limits that apply (a tpm somewhere).
    fn limits_count_tokens(&self, tags: &[String]) -> bool {
        let s = &self.settings;
        s.user_limits.tpm.is_some()
            || s.global_limits.tpm.is_some()
            || tags.iter().any(|t| s.tag_limits.get(t).is_some_and(|l| l.tpm.is_some()))
    }

    /// Records a deployment's failure: metrics, its last error, and (when the failure says the
    /// deployment is unwell) the shared count toward a cooldown.
    async fn failure(&self, group: &str, d: &Deployment, e: &Error) {
        self.metrics.error(group, &d.cfg.id, e.kind.code());
        d.record_error(e);
        if counts_toward_cooldown(e) {
            self.state.record_failure(&d.cfg.id, self.settings.allowed_fails, self.settings.cooldown_time).await;
        }
    }

    /// Tries one group for a chat request (see `group.rs` for the loop every operation shares).
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
        bill: &mut Bill,
        attempts: &mut u32,
        pre: Option<group::Preadmitted>,
    ) -> Result<(Outcome, Duration, Duration, std::sync::Arc<config::ModelInfo>, String)> {
        let num_retries = rr.options.max_retries.unwrap_or(self.settings.num_retries);
        let mut chat = ChatAttempt { rr, cancel, tx, seen, keep, attempts };
        let ((o, latency, ttft), d) =
            self.try_group_with(group, num_retries, prompt_tokens, prompt_tokens, deadline, cancel, bill, &mut chat, pre).await?;
        if let Some(e) = &o.error {
            // It failed after the caller had chunks: no retry, no fallback.
            self.failure(group, &d, e).await;
        } else {
            d.record_success(ttft);
        }
        Ok((o, latency, ttft, d.cfg.info.clone(), d.cfg.id.clone()))
    }
}

/// A chat request's attempt at one deployment: chunks forwarded as they come; once one has
/// reached the caller, the attempt is the answer (no retry can follow).
struct ChatAttempt<'a> {
    rr: &'a RouteRequest,
    cancel: &'a CancellationToken,
    tx: &'a mpsc::Sender<Event>,
    seen: &'a mut Vec<ChatChunk>,
    keep: bool,
    /// Attempts made for this request, across groups.
    attempts: &'a mut u32,
}

impl Attempter for ChatAttempt<'_> {
    /// The outcome, its latency and time to first token.
    type Out = (Outcome, Duration, Duration);

    async fn attempt(&mut self, router: &Router, d: &Arc<Deployment>, remaining: Duration) -> Tried<Self::Out> {
        *self.attempts += 1;
        let call = match router.call_for(d, &self.rr.request, remaining, self.rr.options.drop_params) {
            Ok(c) => c,
            Err(e) => return Tried::Skip(e),
        };
        let start = Instant::now();
        match router.attempt(call, self.rr.stream, self.cancel, self.tx, self.seen, self.keep).await {
            Attempt::Committed(o, ttft) => Tried::Done((o, start.elapsed(), ttft)),
            Attempt::Failed(mut o) => {
                let e = o.error.take().unwrap_or_else(|| Error::new(ErrorKind::Internal, "failed without an error"));
                Tried::Failed(e, o.usage.take())
            }
        }
    }
}
