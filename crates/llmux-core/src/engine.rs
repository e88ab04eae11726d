//! The engine: everything one user of llmux configures, owned in one value instead of
//! process-wide statics. It holds the HTTP clients, the secrets the caller provided and the
//! default timeouts. Every front door (the Node addon,
//! the gateway, a Rust program) creates its own; two engines in one process never see each
//! other's secrets or settings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::transport::HttpClients;

/// Default timeouts of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// From sending the request to the response headers (a non-streamed answer arrives whole,
    /// so this is as long as the total by default).
    pub first_byte: Duration,
    /// The whole call, retries included.
    pub total: Duration,
    /// The longest silence allowed between two reads of a stream.
    pub idle: Duration,
}

impl Timeouts {
    pub const DEFAULT: Timeouts = Timeouts {
        connect: Duration::from_secs(10),
        first_byte: Duration::from_secs(600),
        total: Duration::from_secs(600),
        idle: Duration::from_secs(300),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts::DEFAULT
    }
}

/// Bounds on what an upstream can make llmux hold. A breach is a `decode` error for that call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A whole non-streamed response body, and everything one streamed answer accumulates.
    pub max_response_bytes: usize,
    /// One framed stream event (an SSE event, a JSON array element).
    pub max_event_bytes: usize,
}

impl Limits {
    pub const DEFAULT: Limits = Limits { max_response_bytes: 64 << 20, max_event_bytes: crate::wire::DEFAULT_MAX_EVENT };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Where secrets come from: what the caller provided, then (for the engine) the environment.
pub trait Secrets: Send + Sync {
    /// A secret by its conventional variable name (`OPENAI_API_KEY`...); blank counts as absent.
    fn secret(&self, name: &str) -> Option<String>;
}

pub struct Engine {
    secrets: RwLock<Arc<HashMap<String, String>>>,
    /// Whether the process environment is consulted after the provided secrets.
    use_env: bool,
    timeouts: RwLock<Timeouts>,
    limits: RwLock<Limits>,
    http: RwLock<Arc<HttpClients>>,
    /// Whether a request may name the offline `mock` provider (router configs always may).
    mock: AtomicBool,
    /// Cloud credentials fetched for calls (Vertex, Bedrock, Azure), until they near expiry.
    credentials: Arc<crate::credentials::CredentialCache>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secret names only: their values never reach a log.
        let names: Vec<String> = self.provided().keys().cloned().collect();
        f.debug_struct("Engine").field("secrets", &names).field("timeouts", &self.timeouts()).finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// An engine with default timeouts that reads secrets from the environment.
    pub fn new() -> Engine {
        Engine {
            secrets: RwLock::new(Arc::default()),
            use_env: true,
            timeouts: RwLock::new(Timeouts::DEFAULT),
            limits: RwLock::new(Limits::DEFAULT),
            http: RwLock::new(Arc::new(HttpClients::new(Timeouts::DEFAULT.connect))),
            // Off in production: a request's model id (amplify's comes from its users) must not
            // reach a provider that answers anything for free. `LLMUX_MOCK=1` turns it on.
            mock: AtomicBool::new(std::env::var("LLMUX_MOCK").is_ok_and(|v| v == "1" || v == "true")),
            credentials: Arc::default(),
        }
    }

    /// An engine that sees only the secrets it is given, never the process environment (for a
    /// server holding several tenants' keys, and for tests).
    pub fn isolated() -> Engine {
        Engine { use_env: false, mock: AtomicBool::new(false), ..Engine::new() }
    }

    fn provided(&self) -> Arc<HashMap<String, String>> {
        self.secrets.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Replaces the provided secrets (looked up before the environment; never logged).
    pub fn set_secrets(&self, secrets: HashMap<String, String>) {
        *self.secrets.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(secrets);
    }

    pub fn timeouts(&self) -> Timeouts {
        *self.timeouts.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the default timeouts; a new connect timeout builds new HTTP clients, so it holds from
    /// the next request on (calls under way keep the clients they started with).
    pub fn set_timeouts(&self, t: Timeouts) {
        let old = std::mem::replace(&mut *self.timeouts.write().unwrap_or_else(|p| p.into_inner()), t);
        if old.connect != t.connect {
            *self.http.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(HttpClients::new(t.connect));
        }
    }

    pub fn limits(&self) -> Limits {
        *self.limits.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_limits(&self, l: Limits) {
        *self.limits.write().unwrap_or_else(|p| p.into_inner()) =
            Limits { max_response_bytes: l.max_response_bytes.max(1024), max_event_bytes: l.max_event_bytes.max(1024) };
    }

    /// Lets requests name the offline `mock` provider (demos, tests).
    pub fn set_mock_enabled(&self, on: bool) {
        self.mock.store(on, Ordering::Relaxed);
    }

    pub fn mock_enabled(&self) -> bool {
        self.mock.load(Ordering::Relaxed)
    }

    /// The cache of cloud credentials.
    pub fn credentials(&self) -> Arc<crate::credentials::CredentialCache> {
        self.credentials.clone()
    }

    /// The HTTP clients for a new call.
    pub fn http(&self) -> Arc<HttpClients> {
        self.http.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Secrets for Engine {
    fn secret(&self, name: &str) -> Option<String> {
        let provided = self.provided().get(name).cloned();
        let found = if self.use_env { provided.or_else(|| std::env::var(name).ok()) } else { provided };
        found.filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_secret_wins_over_environment_and_blank_is_absent() {
        let e = Engine::new();
        std::env::set_var("LLMUX_TEST_SECRET_A", "from-env");
        assert_eq!(e.secret("LLMUX_TEST_SECRET_A").as_deref(), Some("from-env"));
        e.set_secrets(HashMap::from([
            ("LLMUX_TEST_SECRET_A".to_owned(), "provided".to_owned()),
            ("LLMUX_TEST_SECRET_B".to_owned(), String::new()),
        ]));
        assert_eq!(e.secret("LLMUX_TEST_SECRET_A").as_deref(), Some("provided"));
        assert_eq!(e.secret("LLMUX_TEST_SECRET_B"), None);
        assert!(!format!("{e:?}").contains("provided"), "Debug shows names, never values");
    }

    #[test]
    fn a_new_connect_timeout_builds_new_clients_for_the_next_request() {
        let e = Engine::new();
        let before = e.http();
        e.set_timeouts(Timeouts { idle: Duration::from_secs(1), ..Timeouts::DEFAULT });
        assert!(Arc::ptr_eq(&before, &e.http()), "other timeouts need no new client");
        e.set_timeouts(Timeouts { connect: Duration::from_millis(250), ..Timeouts::DEFAULT });
        assert!(!Arc::ptr_eq(&before, &e.http()));
        assert_eq!(e.http().connect_timeout(), Duration::from_millis(250));
    }
}
