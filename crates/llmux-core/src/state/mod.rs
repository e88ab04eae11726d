//! Router state: what a router must agree on with every other instance serving the same traffic
//! (rate limits, cooldowns, spend against budgets, the response cache), behind one async
//! interface. `MemoryState` keeps it in this process; a shared backend (Redis) implements the
//! same trait. What one instance observes only for itself (requests in flight, time to first
//! token) stays on the router's deployments.

mod memory;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

pub use memory::MemoryState;

use crate::cache::{CacheKey, Cached};
use crate::chat::{ChatChunk, ChatCompletion};
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

pub trait RouterState: Send + Sync {
    /// Takes one request of `tokens` for `user` under the per-user limits and budget, or refuses
    /// it with a typed `rate_limit` error (a retry-after hint where waiting helps).
    fn admit_user<'a>(&'a self, user: &'a str, limits: &'a UserLimits, tokens: u32) -> BoxFuture<'a, Result<()>>;

    /// Takes one request of `tokens` against a deployment's limits, unless it is cooling down.
    fn admit_deployment<'a>(&'a self, id: &'a str, limits: DeploymentLimits, tokens: u32) -> BoxFuture<'a, Result<(), Refusal>>;

    /// Counts a failure of a deployment; `allowed_fails` within a minute cool it for `cooldown`.
    /// Returns whether it is now cooling.
    fn record_failure<'a>(&'a self, id: &'a str, allowed_fails: u32, cooldown: Duration) -> BoxFuture<'a, bool>;

    /// How long a deployment still cools, as this instance last saw it (for health reports,
    /// which must answer without a round trip).
    fn cooling_for(&self, id: &str) -> Option<Duration>;

    /// Adds to a user's spend in its budget window (`None`: for ever).
    fn record_spend<'a>(&'a self, user: &'a str, cost: f64, window: Option<Duration>) -> BoxFuture<'a, ()>;

    fn cache_get<'a>(&'a self, key: &'a CacheKey) -> BoxFuture<'a, Option<Arc<Cached>>>;

    /// Stores an answer (and the chunks it streamed as, when it was streamed) for `ttl`.
    fn cache_put(&self, key: CacheKey, completion: ChatCompletion, chunks: Option<Vec<ChatChunk>>, ttl: Duration) -> BoxFuture<'_, ()>;

    /// Cached embeddings, one lookup for many inputs (one round trip for a shared backend).
    fn vectors_get<'a>(&'a self, keys: &'a [CacheKey]) -> BoxFuture<'a, Vec<Option<Arc<[f32]>>>>;

    /// Stores embeddings for `ttl`.
    fn vectors_put(&self, entries: Vec<(CacheKey, Arc<[f32]>)>, ttl: Duration) -> BoxFuture<'_, ()>;
}
