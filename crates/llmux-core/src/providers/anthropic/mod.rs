//! Anthropic Messages API.
//! Reference: https://docs.anthropic.com/en/api/messages
//! Streaming: https://docs.anthropic.com/en/api/messages-streaming
//! Extended thinking: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking

mod error;
mod request;
mod response;
mod stream;

pub use error::map_error;
pub use request::{build_body, build_request, thinking_budget};
pub use response::{map_stop_reason, map_usage, parse_response};
pub use stream::{decode_event, AnthropicStream, StreamState};

use super::{Adapter, Built, StreamDecoder, Target};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";

pub struct Anthropic;

impl Adapter for Anthropic {
    fn build_request(&self, req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
        build_request(req, target, stream)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatCompletion> {
        parse_response(body)
    }

    fn stream_decoder(&self, _target: &Target) -> Box<dyn StreamDecoder> {
        Box::new(AnthropicStream::default())
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}
