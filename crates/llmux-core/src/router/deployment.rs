//! One deployment at run time: its config, its rate limits (GCRA, by governor), the requests in
//! flight, a moving average of time to first token, and its failures and cooldown.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::config::DeploymentConfig;
use crate::error::{Error, ErrorKind};

/// Failures count toward a cooldown for this long.
const FAIL_WINDOW: Duration = Duration::from_secs(60);
/// Weight of the newest sample in the time-to-first-token average.
const EWMA_ALPHA: f64 = 0.3;

#[derive(Default)]
struct State {
    fails: VecDeque<Instant>,
    cooldown_until: Option<Instant>,
    last_error: Option<(String, String)>,
    ttft_ms: Option<f64>,
    /// Requests and tokens in the current minute, for usage-based routing.
    minute_start: Option<Instant>,
    minute_requests: u32,
    minute_tokens: u64,
}

pub struct Deployment {
    pub cfg: DeploymentConfig,
    in_flight: AtomicU32,
    rpm: Option<DefaultDirectRateLimiter>,
    tpm: Option<DefaultDirectRateLimiter>,
    state: Mutex<State>,
}

/// Counts a request in flight for as long as it lives.
pub struct InFlight<'a>(&'a Deployment);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn per_minute(n: u32) -> Option<DefaultDirectRateLimiter> {
    NonZeroU32::new(n).map(|n| RateLimiter::direct(Quota::per_minute(n)))
}

/// Why a deployment cannot take a request now, and for how long.
pub enum Refusal {
    Cooling(Duration),
    OverLimit(Duration),
}

impl Deployment {
    pub fn new(cfg: DeploymentConfig) -> Self {
        Deployment {
            rpm: cfg.rpm.and_then(per_minute),
            tpm: cfg.tpm.and_then(per_minute),
            cfg,
            in_flight: AtomicU32::new(0),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn cooling_for(&self, now: Instant) -> Option<Duration> {
        self.state().cooldown_until.and_then(|t| t.checked_duration_since(now)).filter(|d| !d.is_zero())
    }

    pub fn ttft_ms(&self) -> Option<f64> {
        self.state().ttft_ms
    }

    /// Share of this minute's rpm/tpm still free (1 when unlimited).
    pub fn headroom(&self, now: Instant) -> f64 {
        let st = self.state();
        let fresh = st.minute_start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(60));
        let (req, tok) = if fresh { (0, 0) } else { (st.minute_requests, st.minute_tokens) };
        let r = self.cfg.rpm.map(|l| 1.0 - req as f64 / l.max(1) as f64).unwrap_or(1.0);
        let t = self.cfg.tpm.map(|l| 1.0 - tok as f64 / l.max(1) as f64).unwrap_or(1.0);
        r.min(t)
    }

    /// Takes one request (and its estimated tokens) against the limits, or says why not.
    pub fn admit(&self, tokens: u32, now: Instant) -> Result<InFlight<'_>, Refusal> {
        if let Some(d) = self.cooling_for(now) {
            return Err(Refusal::Cooling(d));
        }
        let clock = DefaultClock::default();
        if let Some(l) = &self.rpm {
            if let Err(not_until) = l.check() {
                return Err(Refusal::OverLimit(not_until.wait_time_from(clock.now())));
            }
        }
        if let (Some(l), Some(n)) = (&self.tpm, NonZeroU32::new(tokens)) {
            match l.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(Refusal::OverLimit(not_until.wait_time_from(clock.now()))),
                // More tokens than a minute allows: it will never fit.
                Err(_) => return Err(Refusal::OverLimit(Duration::from_secs(60))),
            }
        }
        {
            let mut st = self.state();
            if st.minute_start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(60)) {
                st.minute_start = Some(now);
                st.minute_requests = 0;
                st.minute_tokens = 0;
            }
            st.minute_requests += 1;
            st.minute_tokens += u64::from(tokens);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(InFlight(self))
    }

    pub fn record_success(&self, ttft: Duration) {
        let mut st = self.state();
        let ms = ttft.as_secs_f64() * 1000.0;
        st.ttft_ms = Some(match st.ttft_ms {
            Some(avg) => avg * (1.0 - EWMA_ALPHA) + ms * EWMA_ALPHA,
            None => ms,
        });
    }

    /// Counts a failure; `allowed_fails` within a minute cool the deployment for `cooldown`.
    /// Returns whether it is now cooling.
    pub fn record_failure(&self, err: &Error, allowed_fails: u32, cooldown: Duration, now: Instant) -> bool {
        let counts = matches!(
            err.kind,
            ErrorKind::RateLimit
                | ErrorKind::ProviderUnavailable
                | ErrorKind::Timeout
                | ErrorKind::Network
                | ErrorKind::Auth
                | ErrorKind::NotFound
        );
        let mut st = self.state();
        st.last_error = Some((err.kind.code().to_owned(), err.message.clone()));
        if !counts {
            return false;
        }
        while st.fails.front().is_some_and(|t| now.duration_since(*t) > FAIL_WINDOW) {
            st.fails.pop_front();
        }
        st.fails.push_back(now);
        if st.fails.len() as u32 >= allowed_fails.max(1) {
            st.fails.clear();
            st.cooldown_until = Some(now + cooldown);
            return true;
        }
        false
    }

    /// `(healthy, cooling seconds left, last error code, last error message)`.
    pub fn health(&self, now: Instant) -> (bool, Option<f64>, Option<(String, String)>) {
        let cooling = self.cooling_for(now);
        (cooling.is_none(), cooling.map(|d| d.as_secs_f64()), self.state().last_error.clone())
    }

    /// Price of a typical request's tokens, for cost-based routing.
    pub fn unit_cost(&self) -> f64 {
        self.cfg.info.input_cost_per_token.unwrap_or(f64::MAX / 4.0) + self.cfg.info.output_cost_per_token.unwrap_or(f64::MAX / 4.0)
    }
}
