//! Rules of the Claude family, whoever serves it: Anthropic's Messages API, Bedrock (inside
//! `additionalModelRequestFields`) and Vertex AI. Thinking, effort, sampling and the output
//! budget are decided here once; each provider only places the result in its own wire shape.
//!
//! Sources (read 2026-12):
//! - Adaptive thinking and effort: anthropic-sdk-typescript `src/resources/messages/messages.ts`
//!   (`ThinkingConfigAdaptive`, `OutputConfig`), the AWS Bedrock user guide "Adaptive thinking",
//!   https://platform.claude.com/docs/en/build-with-claude/effort. Opus 4.7 and later (and the 5
//!   family) answer 400 to `{"type":"enabled"}`: "thinking.type.enabled is not supported for this
//!   model. Use thinking.type.adaptive and output_config.effort"; 4.6 takes both (budget
//!   deprecated); 4.5 and earlier take budgets only.
//! - Effort levels: `low | medium | high | xhigh | max`; `xhigh` on Opus 4.7+ and the 5 family,
//!   `max` from 4.6 on. No `minimal` or `none`.
//! - Sampling: models released after Opus 4.6 take `temperature` only at 1 and `top_p` only at
//!   0.99 or more, and no `top_k` (anthropic-sdk-typescript deprecation notes); Claude 4.1 and
//!   4.5+ refuse `temperature` and `top_p` together ("`temperature` and `top_p` cannot both be
//!   specified for this model"), where the temperature is kept, as the Vercel AI SDK does.

use serde_json::{json, Map, Value};

use super::reasoning::effort_budget;
use crate::chat::{ChatRequest, ToolChoice};

/// A Claude model's release, `(major, minor)`, read from its id in any provider's spelling:
/// `claude-opus-4-7`, `claude-3-7-sonnet-20250219`, `anthropic.claude-sonnet-4-5-20250929-v1:0`,
/// `us.anthropic.claude-opus-4-6-v1`, `claude-opus-4-1@20250805`, `claude-fable-5`.
pub fn version(model: &str) -> Option<(u32, u32)> {
    let at = model.find("claude-")?;
    let rest = &model[at + "claude-".len()..];
    let mut tokens = rest.split(['-', '.', '_', '@', ':', '/']).peekable();
    while let Some(t) = tokens.next() {
        if t.len() == 1 && t.as_bytes()[0].is_ascii_digit() {
            let major = u32::from(t.as_bytes()[0] - b'0');
            // The next token is the minor version when it is one or two digits (a date is eight).
            let minor =
                tokens.peek().filter(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())).and_then(|n| n.parse().ok());
            return Some((major, minor.unwrap_or(0)));
        }
    }
    None
}

/// How a Claude model takes thinking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thinking {
    /// `{"type":"enabled","budget_tokens":N}` (4.5 and earlier).
    Budget,
    /// `{"type":"adaptive"}` with `output_config.effort` (4.6 takes it; 4.7 and later only it).
    Adaptive { xhigh: bool },
}

/// What a Claude model accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    pub thinking: Thinking,
    /// Sampling is fixed (temperature 1, top_p ≥ 0.99, no top_k).
    pub fixed_sampling: bool,
    /// `temperature` and `top_p` may not both be sent.
    pub one_of_temperature_top_p: bool,
}

pub fn rules(model: &str) -> Rules {
    // An id we cannot read is treated as the newest family: the safe side of every rule.
    let v = version(model).unwrap_or((99, 0));
    let after_opus_4_6 = v >= (4, 7);
    Rules {
        thinking: if v >= (4, 6) { Thinking::Adaptive { xhigh: after_opus_4_6 } } else { Thinking::Budget },
        fixed_sampling: after_opus_4_6,
        one_of_temperature_top_p: v == (4, 1) || v >= (4, 5),
    }
}

/// The Claude settings of one request, ready to place.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_tokens: u32,
    /// The `thinking` object, when thinking is on.
    pub thinking: Option<Value>,
    /// `output_config` (the caller's, with the effort set), when there is one.
    pub output_config: Option<Value>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    /// Whether the caller's `top_k` may go (it is dropped, with a warning, where refused).
    pub keep_top_k: bool,
}

/// `reasoning_effort` for an adaptive model: its `output_config.effort`, or `None` for `none`.
fn adaptive_effort(effort: &str, xhigh: bool) -> Option<Option<&'static str>> {
    Some(match effort {
        "none" => None,
        "minimal" | "low" => Some("low"),
        "medium" => Some("medium"),
        "high" => Some("high"),
        "xhigh" if xhigh => Some("xhigh"),
        "xhigh" | "max" => Some("max"),
        _ => return None,
    })
}

