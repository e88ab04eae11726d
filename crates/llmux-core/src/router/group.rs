//! The loop every routed operation shares (chat, embeddings): pick a deployment of the group by
//! the strategy, admit it against its limits and cooldown, attempt, and on a retryable failure
//! back off and try another deployment, within the retries and the deadline. What an attempt
//! is belongs to the operation (`Attempter`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::deployment::Deployment;
use super::{strategy, Router};
use crate::chat::Usage;
use crate::error::{Error, ErrorKind, Result};
use crate::state::{DeploymentLimits, Refusal};

/// What a routed request costs so far: usage summed over its attempts, and cost priced attempt
/// by attempt at each one's deployment (a long-context tier applies to one attempt's prompt,
/// never to a sum of several).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Bill {
    pub usage: Option<Usage>,
    pub cost: Option<crate::models::Cost>,
}

impl Bill {
    pub fn add(&mut self, used: Option<Usage>, info: &crate::models::ModelInfo) {
        let Some(u) = used else { return };
        Usage::add_to(&mut self.usage, Some(u));
        let c = info.cost(&u);
        if c.priced {
            crate::models::Cost::add_to(&mut self.cost, Some(c));
        }
    }

    /// The cost in USD, 0 when unpriced.
    pub fn dollars(&self) -> f64 {
        self.cost.map(|c| c.total).unwrap_or(0.0)
    }
}

/// The candidates of a group in the strategy's order, and which one took the request (or why
/// none could).
pub(super) type Preadmitted = (Vec<Arc<Deployment>>, std::result::Result<usize, Vec<Refusal>>);

/// How one attempt at one deployment ended.
pub(super) enum Tried<T> {
    /// The answer (which may carry an error the caller already saw part of).
    Done(T),
    /// Failed before anything reached the caller; `usage` is what it still costs.
    Failed(Error, Option<Usage>),
    /// Could not be made on this deployment (its configuration): try another, no backoff.
    Skip(Error),
}

/// An operation's attempt at one deployment.
pub(super) trait Attempter {
    type Out;
    async fn attempt(&mut self, router: &Router, d: &Arc<Deployment>, remaining: Duration) -> Tried<Self::Out>;
}

impl Router {
    /// The deployments of `group` an attempt may go to, in the order the strategy would try
    /// them: those whose context window the input fits, the ones not yet failed first.
    pub(super) fn candidates(&self, group: &str, fit_tokens: u32, failed: &[String], now: Instant) -> Result<Vec<Arc<Deployment>>> {
        let all = &self.groups[group];
        let fits: Vec<&Arc<Deployment>> =
            all.iter().filter(|d| d.cfg.max_input_tokens.is_none_or(|m| u64::from(fit_tokens) <= m)).collect();
        if fits.is_empty() {
            return Err(Error::new(
                ErrorKind::ContextWindow,
                format!("the input (~{fit_tokens} tokens) exceeds every deployment of \"{group}\""),
            ));
        }
        let untried: Vec<&Arc<Deployment>> = fits.iter().copied().filter(|d| !failed.contains(&d.cfg.id)).collect();
        let mut rest = if untried.is_empty() { fits } else { untried };
        // LiteLLM's `order`: a tier is tried only when every lower tier is unusable (cooling,
        // over its limits); the strategy picks within a tier. Admission takes the first usable
        // candidate, so listing the tiers in turn is that rule.
        rest.sort_by_key(|d| (d.cfg.order.is_none(), d.cfg.order));
        let mut order = Vec::with_capacity(rest.len());
        while !rest.is_empty() {
            let tier = rest.iter().take_while(|d| d.cfg.order == rest[0].cfg.order).count();
            let i = strategy::pick(self.settings.strategy, &rest[..tier], now);
            order.push(rest.remove(i).clone());
        }
        Ok(order)
    }

