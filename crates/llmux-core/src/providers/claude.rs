//! Rules of the Claude family, whoever serves it: Anthropic's Messages API, Bedrock and (later)
//! Vertex AI. Thinking, sampling and the output budget are decided here once; each provider only
//! places the result in its own wire shape.
//! Reference: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking

use serde_json::{json, Value};

use super::reasoning::effort_budget;
use crate::chat::{ChatRequest, ToolChoice};

/// The Claude settings of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_tokens: u32,
    /// The `thinking` object, when thinking is on.
    pub thinking: Option<Value>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
}

/// Decides thinking, sampling and `max_tokens` for a Claude model.
pub fn settings(req: &ChatRequest, default_max_tokens: u32, warnings: &mut Vec<String>) -> Settings {
    let mut max_tokens = req.max_completion_tokens.or(req.max_tokens).unwrap_or(default_max_tokens);
    let forced_tool = matches!(req.tool_choice, Some(ToolChoice::Required | ToolChoice::Function(_)));
    let mut thinking = None;
    if let Some(budget) = req.reasoning_effort.as_deref().and_then(effort_budget) {
        if forced_tool {
            warnings.push("extended thinking cannot be combined with a forced tool_choice; thinking was not enabled".into());
        } else {
            if max_tokens <= budget {
                // The budget is part of max_tokens: keep the caller's room for the answer itself.
                max_tokens += budget;
            }
            thinking = Some(json!({"type": "enabled", "budget_tokens": budget}));
        }
    }
    let mut temperature = req.temperature;
    let mut top_p = req.top_p;
    if thinking.is_some() {
        if temperature.is_some_and(|t| t != 1.0) {
            warnings.push("temperature cannot be changed with extended thinking and was dropped".into());
            temperature = None;
        }
        if top_p.take().is_some() {
            warnings.push("top_p cannot be set with extended thinking and was dropped".into());
        }
    }
    Settings { max_tokens, thinking, temperature, top_p }
}
