//! Process-wide settings: the secrets the JS side resolved (from the caller's provider, cached
//! there for its TTL) and timeout defaults. A secret is looked up in the provided secrets first,
//! then in the environment, at the time of each request (AWS role credentials rotate).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

static SECRETS: RwLock<Option<Arc<HashMap<String, String>>>> = RwLock::new(None);
static TIMEOUTS: RwLock<Timeouts> = RwLock::new(Timeouts::DEFAULT);

/// Replaces the provided secrets (never logged, never part of a cache key).
pub fn set_secrets(secrets: HashMap<String, String>) {
    let mut guard = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    *guard = Some(Arc::new(secrets));
}

/// A secret by its conventional variable name: provided secrets first, then the environment.
pub fn secret(name: &str) -> Option<String> {
    let provided = SECRETS.read().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|m| m.get(name).cloned());
    provided.or_else(|| std::env::var(name).ok()).filter(|v| !v.is_empty())
}

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

pub fn timeouts() -> Timeouts {
    *TIMEOUTS.read().unwrap_or_else(|p| p.into_inner())
}

pub fn set_timeouts(t: Timeouts) {
    *TIMEOUTS.write().unwrap_or_else(|p| p.into_inner()) = t;
}

/// Serialises the tests that replace the process-wide secrets.
#[cfg(test)]
pub static SECRETS_TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_secret_wins_over_environment_and_blank_is_absent() {
        let _guard = SECRETS_TEST_LOCK.lock().unwrap_or_else(|p| p.into_inner());
        std::env::set_var("LLMUX_TEST_SECRET_A", "from-env");
        assert_eq!(secret("LLMUX_TEST_SECRET_A").as_deref(), Some("from-env"));
        set_secrets(HashMap::from([
            ("LLMUX_TEST_SECRET_A".to_owned(), "provided".to_owned()),
            ("LLMUX_TEST_SECRET_B".to_owned(), String::new()),
        ]));
        assert_eq!(secret("LLMUX_TEST_SECRET_A").as_deref(), Some("provided"));
        assert_eq!(secret("LLMUX_TEST_SECRET_B"), None);
    }
}
