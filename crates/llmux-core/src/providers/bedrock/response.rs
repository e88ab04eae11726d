//! Bedrock Converse response -> canonical `ChatCompletion`; usage and stop reasons shared with
//! the stream decoder.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::chat::{AssistantMessage, ChatCompletion, Choice, FinishReason, FunctionCall, ToolCall, Usage};
use crate::error::{Error, Result};

/// `inputTokens` excludes cache reads and writes, as on Anthropic.
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
#[derive(Deserialize, Default, Debug, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    /// Cache writes by time to live (`[{ttl: "1h", inputTokens}, {ttl: "5m", ...}]`), reduced to
    /// the 1-hour count as it is read.
    #[serde(default, deserialize_with = "one_hour_writes")]
    pub cache_details: Option<u64>,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_input_tokens: Option<u64>,
}

fn one_hour_writes<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Detail {
        #[serde(default)]
        ttl: Option<String>,
        #[serde(default)]
        input_tokens: u64,
    }
    let details: Option<Vec<Detail>> = Option::deserialize(d)?;
    Ok(details.map(|ds| ds.iter().filter(|x| x.ttl.as_deref() == Some("1h")).fold(0u64, |n, x| n.saturating_add(x.input_tokens))))
}

pub fn map_usage(u: &WireUsage) -> Usage {
    let read = u.cache_read_input_tokens.unwrap_or(0);
    let write = u.cache_write_input_tokens.unwrap_or(0);
    Usage {
        prompt_tokens: u.input_tokens.saturating_add(read).saturating_add(write),
        completion_tokens: u.output_tokens,
        cached_tokens: read,
        cache_write_tokens: write,
        cache_write_1h_tokens: u.cache_details.unwrap_or(0).min(write),
        reasoning_tokens: 0,
        estimated: false,
    }
}

/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
pub fn map_stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReasoningText {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Reasoning {
    #[serde(default)]
    reasoning_text: Option<ReasoningText>,
    #[serde(default)]
    redacted_content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ToolUse {
    tool_use_id: String,
    name: String,
    #[serde(default)]
    input: Value,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Block {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reasoning_content: Option<Reasoning>,
    #[serde(default)]
    tool_use: Option<ToolUse>,
}

#[derive(Deserialize)]
struct Output {
    message: OutMessage,
}

#[derive(Deserialize)]
struct OutMessage {
    #[serde(default)]
    content: Vec<Block>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireResponse {
    output: Output,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

pub fn parse_response(body: &[u8]) -> Result<ChatCompletion> {
    let r: WireResponse = serde_json::from_slice(body)
        .map_err(|e| Error::decode("bedrock", format!("response is not a Converse response: {e}")).with_body(body))?;
    let (mut text, mut reasoning, mut blocks, mut calls) = (String::new(), String::new(), Vec::new(), Vec::new());
    for b in r.output.message.content {
        if let Some(t) = b.text {
            text.push_str(&t);
        }
        if let Some(rc) = b.reasoning_content {
            if let Some(rt) = rc.reasoning_text {
                let t = rt.text.unwrap_or_default();
                reasoning.push_str(&t);
                blocks.push(json!({"type": "thinking", "thinking": t, "signature": rt.signature}));
            }
            if let Some(data) = rc.redacted_content {
                blocks.push(json!({"type": "redacted_thinking", "data": data}));
            }
        }
        if let Some(tu) = b.tool_use.filter(|t| t.kind.as_deref() != Some("server_tool_use")) {
            calls.push(ToolCall {
                id: tu.tool_use_id,
                kind: "function".into(),
                function: FunctionCall { name: tu.name, arguments: tu.input.to_string() },
                malformed_arguments: false,
            });
        }
    }
    let message = AssistantMessage {
        role: "assistant".into(),
        content: if text.is_empty() && !calls.is_empty() { None } else { Some(text) },
        reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
        thinking_blocks: (!blocks.is_empty()).then_some(blocks),
        tool_calls: (!calls.is_empty()).then_some(calls),
        ..Default::default()
    };
    Ok(ChatCompletion {
        id: format!("bedrock-{:016x}", fastrand::u64(..)),
        object: "chat.completion".into(),
        created: crate::chat::unix_now(),
        model: String::new(),
        choices: vec![Choice { index: 0, message, finish_reason: r.stop_reason.as_deref().map(map_stop_reason), logprobs: None }],
        usage: Some(map_usage(&r.usage)),
        system_fingerprint: None,
        service_tier: None,
        warnings: Vec::new(),
        llmux: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_writes_by_ttl() {
        // TokenUsage.cacheDetails: "Sorted by TTL duration (1h before 5m)".
        let w: WireUsage = serde_json::from_str(
            r#"{"inputTokens":3,"outputTokens":2,"totalTokens":1505,"cacheWriteInputTokens":1500,
                "cacheDetails":[{"ttl":"1h","inputTokens":1000},{"ttl":"5m","inputTokens":500}]}"#,
        )
        .unwrap();
        let u = map_usage(&w);
        assert_eq!((u.prompt_tokens, u.cache_write_tokens, u.cache_write_1h_tokens), (1503, 1500, 1000));
        let w: WireUsage = serde_json::from_str(r#"{"inputTokens":3,"outputTokens":2,"cacheDetails":null}"#).unwrap();
        assert_eq!(map_usage(&w).cache_write_1h_tokens, 0);
    }
}
