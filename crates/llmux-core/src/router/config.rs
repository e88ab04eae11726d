//! LiteLLM's proxy config (`model_list`, `router_settings`, `litellm_settings`) read as it is:
//! unknown keys become warnings, wrong types and missing models errors that name the entry.
//! `os.environ/NAME` values are kept as references and read at each request.

use std::collections::HashMap;
use std::time::Duration;

pub use crate::models::ModelInfo;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A parameter value: given, or read from the secrets/environment at request time.
#[derive(Clone, PartialEq)]
pub enum Param {
    Value(Value),
    Env(String),
}

impl std::fmt::Debug for Param {
    // A literal value may be a key (`api_key: sk-...` in a config): never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Param::Value(_) => f.write_str("Value(<set>)"),
            Param::Env(name) => write!(f, "Env({name})"),
        }
    }
}

impl Param {
    pub fn from_value(v: &Value) -> Param {
        match v.as_str().and_then(|s| s.strip_prefix("os.environ/")) {
            Some(name) => Param::Env(name.to_owned()),
            None => Param::Value(v.clone()),
        }
    }

    /// The value now (an unset variable is absent).
    pub fn resolve(&self, secrets: &dyn crate::engine::Secrets) -> Option<Value> {
        match self {
            Param::Value(v) => Some(v.clone()),
            Param::Env(name) => secrets.secret(name).map(Value::String),
        }
    }
}

#[derive(Clone)]
pub struct DeploymentConfig {
    pub id: String,
    pub group: String,
    /// The LiteLLM model string (`openai/gpt-4o`, `bedrock/...`).
    pub model: String,
    /// Other `litellm_params` passed to the call as options (`api_key`, `api_base`, ...).
    pub params: Vec<(String, Param)>,
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub weight: Option<f64>,
    pub timeout: Option<f64>,
    pub max_tokens: Option<u32>,
    /// LiteLLM's `order` (in `litellm_params`, or `model_info`): a group routes only to its
    /// lowest order among the deployments it may use now; deployments without one come last.
    pub order: Option<i64>,
    /// The model database's entry for this deployment (by `base_model` when given) under the
    /// config's `model_info`: prices, limits, capabilities.
    pub info: std::sync::Arc<ModelInfo>,
    /// `model_info` as the config gave it, returned by `getModelInfo` beside the merged facts.
    pub info_raw: Map<String, Value>,
    /// A context window the config itself states: prompts over it skip this deployment. (The
    /// database's windows are not checked before a call: counting every prompt's tokens would
    /// cost more than the rare 400 it saves.)
    pub max_input_tokens: Option<u64>,
}

impl std::fmt::Debug for DeploymentConfig {
    // `params` hold keys: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploymentConfig")
            .field("id", &self.id)
            .field("group", &self.group)
            .field("model", &self.model)
            .field("params", &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("rpm", &self.rpm)
            .field("tpm", &self.tpm)
            .field("weight", &self.weight)
            .field("order", &self.order)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    SimpleShuffle,
    LeastBusy,
    LatencyBased,
    UsageBased,
    CostBased,
}

#[derive(Clone, Debug, Default)]
pub struct UserLimits {
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    pub budget_usd: Option<f64>,
    pub budget_duration: Option<Duration>,
}

impl UserLimits {
    /// Whether any limit or budget is set.
    pub fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some() || self.budget_usd.is_some()
    }
}

