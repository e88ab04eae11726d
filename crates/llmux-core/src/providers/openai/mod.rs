//! OpenAI Chat Completions, and any server that speaks it (vLLM, Ollama, Together, Groq...).
//! API reference: https://platform.openai.com/docs/api-reference/chat
//! Streaming: https://platform.openai.com/docs/api-reference/chat-streaming

mod error;
mod request;
mod response;
mod stream;

pub use error::map_error;
pub use request::{build_request, build_request_with, is_reasoning_model};
pub use response::parse_response;
pub use stream::{decode_event, OpenAiStream, StreamState};

use super::{Adapter, Built, StreamDecoder, Target};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAi;

impl Adapter for OpenAi {
    fn build_request(&self, req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
        build_request(req, target, stream)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatCompletion> {
        parse_response(body)
    }

    fn stream_decoder(&self, _target: &Target) -> Box<dyn StreamDecoder> {
        Box::new(OpenAiStream::default())
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}
