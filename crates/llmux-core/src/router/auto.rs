//! Capabilities and auto-routing. A group's capabilities are its deployments' facts (the model
//! database under `model_info`, LiteLLM's `supports_*` names). `model: "auto"` with
//! `routing_hints` picks, among the groups (or the hint's candidates) that have every required
//! capability, fit the prompt, and stay under `max_cost` (estimated before the call) and
//! `max_latency` (measured time to first token), the cheapest, the fastest, or the best-ranked
//! (`router_settings.quality_ranking`, else config order). The choice and why go on the answer.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Router;
use crate::chat::Usage;
use crate::error::{Error, ErrorKind, Result};
use crate::models::ModelInfo;

/// What `model: "auto"` optimises for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Priority {
    #[default]
    Cost,
    Speed,
    Quality,
}

/// A request's `routing_hints`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoutingHints {
    pub priority: Priority,
    /// USD, estimated before the call: the prompt's tokens and `max_tokens` (1,024 when unset).
    pub max_cost: Option<f64>,
    /// Milliseconds to the first token, as measured.
    pub max_latency_ms: Option<f64>,
    /// `vision`, `function_calling`, `reasoning`, `pdf_input`, `response_schema`... (with or
    /// without LiteLLM's `supports_` prefix).
    pub required_capabilities: Vec<String>,
    /// The groups to choose among (default: every group).
    pub candidates: Option<Vec<String>>,
}

impl RoutingHints {
    pub fn from_value(v: &Value) -> Result<RoutingHints> {
        let m = v.as_object().ok_or_else(|| Error::invalid_request("routing_hints must be an object").with_param("routing_hints"))?;
        let bad = |k: &str, what: &str| {
            Error::invalid_request(format!("routing_hints.{k} must be {what}")).with_param(format!("routing_hints.{k}"))
        };
        let priority = match m.get("priority").and_then(Value::as_str) {
            None if m.get("priority").is_none_or(Value::is_null) => Priority::Cost,
            Some("cost") => Priority::Cost,
            Some("speed") | Some("latency") => Priority::Speed,
            Some("quality") => Priority::Quality,
            _ => return Err(bad("priority", "\"cost\", \"speed\" or \"quality\"")),
        };
        let num = |k: &str| -> Result<Option<f64>> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_f64().filter(|x| x.is_finite() && *x >= 0.0).map(Some).ok_or_else(|| bad(k, "a non-negative number")),
            }
        };
        let strings = |k: &str| -> Result<Option<Vec<String>>> {
            match m.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(a)) => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| bad(k, "an array of strings")))
                    .collect::<Result<_>>()
                    .map(Some),
                Some(_) => Err(bad(k, "an array of strings")),
            }
        };
        Ok(RoutingHints {
            priority,
            max_cost: num("max_cost")?,
            max_latency_ms: num("max_latency")?,
            required_capabilities: strings("required_capabilities")?.unwrap_or_default(),
            candidates: strings("candidates")?,
        })
    }
}

/// The group `model: "auto"` chose, and why (on the answer as `llmux.auto`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct AutoChoice {
    pub model_group: String,
    pub reason: String,
    /// The groups that qualified, best first.
    pub considered: Vec<String>,
}

/// Whether a model has a capability, by LiteLLM's `supports_*` flag.
pub fn has_capability(info: &ModelInfo, capability: &str) -> bool {
    let name = capability.strip_prefix("supports_").unwrap_or(capability);
    let v = serde_json::to_value(info).unwrap_or_default();
    v.get(format!("supports_{name}")).and_then(Value::as_bool).unwrap_or(false)
}

/// Every `supports_*` flag that is true, without the prefix.
pub fn capabilities(info: &ModelInfo) -> Vec<String> {
    let v = serde_json::to_value(info).unwrap_or_default();
    v.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, v)| k.starts_with("supports_") && v.as_bool() == Some(true))
                .map(|(k, _)| k["supports_".len()..].to_owned())
                .collect()
        })
        .unwrap_or_default()
}

impl Router {
    /// A group's facts: its first deployment's (deployments of a group serve one model).
    fn group_info(&self, group: &str) -> Option<&ModelInfo> {
        self.groups.get(group)?.first().map(|d| &*d.cfg.info)
    }

    /// The fastest measured time to first token among a group's deployments.
    fn group_ttft(&self, group: &str) -> Option<f64> {
        self.groups.get(group)?.iter().filter_map(|d| d.ttft_ms()).min_by(f64::total_cmp)
    }