#[derive(Clone, Debug)]
pub struct CacheSettings {
    pub ttl: Duration,
    pub max_bytes: u64,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub strategy: Strategy,
    pub num_retries: u32,
    /// The least wait before a retry (LiteLLM's `retry_after`, seconds).
    pub retry_after: Duration,
    pub allowed_fails: u32,
    pub cooldown_time: Duration,
    /// Bounds retries and fallbacks together.
    pub timeout: Duration,
    pub fallbacks: HashMap<String, Vec<String>>,
    pub context_window_fallbacks: HashMap<String, Vec<String>>,
    pub content_policy_fallbacks: HashMap<String, Vec<String>>,
    pub aliases: HashMap<String, String>,
    pub user_limits: UserLimits,
    pub cache: Option<CacheSettings>,
    /// LiteLLM's `litellm_settings.drop_params` for every deployment (a call's own wins).
    pub drop_params: Option<bool>,
    /// Limits and budgets per tag (`metadata.tags` of a request: an MCP tool's name, a feature).
    pub tag_limits: HashMap<String, UserLimits>,
    /// Limits and a budget over every request of the router.
    pub global_limits: UserLimits,
    /// Groups best first, for `model: "auto"` with `priority: "quality"`.
    pub quality_ranking: Vec<String>,
    /// Where the state shared with other instances lives (Redis), as the config says it.
    pub redis: crate::state::redis::RedisSpec,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            strategy: Strategy::SimpleShuffle,
            num_retries: 2,
            retry_after: Duration::ZERO,
            allowed_fails: 3,
            cooldown_time: Duration::from_secs(5),
            timeout: Duration::from_secs(600),
            fallbacks: HashMap::new(),
            context_window_fallbacks: HashMap::new(),
            content_policy_fallbacks: HashMap::new(),
            aliases: HashMap::new(),
            user_limits: UserLimits::default(),
            cache: None,
            drop_params: None,
            tag_limits: HashMap::new(),
            global_limits: UserLimits::default(),
            quality_ranking: Vec::new(),
            redis: Default::default(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub deployments: Vec<DeploymentConfig>,
    pub settings: Settings,
}

fn err(at: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid_request(format!("router config: {at}: {msg}"))
}

fn num(v: &Value, at: &str) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| err(at, "must be a number")),
        // LiteLLM configs often quote numbers.
        Value::String(s) => s.trim().parse::<f64>().map_err(|_| err(at, format!("must be a number (got \"{s}\")"))),
        _ => Err(err(at, "must be a number")),
    }
    .and_then(|n| if n.is_finite() && n >= 0.0 { Ok(n) } else { Err(err(at, "must be a non-negative number")) })
}

fn opt_num(m: &Map<String, Value>, key: &str, at: &str) -> Result<Option<f64>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => num(v, &format!("{at}.{key}")).map(Some),
    }
}

fn object<'a>(v: &'a Value, at: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| err(at, "must be an object"))
}

/// `"30d"`, `"12h"`, `"15m"`, `"10s"` or a number of seconds.
fn duration(v: &Value, at: &str) -> Result<Duration> {
    if let Value::String(s) = v {
        let s = s.trim();
        let (n, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()));
        let n: f64 = n.trim().parse().map_err(|_| err(at, format!("not a duration: \"{s}\"")))?;
        let secs = match unit {
            "" | "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86400.0,
            _ => return Err(err(at, format!("unknown duration unit in \"{s}\""))),
        };
        return checked_seconds(secs, at, s);
    }
    let n = num(v, at)?;
    checked_seconds(n, at, &n.to_string())
}

/// A duration no clock overflows on: from 0 to a year.
fn checked_seconds(secs: f64, at: &str, shown: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= Duration::from_secs(365 * 86400))
        .ok_or_else(|| err(at, format!("must be a duration from 0 to 365 days, not \"{shown}\"")))
}

/// `[{"group": ["fallback", ...]}, ...]` (LiteLLM's list of one-key maps), or a plain map.
fn fallback_map(v: &Value, at: &str) -> Result<HashMap<String, Vec<String>>> {
    let mut out = HashMap::new();
    let mut add = |k: &str, list: &Value, at: &str| -> Result<()> {
        let names = list
            .as_array()
            .ok_or_else(|| err(at, "must list model group names"))?
            .iter()
            .map(|n| n.as_str().map(str::to_owned).ok_or_else(|| err(at, "must list model group names")))
            .collect::<Result<Vec<_>>>()?;
        out.entry(k.to_owned()).or_insert_with(Vec::new).extend(names);
        Ok(())
    };
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                for (k, list) in object(item, &format!("{at}[{i}]"))? {
                    add(k, list, &format!("{at}[{i}].{k}"))?;
                }
            }
        }
        Value::Object(m) => {
            for (k, list) in m {
                add(k, list, &format!("{at}.{k}"))?;
            }
        }
        Value::Null => {}
        _ => return Err(err(at, "must be a list of {group: [fallbacks]}")),
    }
    Ok(out)
}

