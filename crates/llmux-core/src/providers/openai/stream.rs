//! OpenAI streamed response (SSE of `chat.completion.chunk`, then `[DONE]`) -> canonical chunks.

use super::error::{from_envelope, ErrorEnvelope};
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
