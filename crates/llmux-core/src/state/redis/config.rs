//! Where the shared state lives, read as LiteLLM reads it: `router_settings.redis_url`, or
//! `redis_host` / `redis_port` / `redis_password` / `redis_username` / `redis_ssl`, or
//! `redis_startup_nodes` for a Redis Cluster; values may be `os.environ/NAME`. With none of them
//! in the config, the `REDIS_URL`, `REDIS_HOST`... environment variables (LiteLLM's) apply.
//! `redis: false` keeps the state in-process whatever the environment says.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use crate::engine::Secrets;
use crate::error::{Error, ErrorKind, Result};
use crate::router::config::Param;

/// The `router_settings` keys this module reads.
pub const KEYS: &[&str] = &[
    "redis",
    "redis_url",
    "redis_host",
    "redis_port",
    "redis_password",
    "redis_username",
    "redis_ssl",
    "redis_ssl_ca_certs",
    "redis_startup_nodes",
    "redis_namespace",
    "redis_timeout",
    "redis_connect_timeout",
    "redis_fail_closed",
    "redis_max_item_bytes",
];

/// The redis settings of a config as written (`os.environ/` references unresolved).
#[derive(Clone, Debug, Default)]
pub struct RedisSpec {
    params: HashMap<String, Param>,
    disabled: bool,
}

impl RedisSpec {
    /// Picks the redis keys out of `router_settings` (falling back to `litellm_settings`).
    pub fn from_settings(get: &dyn Fn(&str) -> Option<Value>) -> Result<RedisSpec> {
        let mut spec = RedisSpec::default();
        for k in KEYS {
            let Some(v) = get(k) else { continue };
            if *k == "redis" {
                spec.disabled = match v {
                    Value::Bool(b) => !b,
                    _ => return Err(err("redis", "must be true or false")),
                };
                continue;
            }
            spec.params.insert((*k).to_owned(), Param::from_value(&v));
        }
        Ok(spec)
    }
}

/// Resolved settings of the shared state. `Debug` never shows the password.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URLs: one server, or a cluster's startup nodes.
    pub nodes: Vec<String>,
    pub cluster: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Every key starts with `{namespace}`: the hash tag that keeps a router's keys in one
    /// cluster slot (its scripts touch several together), and apart from other routers' keys.
    pub namespace: String,
    /// How long a command may take before the request goes on with local state.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Refuse requests under a budget while Redis cannot be reached (instead of local budgets).
    pub fail_closed: bool,
    /// Cached answers larger than this stay out of Redis (in the local cache only).
    pub max_item_bytes: usize,
    /// PEM certificates to trust for `rediss://` instead of the public roots (a private CA).
    pub ca_certs: Option<Vec<u8>>,
    /// How long a budget reservation holds if its request is never settled (its instance died):
    /// past the longest a request may take (the router's `timeout`).
    pub reservation_life: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("nodes", &self.nodes.iter().map(|n| redact(n)).collect::<Vec<_>>())
            .field("cluster", &self.cluster)
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A URL with any password replaced (for messages).
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://<credentials>@{}", &url[..s], &url[at + 1..]),
        _ => url.to_owned(),
    }
}

fn err(at: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("router config: router_settings.{at}: {msg}"))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn truthy(s: &str) -> bool {
    matches!(s.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn seconds(v: Option<String>, at: &str, default: Duration) -> Result<Duration> {
    let Some(s) = v else { return Ok(default) };
    s.trim()
        .parse::<f64>()
        .ok()
        .and_then(|n| Duration::try_from_secs_f64(n).ok())
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(60))
        .ok_or_else(|| err(at, format!("must be seconds, more than 0 and at most 60 (got \"{s}\")")))
}

/// `host:port` from `{host, port}` or a string.
fn node(v: &Value, at: &str) -> Result<String> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Object(m) => {
            let host = m.get("host").and_then(text).ok_or_else(|| err(at, "each node needs a host"))?;
            let port = m.get("port").and_then(text).unwrap_or_else(|| "6379".into());
            Ok(format!("{host}:{port}"))
        }
        _ => Err(err(at, "each node is {host, port} or \"host:port\"")),
    }
}

