//! Gemini streams: SSE (`alt=sse`, what llmux asks for) and the plain JSON array Gemini sends
//! without it. Both feed the same per-response decoder.

use super::response::{decode_response, ResponseState};
use crate::chat::ChatChunk;
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{SseEvents, SseStream, StreamDecoder};
use crate::wire::{JsonArrayFramer, SseEvent};

fn check_finished(st: &ResponseState) -> Result<()> {
    if !st.finished {
        return Err(Error::new(ErrorKind::Network, "stream ended before a finish reason").with_provider("gemini"));
    }
    Ok(())
}

impl SseEvents for ResponseState {
    fn decode(&mut self, ev: SseEvent<'_>, out: &mut Vec<ChatChunk>) -> Result<()> {
        out.extend(decode_response(self, ev.data)?);
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<()> {
        check_finished(self)?;
        self.finish(out);
        Ok(())
    }
}

pub type GeminiStream = SseStream<ResponseState>;

#[derive(Default)]
pub struct GeminiJsonArrayStream {
    framer: JsonArrayFramer,
    state: ResponseState,
}

impl StreamDecoder for GeminiJsonArrayStream {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<()> {
        let st = &mut self.state;
        self.framer.push(bytes, |el| {
            out.extend(decode_response(st, el)?);
            Ok(())
        })
    }

    fn limit_event(&mut self, max_bytes: usize) {
        self.framer.set_limit(max_bytes);
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<()> {
        self.framer.finish().map_err(|e| e.with_provider("gemini"))?;
        check_finished(&self.state)?;
        self.state.finish(out);
        Ok(())
    }
}