const PARAM_KEYS_TAKEN: &[&str] = &["model", "rpm", "tpm", "weight", "timeout", "max_tokens", "stream_timeout", "order", "base_model"];
const DEPLOYMENT_KEYS: &[&str] = &["model_name", "litellm_params", "model_info"];
const ROUTER_KEYS: &[&str] = &[
    "routing_strategy",
    "num_retries",
    "retry_after",
    "allowed_fails",
    "cooldown_time",
    "timeout",
    "fallbacks",
    "context_window_fallbacks",
    "content_policy_fallbacks",
    "model_group_alias",
    "user_limits",
    "tag_limits",
    "global_limits",
    "quality_ranking",
    "cache",
    "routing_strategy_args",
    "enable_pre_call_checks",
];

/// `{rpm, tpm, budget_usd, budget_duration}`.
fn limits(v: &Value, at: &str) -> Result<UserLimits> {
    let m = object(v, at)?;
    Ok(UserLimits {
        rpm: opt_num(m, "rpm", at)?.map(|n| n as u32),
        tpm: opt_num(m, "tpm", at)?.map(|n| n as u32),
        budget_usd: opt_num(m, "budget_usd", at)?,
        budget_duration: m.get("budget_duration").map(|d| duration(d, &format!("{at}.budget_duration"))).transpose()?,
    })
}

impl RouterConfig {
    /// Parses a config; returns it with the warnings it raised.
    /// A LiteLLM proxy config file's text (YAML, of which JSON is a subset) as a JSON value.
    pub fn yaml_to_json(text: &str) -> Result<Value> {
        serde_saphyr::from_str::<Value>(text).map_err(|e| Error::invalid_request(format!("the router config is not valid YAML: {e}")))
    }

