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
    /// The writes split by time to live (`ephemeral_5m_input_tokens`, `ephemeral_1h_input_tokens`).
    #[serde(default)]
    pub cache_creation: Option<CacheCreation>,
    #[serde(default)]
    pub output_tokens_details: Option<OutputDetails>,
    /// Each sampling step of the request (server-side tools, compaction, an advisor, a model
    /// fallback); see `map_usage` for what the top-level figures leave out.
    #[serde(default)]
    pub iterations: Option<Vec<WireUsage>>,
    /// An iteration's kind: `message`, `compaction`, `advisor_message`, `fallback_message`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Deserialize, Default, Debug, Clone, Copy)]
pub struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: Option<u64>,
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
        if newer.cache_creation.is_some() {
            self.cache_creation = newer.cache_creation;
        }
        if newer.output_tokens_details.is_some() {
            self.output_tokens_details = newer.output_tokens_details;
        }
        if newer.iterations.as_ref().is_some_and(|i| !i.is_empty()) {
            self.iterations.clone_from(&newer.iterations);
        }
    }
}

/// The bill of one response. The top-level figures already hold every executor `message`
/// step of a server-tool loop, and leave out three kinds of iteration:
/// - `compaction`: billed at the model's own rates, so added here (with its cache reads);
/// - `advisor_message`: billed at the advisor model's rates, not this model's, so not added
///   (as the Vercel AI SDK's Anthropic provider, `convert-anthropic-usage.ts`, counts it);
/// - with a `fallback_message` present, the top level is the hop that served the answer and the
///   declined hops are not billed.
///
/// (LiteLLM sums every iteration whatever its type, which bills advisor tokens at the wrong
/// model's rates and double-counts executor steps; recorded responses in vercel/ai's fixtures
/// show the top level is the sum of the `message` steps.)
pub fn map_usage(u: &WireUsage) -> Usage {
    let mut total = map_one(u);
    let steps = u.iterations.as_deref().unwrap_or_default();
    if !steps.iter().any(|s| s.kind.as_deref() == Some("fallback_message")) {
        for step in steps.iter().filter(|s| s.kind.as_deref() == Some("compaction")) {
            total.add(&map_one(step));
        }
    }
    total
}

fn map_one(u: &WireUsage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_creation_input_tokens.unwrap_or(0);
    Usage {
        prompt_tokens: u.input_tokens.unwrap_or(0).saturating_add(read).saturating_add(write),
        completion_tokens: u.output_tokens.unwrap_or(0),
        cached_tokens: read,
        cache_write_tokens: write,
        cache_write_1h_tokens: u.cache_creation.and_then(|c| c.ephemeral_1h_input_tokens).unwrap_or(0).min(write),
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
        warnings: Vec::new(),
        llmux: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(json: &str) -> Usage {
        map_usage(&serde_json::from_str::<WireUsage>(json).unwrap())
    }

    // Shapes from vercel/ai's recorded Anthropic responses (packages/anthropic/src/__fixtures__:
    // anthropic-compaction.1.json, anthropic-advisor-20260301.1.json, anthropic-fallback.json).
    #[test]
    fn compaction_is_added_to_the_top_level() {
        let u = usage(
            r#"{"input_tokens":682,"output_tokens":1320,"cache_read_input_tokens":0,"cache_creation_input_tokens":0,
                "iterations":[{"type":"compaction","input_tokens":60385,"output_tokens":592,"cache_read_input_tokens":10},
                              {"type":"message","input_tokens":682,"output_tokens":1320}]}"#,
        );
        assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens), (682 + 60385 + 10, 1320 + 592, 10));
    }

    #[test]
    fn advisor_steps_bill_at_the_advisor_rates_and_are_not_added() {
        let u = usage(
            r#"{"input_tokens":2414,"output_tokens":3200,
                "iterations":[{"type":"message","input_tokens":1051,"output_tokens":35},
                              {"type":"advisor_message","model":"claude-opus-4-7","input_tokens":2728,"output_tokens":874},
                              {"type":"message","input_tokens":1363,"output_tokens":3165}]}"#,
        );
        assert_eq!((u.prompt_tokens, u.completion_tokens), (2414, 3200), "the top level already holds the message steps");
    }

    #[test]
    fn with_a_fallback_the_top_level_is_the_serving_hop() {
        let u = usage(
            r#"{"input_tokens":412,"output_tokens":264,
                "iterations":[{"type":"message","model":"claude-x","input_tokens":408,"output_tokens":0},
                              {"type":"fallback_message","model":"claude-opus-4-8","input_tokens":412,"output_tokens":264}]}"#,
        );
        assert_eq!((u.prompt_tokens, u.completion_tokens), (412, 264));
    }

    #[test]
    fn one_hour_cache_writes_are_counted_apart() {
        // anthropic-sdk-typescript, src/resources/messages/messages.ts: CacheCreation.
        let u = usage(
            r#"{"input_tokens":5,"output_tokens":1,"cache_creation_input_tokens":1000,
                "cache_creation":{"ephemeral_5m_input_tokens":250,"ephemeral_1h_input_tokens":750}}"#,
        );
        assert_eq!((u.prompt_tokens, u.cache_write_tokens, u.cache_write_1h_tokens), (1005, 1000, 750));
        // A split larger than the total cannot bill more than the total.
        let u = usage(r#"{"input_tokens":5,"cache_creation_input_tokens":10,"cache_creation":{"ephemeral_1h_input_tokens":99}}"#);
        assert_eq!(u.cache_write_1h_tokens, 10);
    }
}
