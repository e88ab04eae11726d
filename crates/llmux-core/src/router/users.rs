//! Per-user limits set in the router (`router_settings.user_limits`): requests and tokens per
//! minute (GCRA, by governor, keyed by user) and a spend budget over a window.

use std::num::NonZeroU32;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::config::UserLimits;
use super::ledger::Ledger;
use crate::error::{Error, ErrorKind, Result};

pub struct UserLimiter {
    rpm: Option<DefaultKeyedRateLimiter<String>>,
    tpm: Option<DefaultKeyedRateLimiter<String>>,
    budget: Option<f64>,
    window: Option<Duration>,
}

fn keyed(n: Option<u32>) -> Option<DefaultKeyedRateLimiter<String>> {
    n.and_then(NonZeroU32::new).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

fn refused(what: &str, user: &str, wait: Duration) -> Error {
    Error::new(ErrorKind::RateLimit, format!("user \"{user}\" is over its {what} limit; retry in {:.1} s", wait.as_secs_f64()))
        .with_retry_after(Some(wait))
}

impl UserLimiter {
    pub fn new(l: &UserLimits) -> Self {
        UserLimiter { rpm: keyed(l.rpm), tpm: keyed(l.tpm), budget: l.budget_usd, window: l.budget_duration }
    }

    pub fn uses_tokens(&self) -> bool {
        self.tpm.is_some()
    }

    /// Takes one request of `tokens` for `user`, or refuses it with a retry-after hint.
    pub fn admit(&self, user: &str, tokens: u32, ledger: &Ledger) -> Result<()> {
        if let Some(budget) = self.budget {
            let since = match self.window {
                Some(w) => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0) - w.as_secs_f64(),
                None => 0.0,
            };
            let spent = ledger.spent_by(user, since);
            if spent >= budget {
                let mut e = Error::new(ErrorKind::RateLimit, format!("user \"{user}\" has spent its budget (${spent:.4} of ${budget:.4})"));
                e.retryable = false;
                return Err(e);
            }
        }
        let clock = DefaultClock::default();
        let key = user.to_owned();
        if let Some(l) = &self.rpm {
            l.check_key(&key).map_err(|n| refused("requests-per-minute", user, n.wait_time_from(clock.now())))?;
        }
        if let (Some(l), Some(n)) = (&self.tpm, NonZeroU32::new(tokens)) {
            match l.check_key_n(&key, n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(refused("tokens-per-minute", user, not_until.wait_time_from(clock.now()))),
                Err(_) => return Err(refused("tokens-per-minute", user, Duration::from_secs(60))),
            }
        }
        Ok(())
    }
}
