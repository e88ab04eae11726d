//! Bedrock ConverseStream (`application/vnd.amazon.eventstream`) -> canonical chunks.
//! Framing and CRC checks are aws-smithy-eventstream's; this file maps each event (named in the
//! `:event-type` header; payloads are bare bodies with a `p` padding field) to chunks.

use std::collections::HashMap;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::{BufMut, BytesMut};
use serde::Deserialize;
use serde_json::json;

use super::error::map_exception;
use super::response::{map_stop_reason, map_usage, WireUsage};
use crate::chat::{ChatChunk, Delta, FunctionDelta, ToolCallDelta};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::StreamDecoder;

/// A frame longer than this is a corrupt length prefix, not an event.
const MAX_FRAME: usize = 16 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    content_block_index: u32,
    #[serde(default)]
    start: Option<StartBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    #[serde(default)]
    tool_use: Option<StartToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartToolUse {
    tool_use_id: String,
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    content_block_index: u32,
    delta: DeltaBody,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DeltaBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    reasoning_content: Option<ReasoningDelta>,
}

#[derive(Deserialize)]
struct ToolUseDelta {
    #[serde(default)]
    input: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReasoningDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    redacted_content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStop {
    content_block_index: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    stop_reason: String,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    usage: Option<WireUsage>,
}

enum Block {
    /// A client tool call: its index, and whether any argument bytes came.
    Tool(u32, bool),
    Reasoning {
        text: String,
        signature: String,
    },
    ServerTool,
}

#[derive(Default)]
pub struct StreamState {
    id: String,
    created: u64,
    started: bool,
    blocks: HashMap<u32, Block>,
    tools: u32,
    stopped: bool,
    pub done: bool,
}

impl StreamState {
    fn chunk(&self, delta: Delta) -> ChatChunk {
        ChatChunk::with_delta(&self.id, "", self.created, delta, None)
    }

    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            self.id = format!("bedrock-{:016x}", fastrand::u64(..));
            self.created = crate::chat::unix_now();
            out.push(self.chunk(Delta { role: Some("assistant".into()), content: Some(String::new()), ..Default::default() }));
        }
    }
}

fn header<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers().iter().find(|h| h.name().as_str() == name).and_then(|h| h.value().as_string().ok()).map(|s| s.as_str())
}

fn parse<'a, T: Deserialize<'a>>(event: &str, payload: &'a [u8]) -> Result<T> {
    serde_json::from_slice(payload).map_err(|e| Error::decode("bedrock", format!("malformed {event} event: {e}")).with_body(payload))
}

