//! OpenAI streamed response (SSE of `chat.completion.chunk`, then `[DONE]`) -> canonical chunks.

use super::error::{from_envelope, ErrorEnvelope};
use crate::chat::accumulate::{MAX_CHOICES, MAX_TOOL_CALLS};
use crate::chat::ChatChunk;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{SseEvents, SseStream};
use crate::wire::SseEvent;

/// What a stream has shown so far, to tell a finished stream from a cut one.
#[derive(Default, Debug)]
pub struct StreamState {
    pub done: bool,
    pub finished: bool,
}

/// One SSE event -> at most one chunk. Chunks that carry nothing for the caller (Azure's
/// leading `prompt_filter_results` chunk with no choices and no usage) are dropped.
pub fn decode_event(state: &mut StreamState, event: SseEvent<'_>) -> Result<Option<ChatChunk>> {
    let data = event.data.trim();
    if data == "[DONE]" {
        state.done = true;
        return Ok(None);
    }
    if data.is_empty() {
        return Ok(None);
    }
    // `"error"` can only appear unescaped as a key or a bare value, never inside content text.
    if event.event == "error" || data.contains("\"error\"") {
        if let Ok(ErrorEnvelope { error: Some(e) }) = serde_json::from_str::<ErrorEnvelope>(data) {
            let mut err = from_envelope(200, e, None);
            err.status = None;
            if err.kind == ErrorKind::Provider {
                err.kind = ErrorKind::ProviderUnavailable;
                err.retryable = true;
            }
            return Err(err);
        }
    }
    let chunk: ChatChunk = serde_json::from_str(data)
        .map_err(|e| Error::decode("openai", format!("malformed stream chunk: {e}")).with_body(data.as_bytes()))?;
    for c in &chunk.choices {
        let tool_index = c.delta.tool_calls.iter().flatten().map(|t| t.index).max().unwrap_or(0);
        if c.index >= MAX_CHOICES || tool_index as usize >= MAX_TOOL_CALLS {
            return Err(Error::decode("openai", format!("stream chunk index out of range (choice {}, tool call {tool_index})", c.index)));
        }
    }
    if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
        state.finished = true;
    }
    if chunk.choices.is_empty() && chunk.usage.is_none() {
        return Ok(None);
    }
    Ok(Some(chunk))
}

impl SseEvents for StreamState {
    fn decode(&mut self, ev: SseEvent<'_>, out: &mut Vec<ChatChunk>) -> Result<()> {
        out.extend(decode_event(self, ev)?);
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<()> {
        if !self.done && !self.finished {
            return Err(Error::new(ErrorKind::Network, "stream ended before the response was complete").with_provider("openai"));
        }
        Ok(())
    }
}

pub type OpenAiStream = SseStream<StreamState>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::StreamAccumulator;
    use crate::providers::StreamDecoder;

    #[test]
    fn an_absurd_index_is_a_decode_error_not_an_allocation() {
        for chunk in [
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":4294967295,"delta":{"content":"x"}}]}"#,
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":4294967295,"function":{"arguments":"x"}}]}}]}"#,
        ] {
            let mut d = OpenAiStream::default();
            let e = d.feed(format!("data: {chunk}\n\n").as_bytes(), &mut vec![]).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Decode, "{}", e.message);
        }
        // The accumulator, fed such a chunk directly, ignores it.
        let mut acc = StreamAccumulator::default();
        let c: ChatChunk = serde_json::from_str(r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":4294967295,"delta":{"content":"x"}}]}"#).unwrap();
        acc.push(&c);
        assert_eq!(acc.text(), "");
    }
}
