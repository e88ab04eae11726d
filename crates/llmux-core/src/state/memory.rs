//! The in-process `RouterState`: GCRA rate limits (governor), cooldowns, spend per user and
//! budget window (a running total, so a budget check costs O(1)), and the moka response cache.
//! Keyed limiter maps are pruned as they grow, so distinct user ids cannot grow memory for ever.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{self, BoxFuture};
use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{Admission, Admitted, DeploymentLimits, Finish, Refusal, RouterState, Ticket};
use crate::cache::{CacheKey, Cached, ResponseCache, VectorCache};

use crate::error::{Error, ErrorKind, Result};
use crate::router::config::UserLimits;

/// Failures count toward a cooldown for this long.
const FAIL_WINDOW: Duration = Duration::from_secs(60);
/// Keyed limiters forget idle users every this many admissions.
const PRUNE_EVERY: u64 = 4096;

#[derive(Default)]
struct DeploymentState {
    rpm: Option<DefaultDirectRateLimiter>,
    tpm: Option<DefaultDirectRateLimiter>,
    fails: VecDeque<Instant>,
    cooldown_until: Option<Instant>,
}

struct UserLimiters {
    rpm: Option<DefaultKeyedRateLimiter<String>>,
    tpm: Option<DefaultKeyedRateLimiter<String>>,
}

/// A subject's spend in its current budget window, and what requests in flight have reserved.
struct Spend {
    window_start: Option<Instant>,
    spent: f64,
    reserved: f64,
}

/// A limiter set's quota: requests and tokens per minute.
type Quota2 = (Option<u32>, Option<u32>);

pub struct MemoryState {
    deployments: Mutex<HashMap<String, DeploymentState>>,
    /// Keyed limiters per quota (users share one; each tag quota and the global one their own).
    users: Mutex<HashMap<Quota2, Arc<UserLimiters>>>,
    spend: Mutex<HashMap<String, Spend>>,
    admissions: AtomicU64,
    cache: ResponseCache,
    vectors: VectorCache,
}

fn per_minute(n: Option<u32>) -> Option<DefaultDirectRateLimiter> {
    n.and_then(NonZeroU32::new).map(|n| RateLimiter::direct(Quota::per_minute(n)))
}