/// A budget for `reasoning_effort` on a budget model, as LiteLLM maps it (minimal counts as the
/// API's least, 1024).
fn budget(effort: &str) -> Option<u32> {
    match effort {
        "minimal" => Some(1024),
        "xhigh" => Some(8192),
        "max" => Some(16384),
        e => effort_budget(e),
    }
}

/// Decides thinking, effort, sampling and `max_tokens` for a Claude model. The caller's own
/// `thinking` and `output_config` (passed through) are honoured and fitted to the model.
pub fn settings(req: &ChatRequest, model: &str, default_max_tokens: u32, warnings: &mut Vec<String>) -> Settings {
    let r = rules(model);
    let mut max_tokens = req.max_completion_tokens.or(req.max_tokens).unwrap_or(default_max_tokens);
    let forced_tool = matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Function(_)));
    let mut output_config: Option<Map<String, Value>> = match req.extra.get("output_config") {
        Some(Value::Object(m)) => Some(m.clone()),
        _ => None,
    };
    let mut thinking: Option<Value> = None;
    let given = req.extra.get("thinking").filter(|t| t.is_object()).cloned();
    match (given, req.reasoning_effort.as_deref()) {
        (Some(t), _) => {
            let enabled_budget = (t.get("type").and_then(Value::as_str) == Some("enabled"))
                .then(|| t.get("budget_tokens").and_then(Value::as_u64))
                .flatten();
            match (r.thinking, enabled_budget) {
                // A budget this model refuses becomes adaptive thinking with an effort.
                (Thinking::Adaptive { xhigh }, Some(b)) if r.fixed_sampling => {
                    let effort = if b <= 1024 {
                        "low"
                    } else if b <= 2048 {
                        "medium"
                    } else if b <= 8192 {
                        "high"
                    } else if xhigh {
                        "xhigh"
                    } else {
                        "max"
                    };
                    warnings
                        .push(format!("{model} takes adaptive thinking only: thinking.budget_tokens {b} was sent as effort \"{effort}\""));
                    thinking = Some(json!({"type": "adaptive"}));
                    output_config.get_or_insert_with(Map::new).entry("effort").or_insert(json!(effort));
                }
                (_, Some(b)) => {
                    // The budget is part of max_tokens: keep the caller's room for the answer.
                    let b = u32::try_from(b).unwrap_or(u32::MAX);
                    if max_tokens <= b {
                        max_tokens = b.saturating_add(max_tokens);
                    }
                    thinking = Some(t);
                }
                _ => thinking = Some(t),
            }
        }
        (None, Some(effort)) => match r.thinking {
            Thinking::Adaptive { xhigh } => match adaptive_effort(effort, xhigh) {
                Some(Some(e)) => {
                    thinking = Some(json!({"type": "adaptive"}));
                    output_config.get_or_insert_with(Map::new).insert("effort".into(), json!(e));
                    if effort == "xhigh" && !xhigh {
                        warnings.push(format!("reasoning_effort \"xhigh\" is sent as \"max\": {model} has no xhigh effort"));
                    }
                }
                Some(None) => {}
                None => warnings.push(format!("reasoning_effort \"{effort}\" is not a level Claude knows and was dropped")),
            },
            Thinking::Budget => match budget(effort) {
                Some(b) => {
                    if max_tokens <= b {
                        max_tokens += b;
                    }
                    thinking = Some(json!({"type": "enabled", "budget_tokens": b}));
                }
                None if effort == "none" => {}
                None => warnings.push(format!("reasoning_effort \"{effort}\" is not a level Claude knows and was dropped")),
            },
        },
        (None, None) => {}
    }
    if forced_tool && thinking.is_some() {
        warnings.push("extended thinking cannot be combined with a forced tool_choice; thinking was not enabled".into());
        thinking = None;
    }
    let mut temperature = req.temperature;
    let mut top_p = req.top_p;
    let mut keep_top_k = true;
    if thinking.is_some() || r.fixed_sampling {
        let why = if thinking.is_some() { "with extended thinking" } else { "for this model" };
        if temperature.is_some_and(|t| t != 1.0) {
            warnings.push(format!("temperature cannot be changed {why} and was dropped"));
            temperature = None;
        }
        if top_p.is_some_and(|p| thinking.is_some() || p < 0.99) {
            warnings.push(format!("top_p cannot be set {why} and was dropped"));
            top_p = None;
        }
        if req.extra.contains_key("top_k") {
            warnings.push(format!("top_k cannot be set {why} and was dropped"));
            keep_top_k = false;
        }
    }
    if r.one_of_temperature_top_p && temperature.is_some() && top_p.is_some() {
        warnings.push(format!("{model} takes temperature or top_p, not both: top_p was dropped"));
        top_p = None;
    }
    Settings { max_tokens, thinking, output_config: output_config.map(Value::Object), temperature, top_p, keep_top_k }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(extra: Value) -> ChatRequest {
        let mut v = json!({"model": "m", "messages": [{"role": "user", "content": "x"}]});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        ChatRequest::from_value(v).unwrap()
    }

    #[test]
    fn versions_read_from_every_spelling() {
        for (id, v) in [
            ("claude-opus-4-7", (4, 7)),
            ("claude-3-7-sonnet-20250219", (3, 7)),
            ("claude-3-5-haiku-latest", (3, 5)),
            ("claude-opus-4-20250514", (4, 0)),
            ("anthropic.claude-sonnet-4-5-20250929-v1:0", (4, 5)),
            ("us.anthropic.claude-opus-4-6-v1", (4, 6)),
            ("claude-opus-4-1@20250805", (4, 1)),
            ("claude-fable-5", (5, 0)),
            ("claude-sonnet-4.6", (4, 6)),
        ] {
            assert_eq!(version(id), Some(v), "{id}");
        }
    }

    #[test]
    fn opus_4_7_and_later_get_adaptive_thinking_with_an_effort_never_a_budget() {
        for model in ["claude-opus-4-7", "anthropic.claude-opus-4-8-v1:0", "claude-sonnet-5", "claude-fable-5"] {
            let mut w = vec![];
            let s = settings(&req(json!({"reasoning_effort": "high", "temperature": 0.2, "top_p": 0.5})), model, 4096, &mut w);
            assert_eq!(s.thinking, Some(json!({"type": "adaptive"})), "{model}");
            assert_eq!(s.output_config, Some(json!({"effort": "high"})));
            assert_eq!((s.temperature, s.top_p), (None, None), "fixed sampling: {w:?}");
            // A caller's budget is fitted to the model, not sent to a 400.
            let s = settings(&req(json!({"thinking": {"type": "enabled", "budget_tokens": 3000}})), model, 4096, &mut w);
            assert_eq!(s.thinking, Some(json!({"type": "adaptive"})));
            assert_eq!(s.output_config, Some(json!({"effort": "high"})));
        }
        let s = settings(
            &req(json!({"reasoning_effort": "xhigh", "output_config": {"format": {"type": "json_schema"}}})),
            "claude-opus-4-7",
            4096,
            &mut vec![],
        );
        assert_eq!(s.output_config, Some(json!({"format": {"type": "json_schema"}, "effort": "xhigh"})), "the caller's output_config kept");
    }

    #[test]
    fn four_six_is_adaptive_without_xhigh_and_older_models_get_budgets() {
        let mut w = vec![];
        let s = settings(&req(json!({"reasoning_effort": "xhigh"})), "claude-sonnet-4-6", 4096, &mut w);
        assert_eq!(s.output_config, Some(json!({"effort": "max"})));
        assert!(w.iter().any(|x| x.contains("xhigh")));
        let s = settings(&req(json!({"reasoning_effort": "medium", "max_tokens": 500})), "claude-3-7-sonnet-20250219", 4096, &mut vec![]);
        assert_eq!(s.thinking, Some(json!({"type": "enabled", "budget_tokens": 2048})));
        assert_eq!(s.max_tokens, 2548);
        let s = settings(&req(json!({"reasoning_effort": "none"})), "claude-sonnet-4-5", 4096, &mut vec![]);
        assert_eq!(s.thinking, None);
        // A caller's own budget raises max_tokens past it.
        let s = settings(
            &req(json!({"thinking": {"type": "enabled", "budget_tokens": 8000}, "max_tokens": 1000})),
            "claude-sonnet-4-5",
            4096,
            &mut vec![],
        );
        assert_eq!(s.max_tokens, 9000);
    }

    #[test]
    fn temperature_and_top_p_together_only_where_the_model_takes_both() {
        let mut w = vec![];
        let s = settings(&req(json!({"temperature": 0.3, "top_p": 0.9})), "claude-sonnet-4-5", 4096, &mut w);
        assert_eq!((s.temperature, s.top_p), (Some(0.3), None));
        assert!(w.iter().any(|x| x.contains("not both")));
        let s = settings(&req(json!({"temperature": 0.3, "top_p": 0.9})), "claude-3-5-sonnet-20241022", 4096, &mut vec![]);
        assert_eq!((s.temperature, s.top_p), (Some(0.3), Some(0.9)));
        let s = settings(&req(json!({"temperature": 1.0, "top_p": 0.995, "top_k": 5})), "claude-opus-4-7", 4096, &mut vec![]);
        assert_eq!((s.temperature, s.top_p, s.keep_top_k), (Some(1.0), None, false), "temperature 1 stays; one of the pair goes");
    }
}