impl RedisConfig {
    /// The shared state a config asks for, its references read now; `None`: in-process.
    pub fn resolve(spec: &RedisSpec, secrets: &dyn Secrets) -> Result<Option<RedisConfig>> {
        if spec.disabled {
            return Ok(None);
        }
        let get = |k: &str| -> Option<Value> { spec.params.get(k).and_then(|p| p.resolve(secrets)).filter(|v| !v.is_null()) };
        let configured = ["redis_url", "redis_host", "redis_startup_nodes"].iter().any(|k| spec.params.contains_key(*k));
        // A setting from the config, else (when the config names no server) the environment.
        let setting = |k: &str, env: &str| -> Option<String> {
            match get(k) {
                Some(v) => text(&v),
                None if !configured => secrets.secret(env),
                None => None,
            }
        };
        let ssl = setting("redis_ssl", "REDIS_SSL").is_some_and(|s| truthy(&s));
        let scheme = if ssl { "rediss" } else { "redis" };
        let mut cluster = false;
        let nodes: Vec<String> = if let Some(v) = get("redis_startup_nodes") {
            cluster = true;
            let list = match &v {
                Value::Array(a) => a.clone(),
                // From the environment: LiteLLM's REDIS_CLUSTER_NODES is a JSON list.
                Value::String(s) => serde_json::from_str::<Vec<Value>>(s).map_err(|_| err("redis_startup_nodes", "must be a list"))?,
                _ => return Err(err("redis_startup_nodes", "must be a list of {host, port}")),
            };
            list.iter().map(|n| node(n, "redis_startup_nodes")).map(|r| r.map(|hp| format!("{scheme}://{hp}"))).collect::<Result<_>>()?
        } else if let Some(url) = setting("redis_url", "REDIS_URL") {
            vec![url]
        } else if let Some(host) = setting("redis_host", "REDIS_HOST") {
            let port = setting("redis_port", "REDIS_PORT").unwrap_or_else(|| "6379".into());
            vec![format!("{scheme}://{host}:{port}")]
        } else if !configured {
            match secrets.secret("REDIS_CLUSTER_NODES") {
                Some(s) => {
                    cluster = true;
                    let list = serde_json::from_str::<Vec<Value>>(&s).map_err(|_| err("REDIS_CLUSTER_NODES", "must be a JSON list"))?;
                    list.iter()
                        .map(|n| node(n, "REDIS_CLUSTER_NODES"))
                        .map(|r| r.map(|hp| format!("{scheme}://{hp}")))
                        .collect::<Result<_>>()?
                }
                None => return Ok(None),
            }
        } else {
            return Ok(None);
        };
        if nodes.is_empty() {
            return Err(err("redis_startup_nodes", "names no node"));
        }
        for n in &nodes {
            let ok = ["redis://", "rediss://", "valkey://", "valkeys://"].iter().any(|s| n.starts_with(s));
            if !ok {
                return Err(err("redis_url", format!("must be a redis:// or rediss:// URL (got \"{}\")", redact(n))));
            }
        }
        let namespace = get("redis_namespace").and_then(|v| text(&v)).unwrap_or_else(|| "llmux".into());
        if namespace.contains(['{', '}']) || namespace.len() > 64 {
            return Err(err("redis_namespace", "must be at most 64 characters, without braces"));
        }
        let max_item_bytes = match get("redis_max_item_bytes").and_then(|v| text(&v)) {
            None => 1 << 20,
            Some(s) => s.trim().parse::<usize>().map_err(|_| err("redis_max_item_bytes", "must be a number of bytes"))?,
        };
        let ca_certs = match setting("redis_ssl_ca_certs", "REDIS_SSL_CA_CERTS") {
            None => None,
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| err("redis_ssl_ca_certs", format!("cannot read \"{path}\": {e}")))?;
                if !pem.windows(11).any(|w| w == b"-----BEGIN ") {
                    return Err(err("redis_ssl_ca_certs", format!("\"{path}\" holds no PEM certificate")));
                }
                Some(pem)
            }
        };
        Ok(Some(RedisConfig {
            reservation_life: Duration::from_secs(3600),
            ca_certs,
            nodes,
            cluster,
            username: setting("redis_username", "REDIS_USERNAME"),
            password: setting("redis_password", "REDIS_PASSWORD"),
            namespace,
            timeout: seconds(get("redis_timeout").and_then(|v| text(&v)), "redis_timeout", Duration::from_millis(50))?,
            connect_timeout: seconds(get("redis_connect_timeout").and_then(|v| text(&v)), "redis_connect_timeout", Duration::from_secs(1))?,
            fail_closed: get("redis_fail_closed").and_then(|v| text(&v)).is_some_and(|s| truthy(&s)),
            max_item_bytes,
        }))
    }
}