fn keyed(n: Option<u32>) -> Option<DefaultKeyedRateLimiter<String>> {
    n.and_then(NonZeroU32::new).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

pub(super) fn refused(what: &str, user: &str, wait: Duration) -> Error {
    Error::new(ErrorKind::RateLimit, format!("{} is over its {what} limit; retry in {:.1} s", super::subject(user), wait.as_secs_f64()))
        .with_retry_after(Some(wait))
}

/// A subject whose spend (with what requests in flight reserved) has reached its budget: not
/// retryable, as LiteLLM's budget errors are not.
pub(super) fn over_budget(key: &str, spent: f64, reserved: f64, budget: f64) -> Error {
    let in_flight = if reserved > 0.0 { format!(" and ${reserved:.4} reserved by requests in flight") } else { String::new() };
    let mut e =
        Error::new(ErrorKind::RateLimit, format!("{} has spent its budget (${spent:.4}{in_flight}, of ${budget:.4})", super::subject(key)));
    e.retryable = false;
    e
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryState {
    /// A state whose response cache holds at most `cache_bytes`.
    pub fn new(cache_bytes: u64) -> MemoryState {
        MemoryState {
            deployments: Mutex::default(),
            users: Mutex::default(),
            spend: Mutex::default(),
            admissions: AtomicU64::new(0),
            cache: ResponseCache::new(cache_bytes),
            vectors: VectorCache::new(cache_bytes),
        }
    }

    /// Spent in the current window, and reserved by requests in flight.
    fn spent(&self, user: &str, window: Option<Duration>, now: Instant) -> (f64, f64) {
        match lock(&self.spend).get(user) {
            Some(s) => {
                let current = match (window, s.window_start) {
                    (Some(w), Some(start)) => now.duration_since(start) < w,
                    _ => true,
                };
                (if current { s.spent } else { 0.0 }, s.reserved.max(0.0))
            }
            None => (0.0, 0.0),
        }
    }

    fn reserve(&self, key: &str, amount: f64) {
        if amount > 0.0 {
            lock(&self.spend).entry(key.to_owned()).or_insert(Spend { window_start: None, spent: 0.0, reserved: 0.0 }).reserved += amount;
        }
    }

    pub(super) fn release_ticket(&self, ticket: &Ticket) {
        if ticket.reserved > 0.0 {
            let mut all = lock(&self.spend);
            for k in &ticket.keys {
                if let Some(s) = all.get_mut(k) {
                    s.reserved = (s.reserved - ticket.reserved).max(0.0);
                }
            }
        }
    }

    fn admit_user_now(&self, user: &str, limits: &UserLimits, tokens: u32) -> Result<()> {
        if let Some(budget) = limits.budget_usd {
            let (spent, reserved) = self.spent(user, limits.budget_duration, Instant::now());
            if spent + reserved >= budget {
                return Err(over_budget(user, spent, reserved, budget));
            }
        }
        let l = lock(&self.users)
            .entry((limits.rpm, limits.tpm))
            .or_insert_with(|| Arc::new(UserLimiters { rpm: keyed(limits.rpm), tpm: keyed(limits.tpm) }))
            .clone();
        if self.admissions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            for k in [&l.rpm, &l.tpm].into_iter().flatten() {
                k.retain_recent();
                k.shrink_to_fit();
            }
        }
        // Each limiter's own clock: making a new one costs cpuid calls (quanta calibrates).
        let key = user.to_owned();
        if let Some(r) = &l.rpm {
            r.check_key(&key).map_err(|n| refused("requests-per-minute", user, n.wait_time_from(r.clock().now())))?;
        }
        if let (Some(t), Some(n)) = (&l.tpm, NonZeroU32::new(tokens)) {
            match t.check_key_n(&key, n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(refused("tokens-per-minute", user, not_until.wait_time_from(t.clock().now()))),
                Err(_) => return Err(refused("tokens-per-minute", user, Duration::from_secs(60))),
            }
        }
        Ok(())
    }

    fn admit_deployment_now(&self, id: &str, limits: DeploymentLimits, tokens: u32) -> std::result::Result<(), Refusal> {
        let now = Instant::now();
        let mut all = lock(&self.deployments);
        let d = all.entry(id.to_owned()).or_insert_with(|| DeploymentState {
            rpm: per_minute(limits.rpm),
            tpm: per_minute(limits.tpm),
            ..Default::default()
        });
        if let Some(left) = d.cooldown_until.and_then(|t| t.checked_duration_since(now)).filter(|d| !d.is_zero()) {
            return Err(Refusal::Cooling(left));
        }
        if let Some(l) = &d.rpm {
            l.check().map_err(|n| Refusal::OverLimit(n.wait_time_from(l.clock().now())))?;
        }
        if let (Some(l), Some(n)) = (&d.tpm, NonZeroU32::new(tokens)) {
            match l.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(Refusal::OverLimit(not_until.wait_time_from(l.clock().now()))),
                // More tokens than a minute allows: it will never fit.
                Err(_) => return Err(Refusal::OverLimit(Duration::from_secs(60))),
            }
        }
        Ok(())
    }

    fn admit_first(&self, candidates: &[(&str, DeploymentLimits)], tokens: u32) -> std::result::Result<usize, Vec<Refusal>> {
        let mut refusals = Vec::new();
        for (i, (id, limits)) in candidates.iter().enumerate() {
            match self.admit_deployment_now(id, *limits, tokens) {
                Ok(()) => return Ok(i),
                Err(r) => refusals.push(r),
            }
        }
        Err(refusals)
    }

    /// `admit` for this process: limits in order, then the cache, then the reservation and the
    /// deployment.
    pub(super) fn admit_now(&self, a: &Admission<'_>) -> Result<Admitted> {
        for s in a.subjects {
            if s.limits.any() {
                self.admit_user_now(&s.key, &s.limits, a.tokens)?;
            }
        }
        let mut out = Admitted::default();
        if let Some(k) = a.cache {
            if let Some(hit) = self.cache.get(k) {
                out.cached = Some(hit);
                return Ok(out);
            }
        }
        if a.reserve > 0.0 {
            for s in a.subjects.iter().filter(|s| s.limits.budget_usd.is_some()) {
                self.reserve(&s.key, a.reserve);
                out.ticket.keys.push(s.key.clone());
            }
            out.ticket.reserved = a.reserve;
        }
        if !a.candidates.is_empty() {
            out.deployment = Some(self.admit_first(a.candidates, a.tokens));
        }
        Ok(out)
    }

    /// `finish` for this process.
    pub(super) fn finish_now(&self, f: Finish) {
        self.release_ticket(&f.ticket);
        for (key, window) in &f.spend {
            self.record_spend_now(key, f.cost, *window);
        }
        if let Some((k, v)) = f.cache {
            self.cache.insert(k, v);
        }
    }

    pub(super) fn cache_insert(&self, k: CacheKey, v: Arc<Cached>) {
        self.cache.insert(k, v);
    }

    /// Makes the cooldowns those another instance reported, and only those.
    pub(super) fn mirror_cooling(&self, cooling: &[(String, Instant)]) {
        let mut all = lock(&self.deployments);
        for (id, d) in all.iter_mut() {
            d.cooldown_until = cooling.iter().find(|(c, _)| c == id).map(|(_, t)| *t);
        }
        for (id, t) in cooling {
            all.entry(id.clone()).or_default().cooldown_until = Some(*t);
        }
    }

    pub(super) fn vectors(&self) -> &VectorCache {
        &self.vectors
    }

    /// Sets a cooldown another instance reported (the shared state's mirror).
    pub(super) fn set_cooling(&self, id: &str, until: Option<Instant>) {
        let mut all = lock(&self.deployments);
        match until {
            Some(t) => all.entry(id.to_owned()).or_default().cooldown_until = Some(t),
            None => {
                if let Some(d) = all.get_mut(id) {
                    d.cooldown_until = None;
                }
            }
        }
    }

    pub(super) fn record_failure_now(&self, id: &str, allowed_fails: u32, cooldown: Duration) -> bool {
        let now = Instant::now();
        let mut all = lock(&self.deployments);
        let d = all.entry(id.to_owned()).or_default();
        while d.fails.front().is_some_and(|t| now.duration_since(*t) > FAIL_WINDOW) {
            d.fails.pop_front();
        }
        d.fails.push_back(now);
        if d.fails.len() as u32 >= allowed_fails.max(1) {
            d.fails.clear();
            d.cooldown_until = now.checked_add(cooldown);
            return true;
        }
        false
    }

    pub(super) fn record_spend_now(&self, user: &str, cost: f64, window: Option<Duration>) {
        if !(cost.is_finite() && cost > 0.0) {
            return;
        }
        let now = Instant::now();
        let mut all = lock(&self.spend);
        // Windows that have ended hold nothing: forget them as the map grows, so distinct users
        // cannot grow it for ever (without a window a total is kept, as a ledger must).
        if let Some(w) = window {
            if all.len() >= 4096 && all.len().is_power_of_two() {
                all.retain(|_, s| s.reserved > 0.0 || s.window_start.is_some_and(|t| now.duration_since(t) < w));
            }
        }
        let s = all.entry(user.to_owned()).or_insert(Spend { window_start: None, spent: 0.0, reserved: 0.0 });
        match (s.window_start, window) {
            // A new budget window: spend starts again from nothing, as LiteLLM's budget_duration.
            (Some(t), Some(w)) if now.duration_since(t) >= w => {
                s.window_start = Some(now);
                s.spent = 0.0;
            }
            (None, _) => s.window_start = Some(now),
            _ => {}
        }
        s.spent += cost;
    }

    /// Users with a limiter entry (for tests of pruning).
    #[cfg(test)]
    fn tracked_users(&self) -> usize {
        lock(&self.users).values().filter_map(|l| l.rpm.as_ref()).map(|r| r.len()).sum()
    }
}

