//! OpenAI streamed response (SSE of `chat.completion.chunk`, then `[DONE]`) -> canonical chunks.

use super::error::{from_envelope, ErrorEnvelope};
use crate::chat::ChatChunk;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::StreamDecoder;
use crate::wire::{SseEvent, SseFramer};

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
    let chunk: ChatChunk = serde_json::from_str(data).map_err(|e| {
        Error::decode("openai", format!("malformed stream chunk: {e}")).with_body(data.as_bytes())
    })?;
    if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
        state.finished = true;
    }
    if chunk.choices.is_empty() && chunk.usage.is_none() {
        return Ok(None);
    }
    Ok(Some(chunk))
}

#[derive(Default)]
pub struct OpenAiStream {
    framer: SseFramer,
    state: StreamState,
}

impl StreamDecoder for OpenAiStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<()> {
        let state = &mut self.state;
        self.framer.push(bytes, |ev| {
            if let Some(c) = decode_event(state, ev)? {
                out.push(c);
            }
            Ok(())
        })
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<()> {
        let state = &mut self.state;
        self.framer.finish(|ev| {
            if let Some(c) = decode_event(state, ev)? {
                out.push(c);
            }
            Ok(())
        })?;
        if !state.done && !state.finished {
            return Err(Error::new(ErrorKind::Network, "stream ended before the response was complete")
                .with_provider("openai"));
        }
        Ok(())
    }
}
