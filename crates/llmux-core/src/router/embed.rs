//! Embeddings through the router: a group of embedding deployments (LiteLLM's `model_info:
//! {mode: embedding}`, or any deployment of an embedding model), with the shared retry,
//! cooldown and limit loop (`group.rs`), the default fallbacks, and a cache of one vector per
//! user and input: a chunk embedded once costs nothing the next time, only the inputs not
//! cached are sent, and only they are billed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::deployment::Deployment;
use super::group::{Attempter, Tried};
use super::Router;
use crate::cache::{self, CacheKey};
use crate::chat::Usage;
use crate::embed::{self, EmbedOutcome, EmbeddingInput, EmbeddingRequest, Vectors};
use crate::error::{Error, ErrorKind, Result};
use crate::options::{CacheChoice, CallOptions};
use crate::state::{Admission, Finish};

/// One embedding request to route.
pub struct EmbedRouteRequest {
    pub request: EmbeddingRequest,
    pub options: CallOptions,
    pub user: Option<String>,
    pub warnings: Vec<String>,
    pub tags: Vec<String>,
}

impl EmbedRouteRequest {
    /// A caller's request: checked, its options taken out, its endpoint and credentials dropped.
    pub fn new(value: Value, user: Option<String>) -> Result<EmbedRouteRequest> {
        let (request, mut options) = EmbeddingRequest::from_value(value)?;
        let warnings = options.drop_endpoint();
        let user = user.or_else(|| request.user.clone()).map(super::user_key);
        let tags = super::tags_of(options.metadata.as_ref());
        Ok(EmbedRouteRequest { request, options, user, warnings, tags })
    }
}

struct EmbedAttempt<'a> {
    request: &'a EmbeddingRequest,
    cancel: &'a CancellationToken,
}

impl Attempter for EmbedAttempt<'_> {
    type Out = EmbedOutcome;

    async fn attempt(&mut self, router: &Router, d: &Arc<Deployment>, remaining: Duration) -> Tried<EmbedOutcome> {
        let call = match router.embed_call_for(d, self.request, remaining) {
            Ok(c) => c,
            Err(e) => return Tried::Skip(e),
        };
        let mut o = embed::run(call, self.cancel.child_token()).await;
        match o.error.take() {
            None => Tried::Done(o),
            Some(e) => Tried::Failed(e, o.usage),
        }
    }
}

impl Router {
    /// The call for one deployment: its model and parameters, its endpoint and credentials.
    pub(super) fn embed_call_for(&self, d: &Deployment, req: &EmbeddingRequest, remaining: Duration) -> Result<embed::EmbedCall> {
        let mut r = req.clone();
        r.model = d.cfg.model.clone();
        let mut extra = std::mem::take(&mut r.extra);
        for (k, p) in &d.cfg.params {
            if let Some(v) = p.resolve(&*self.engine) {
                extra.insert(k.clone(), v);
            }
        }
        let mut options = CallOptions::take_from_map(&mut extra)?;
        r.extra = extra;
        let own = d.cfg.timeout.and_then(|t| Duration::try_from_secs_f64(t).ok()).unwrap_or(remaining);
        options.timeout = Some(own.min(remaining));
        options.max_retries = Some(0);
        options.configured = true;
        options.resolved_info = Some(d.cfg.info.clone());
        embed::run::prepare_with(&self.engine, r, &options)
    }

    /// Routes an embedding request to its one outcome.
    pub async fn embed(self: Arc<Self>, er: EmbedRouteRequest, cancel: CancellationToken) -> EmbedOutcome {
        let mut finish = Finish::default();
        let mut o = self.embed_inner(&er, &cancel, &mut finish).await;
        o.warnings.splice(0..0, er.warnings.iter().cloned());
        // Settled after the caller has its answer (in-process: before, as it costs nothing).
        self.settling.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if !self.state.shared() {
            self.settle(finish).await;
            return o;
        }
        let router = self.clone();
        tokio::spawn(async move { router.settle(finish).await });
        o
    }