    /// `listModels`, optionally only the groups with a capability; each with its capabilities,
    /// context window and prices.
    pub fn list_models_with(&self, capability: Option<&str>) -> Value {
        let mut data = Vec::new();
        for g in &self.order {
            let info = self.group_info(g).cloned().unwrap_or_default();
            if capability.is_some_and(|c| !has_capability(&info, c)) {
                continue;
            }
            let mut e = json!({"id": g, "object": "model", "owned_by": "llmux", "capabilities": capabilities(&info)});
            let extra: &mut Map<String, Value> = e.as_object_mut().expect("an object");
            for (k, v) in [
                ("mode", info.mode.as_ref().map(|m| json!(m))),
                ("max_input_tokens", info.max_input_tokens.map(|n| json!(n))),
                ("input_cost_per_token", info.input_cost_per_token.map(|n| json!(n))),
                ("output_cost_per_token", info.output_cost_per_token.map(|n| json!(n))),
            ] {
                if let Some(v) = v {
                    extra.insert(k.to_owned(), v);
                }
            }
            data.push(e);
        }
        if capability.is_none() {
            for alias in self.settings.aliases.keys() {
                data.push(json!({"id": alias, "object": "model", "owned_by": "llmux", "alias_of": self.settings.aliases[alias]}));
            }
        }
        json!({"object": "list", "data": data})
    }

    /// Chooses the group for `model: "auto"`.
    pub fn choose(&self, hints: &RoutingHints, prompt_tokens: u64, max_tokens: u64) -> Result<AutoChoice> {
        let pool: Vec<String> = match &hints.candidates {
            Some(c) => c.iter().filter_map(|n| self.group_name(n).map(str::to_owned)).collect(),
            None => {
                self.order.iter().filter(|g| self.group_info(g).is_none_or(|i| i.mode.as_deref() != Some("embedding"))).cloned().collect()
            }
        };
        let mut why_not = Vec::new();
        let mut fit: Vec<(String, Option<f64>, Option<f64>)> = Vec::new();
        for g in pool {
            let info = self.group_info(&g).cloned().unwrap_or_default();
            if let Some(c) = hints.required_capabilities.iter().find(|c| !has_capability(&info, c)) {
                why_not.push(format!("{g}: no {c}"));
                continue;
            }
            if info.max_input_tokens.is_some_and(|m| prompt_tokens > m) {
                why_not.push(format!("{g}: the prompt (~{prompt_tokens} tokens) is over its window"));
                continue;
            }
            let cost =
                info.is_priced().then(|| info.cost(&Usage { prompt_tokens, completion_tokens: max_tokens, ..Default::default() }).total);
            if let Some(max) = hints.max_cost {
                match cost {
                    Some(c) if c <= max => {}
                    Some(c) => {
                        why_not.push(format!("{g}: est. ${c:.6} over max_cost"));
                        continue;
                    }
                    None => {
                        why_not.push(format!("{g}: unpriced"));
                        continue;
                    }
                }
            }
            let ttft = self.group_ttft(&g);
            if let (Some(max), Some(t)) = (hints.max_latency_ms, ttft) {
                if t > max {
                    why_not.push(format!("{g}: {t:.0} ms to first token, over max_latency"));
                    continue;
                }
            }
            fit.push((g, cost, ttft));
        }
        if fit.is_empty() {
            return Err(Error::new(ErrorKind::NotFound, format!("no model group fits the routing hints ({})", why_not.join("; "))));
        }
        let rank = |g: &str| self.settings.quality_ranking.iter().position(|q| q == g).unwrap_or(usize::MAX);
        let order = |g: &str| self.order.iter().position(|q| q == g).unwrap_or(usize::MAX);
        let by = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        match hints.priority {
            Priority::Cost => fit.sort_by(|a, b| by(a.1, b.1).then(order(&a.0).cmp(&order(&b.0)))),
            Priority::Speed => fit.sort_by(|a, b| by(a.2, b.2).then(order(&a.0).cmp(&order(&b.0)))),
            Priority::Quality => fit.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(order(&a.0).cmp(&order(&b.0)))),
        }
        let (group, cost, ttft) = fit[0].clone();
        let n = fit.len();
        let reason = match hints.priority {
            Priority::Cost => match cost {
                Some(c) => format!("the cheapest of {n} qualifying groups (est. ${c:.6})"),
                None => format!("the first of {n} qualifying groups (none priced)"),
            },
            Priority::Speed => match ttft {
                Some(t) => format!("the fastest of {n} qualifying groups ({t:.0} ms to first token)"),
                None => format!("the first of {n} qualifying groups (none measured yet)"),
            },
            Priority::Quality => format!("the best-ranked of {n} qualifying groups"),
        };
        Ok(AutoChoice { model_group: group, reason, considered: fit.into_iter().map(|f| f.0).collect() })
    }
}