impl RouterState for MemoryState {
    fn admit<'a>(&'a self, a: Admission<'a>) -> BoxFuture<'a, Result<Admitted>> {
        Box::pin(future::ready(self.admit_now(&a)))
    }

    fn admit_deployment<'a>(
        &'a self,
        candidates: &'a [(&'a str, DeploymentLimits)],
        tokens: u32,
    ) -> BoxFuture<'a, std::result::Result<usize, Vec<Refusal>>> {
        Box::pin(future::ready(self.admit_first(candidates, tokens)))
    }

    fn record_failure<'a>(&'a self, id: &'a str, allowed_fails: u32, cooldown: Duration) -> BoxFuture<'a, bool> {
        Box::pin(future::ready(self.record_failure_now(id, allowed_fails, cooldown)))
    }

    fn cooling_for(&self, id: &str) -> Option<Duration> {
        let now = Instant::now();
        lock(&self.deployments).get(id)?.cooldown_until?.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    fn finish(&self, f: Finish) -> BoxFuture<'_, ()> {
        self.finish_now(f);
        Box::pin(future::ready(()))
    }

    fn vectors_get<'a>(&'a self, keys: &'a [CacheKey]) -> BoxFuture<'a, Vec<Option<Arc<[f32]>>>> {
        Box::pin(future::ready(keys.iter().map(|k| self.vectors.get(k)).collect()))
    }

    fn vectors_put(&self, entries: Vec<(CacheKey, Arc<[f32]>)>, ttl: Duration) -> BoxFuture<'_, ()> {
        for (k, v) in entries {
            self.vectors.put(k, v, ttl);
        }
        Box::pin(future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_budget_check_reads_one_running_total_and_a_window_starts_afresh() {
        let s = MemoryState::new(1 << 20);
        let limits = UserLimits { budget_usd: Some(1.0), budget_duration: Some(Duration::from_secs(2)), ..Default::default() };
        assert!(s.admit_user_now("u", &limits, 0).is_ok());
        for _ in 0..20_000 {
            s.record_spend_now("u", 0.0001, limits.budget_duration);
        }
        let e = s.admit_user_now("u", &limits, 0).unwrap_err();
        assert!(e.message.contains("budget") && !e.retryable, "{}", e.message);
        assert!(s.admit_user_now("v", &limits, 0).is_ok(), "another user's budget is their own");
        std::thread::sleep(Duration::from_millis(2050));
        s.record_spend_now("u", 0.00001, limits.budget_duration);
        assert!(s.admit_user_now("u", &limits, 0).is_ok(), "a new window");
    }

    #[test]
    fn cooldown_after_allowed_fails_and_limits_refuse_with_a_wait() {
        let s = MemoryState::new(1 << 20);
        assert!(!block(s.record_failure("d", 2, Duration::from_secs(5))));
        assert!(block(s.record_failure("d", 2, Duration::from_secs(5))));
        assert!(matches!(block(s.admit_deployment(&[("d", DeploymentLimits::default())], 1)).unwrap_err()[..], [Refusal::Cooling(_)]));
        assert!(s.cooling_for("d").is_some());
        let lim = DeploymentLimits { rpm: Some(1), tpm: None };
        assert_eq!(block(s.admit_deployment(&[("d", DeploymentLimits::default()), ("e", lim)], 1)), Ok(1), "the first that can take it");
        assert!(matches!(block(s.admit_deployment(&[("e", lim)], 1)).unwrap_err()[..], [Refusal::OverLimit(w)] if w > Duration::ZERO));
    }

    #[test]
    fn reservations_hold_a_budget_until_settled() {
        let s = MemoryState::new(1 << 20);
        let subjects = [super::super::Subject { key: "u".into(), limits: UserLimits { budget_usd: Some(1.0), ..Default::default() } }];
        let ask = |reserve| Admission { subjects: &subjects, tokens: 0, reserve, cache: None, candidates: &[] };
        let a = block(s.admit(ask(0.6))).unwrap();
        let b = block(s.admit(ask(0.6))).unwrap();
        let e = block(s.admit(ask(0.6))).err().expect("1.2 of 1.0 reserved: the next is refused");
        assert!(e.message.contains("reserved by requests in flight"), "{}", e.message);
        block(s.finish(Finish { ticket: a.ticket, cost: 0.1, spend: vec![("u".into(), None)], ..Default::default() }));
        block(s.finish(Finish { ticket: b.ticket, cost: 0.1, spend: vec![("u".into(), None)], ..Default::default() }));
        assert_eq!(s.spent("u", None, Instant::now()), (0.2, 0.0));
        assert!(block(s.admit(ask(0.6))).is_ok(), "settled at their real cost: room again");
    }

    #[test]
    fn idle_users_are_pruned_from_the_limiters() {
        let s = MemoryState::new(1 << 20);
        let limits = UserLimits { rpm: Some(1_000_000), ..Default::default() };
        for i in 0..(PRUNE_EVERY * 3) {
            s.admit_user_now(&format!("user-{i}"), &limits, 1).unwrap();
        }
        // A GCRA entry is forgotten once its state is what a fresh one would be; at a million
        // per minute that is within microseconds, so the map stays near one pruning period.
        assert!(s.tracked_users() <= PRUNE_EVERY as usize + 8, "{}", s.tracked_users());
    }
}
