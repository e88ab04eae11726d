//! The built-in `mock` provider: answers in-process, offline, for the demo and for users' tests.
//!
//! - `mock/echo` streams the last user message back, a word per chunk.
//! - `mock/reasoning` first streams "Thinking about: <message>" as reasoning, then echoes.
//! - `mock_response: "text"` (as in LiteLLM) answers with that text instead.
//! - `mock_delay_ms: n` waits n ms before each chunk, so a stream can be watched or cancelled.
//! - `mock/panic` panics inside the call, to show that a bug in llmux fails the one call with
//!   an `internal` error and never the process.
//!
//! Usage is counted deterministically: a token per whitespace-separated word, 3 per message
//! and 3 for the reply, as OpenAI frames chat; a token per chunk of output.

use std::time::Duration;

use serde_json::Value;

use super::{Capabilities, InProcess, JsonSchemaSupport, Provider, ProviderKind, Route, Target, ThinkingStyle};
use crate::chat::{ChatChunk, ChatRequest, Delta, FinishReason, Role, Usage};
use crate::error::{Error, Result};

/// The offline provider, answered in-process.
pub struct Mock;

impl Provider for Mock {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Mock
    }

    fn capabilities(&self, _target: &Target) -> Capabilities {
        Capabilities { json_schema: JsonSchemaSupport::None, forced_tool_choice: true, thinking: ThinkingStyle::Effort, image_input: true }
    }

    fn route(&self) -> Route<'_> {
        Route::InProcess(self)
    }
}

impl InProcess for Mock {
    fn plan(&self, req: &mut ChatRequest, target: &Target) -> Result<MockPlan> {
        plan(req, target)
    }
}

pub struct MockPlan {
    pub chunks: Vec<ChatChunk>,
    pub delay: Duration,
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Splits text into word-sized pieces that keep their leading whitespace, so they concatenate back.
fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, ch) in text.char_indices() {
        if ch.is_whitespace() {
            if in_word {
                out.push(&text[start..i]);
                start = i;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

pub fn plan(req: &mut ChatRequest, target: &Target) -> Result<MockPlan> {
    let delay = match req.take_option("mock_delay_ms") {
        None => Duration::ZERO,
        Some(Value::Number(n)) if n.as_f64().is_some_and(|v| (0.0..=3_600_000.0).contains(&v)) => {
            Duration::from_secs_f64(n.as_f64().unwrap_or(0.0) / 1000.0)
        }
        Some(_) => return Err(Error::invalid_request("mock_delay_ms must be a number of milliseconds from 0 to 3600000")),
    };
    let forced = match req.take_option("mock_response") {
        None => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(Error::invalid_request("mock_response must be a string")),
    };
    let last_user = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .and_then(|m| m.content.as_ref())
        .map(|c| c.text().into_owned())
        .unwrap_or_default();
    let reasoning = match target.model.as_str() {
        "echo" => None,
        "panic" => panic!("mock/panic: a deliberate panic inside a call"),
        "reasoning" => Some(format!("Thinking about: {last_user}")),
        other => {
            return Err(Error::invalid_request(format!(
                "unknown mock model \"mock/{other}\" (known: mock/echo, mock/reasoning, mock/panic)"
            )))
        }
    };
    let answer = forced.unwrap_or(last_user);
    let id = format!("chatcmpl-mock-{:016x}", fastrand::u64(..));
    let created = crate::chat::unix_now();
    let model = format!("mock/{}", target.model);
    let mut chunks = Vec::new();
    let mk = |delta: Delta, finish: Option<FinishReason>| ChatChunk::with_delta(&id, &model, created, delta, finish);
    chunks.push(mk(Delta { role: Some("assistant".to_owned()), content: Some(String::new()), ..Default::default() }, None));
    let mut reasoning_tokens = 0;
    if let Some(r) = &reasoning {
        for p in pieces(r) {
            chunks.push(mk(Delta { reasoning_content: Some(p.to_owned()), ..Default::default() }, None));
            reasoning_tokens += 1;
        }
    }
    let mut output_tokens = reasoning_tokens;
    let forced_tool = match &req.tool_choice {
        Some(crate::chat::ToolChoice::Function(name)) => Some(name.clone()),
        _ => None,
    };
    if let Some(name) = forced_tool {
        // A forced tool is called with the answer as its arguments.
        let mut first = true;
        for p in pieces(&answer) {
            chunks.push(mk(
                Delta {
                    tool_calls: Some(vec![crate::chat::ToolCallDelta {
                        index: 0,
                        id: first.then(|| format!("call_mock_{:08x}", fastrand::u32(..))),
                        kind: first.then(|| "function".to_owned()),
                        function: Some(crate::chat::FunctionDelta { name: first.then(|| name.clone()), arguments: Some(p.to_owned()) }),
                    }]),
                    ..Default::default()
                },
                None,
            ));
            first = false;
            output_tokens += 1;
        }
        chunks.push(mk(Delta::default(), Some(FinishReason::ToolCalls)));
    } else {
        for p in pieces(&answer) {
            chunks.push(mk(Delta { content: Some(p.to_owned()), ..Default::default() }, None));
            output_tokens += 1;
        }
        chunks.push(mk(Delta::default(), Some(FinishReason::Stop)));
    }
    let prompt_tokens = req.messages.iter().map(|m| 3 + m.content.as_ref().map(|c| words(&c.text())).unwrap_or(0)).sum::<u64>() + 3;
    let mut usage_chunk = mk(Delta::default(), None);
    usage_chunk.choices.clear();
    usage_chunk.usage = Some(Usage { prompt_tokens, completion_tokens: output_tokens, reasoning_tokens, ..Default::default() });
    chunks.push(usage_chunk);
    Ok(MockPlan { chunks, delay })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::StreamAccumulator;

    fn target(model: &str) -> Target {
        crate::providers::testing::target(super::super::ProviderKind::Mock, model)
    }

    #[test]
    fn echo_repeats_the_last_user_message_with_usage() {
        let mut req = ChatRequest::from_json(
            r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"Hello  there, world"}]}"#,
        )
        .unwrap();
        let plan = plan(&mut req, &target("echo")).unwrap();
        let mut acc = StreamAccumulator::default();
        for c in &plan.chunks {
            acc.push(c);
        }
        assert_eq!(acc.text(), "Hello  there, world");
        assert!(plan.chunks.len() > 4);
        let u = acc.usage.unwrap();
        assert_eq!(u.completion_tokens, 3);
        assert_eq!(u.prompt_tokens, (3 + 2) + (3 + 3) + 3);
    }

    #[test]
    fn reasoning_model_streams_reasoning_first() {
        let mut req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"hi"}],"mock_response":"ok"}"#).unwrap();
        let plan = plan(&mut req, &target("reasoning")).unwrap();
        let mut acc = StreamAccumulator::default();
        plan.chunks.iter().for_each(|c| acc.push(c));
        assert_eq!(acc.reasoning(), "Thinking about: hi");
        assert_eq!(acc.text(), "ok");
        assert_eq!(acc.usage.unwrap().reasoning_tokens, 3);
    }

    #[test]
    fn unknown_mock_model_is_refused() {
        let mut req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert!(plan(&mut req, &target("nope")).is_err());
    }
}
