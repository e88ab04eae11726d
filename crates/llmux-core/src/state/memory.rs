//! The in-process `RouterState`: GCRA rate limits (governor), cooldowns, spend per user and
//! budget window (a running total, so a budget check costs O(1)), and the moka response cache.
//! Keyed limiter maps are pruned as they grow, so distinct user ids cannot grow memory for ever.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::{self, BoxFuture};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::{DeploymentLimits, Refusal, RouterState};
use crate::cache::{CacheKey, Cached, ResponseCache, VectorCache};
use crate::chat::{ChatChunk, ChatCompletion};
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

/// A user's spend in its current budget window.
struct Spend {
    window_start: Instant,
    spent: f64,
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

fn refused(what: &str, user: &str, wait: Duration) -> Error {
    Error::new(ErrorKind::RateLimit, format!("{} is over its {what} limit; retry in {:.1} s", super::subject(user), wait.as_secs_f64()))
        .with_retry_after(Some(wait))
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

    fn spent(&self, user: &str, window: Option<Duration>, now: Instant) -> f64 {
        match lock(&self.spend).get(user) {
            Some(s) if window.is_none_or(|w| now.duration_since(s.window_start) < w) => s.spent,
            _ => 0.0,
        }
    }

    fn admit_user_now(&self, user: &str, limits: &UserLimits, tokens: u32) -> Result<()> {
        if let Some(budget) = limits.budget_usd {
            let spent = self.spent(user, limits.budget_duration, Instant::now());
            if spent >= budget {
                let mut e = Error::new(
                    ErrorKind::RateLimit,
                    format!("{} has spent its budget (${spent:.4} of ${budget:.4})", super::subject(user)),
                );
                e.retryable = false;
                return Err(e);
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
        let clock = DefaultClock::default();
        let key = user.to_owned();
        if let Some(r) = &l.rpm {
            r.check_key(&key).map_err(|n| refused("requests-per-minute", user, n.wait_time_from(clock.now())))?;
        }
        if let (Some(t), Some(n)) = (&l.tpm, NonZeroU32::new(tokens)) {
            match t.check_key_n(&key, n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(refused("tokens-per-minute", user, not_until.wait_time_from(clock.now()))),
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
        let clock = DefaultClock::default();
        if let Some(l) = &d.rpm {
            l.check().map_err(|n| Refusal::OverLimit(n.wait_time_from(clock.now())))?;
        }
        if let (Some(l), Some(n)) = (&d.tpm, NonZeroU32::new(tokens)) {
            match l.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(Refusal::OverLimit(not_until.wait_time_from(clock.now()))),
                // More tokens than a minute allows: it will never fit.
                Err(_) => return Err(Refusal::OverLimit(Duration::from_secs(60))),
            }
        }
        Ok(())
    }

    fn record_failure_now(&self, id: &str, allowed_fails: u32, cooldown: Duration) -> bool {
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

    fn record_spend_now(&self, user: &str, cost: f64, window: Option<Duration>) {
        if !(cost.is_finite() && cost > 0.0) {
            return;
        }
        let now = Instant::now();
        let mut all = lock(&self.spend);
        // Windows that have ended hold nothing: forget them as the map grows, so distinct users
        // cannot grow it for ever (without a window a total is kept, as a ledger must).
        if let Some(w) = window {
            if all.len() >= 4096 && all.len().is_power_of_two() {
                all.retain(|_, s| now.duration_since(s.window_start) < w);
            }
        }
        let s = all.entry(user.to_owned()).or_insert(Spend { window_start: now, spent: 0.0 });
        if window.is_some_and(|w| now.duration_since(s.window_start) >= w) {
            // A new budget window: spend starts again from nothing, as LiteLLM's budget_duration.
            *s = Spend { window_start: now, spent: 0.0 };
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
    fn admit_user<'a>(&'a self, user: &'a str, limits: &'a UserLimits, tokens: u32) -> BoxFuture<'a, Result<()>> {
        Box::pin(future::ready(self.admit_user_now(user, limits, tokens)))
    }

    fn admit_deployment<'a>(&'a self, id: &'a str, limits: DeploymentLimits, tokens: u32) -> BoxFuture<'a, Result<(), Refusal>> {
        Box::pin(future::ready(self.admit_deployment_now(id, limits, tokens)))
    }

    fn record_failure<'a>(&'a self, id: &'a str, allowed_fails: u32, cooldown: Duration) -> BoxFuture<'a, bool> {
        Box::pin(future::ready(self.record_failure_now(id, allowed_fails, cooldown)))
    }

    fn cooling_for(&self, id: &str) -> Option<Duration> {
        let now = Instant::now();
        lock(&self.deployments).get(id)?.cooldown_until?.checked_duration_since(now).filter(|d| !d.is_zero())
    }

    fn record_spend<'a>(&'a self, user: &'a str, cost: f64, window: Option<Duration>) -> BoxFuture<'a, ()> {
        self.record_spend_now(user, cost, window);
        Box::pin(future::ready(()))
    }

    fn cache_get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Option<Arc<Cached>>> {
        Box::pin(future::ready(self.cache.get(key)))
    }

    fn cache_put(&self, key: CacheKey, completion: ChatCompletion, chunks: Option<Vec<ChatChunk>>, ttl: Duration) -> BoxFuture<'_, ()> {
        self.cache.put(key, completion, chunks, ttl);
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
        let limits = UserLimits { budget_usd: Some(1.0), budget_duration: Some(Duration::from_millis(300)), ..Default::default() };
        assert!(block(s.admit_user("u", &limits, 0)).is_ok());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            for _ in 0..20_000 {
                s.record_spend("u", 0.0001, limits.budget_duration).await;
            }
        });
        let e = block(s.admit_user("u", &limits, 0)).unwrap_err();
        assert!(e.message.contains("budget") && !e.retryable, "{}", e.message);
        assert!(block(s.admit_user("v", &limits, 0)).is_ok(), "another user's budget is their own");
        std::thread::sleep(Duration::from_millis(320));
        block(s.record_spend("u", 0.00001, limits.budget_duration));
        assert!(block(s.admit_user("u", &limits, 0)).is_ok(), "a new window");
    }

    #[test]
    fn cooldown_after_allowed_fails_and_limits_refuse_with_a_wait() {
        let s = MemoryState::new(1 << 20);
        assert!(!block(s.record_failure("d", 2, Duration::from_secs(5))));
        assert!(block(s.record_failure("d", 2, Duration::from_secs(5))));
        assert!(matches!(block(s.admit_deployment("d", DeploymentLimits::default(), 1)), Err(Refusal::Cooling(_))));
        assert!(s.cooling_for("d").is_some());
        let lim = DeploymentLimits { rpm: Some(1), tpm: None };
        assert!(block(s.admit_deployment("e", lim, 1)).is_ok());
        assert!(matches!(block(s.admit_deployment("e", lim, 1)), Err(Refusal::OverLimit(w)) if w > Duration::ZERO));
    }

    #[test]
    fn idle_users_are_pruned_from_the_limiters() {
        let s = MemoryState::new(1 << 20);
        let limits = UserLimits { rpm: Some(1_000_000), ..Default::default() };
        for i in 0..(PRUNE_EVERY * 3) {
            block(s.admit_user(&format!("user-{i}"), &limits, 1)).unwrap();
        }
        // A GCRA entry is forgotten once its state is what a fresh one would be; at a million
        // per minute that is within microseconds, so the map stays near one pruning period.
        assert!(s.tracked_users() <= PRUNE_EVERY as usize + 8, "{}", s.tracked_users());
    }
}