    /// Tries one group: picks deployments by strategy and retries retryable failures.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn try_group_with<A: Attempter>(
        &self,
        group: &str,
        num_retries: u32,
        prompt_tokens: u32,
        // What must fit a deployment's `max_input_tokens`: the prompt (chat), the longest input
        // (embeddings, whose window is per input).
        fit_tokens: u32,
        deadline: Instant,
        cancel: &CancellationToken,
        bill: &mut Bill,
        op: &mut A,
        // The first attempt's deployment, when the request's admission already chose it.
        mut pre: Option<Preadmitted>,
    ) -> Result<(A::Out, Arc<Deployment>)> {
        let s = &self.settings;
        let mut last: Option<Error> = None;
        // A retry goes to another deployment while the group has one that has not failed yet.
        let mut failed: Vec<String> = Vec::new();
        for attempt in 0..=num_retries {
            let now = Instant::now();
            if now >= deadline {
                return Err(last.unwrap_or_else(|| {
                    Error::new(ErrorKind::Timeout, format!("model group \"{group}\" did not answer before the router's deadline"))
                }));
            }
            let candidates = match pre.take() {
                Some(p) => p,
                None => {
                    let candidates = self.candidates(group, fit_tokens, &failed, now)?;
                    let ids: Vec<(&str, DeploymentLimits)> = candidates.iter().map(|d| (d.cfg.id.as_str(), d.limits())).collect();
                    let admitted = self.state.admit_deployment(&ids, prompt_tokens).await;
                    (candidates, admitted)
                }
            };
            let (chosen, waits) = match candidates {
                (c, Ok(i)) => (c.get(i).cloned(), Vec::new()),
                (_, Err(refusals)) => (None, refusals),
            };
            let Some(d) = chosen else {
                // Nothing can take it now: answer at once, never wait out a cooldown here.
                let wait = waits
                    .iter()
                    .map(|w| match w {
                        Refusal::Cooling(d) | Refusal::OverLimit(d) => *d,
                    })
                    .min();
                let all_cooling = waits.iter().all(|w| matches!(w, Refusal::Cooling(_)));
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
                    // LiteLLM answers this 429 ("No deployments available"): a client waits
                    // out the cooldown it is told, rather than treating the group as down.
                    (None, true) => Error::new(
                        ErrorKind::RateLimit,
                        format!("no deployment of \"{group}\" is available: every one is cooling down after failures"),
                    ),
                    _ => Error::new(ErrorKind::RateLimit, format!("every deployment of \"{group}\" is at its rate limit")),
                };
                return Err(e.with_retry_after(wait));
            };
            let _in_flight = d.start(prompt_tokens, now);
            self.metrics.request(group, &d.cfg.id);
            match op.attempt(self, &d, deadline.saturating_duration_since(Instant::now())).await {
                Tried::Done(out) => return Ok((out, d.clone())),
                Tried::Skip(e) => {
                    self.failure(group, &d, &e).await;
                    failed.push(d.cfg.id.clone());
                    last = Some(e);
                }
                Tried::Failed(e, used) => {
                    bill.add(used, &d.cfg.info);
                    self.failure(group, &d, &e).await;
                    failed.push(d.cfg.id.clone());
                    if !e.retryable || e.kind == ErrorKind::Cancelled || attempt == num_retries {
                        return Err(e);
                    }
                    // Backoff from `retry_after` (0.5 s when unset), never below it.
                    let base = if s.retry_after.is_zero() { crate::transport::BACKOFF_BASE } else { s.retry_after };
                    let delay = e.retry_after.unwrap_or_else(|| crate::transport::backoff(attempt, base).max(base)).max(s.retry_after);
                    last = Some(e);
                    if Instant::now().checked_add(delay).is_none_or(|at| at >= deadline) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ProviderKind;

    #[test]
    fn each_attempt_is_priced_on_its_own_prompt() {
        // Two attempts of 150k prompt tokens: neither is over Gemini 2.5 Pro's 200k tier, so the
        // bill is twice the base rate, not the tier's rate for 300k.
        let info = crate::models::lookup(ProviderKind::Gemini, "gemini-2.5-pro").unwrap();
        let attempt = Usage { prompt_tokens: 150_000, completion_tokens: 10, ..Default::default() };
        let mut bill = Bill::default();
        bill.add(Some(attempt), info);
        bill.add(Some(attempt), info);
        let once = info.cost(&attempt).total;
        assert!((bill.dollars() - 2.0 * once).abs() < 1e-12);
        assert_eq!(bill.usage.unwrap().prompt_tokens, 300_000);
        assert!(info.cost(&bill.usage.unwrap()).total > bill.dollars(), "the summed usage would have hit the tier");
    }
}
