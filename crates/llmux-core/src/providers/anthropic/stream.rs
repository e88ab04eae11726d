//! Anthropic streamed Messages (SSE events) -> canonical chunks.
//! Tool-use blocks become OpenAI tool-call deltas numbered in order of appearance; thinking
//! text streams as `reasoning_content`, and each finished thinking block is also emitted whole,
//! with its signature, as `thinking_blocks` (needed to continue a tool loop with reasoning).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use super::error::{from_wire, WireError};
use super::response::{map_stop_reason, map_usage, WireUsage};
use crate::chat::{ChatChunk, Delta, FinishReason, FunctionDelta, ToolCallDelta};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{SseEvents, SseStream};
use crate::wire::SseEvent;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Event {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockStart {
        index: u32,
        content_block: StartBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: WireError,
    },
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct StartMessage {
    id: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StartBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
    },
    RedactedThinking {
        data: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockDelta {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

enum Block {
    Text,
    Thinking {
        text: String,
        signature: String,
    },
    /// A client tool call: its OpenAI index, and whether any argument text arrived.
    Tool(u32, bool),
    Other,
}

#[derive(Default)]
pub struct StreamState {
    id: String,
    model: String,
    created: u64,
    usage: WireUsage,
    blocks: HashMap<u32, Block>,
    tools: u32,
    finish: Option<FinishReason>,
    pub done: bool,
}

impl StreamState {
    fn chunk(&self, delta: Delta) -> ChatChunk {
        ChatChunk::with_delta(&self.id, &self.model, self.created, delta, None)
    }
}

/// One SSE event -> the chunks it means.
pub fn decode_event(st: &mut StreamState, ev: SseEvent<'_>) -> Result<Vec<ChatChunk>> {
    let event: Event = serde_json::from_str(ev.data)
        .map_err(|e| Error::decode("anthropic", format!("malformed stream event: {e}")).with_body(ev.data.as_bytes()))?;
    let mut out = Vec::new();
    match event {
        Event::MessageStart { message } => {
            st.id = message.id;
            st.model = message.model;
            st.created = crate::chat::unix_now();
            if let Some(u) = &message.usage {
                st.usage.merge(u);
            }
            out.push(st.chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Default::default() }));
        }
        Event::ContentBlockStart { index, content_block } => {
            let block = match content_block {
                StartBlock::Text { text } => {
                    if !text.is_empty() {
                        out.push(st.chunk(Delta { content: Some(text), ..Default::default() }));
                    }
                    Block::Text
                }
                StartBlock::Thinking { thinking } => Block::Thinking { text: thinking, signature: String::new() },
                StartBlock::RedactedThinking { data } => {
                    out.push(st.chunk(Delta {
                        thinking_blocks: Some(vec![json!({"type": "redacted_thinking", "data": data})]),
                        ..Default::default()
                    }));
                    Block::Other
                }
                StartBlock::ToolUse { id, name } => {
                    let n = st.tools;
                    st.tools += 1;
                    out.push(st.chunk(Delta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: n,
                            id: Some(id),
                            kind: Some("function".into()),
                            function: Some(FunctionDelta { name: Some(name), arguments: Some(String::new()) }),
                        }]),
                        ..Default::default()
                    }));
                    Block::Tool(n, false)
                }
                StartBlock::Other => Block::Other,
            };
            st.blocks.insert(index, block);
        }
        Event::ContentBlockDelta { index, delta } => match (st.blocks.get_mut(&index), delta) {
            (_, BlockDelta::TextDelta { text }) if !text.is_empty() => {
                out.push(st.chunk(Delta { content: Some(text), ..Default::default() }))
            }
            (Some(Block::Thinking { text, .. }), BlockDelta::ThinkingDelta { thinking }) if !thinking.is_empty() => {
                text.push_str(&thinking);
                out.push(st.chunk(Delta { reasoning_content: Some(thinking), ..Default::default() }));
            }
            (Some(Block::Thinking { signature, .. }), BlockDelta::SignatureDelta { signature: s }) => signature.push_str(&s),
            (Some(Block::Tool(n, got)), BlockDelta::InputJsonDelta { partial_json }) => {
                let n = *n;
                if !partial_json.is_empty() {
                    *got = true;
                    out.push(st.chunk(Delta::tool_arguments(n, partial_json)));
                }
            }
            _ => {}
        },
        Event::ContentBlockStop { index } => match st.blocks.remove(&index) {
            Some(Block::Thinking { text, signature }) => out.push(st.chunk(Delta {
                thinking_blocks: Some(vec![json!({"type": "thinking", "thinking": text, "signature": signature})]),
                ..Default::default()
            })),
            // A call without arguments streams none: its arguments are the empty object.
            Some(Block::Tool(n, false)) => out.push(st.chunk(Delta::tool_arguments(n, "{}".into()))),
            _ => {}
        },
        Event::MessageDelta { delta, usage } => {
            if let Some(u) = &usage {
                st.usage.merge(u);
            }
            if let Some(r) = delta.stop_reason {
                let reason = map_stop_reason(&r);
                st.finish = Some(reason.clone());
                let mut c = st.chunk(Delta::default());
                c.choices[0].finish_reason = Some(reason);
                out.push(c);
            }
        }
        Event::MessageStop => {
            st.done = true;
            let mut c = st.chunk(Delta::default());
            c.choices.clear();
            c.usage = Some(map_usage(&st.usage));
            out.push(c);
        }
        Event::Error { error } => {
            let mut e = from_wire(None, error);
            if e.kind == ErrorKind::Provider {
                e.kind = ErrorKind::ProviderUnavailable;
            }
            e.retryable = e.kind.retryable();
            return Err(e);
        }
        Event::Ping | Event::Unknown => {}
    }
    Ok(out)
}

impl SseEvents for StreamState {
    fn decode(&mut self, ev: SseEvent<'_>, out: &mut Vec<ChatChunk>) -> Result<()> {
        out.extend(decode_event(self, ev)?);
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<()> {
        if !self.done {
            return Err(Error::new(ErrorKind::Network, "stream ended before message_stop").with_provider("anthropic"));
        }
        Ok(())
    }
}

pub type AnthropicStream = SseStream<StreamState>;
