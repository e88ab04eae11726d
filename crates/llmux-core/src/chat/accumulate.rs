//! Folds a stream of chunks into the whole answer: text, reasoning, assembled tool calls,
//! finish reason and usage. Used for `completion()` over a streamed upstream, for the text
//! `callLiteLLM` returns, and for estimating usage when a stream is cut short.

use super::chunk::ChatChunk;
use super::response::{AssistantMessage, ChatCompletion, Choice, FinishReason, FunctionCall, ToolCall};
use super::usage::Usage;

#[derive(Default, Debug)]
struct ChoiceState {
    content: String,
    reasoning: String,
    refusal: String,
    thinking_blocks: Vec<serde_json::Value>,
    tool_calls: Vec<ToolCall>,
    /// Stream `index` of each entry of `tool_calls`, to route argument fragments.
    tool_indexes: Vec<u32>,
    finish_reason: Option<FinishReason>,
}

#[derive(Default, Debug)]
pub struct StreamAccumulator {
    pub id: String,
    pub model: String,
    pub created: u64,
    pub system_fingerprint: Option<String>,
    choices: Vec<ChoiceState>,
    pub usage: Option<Usage>,
}

/// The most choices a stream may index (OpenAI's `n` allows 128): an upstream index beyond it
/// is refused by the decoders and ignored here, never an allocation of its size.
pub const MAX_CHOICES: u32 = 128;
/// The most tool calls one choice may carry.
pub const MAX_TOOL_CALLS: usize = 1024;

impl StreamAccumulator {
    pub fn push(&mut self, chunk: &ChatChunk) {
        if self.id.is_empty() && !chunk.id.is_empty() {
            self.id.clone_from(&chunk.id);
        }
        if self.model.is_empty() && !chunk.model.is_empty() {
            self.model.clone_from(&chunk.model);
        }
        if self.created == 0 {
            self.created = chunk.created;
        }
        if self.system_fingerprint.is_none() {
            self.system_fingerprint.clone_from(&chunk.system_fingerprint);
        }
        if let Some(u) = chunk.usage {
            self.usage = Some(u);
        }
        for c in chunk.choices.iter().filter(|c| c.index < MAX_CHOICES) {
            let i = c.index as usize;
            if self.choices.len() <= i {
                self.choices.resize_with(i + 1, ChoiceState::default);
            }
            let st = &mut self.choices[i];
            if let Some(t) = &c.delta.content {
                st.content.push_str(t);
            }
            if let Some(t) = &c.delta.reasoning_content {
                st.reasoning.push_str(t);
            }
            if let Some(t) = &c.delta.refusal {
                st.refusal.push_str(t);
            }
            if let Some(b) = &c.delta.thinking_blocks {
                st.thinking_blocks.extend(b.iter().cloned());
            }
            for tc in c.delta.tool_calls.iter().flatten() {
                let existing = st.tool_indexes.iter().rposition(|&ix| ix == tc.index);
                // A delta with a new id at a known index starts another call: some
                // OpenAI-compatible servers send every call whole at index 0.
                let starts_new = match (existing, &tc.id) {
                    (None, _) => true,
                    (Some(pos), Some(id)) => !id.is_empty() && st.tool_calls[pos].id != *id,
                    (Some(_), None) => false,
                };
                if starts_new && st.tool_calls.len() >= MAX_TOOL_CALLS {
                    continue;
                }
                let pos = if starts_new {
                    st.tool_calls.push(ToolCall {
                        id: tc.id.clone().unwrap_or_default(),
                        kind: "function".to_owned(),
                        function: FunctionCall { name: String::new(), arguments: String::new() },
                        malformed_arguments: false,
                    });
                    st.tool_indexes.push(tc.index);
                    st.tool_calls.len() - 1
                } else {
                    existing.unwrap_or(0)
                };
                let call = &mut st.tool_calls[pos];
                if let Some(f) = &tc.function {
                    if let Some(n) = &f.name {
                        call.function.name.push_str(n);
                    }
                    if let Some(a) = &f.arguments {
                        call.function.arguments.push_str(a);
                    }
                }
            }
            if c.finish_reason.is_some() {
                st.finish_reason.clone_from(&c.finish_reason);
            }
        }
    }