/// One decoded frame -> the chunks it means, or the error an exception frame carries.
pub fn decode_message(st: &mut StreamState, m: &Message) -> Result<Vec<ChatChunk>> {
    let payload: &[u8] = m.payload();
    let mut out = Vec::new();
    match header(m, ":message-type") {
        Some("exception") => return Err(map_exception(header(m, ":exception-type").unwrap_or("unknown"), payload)),
        Some("error") => {
            let code = header(m, ":error-code").unwrap_or("unknown");
            return Err(map_exception(code, header(m, ":error-message").unwrap_or("").as_bytes()));
        }
        _ => {}
    }
    st.start(&mut out);
    let event = header(m, ":event-type").unwrap_or("");
    match event {
        "messageStart" => {}
        "contentBlockStart" => {
            let s: BlockStart = parse(event, payload)?;
            if let Some(tu) = s.start.and_then(|b| b.tool_use) {
                if tu.kind.as_deref() == Some("server_tool_use") {
                    st.blocks.insert(s.content_block_index, Block::ServerTool);
                } else {
                    let n = st.tools;
                    st.tools += 1;
                    st.blocks.insert(s.content_block_index, Block::Tool(n, false));
                    out.push(st.chunk(Delta {
                        tool_calls: Some(vec![ToolCallDelta {
                            index: n,
                            id: Some(tu.tool_use_id),
                            kind: Some("function".into()),
                            function: Some(FunctionDelta { name: Some(tu.name), arguments: Some(String::new()) }),
                        }]),
                        ..Default::default()
                    }));
                }
            }
        }
        "contentBlockDelta" => {
            let d: BlockDelta = parse(event, payload)?;
            if let Some(t) = d.delta.text.filter(|t| !t.is_empty()) {
                out.push(st.chunk(Delta { content: Some(t), ..Default::default() }));
            }
            if let (Some(tu), Some(Block::Tool(n, got))) = (d.delta.tool_use, st.blocks.get_mut(&d.content_block_index)) {
                if !tu.input.is_empty() {
                    *got = true;
                    let n = *n;
                    out.push(st.chunk(Delta::tool_arguments(n, tu.input)));
                }
            }
            if let Some(r) = d.delta.reasoning_content {
                let block = st
                    .blocks
                    .entry(d.content_block_index)
                    .or_insert_with(|| Block::Reasoning { text: String::new(), signature: String::new() });
                if let Block::Reasoning { text, signature } = block {
                    if let Some(s) = r.signature {
                        signature.push_str(&s);
                    }
                    if let Some(t) = r.text.filter(|t| !t.is_empty()) {
                        text.push_str(&t);
                        out.push(st.chunk(Delta { reasoning_content: Some(t), ..Default::default() }));
                    }
                }
                if let Some(data) = r.redacted_content {
                    out.push(st.chunk(Delta {
                        thinking_blocks: Some(vec![json!({"type": "redacted_thinking", "data": data})]),
                        ..Default::default()
                    }));
                }
            }
        }
        "contentBlockStop" => {
            let s: BlockStop = parse(event, payload)?;
            match st.blocks.remove(&s.content_block_index) {
                Some(Block::Reasoning { text, signature }) if !text.is_empty() || !signature.is_empty() => out.push(st.chunk(Delta {
                    thinking_blocks: Some(vec![json!({"type": "thinking", "thinking": text, "signature": signature})]),
                    ..Default::default()
                })),
                // A call without arguments streams none: its arguments are the empty object, as
                // the non-streamed answer says (`"input": {}`), not "".
                Some(Block::Tool(n, false)) => out.push(st.chunk(Delta::tool_arguments(n, "{}".into()))),
                _ => {}
            }
        }
        "messageStop" => {
            let s: MessageStop = parse(event, payload)?;
            st.stopped = true;
            let mut c = st.chunk(Delta::default());
            c.choices[0].finish_reason = Some(map_stop_reason(&s.stop_reason));
            out.push(c);
        }
        "metadata" => {
            let md: Metadata = parse(event, payload)?;
            st.done = true;
            if let Some(u) = md.usage {
                let mut c = st.chunk(Delta::default());
                c.choices.clear();
                c.usage = Some(map_usage(&u));
                out.push(c);
            }
        }
        _ => {}
    }
    Ok(out)
}

#[derive(Default)]
pub struct BedrockStream {
    decoder: MessageFrameDecoder,
    buf: BytesMut,
    state: StreamState,
}

impl StreamDecoder for BedrockStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<()> {
        self.buf.put_slice(bytes);
        loop {
            match self.decoder.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => out.extend(decode_message(&mut self.state, &m)?),
                Ok(DecodedFrame::Incomplete) => break,
                Err(e) => return Err(Error::decode("bedrock", format!("bad event-stream frame: {e}"))),
            }
        }
        if self.buf.len() > MAX_FRAME {
            return Err(Error::decode("bedrock", "event-stream frame larger than 16 MiB"));
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<ChatChunk>) -> Result<()> {
        // The decoder keeps a frame's prelude once read, so a cut inside a frame may leave `buf`
        // empty: the missing messageStop is what tells a cut stream.
        if !self.buf.is_empty() || !self.state.stopped {
            return Err(Error::new(ErrorKind::Network, "event stream ended before messageStop (cut inside or between frames)")
                .with_provider("bedrock"));
        }
        Ok(())
    }
}