    async fn embed_inner(&self, er: &EmbedRouteRequest, cancel: &CancellationToken, finish: &mut Finish) -> EmbedOutcome {
        let fail = |e: Error, usage: Option<Usage>| EmbedOutcome { error: Some(e), usage, ..Default::default() };
        let Some(first) = self.group_name(&er.request.model).map(str::to_owned) else {
            return fail(Error::new(ErrorKind::NotFound, format!("no model group named \"{}\"", er.request.model)), None);
        };
        // Four bytes a token: estimates for the token limits and the per-input window, never sent.
        let estimate = |i: usize| match er.request.input.item(i) {
            crate::embed::Item::Text(t) => t.len() / 4 + 1,
            crate::embed::Item::Tokens(t) => t.len(),
        };
        let n = er.request.input.len();
        let tokens = u32::try_from((0..n).map(estimate).sum::<usize>()).unwrap_or(u32::MAX);
        let longest = u32::try_from((0..n).map(estimate).max().unwrap_or(0)).unwrap_or(u32::MAX);
        let subjects = self.subjects(er.user.as_deref(), &er.tags);
        let budgets = Self::budgets(&subjects);
        let reserve = if budgets.is_empty() { 0.0 } else { self.most_it_can_cost(&first, tokens, Some(0)) };
        let admission = Admission { subjects: &subjects, tokens, reserve, cache: None, candidates: &[] };
        let admitted = match self.state.admit(admission).await {
            Ok(a) => a,
            Err(e) => return fail(e, None),
        };
        finish.ticket = admitted.ticket;
        finish.spend = budgets;
        let shared_warning = admitted.warning;
        let ttl = match er.options.cache {
            CacheChoice::Skip => None,
            CacheChoice::Ttl(t) => Some(t),
            CacheChoice::Default if er.user.is_none() => None,
            CacheChoice::Default => self.settings.cache.as_ref().map(|c| c.ttl),
        };
        // Keys name the group whose model made the vector: a fallback's vectors are another
        // model's and are never mixed with, or cached as, the first group's.
        let keys_for = |group: &str| -> Vec<CacheKey> {
            let r = &er.request;
            (0..n)
                .map(|i| cache::embedding_key(er.user.as_deref(), group, r.dimensions, r.input_type.as_deref(), r.input.item(i)))
                .collect()
        };
        let keys = if ttl.is_some() { keys_for(&first) } else { Vec::new() };
        let hits: Vec<Option<Arc<[f32]>>> = if keys.is_empty() { vec![None; n] } else { self.state.vectors_get(&keys).await };
        let misses: Vec<usize> = (0..n).filter(|&i| hits[i].is_none()).collect();
        if ttl.is_some() {
            for _ in 0..n - misses.len() {
                self.metrics.cache(true);
            }
            for _ in 0..misses.len() {
                self.metrics.cache(false);
            }
        }
        let mut fresh: Option<(EmbedOutcome, String)> = None;
        let mut bill = super::group::Bill::default();
        if !misses.is_empty() {
            let mut only_misses = er.request.clone();
            only_misses.input = match &er.request.input {
                EmbeddingInput::Texts(t) => EmbeddingInput::Texts(misses.iter().map(|&i| t[i].clone()).collect()),
                EmbeddingInput::Tokens(t) => EmbeddingInput::Tokens(misses.iter().map(|&i| t[i].clone()).collect()),
            };
            let deadline =
                crate::transport::deadline_in(er.options.timeout.map_or(self.settings.timeout, |t| t.min(self.settings.timeout)));
            let num_retries = er.options.max_retries.unwrap_or(self.settings.num_retries);
            let mut queue = vec![first.clone()];
            let mut qi = 0;
            let mut last = None;
            while qi < queue.len() && fresh.is_none() {
                let group = queue[qi].clone();
                qi += 1;
                // The first group embeds what its cache lacks; a fallback group embeds everything.
                let req = if group == first { &only_misses } else { &er.request };
                let start = Instant::now();
                let mut op = EmbedAttempt { request: req, cancel };
                match self.try_group_with(&group, num_retries, tokens, longest, deadline, cancel, &mut bill, &mut op, None).await {
                    Ok((mut o, d)) => {
                        d.record_success(start.elapsed());
                        bill.add(o.usage.take(), &d.cfg.info);
                        if let Some(u) = &bill.usage {
                            let dollars = bill.dollars();
                            finish.record = Some(self.ledger.record(&group, er.user.as_deref(), *u, dollars));
                            self.metrics.success(&group, start.elapsed(), start.elapsed(), u, dollars);
                            finish.cost = dollars;
                        }
                        o.usage = bill.usage;
                        o.cost = bill.cost;
                        fresh = Some((o, group));
                    }
                    Err(e) => {
                        let kind = e.kind;
                        last = Some(e);
                        if matches!(kind, ErrorKind::InvalidRequest | ErrorKind::BadRequest | ErrorKind::Cancelled)
                            || Instant::now() >= deadline
                        {
                            break;
                        }
                        if qi == 1 {
                            self.queue_fallbacks(&mut queue, &self.settings.fallbacks, &first);
                        }
                    }
                }
            }
            if fresh.is_none() {
                if bill.usage.is_some() {
                    finish.cost = bill.dollars();
                }
                let mut o = fail(last.unwrap_or_else(|| Error::new(ErrorKind::Internal, "no attempt was made")), bill.usage);
                o.cost = bill.cost;
                return o;
            }
        }
        let (mut o, answered_by) = fresh.unwrap_or_else(|| (EmbedOutcome::default(), first.clone()));
        let got = o.vectors.take().unwrap_or_default();
        let by_fallback = answered_by != first;
        // In input order: the first group's cache hits and its fresh rows, or all of a fallback's.
        let mut all = Vectors::default();
        let mut fresh_rows = 0;
        let mut put = Vec::new();
        let put_keys = if ttl.is_some() && by_fallback { keys_for(&answered_by) } else { keys };
        for (i, hit) in hits.iter().enumerate() {
            let r = match hit.as_ref().filter(|_| !by_fallback) {
                Some(v) => all.push_row(v, "router"),
                None => {
                    let row = got.row(fresh_rows);
                    fresh_rows += 1;
                    if let Some(k) = put_keys.get(i) {
                        put.push((*k, Arc::<[f32]>::from(row)));
                    }
                    all.push_row(row, "router")
                }
            };
            if let Err(e) = r {
                return fail(e, o.usage);
            }
        }
        if let (Some(t), false) = (ttl, put.is_empty()) {
            self.state.vectors_put(put, t).await;
        }
        o.vectors = Some(all);
        o.warnings.extend(shared_warning);
        if o.model.is_empty() {
            o.model.clone_from(&answered_by);
        }
        o
    }
}
