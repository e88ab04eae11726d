//! Anthropic Messages response -> canonical `ChatCompletion`; usage and stop-reason mapping
//! shared with the stream decoder.

use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{from_wire, WireError};
use crate::chat::{AssistantMessage, ChatCompletion, Choice, FinishReason, FunctionCall, ToolCall, Usage};
use crate::error::{Error, Result};

/// Usage as Anthropic reports it; `input_tokens` excludes cache reads and writes.
#[derive(Deserialize, Default, Debug, Clone)]
pub struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
    /// With server-side compaction, each sampling step of the request; the top-level figures
    /// then cover only the last step, and the bill is the sum of all of them.
    #[serde(default)]
    pub iterations: Option<Vec<WireUsage>>,
}

#[derive(Deserialize, Default, Debug, Clone, Copy)]
pub struct OutputDetails {
    #[serde(default)]
    pub thinking_tokens: Option<u64>,
}

impl WireUsage {
    /// Later reports are cumulative: a field present in `newer` replaces ours, never adds.
    pub fn merge(&mut self, newer: &WireUsage) {
        self.input_tokens = newer.input_tokens.or(self.input_tokens);
        self.output_tokens = newer.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = newer.cache_creation_input_tokens.or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = newer.cache_read_input_tokens.or(self.cache_read_input_tokens);
        if newer.output_tokens_details.is_some() {
            self.output_tokens_details = newer.output_tokens_details;
        }
        if newer.iterations.as_ref().is_some_and(|i| !i.is_empty()) {
            self.iterations.clone_from(&newer.iterations);
        }
    }
}

pub fn map_usage(u: &WireUsage) -> Usage {
    if let Some(steps) = u.iterations.as_ref().filter(|i| !i.is_empty()) {
        let mut total = Usage::default();
        for step in steps {
            total.add(&map_usage(step));
        }
        return total;
    }
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    Usage {
        prompt_tokens: u.input_tokens.unwrap_or(0).saturating_add(read).saturating_add(write),
        completion_tokens: u.output_tokens.unwrap_or(0),
        cached_tokens: read,
        cache_write_tokens: write,
        reasoning_tokens: u.output_tokens_details.and_then(|d| d.thinking_tokens).unwrap_or(0),
        estimated: false,
    }
}

/// https://docs.anthropic.com/en/api/handling-stop-reasons
pub fn map_stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" | "pause_turn" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Block {
    Text {
        text: String,
    },
    Thinking {
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    /// Server tools and their results (web search, code execution...): not the caller's to run.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireMessage {
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    content: Vec<Block>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Deserialize)]
struct ErrorOnly {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    error: Option<WireErrorOwned>,
}

#[derive(Deserialize)]
struct WireErrorOwned {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    message: String,
}

pub fn parse_response(body: &[u8]) -> Result<ChatCompletion> {
    if let Ok(ErrorOnly { kind, error: Some(e) }) = serde_json::from_slice::<ErrorOnly>(body) {
        if kind == "error" {
            return Err(from_wire(None, WireError { kind: e.kind, message: e.message }).with_body(body));
        }
    }
    let m: WireMessage = serde_json::from_slice(body)
        .map_err(|e| Error::decode("anthropic", format!("response is not a Messages response: {e}")).with_body(body))?;
    let mut msg = AssistantMessage { role: "assistant".into(), ..Default::default() };
    let (mut text, mut reasoning, mut blocks, mut calls) = (String::new(), String::new(), Vec::new(), Vec::new());
    for b in m.content {
        match b {
            Block::Text { text: t } => text.push_str(&t),
            Block::Thinking { thinking, signature } => {
                reasoning.push_str(&thinking);
                blocks.push(json!({"type": "thinking", "thinking": thinking, "signature": signature}));
            }
            Block::RedactedThinking { data } => blocks.push(json!({"type": "redacted_thinking", "data": data})),
            Block::ToolUse { id, name, input } => calls.push(ToolCall {
                id,
                kind: "function".into(),
                function: FunctionCall { name, arguments: input.to_string() },
                malformed_arguments: false,
            }),
            Block::Other => {}
        }
    }
    msg.content = if text.is_empty() && !calls.is_empty() { None } else { Some(text) };
    msg.reasoning_content = (!reasoning.is_empty()).then_some(reasoning);
    msg.thinking_blocks = (!blocks.is_empty()).then_some(blocks);
    msg.tool_calls = (!calls.is_empty()).then_some(calls);
    Ok(ChatCompletion {
        id: m.id,
        object: "chat.completion".into(),
        created: crate::chat::unix_now(),
        model: m.model,
        choices: vec![Choice { index: 0, message: msg, finish_reason: m.stop_reason.as_deref().map(map_stop_reason), logprobs: None }],
        usage: Some(map_usage(&m.usage)),
        system_fingerprint: None,
        service_tier: None,
    })
}