/// Builds a config for tests and tools: one server at `url`.
impl RedisConfig {
    pub fn at(url: &str, namespace: &str) -> RedisConfig {
        RedisConfig {
            nodes: vec![url.to_owned()],
            cluster: false,
            username: None,
            password: None,
            namespace: namespace.to_owned(),
            timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(1),
            fail_closed: false,
            max_item_bytes: 1 << 20,
            ca_certs: None,
            reservation_life: Duration::from_secs(3600),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env(HashMap<&'static str, &'static str>);
    impl Secrets for Env {
        fn secret(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|s| s.to_string())
        }
    }

    fn spec(v: Value) -> RedisSpec {
        let m: serde_json::Map<String, Value> = v.as_object().cloned().unwrap();
        RedisSpec::from_settings(&|k| m.get(k).cloned()).unwrap()
    }

    #[test]
    fn read_as_litellm_reads_them() {
        let env = Env(HashMap::from([("REDIS_PW", "s3cret"), ("REDIS_URL", "redis://env:6379")]));
        let c = RedisConfig::resolve(
            &spec(serde_json::json!({"redis_host": "cache.local", "redis_port": 6380, "redis_password": "os.environ/REDIS_PW", "redis_ssl": true})),
            &env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.nodes, vec!["rediss://cache.local:6380".to_owned()], "the config wins over REDIS_URL");
        assert_eq!(c.password.as_deref(), Some("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let c = RedisConfig::resolve(&spec(serde_json::json!({})), &env).unwrap().unwrap();
        assert_eq!(c.nodes, vec!["redis://env:6379".to_owned()], "no redis in the config: the environment");
        assert_eq!(c.timeout, Duration::from_millis(50));
        assert!(RedisConfig::resolve(&spec(serde_json::json!({"redis": false})), &env).unwrap().is_none());
        assert!(RedisConfig::resolve(&spec(serde_json::json!({})), &Env(HashMap::new())).unwrap().is_none());
        let c = RedisConfig::resolve(
            &spec(serde_json::json!({"redis_startup_nodes": [{"host": "a", "port": 7000}, "b:7001"], "redis_namespace": "team"})),
            &env,
        )
        .unwrap()
        .unwrap();
        assert!(c.cluster);
        assert_eq!(c.nodes, vec!["redis://a:7000".to_owned(), "redis://b:7001".to_owned()]);
        let e = RedisConfig::resolve(&spec(serde_json::json!({"redis_url": "http://x"})), &env).unwrap_err();
        assert!(e.message.contains("redis_url"), "{}", e.message);
        let e = RedisConfig::resolve(&spec(serde_json::json!({"redis_url": "redis://x", "redis_namespace": "{a}"})), &env).unwrap_err();
        assert!(e.message.contains("braces"), "{}", e.message);
        assert_eq!(redact("rediss://u:pw@host:6379"), "rediss://<credentials>@host:6379");
    }
}