    /// The text of the first choice so far.
    pub fn text(&self) -> &str {
        self.choices.first().map(|c| c.content.as_str()).unwrap_or("")
    }

    pub fn reasoning(&self) -> &str {
        self.choices.first().map(|c| c.reasoning.as_str()).unwrap_or("")
    }

    pub fn finish_reason(&self) -> Option<&FinishReason> {
        self.choices.first().and_then(|c| c.finish_reason.as_ref())
    }

    /// All generated text (content, reasoning, tool arguments), for counting output tokens locally.
    pub fn generated_text(&self) -> String {
        let mut s = String::new();
        for c in &self.choices {
            s.push_str(&c.reasoning);
            s.push_str(&c.content);
            for t in &c.tool_calls {
                s.push_str(&t.function.name);
                s.push_str(&t.function.arguments);
            }
        }
        s
    }

    pub fn into_completion(self) -> ChatCompletion {
        let mut choices: Vec<Choice> = self
            .choices
            .into_iter()
            .enumerate()
            .map(|(i, c)| Choice {
                index: i as u32,
                message: AssistantMessage {
                    role: "assistant".to_owned(),
                    content: if c.content.is_empty() && !c.tool_calls.is_empty() { None } else { Some(c.content) },
                    refusal: (!c.refusal.is_empty()).then_some(c.refusal),
                    tool_calls: (!c.tool_calls.is_empty()).then_some(c.tool_calls),
                    function_call: None,
                    reasoning_content: (!c.reasoning.is_empty()).then_some(c.reasoning),
                    thinking_blocks: (!c.thinking_blocks.is_empty()).then_some(c.thinking_blocks),
                    parsed: None,
                },
                finish_reason: c.finish_reason,
                logprobs: None,
            })
            .collect();
        if choices.is_empty() {
            choices.push(Choice {
                index: 0,
                message: AssistantMessage { role: "assistant".to_owned(), content: Some(String::new()), ..Default::default() },
                finish_reason: None,
                logprobs: None,
            });
        }
        ChatCompletion {
            id: self.id,
            object: "chat.completion".to_owned(),
            created: self.created,
            model: self.model,
            choices,
            usage: self.usage,
            system_fingerprint: self.system_fingerprint,
            service_tier: None,
            warnings: Vec::new(),
            llmux: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::chunk::*;

    fn tool_delta(index: u32, id: Option<&str>, name: Option<&str>, args: &str) -> ChatChunk {
        ChatChunk::with_delta(
            "c1",
            "m",
            1,
            Delta {
                tool_calls: Some(vec![ToolCallDelta {
                    index,
                    id: id.map(str::to_owned),
                    kind: id.map(|_| "function".to_owned()),
                    function: Some(FunctionDelta { name: name.map(str::to_owned), arguments: Some(args.to_owned()) }),
                }]),
                ..Default::default()
            },
            None,
        )
    }

    #[test]
    fn interleaved_parallel_tool_calls_assemble_by_index() {
        let mut acc = StreamAccumulator::default();
        acc.push(&tool_delta(0, Some("a"), Some("get_weather"), ""));
        acc.push(&tool_delta(1, Some("b"), Some("get_time"), ""));
        acc.push(&tool_delta(0, None, None, "{\"city\":"));
        acc.push(&tool_delta(1, None, None, "{}"));
        acc.push(&tool_delta(0, None, None, "\"Paris\"}"));
        let done = acc.into_completion();
        let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].function.arguments, "{\"city\":\"Paris\"}");
        assert_eq!(calls[1].function.name, "get_time");
        assert_eq!(done.choices[0].message.content, None);
    }

    #[test]
    fn whole_calls_at_the_same_index_stay_separate() {
        let mut acc = StreamAccumulator::default();
        acc.push(&tool_delta(0, Some("a"), Some("f"), "{}"));
        acc.push(&tool_delta(0, Some("b"), Some("g"), "{}"));
        let done = acc.into_completion();
        assert_eq!(done.choices[0].message.tool_calls.as_ref().unwrap().len(), 2);
    }
}
