//! The gateway's own settings, read from the LiteLLM proxy config's `general_settings`:
//! `master_key` (LiteLLM's), the API keys beside it (`keys`: llmux's, kept small), and the
//! limits that protect the server. Secrets may be `os.environ/NAME`; `Debug` never shows one.

use std::time::Duration;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use llmux_core::engine::Secrets;
use llmux_core::error::{Error, ErrorKind, Result};

/// The `general_settings` keys this module reads (others are LiteLLM's and ignored).
const KEYS: &[&str] = &[
    "master_key",
    "keys",
    "max_request_size_mb",
    "global_max_parallel_requests",
    "header_timeout",
    "body_timeout",
    "graceful_shutdown_timeout",
];

/// One API key: who it is, what it may call, its own limits.
#[derive(Clone)]
pub struct ApiKey {
    digest: [u8; 32],
    /// The user every request with this key is for (limits, budgets, cache, usage).
    pub user_id: String,
    /// Model groups (or aliases) it may call; empty: all.
    pub models: Vec<String>,
    /// The hidden tag its own limits are kept under, when it has any.
    pub limits_tag: Option<String>,
    /// Tags added to each of its requests (limits by tag).
    pub tags: Vec<String>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey").field("user_id", &self.user_id).field("models", &self.models).finish_non_exhaustive()
    }
}

/// Who a request is, once its key is checked.
#[derive(Clone, Debug)]
pub enum Caller {
    /// No key is configured: the server is open; the request's own `user` applies.
    Open,
    /// The master key: every model, the request's own `user` applies.
    Master,
    Key(ApiKey),
}

impl Caller {
    pub fn user(&self) -> Option<&str> {
        match self {
            Caller::Key(k) => Some(&k.user_id),
            _ => None,
        }
    }

    /// A request's tags for this caller: a client's tags that look like the gateway's own (a
    /// key's limits) are not its to name; a key adds its tags and its limits tag.
    pub fn tag(&self, tags: &mut Vec<String>) {
        tags.retain(|t| !t.starts_with('\u{1}'));
        if let Caller::Key(k) = self {
            tags.extend(k.tags.iter().cloned());
            tags.extend(k.limits_tag.iter().cloned());
        }
    }

    /// Whether it may call `group` (named as asked, and as resolved).
    pub fn may_call(&self, asked: &str, group: &str) -> bool {
        match self {
            Caller::Key(k) => k.models.is_empty() || k.models.iter().any(|m| m == asked || m == group),
            _ => true,
        }
    }
}

#[derive(Clone)]
pub struct GatewayConfig {
    master: Option<[u8; 32]>,
    pub keys: Vec<ApiKey>,
    /// Request bodies over this are refused with 413.
    pub max_body_bytes: usize,
    /// Requests in progress at once; beyond, 429.
    pub max_parallel: usize,
    /// The most a client may take to send a request's headers (and an idle keep-alive
    /// connection may wait for the next): no slowloris.
    pub header_timeout: Duration,
    /// The most a client may take to send a request's body.
    pub body_timeout: Duration,
    /// On SIGTERM or `close()`, how long requests in progress may finish.
    pub shutdown_timeout: Duration,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("master_key", &self.master.map(|_| "<set>"))
            .field("keys", &self.keys)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_parallel", &self.max_parallel)
            .finish_non_exhaustive()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Equal digests, compared in constant time (a key is never compared byte by byte).
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn err(at: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("gateway config: general_settings.{at}: {msg}"))
}

/// A secret: a string, or `os.environ/NAME` read now.
fn secret(v: &Value, at: &str, secrets: &dyn Secrets) -> Result<String> {
    let s = v.as_str().ok_or_else(|| err(at, "must be a string"))?;
    let s = match s.strip_prefix("os.environ/") {
        Some(name) => secrets.secret(name).ok_or_else(|| err(at, format!("the environment variable {name} is not set")))?,
        None => s.to_owned(),
    };
    if s.trim().is_empty() {
        return Err(err(at, "is empty"));
    }
    Ok(s)
}