    pub fn parse(v: &Value) -> Result<(RouterConfig, Vec<String>)> {
        let root = object(v, "config")?;
        let mut warnings = Vec::new();
        for k in root.keys() {
            if !["model_list", "router_settings", "litellm_settings", "general_settings", "environment_variables"].contains(&k.as_str()) {
                warnings.push(format!("router config: unknown top-level key \"{k}\" ignored"));
            }
        }
        let list = root
            .get("model_list")
            .and_then(Value::as_array)
            .ok_or_else(|| err("model_list", "is required and must be a list of deployments"))?;
        if list.is_empty() {
            return Err(err("model_list", "names no deployment"));
        }
        let mut deployments = Vec::with_capacity(list.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, d) in list.iter().enumerate() {
            let at = format!("model_list[{i}]");
            let m = object(d, &at)?;
            for k in m.keys() {
                if !DEPLOYMENT_KEYS.contains(&k.as_str()) {
                    warnings.push(format!("router config: {at}: unknown key \"{k}\" ignored"));
                }
            }
            let group = m
                .get("model_name")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(&at, "model_name is required"))?
                .to_owned();
            let at = format!("{at} ({group})");
            let params = object(m.get("litellm_params").unwrap_or(&Value::Null), &format!("{at}.litellm_params"))?;
            let model = params
                .get("model")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(&at, "litellm_params.model is required"))?
                .to_owned();
            crate::providers::resolve::split_model(&model).map_err(|e| err(&at, e.message))?;
            let p_at = format!("{at}.litellm_params");
            let rpm = opt_num(params, "rpm", &p_at)?.map(|n| n as u32);
            let tpm = opt_num(params, "tpm", &p_at)?.map(|n| n as u32);
            let weight = opt_num(params, "weight", &p_at)?;
            let timeout = opt_num(params, "timeout", &p_at)?;
            let max_tokens = opt_num(params, "max_tokens", &p_at)?.map(|n| n as u32);
            let extra = params
                .iter()
                .filter(|(k, _)| !PARAM_KEYS_TAKEN.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), Param::from_value(v)))
                .collect();
            let info_v = m.get("model_info").cloned().unwrap_or(Value::Object(Map::new()));
            let info_m = object(&info_v, &format!("{at}.model_info"))?;
            let i_at = format!("{at}.model_info");
            let mut overrides = ModelInfo::from_map(info_m).map_err(|e| err(&i_at, e))?;
            // LiteLLM reads base_model from either place.
            if overrides.base_model.is_none() {
                overrides.base_model = params.get("base_model").and_then(Value::as_str).map(str::to_owned);
            }
            let (provider, id) = crate::providers::resolve::split_model(&model).map_err(|e| err(&at, e.message))?;
            let info = std::sync::Arc::new(crate::models::resolve(provider, id, Some(&overrides)));
            let max_input_tokens = overrides.max_input_tokens;
            let order = match opt_num(params, "order", &p_at)? {
                Some(o) => Some(o),
                None => opt_num(info_m, "order", &i_at)?,
            }
            .map(|o| o as i64);
            let n = seen.entry(group.clone()).or_insert(0);
            *n += 1;
            let id = info_m.get("id").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| format!("{group}#{n}"));
            deployments.push(DeploymentConfig {
                id,
                group,
                model,
                params: extra,
                rpm,
                tpm,
                weight,
                timeout,
                max_tokens,
                order,
                info,
                info_raw: info_m.clone(),
                max_input_tokens,
            });
        }
        let mut s = Settings::default();
        let empty = Map::new();
        let rs = match root.get("router_settings") {
            None | Some(Value::Null) => &empty,
            Some(v) => object(v, "router_settings")?,
        };
        let ls = match root.get("litellm_settings") {
            None | Some(Value::Null) => &empty,
            Some(v) => object(v, "litellm_settings")?,
        };
        for k in rs.keys() {
            if !ROUTER_KEYS.contains(&k.as_str()) && !crate::state::redis::config::KEYS.contains(&k.as_str()) {
                warnings.push(format!("router config: router_settings: unknown key \"{k}\" ignored"));
            }
        }
        // litellm_settings carries some of the same settings in LiteLLM; router_settings wins.
        let get = |k: &str| rs.get(k).or_else(|| ls.get(k)).filter(|v| !v.is_null());
        if let Some(v) = get("routing_strategy") {
            s.strategy = match v.as_str() {
                Some("simple-shuffle") => Strategy::SimpleShuffle,
                Some("least-busy") => Strategy::LeastBusy,
                Some("latency-based-routing") => Strategy::LatencyBased,
                Some("usage-based-routing") | Some("usage-based-routing-v2") => Strategy::UsageBased,
                Some("cost-based-routing") => Strategy::CostBased,
                _ => {
                    return Err(err(
                        "router_settings.routing_strategy",
                        "must be simple-shuffle, least-busy, latency-based-routing, usage-based-routing or cost-based-routing",
                    ))
                }
            };
        }
        if let Some(v) = get("drop_params") {
            s.drop_params = Some(v.as_bool().ok_or_else(|| err("litellm_settings.drop_params", "must be true or false"))?);
        }
        if let Some(v) = get("num_retries") {
            s.num_retries = num(v, "router_settings.num_retries")?.min(10.0) as u32;
        }
        if let Some(v) = get("retry_after") {
            s.retry_after = duration(v, "router_settings.retry_after")?;
        }
        if let Some(v) = get("allowed_fails") {
            s.allowed_fails = num(v, "router_settings.allowed_fails")? as u32;
        }
        if let Some(v) = get("cooldown_time") {
            s.cooldown_time = duration(v, "router_settings.cooldown_time")?;
        }
        if let Some(v) = get("timeout").or_else(|| ls.get("request_timeout")) {
            s.timeout = duration(v, "router_settings.timeout")?;
        }
        if let Some(v) = get("fallbacks") {
            s.fallbacks = fallback_map(v, "router_settings.fallbacks")?;
        }
        if let Some(v) = get("context_window_fallbacks") {
            s.context_window_fallbacks = fallback_map(v, "router_settings.context_window_fallbacks")?;
        }
        if let Some(v) = get("content_policy_fallbacks") {
            s.content_policy_fallbacks = fallback_map(v, "router_settings.content_policy_fallbacks")?;
        }
        if let Some(v) = get("model_group_alias") {
            for (k, target) in object(v, "router_settings.model_group_alias")? {
                let name = target
                    .as_str()
                    .or_else(|| target.get("model").and_then(Value::as_str))
                    .ok_or_else(|| err(&format!("router_settings.model_group_alias.{k}"), "must name a model group"))?;
                s.aliases.insert(k.clone(), name.to_owned());
            }
        }
        if let Some(v) = get("user_limits") {
            s.user_limits = limits(v, "router_settings.user_limits")?;
        }
        if let Some(v) = get("tag_limits") {
            for (tag, l) in object(v, "router_settings.tag_limits")? {
                s.tag_limits.insert(tag.clone(), limits(l, &format!("router_settings.tag_limits.{tag}"))?);
            }
        }
        if let Some(v) = get("global_limits") {
            s.global_limits = limits(v, "router_settings.global_limits")?;
        }
        s.redis = crate::state::redis::RedisSpec::from_settings(&|k| get(k).cloned())?;
        if let Some(v) = get("quality_ranking") {
            let a = v.as_array().ok_or_else(|| err("router_settings.quality_ranking", "must be a list of model groups"))?;
            s.quality_ranking = a.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        }
        if let Some(v) = get("cache") {
            match v {
                Value::Bool(false) => {}
                Value::Bool(true) => s.cache = Some(CacheSettings { ttl: Duration::from_secs(600), max_bytes: 64 << 20 }),
                Value::Object(m) => {
                    s.cache = Some(CacheSettings {
                        ttl: m
                            .get("ttl")
                            .map(|t| duration(t, "router_settings.cache.ttl"))
                            .transpose()?
                            .unwrap_or(Duration::from_secs(600)),
                        max_bytes: opt_num(m, "max_bytes", "router_settings.cache")?.map(|n| n as u64).unwrap_or(64 << 20),
                    })
                }
                _ => return Err(err("router_settings.cache", "must be true, false or {ttl, max_bytes}")),
            }
        }
        let groups: std::collections::HashSet<&str> = deployments.iter().map(|d| d.group.as_str()).collect();
        for (what, map) in [
            ("fallbacks", &s.fallbacks),
            ("context_window_fallbacks", &s.context_window_fallbacks),
            ("content_policy_fallbacks", &s.content_policy_fallbacks),
        ] {
            for (k, list) in map {
                for name in std::iter::once(k).chain(list) {
                    if !groups.contains(name.as_str()) && !s.aliases.contains_key(name) {
                        return Err(err(&format!("router_settings.{what}"), format!("\"{name}\" is not a model_name in model_list")));
                    }
                }
            }
        }
        for (alias, target) in &s.aliases {
            if !groups.contains(target.as_str()) {
                return Err(err(
                    &format!("router_settings.model_group_alias.{alias}"),
                    format!("\"{target}\" is not a model_name in model_list"),
                ));
            }
        }
        Ok((RouterConfig { deployments, settings: s }, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_configs_read_as_litellm_writes_them() {
        let v = RouterConfig::yaml_to_json(
            "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/OPENAI_API_KEY\n      rpm: 60\n      weight: 2.5\nrouter_settings:\n  routing_strategy: simple-shuffle\n  num_retries: 2\n",
        )
        .unwrap();
        assert_eq!(v["model_list"][0]["litellm_params"]["rpm"], serde_json::json!(60));
        assert_eq!(v["model_list"][0]["litellm_params"]["weight"], serde_json::json!(2.5));
        let (cfg, _) = RouterConfig::parse(&v).unwrap();
        assert_eq!(cfg.deployments.len(), 1);
        let e = RouterConfig::yaml_to_json("model_list: [unclosed").unwrap_err();
        assert!(e.message.contains("not valid YAML"), "{}", e.message);
    }
    use serde_json::json;

    #[test]
    fn reads_a_litellm_config() {
        let (c, warnings) = RouterConfig::parse(&json!({
            "model_list": [
                {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/OPENAI_API_KEY", "rpm": "60", "weight": 2},
                 "model_info": {"max_input_tokens": 128000, "input_cost_per_token": 0.0000025}},
                {"model_name": "gpt-4o", "litellm_params": {"model": "azure/gpt-4o", "api_base": "https://x", "api_version": "2024-10-21"}, "colour": "red"},
                {"model_name": "claude", "litellm_params": {"model": "bedrock/anthropic.claude-3-haiku-20240307-v1:0", "aws_region_name": "us-west-2"}}
            ],
            "router_settings": {"routing_strategy": "least-busy", "num_retries": 3, "cooldown_time": 30, "allowed_fails": 1,
                "fallbacks": [{"gpt-4o": ["claude"]}], "model_group_alias": {"gpt4": "gpt-4o"}, "mystery": 1,
                "user_limits": {"rpm": 10, "budget_usd": 5, "budget_duration": "30d"}, "cache": {"ttl": "10m"}},
            "litellm_settings": {"num_retries": 9}
        }))
        .unwrap();
        assert_eq!(c.deployments.len(), 3);
        assert_eq!(c.deployments[0].id, "gpt-4o#1");
        assert_eq!(c.deployments[1].id, "gpt-4o#2");
        assert_eq!(c.deployments[0].rpm, Some(60));
        assert!(c.deployments[0].params.contains(&("api_key".to_owned(), Param::Env("OPENAI_API_KEY".to_owned()))));
        assert_eq!(c.settings.strategy, Strategy::LeastBusy);
        assert_eq!(c.settings.num_retries, 3, "router_settings wins over litellm_settings");
        assert_eq!(c.settings.cooldown_time, Duration::from_secs(30));
        assert_eq!(c.settings.fallbacks["gpt-4o"], vec!["claude".to_owned()]);
        assert_eq!(c.settings.aliases["gpt4"], "gpt-4o");
        assert_eq!(c.settings.user_limits.budget_duration, Some(Duration::from_secs(30 * 86400)));
        assert_eq!(c.settings.cache.as_ref().unwrap().ttl, Duration::from_secs(600));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }

    #[test]
    fn wrong_types_and_missing_models_name_the_entry() {
        let e = RouterConfig::parse(&json!({"model_list": [{"model_name": "a", "litellm_params": {}}]})).unwrap_err();
        assert!(e.message.contains("model_list[0] (a): litellm_params.model is required"), "{}", e.message);
        let e = RouterConfig::parse(&json!({"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/x", "rpm": "lots"}}]}))
            .unwrap_err();
        assert!(e.message.contains("litellm_params.rpm"), "{}", e.message);
        let e = RouterConfig::parse(&json!({"model_list": [{"model_name": "a", "litellm_params": {"model": "openai/x"}}],
            "router_settings": {"fallbacks": [{"a": ["nope"]}]}}))
        .unwrap_err();
        assert!(e.message.contains("\"nope\" is not a model_name"), "{}", e.message);
        let e = RouterConfig::parse(&json!({"model_list": [{"model_name": "a", "litellm_params": {"model": "madeup/x"}}]})).unwrap_err();
        assert!(e.message.contains("unknown provider"), "{}", e.message);
        assert!(RouterConfig::parse(&json!({"model_list": []})).is_err());
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;

    #[test]
    fn tag_and_global_limits_are_read() {
        let v: Value = serde_json::from_str(
            r#"{"model_list":[{"model_name":"g","litellm_params":{"model":"openai/x"}}],
                "router_settings":{"global_limits":{"rpm":2},"tag_limits":{"summarise":{"rpm":3,"budget_usd":1}}}}"#,
        )
        .unwrap();
        let (c, w) = RouterConfig::parse(&v).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.settings.global_limits.rpm, Some(2));
        assert_eq!(c.settings.tag_limits["summarise"].budget_usd, Some(1.0));
    }
}
