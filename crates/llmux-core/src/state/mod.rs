//! Router state: what a router must agree on with every other instance serving the same traffic
//! (rate limits, cooldowns, spend against budgets, the response cache), behind one async
//! interface. `MemoryState` keeps it in this process; a shared backend (Redis) implements the
//! same trait (`redis/`). What one instance observes only for itself (requests in flight, time to first
//! token) stays on the router's deployments.

mod memory;
pub mod redis;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use memory::MemoryState;
pub use redis::{RedisConfig, RedisState};

use crate::cache::{CacheKey, Cached};

use crate::error::Result;
use crate::router::config::UserLimits;

/// The key limits and spend of a tag are kept under (beside users' own: no user id starts so).
pub fn tag_key(tag: &str) -> String {
    format!("\u{1}tag:{tag}")
}

/// The key of the router's global limits and spend.
pub const GLOBAL_KEY: &str = "\u{1}global";

/// How a limits key reads in a message: `user "alice"`, `tag "summarise"`, `the router`.
pub fn subject(key: &str) -> String {
    match key.strip_prefix("\u{1}") {
        Some("global") => "the router".to_owned(),
        Some(rest) => match rest.strip_prefix("tag:") {
            Some(t) => format!("tag \"{t}\""),
            None => format!("\"{rest}\""),
        },
        None => format!("user \"{key}\""),
    }
}

/// A deployment's own limits, per minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeploymentLimits {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
}

/// Why a deployment cannot take a request now, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    Cooling(Duration),
    OverLimit(Duration),
}

/// One subject of limits and a budget: the router (`GLOBAL_KEY`), a tag (`tag_key`) or a user.
#[derive(Clone, Debug)]
pub struct Subject {
    pub key: String,
    pub limits: UserLimits,
}

/// Everything a routed request needs settled before its first attempt, asked at once (one round
/// trip for a shared backend).
pub struct Admission<'a> {
    /// Checked in order; limits are taken from all of them, or (for a shared backend) from none.
    pub subjects: &'a [Subject],
    /// Tokens counted against tpm limits.
    pub tokens: u32,
    /// The most the request can cost (USD), reserved against every budget until it is settled,
    /// so requests in flight count before their bill is known.
    pub reserve: f64,
    /// The response-cache entry to look up (after the limits, before the reservation).
    pub cache: Option<&'a CacheKey>,
    /// The first group's deployments in the strategy's order: the first that is not cooling and
    /// is under its limits takes the request (not asked on a cache hit).
    pub candidates: &'a [(&'a str, DeploymentLimits)],
}

/// What an admission decided.
#[derive(Default)]
pub struct Admitted {
    pub ticket: Ticket,
    pub cached: Option<Arc<Cached>>,
    /// Which candidate took the request, or why each refused; `None` on a cache hit or when no
    /// candidates were given.
    pub deployment: Option<std::result::Result<usize, Vec<Refusal>>>,
    /// Said on the answer when the shared state could not be reached.
    pub warning: Option<String>,
}

/// A budget reservation, settled by `finish` with the real cost.
#[derive(Debug, Default)]
pub struct Ticket {
    pub id: String,
    pub reserved: f64,
    /// The subjects whose budgets hold the reservation.
    pub keys: Vec<String>,
    /// Made in the shared backend (or, when it was unreachable, locally).
    pub shared: bool,
}

/// A request's end: its reservation settled with its cost, spend added to each budget, a
/// ledger record, the answer to cache, the metrics recorded since the last finish.
#[derive(Default)]
pub struct Finish {
    pub ticket: Ticket,
    pub cost: f64,
    /// Budget subjects and their windows (`None`: for ever).
    pub spend: Vec<(String, Option<Duration>)>,
    pub record: Option<crate::router::ledger::Record>,
    pub cache: Option<(CacheKey, Arc<Cached>)>,
    pub metrics: Vec<(String, f64)>,
}

pub trait RouterState: Send + Sync {
    /// Takes a request under its subjects' limits and budgets, looks it up in the cache and
    /// admits it to the first candidate deployment that can take it; a subject's refusal is a
    /// typed `rate_limit` error (a retry-after hint where waiting helps).
    fn admit<'a>(&'a self, a: Admission<'a>) -> BoxFuture<'a, Result<Admitted>>;

    /// Admits a request to the first of `candidates` (in the strategy's order) that is not
    /// cooling down and is under its limits; else why each refused.
    fn admit_deployment<'a>(
        &'a self,
        candidates: &'a [(&'a str, DeploymentLimits)],
        tokens: u32,
    ) -> BoxFuture<'a, std::result::Result<usize, Vec<Refusal>>>;

    /// Counts a failure of a deployment; `allowed_fails` within a minute cool it for `cooldown`.
    /// Returns whether it is now cooling.
    fn record_failure<'a>(&'a self, id: &'a str, allowed_fails: u32, cooldown: Duration) -> BoxFuture<'a, bool>;

    /// How long a deployment still cools, as this instance last saw it (for health reports,
    /// which must answer without a round trip).
    fn cooling_for(&self, id: &str) -> Option<Duration>;

    /// Settles a request (see `Finish`). Runs after the caller has its answer.
    fn finish(&self, f: Finish) -> BoxFuture<'_, ()>;

    /// Cached embeddings, one lookup for many inputs (one round trip for a shared backend).
    fn vectors_get<'a>(&'a self, keys: &'a [CacheKey]) -> BoxFuture<'a, Vec<Option<Arc<[f32]>>>>;

    /// Stores embeddings for `ttl`.
    fn vectors_put(&self, entries: Vec<(CacheKey, Arc<[f32]>)>, ttl: Duration) -> BoxFuture<'_, ()>;

    /// Whether the state is shared with other instances (then `finish` carries metrics, and
    /// usage and metrics are read back from it).
    fn shared(&self) -> bool {
        false
    }

    /// The ledger records of every instance since `since` (unix seconds); `None` when the
    /// state is this process's own, or the shared one cannot be read now.
    fn records_since(&self, _since: f64) -> BoxFuture<'_, Option<Vec<crate::router::ledger::Record>>> {
        Box::pin(futures_util::future::ready(None))
    }

    /// The metrics of every instance, as `Metrics` fields; `None` as for `records_since`.
    fn metric_fields(&self) -> BoxFuture<'_, Option<Vec<(String, f64)>>> {
        Box::pin(futures_util::future::ready(None))
    }

    /// Writes whatever is waiting for the shared backend; whether nothing is left waiting.
    fn flush(&self) -> BoxFuture<'_, bool> {
        Box::pin(futures_util::future::ready(true))
    }

    /// Prometheus text about the state itself (a shared backend's errors).
    fn render_own_metrics(&self, _out: &mut String) {}
}
