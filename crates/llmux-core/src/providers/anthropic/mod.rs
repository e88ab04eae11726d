//! Anthropic Messages API.
//! Reference: https://docs.anthropic.com/en/api/messages
//! Streaming: https://docs.anthropic.com/en/api/messages-streaming
//! Extended thinking: https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking

mod error;
mod request;
mod response;
mod stream;
pub mod vertex;

pub use error::map_error;
pub use request::{build_body, build_request};
pub use response::{map_stop_reason, map_usage, parse_response};
pub use stream::{decode_event, AnthropicStream, StreamState};

use super::{Adapter, Built, Capabilities, JsonSchemaSupport, Provider, ProviderKind, Route, StreamDecoder, Target, ThinkingStyle};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";

pub struct Anthropic;

impl Provider for Anthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Anthropic
    }

    fn capabilities(&self, _target: &Target) -> Capabilities {
        // Structured output goes through a forced tool (tool_choice `tool`), which every Claude
        // model honours.
        Capabilities { json_schema: JsonSchemaSupport::None, forced_tool_choice: true, thinking: ThinkingStyle::Budget, image_input: true }
    }

    fn route(&self) -> Route<'_> {
        Route::Http(self)
    }
}

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
