//! One deployment at run time, as this instance sees it: its config, the requests it has in
//! flight, a moving average of time to first token, this minute's requests and tokens (for
//! usage-based routing) and its last error. Limits and cooldowns are shared state (`state/`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::DeploymentConfig;
use crate::error::{Error, ErrorKind};
use crate::state::DeploymentLimits;

/// Weight of the newest sample in the time-to-first-token average.
const EWMA_ALPHA: f64 = 0.3;

#[derive(Default)]
struct Local {
    last_error: Option<(String, String)>,
    ttft_ms: Option<f64>,
    minute_start: Option<Instant>,
    minute_requests: u32,
    minute_tokens: u64,
}

pub struct Deployment {
    pub cfg: DeploymentConfig,
    in_flight: AtomicU32,
    local: Mutex<Local>,
}

/// Counts a request in flight for as long as it lives.
pub struct InFlight<'a>(&'a Deployment);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether a failure says the deployment itself is unwell (and so counts toward a cooldown).
pub fn counts_toward_cooldown(e: &Error) -> bool {
    matches!(
        e.kind,
        ErrorKind::RateLimit
            | ErrorKind::ProviderUnavailable
            | ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::Auth
            | ErrorKind::NotFound
    )
}

impl Deployment {
    pub fn new(cfg: DeploymentConfig) -> Self {
        Deployment { cfg, in_flight: AtomicU32::new(0), local: Mutex::default() }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limits(&self) -> DeploymentLimits {
        DeploymentLimits { rpm: self.cfg.rpm, tpm: self.cfg.tpm }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn ttft_ms(&self) -> Option<f64> {
        self.local().ttft_ms
    }

    pub fn last_error(&self) -> Option<(String, String)> {
        self.local().last_error.clone()
    }

    /// Share of this minute's rpm/tpm still free (1 when unlimited).
    pub fn headroom(&self, now: Instant) -> f64 {
        let st = self.local();
        let fresh = st.minute_start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(60));
        let (req, tok) = if fresh { (0, 0) } else { (st.minute_requests, st.minute_tokens) };
        let r = self.cfg.rpm.map(|l| 1.0 - req as f64 / l.max(1) as f64).unwrap_or(1.0);
        let t = self.cfg.tpm.map(|l| 1.0 - tok as f64 / l.max(1) as f64).unwrap_or(1.0);
        r.min(t)
    }

    /// Counts a request the shared state admitted: in flight until the guard drops.
    pub fn start(&self, tokens: u32, now: Instant) -> InFlight<'_> {
        {
            let mut st = self.local();
            if st.minute_start.is_none_or(|s| now.duration_since(s) >= Duration::from_secs(60)) {
                st.minute_start = Some(now);
                st.minute_requests = 0;
                st.minute_tokens = 0;
            }
            st.minute_requests += 1;
            st.minute_tokens += u64::from(tokens);
        }
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    pub fn record_success(&self, ttft: Duration) {
        let mut st = self.local();
        let ms = ttft.as_secs_f64() * 1000.0;
        st.ttft_ms = Some(match st.ttft_ms {
            Some(avg) => avg * (1.0 - EWMA_ALPHA) + ms * EWMA_ALPHA,
            None => ms,
        });
    }

    pub fn record_error(&self, err: &Error) {
        self.local().last_error = Some((err.kind.code().to_owned(), err.message.clone()));
    }

    /// Price of a typical request's tokens, for cost-based routing (an unpriced deployment
    /// comes last).
    pub fn unit_cost(&self) -> f64 {
        self.cfg.info.input_cost_per_token.unwrap_or(f64::MAX / 4.0) + self.cfg.info.output_cost_per_token.unwrap_or(f64::MAX / 4.0)
    }
}