fn number(m: &Map<String, Value>, k: &str, at: &str) -> Result<Option<f64>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(Some)
            .ok_or_else(|| err(&format!("{at}.{k}"), "must be a non-negative number")),
    }
}

fn seconds(m: &Map<String, Value>, k: &str, default: Duration) -> Result<Duration> {
    Ok(number(m, k, "")?.and_then(|n| Duration::try_from_secs_f64(n).ok()).filter(|d| !d.is_zero()).unwrap_or(default))
}

impl GatewayConfig {
    /// Reads `general_settings` and puts each key's own limits into the router's config
    /// (`router_settings.tag_limits`, under a tag no client can name), so the router enforces
    /// them with the rest, shared through Redis when it is.
    pub fn from_config(config: &mut Value, secrets: &dyn Secrets) -> Result<(GatewayConfig, Vec<String>)> {
        let mut warnings = Vec::new();
        let gs = config.get("general_settings").cloned().unwrap_or(Value::Null);
        let empty = Map::new();
        let gs = match &gs {
            Value::Object(m) => m,
            Value::Null => &empty,
            _ => return Err(Error::new(ErrorKind::Config, "gateway config: general_settings must be an object")),
        };
        let master = gs.get("master_key").filter(|v| !v.is_null()).map(|v| secret(v, "master_key", secrets)).transpose()?;
        if let Some(m) = &master {
            // LiteLLM requires the same: a key that does not look like one is a typo.
            if !m.starts_with("sk-") {
                warnings.push(
                    "gateway config: general_settings.master_key does not start with sk- (LiteLLM requires it; llmux takes it)".into(),
                );
            }
        }
        let mut keys = Vec::new();
        let mut tag_limits = Map::new();
        for (i, k) in gs.get("keys").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let at = format!("keys[{i}]");
            let km = k.as_object().ok_or_else(|| err(&at, "must be an object"))?;
            let key = secret(km.get("key").unwrap_or(&Value::Null), &format!("{at}.key"), secrets)?;
            let user_id = km
                .get("user_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && !s.starts_with('\u{1}'))
                .ok_or_else(|| err(&at, "user_id is required"))?
                .to_owned();
            let list = |name: &str| -> Result<Vec<String>> {
                match km.get(name) {
                    None | Some(Value::Null) => Ok(Vec::new()),
                    Some(Value::Array(a)) => a
                        .iter()
                        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| err(&format!("{at}.{name}"), "must be a list of strings")))
                        .collect(),
                    Some(_) => Err(err(&format!("{at}.{name}"), "must be a list of strings")),
                }
            };
            let (models, tags) = (list("models")?, list("tags")?);
            let mut limits = Map::new();
            for (ours, theirs) in [("rpm", "rpm_limit"), ("tpm", "tpm_limit"), ("budget_usd", "max_budget")] {
                if let Some(n) = number(km, ours, &at)?.or(number(km, theirs, &at)?) {
                    limits.insert(ours.to_owned(), json!(n));
                }
            }
            if let Some(d) = km.get("budget_duration") {
                limits.insert("budget_duration".into(), d.clone());
            }
            let limits_tag = (!limits.is_empty()).then(|| format!("\u{1}key:{user_id}"));
            if let Some(t) = &limits_tag {
                tag_limits.insert(t.clone(), Value::Object(limits));
            }
            if keys.iter().any(|k: &ApiKey| k.digest == digest(&key)) || master.as_deref() == Some(key.as_str()) {
                return Err(err(&at, "the same key is given twice"));
            }
            keys.push(ApiKey { digest: digest(&key), user_id, models, limits_tag, tags });
        }
        if !tag_limits.is_empty() {
            let rs = config
                .as_object_mut()
                .ok_or_else(|| Error::new(ErrorKind::Config, "the config must be an object"))?
                .entry("router_settings")
                .or_insert_with(|| json!({}));
            let rs = rs.as_object_mut().ok_or_else(|| Error::new(ErrorKind::Config, "router_settings must be an object"))?;
            let tl = rs.entry("tag_limits").or_insert_with(|| json!({}));
            let tl = tl.as_object_mut().ok_or_else(|| Error::new(ErrorKind::Config, "router_settings.tag_limits must be an object"))?;
            tl.extend(tag_limits);
        }
        for k in gs.keys() {
            if !KEYS.contains(&k.as_str()) {
                warnings.push(format!("gateway config: general_settings.{k} is LiteLLM's and is ignored here"));
            }
        }
        let mb = number(gs, "max_request_size_mb", "")?.unwrap_or(16.0);
        Ok((
            GatewayConfig {
                master: master.as_deref().map(digest),
                keys,
                max_body_bytes: (mb * 1024.0 * 1024.0).clamp(1024.0, 1024.0 * 1024.0 * 1024.0) as usize,
                max_parallel: number(gs, "global_max_parallel_requests", "")?.map(|n| n.clamp(1.0, 1e6) as usize).unwrap_or(4096),
                header_timeout: seconds(gs, "header_timeout", Duration::from_secs(10))?,
                body_timeout: seconds(gs, "body_timeout", Duration::from_secs(30))?,
                shutdown_timeout: seconds(gs, "graceful_shutdown_timeout", Duration::from_secs(10))?,
            },
            warnings,
        ))
    }

    /// Who presents `key` (`None`: nobody; a wrong key and no key are the same to a caller).
    pub fn caller(&self, key: Option<&str>) -> Option<Caller> {
        if self.master.is_none() && self.keys.is_empty() {
            return Some(Caller::Open);
        }
        let d = digest(key?);
        if self.master.is_some_and(|m| same(&m, &d)) {
            return Some(Caller::Master);
        }
        // Every key is compared, so the time taken says nothing of which matched.
        let mut found = None;
        for k in &self.keys {
            if same(&k.digest, &d) {
                found = Some(k.clone());
            }
        }
        found.map(Caller::Key)
    }

    pub fn requires_key(&self) -> bool {
        self.master.is_some() || !self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env;
    impl Secrets for Env {
        fn secret(&self, name: &str) -> Option<String> {
            (name == "LITELLM_MASTER_KEY").then(|| "sk-master".to_owned())
        }
    }

    #[test]
    fn keys_and_their_limits() {
        let mut cfg = json!({
            "model_list": [],
            "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY", "database_url": "postgres://x",
                "keys": [{"key": "sk-team-a", "user_id": "team-a", "models": ["gpt-4o"], "rpm": 5, "max_budget": 2, "tags": ["a"]},
                         {"key": "sk-team-b", "user_id": "team-b"}]}
        });
        let (g, warnings) = GatewayConfig::from_config(&mut cfg, &Env).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(matches!(g.caller(Some("sk-master")), Some(Caller::Master)));
        assert!(g.caller(Some("sk-nope")).is_none() && g.caller(None).is_none());
        let Some(Caller::Key(a)) = g.caller(Some("sk-team-a")) else { panic!() };
        assert_eq!(a.user_id, "team-a");
        assert!(Caller::Key(a.clone()).may_call("gpt-4o", "gpt-4o") && !Caller::Key(a).may_call("claude", "claude"));
        assert_eq!(cfg["router_settings"]["tag_limits"]["\u{1}key:team-a"], json!({"rpm": 5.0, "budget_usd": 2.0}));
        assert!(!format!("{g:?}").contains("sk-"), "{g:?}");
        let mut open = json!({"model_list": []});
        let (g, _) = GatewayConfig::from_config(&mut open, &Env).unwrap();
        assert!(matches!(g.caller(None), Some(Caller::Open)));
        let mut bad = json!({"general_settings": {"master_key": "os.environ/UNSET"}});
        assert!(GatewayConfig::from_config(&mut bad, &Env).unwrap_err().message.contains("UNSET"));
    }
}
