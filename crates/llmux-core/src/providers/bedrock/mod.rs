//! AWS Bedrock Converse and ConverseStream, signed with SigV4 (or a Bedrock API key).
//! Converse: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
//! ConverseStream: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html

pub mod embed;
mod error;
mod request;
mod response;
mod sign;
mod stream;

pub use error::{map_error, map_exception};
pub use request::{auth_headers, build_body, build_request, encode_model_id};
pub use response::{map_stop_reason, map_usage, parse_response};
pub use sign::sigv4_headers;
pub use stream::{decode_message, BedrockStream, StreamState};

use super::{Adapter, Built, Capabilities, JsonSchemaSupport, Provider, ProviderKind, Route, StreamDecoder, Target, ThinkingStyle};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub struct Bedrock;

impl Provider for Bedrock {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Bedrock
    }

    fn capabilities(&self, target: &Target) -> Capabilities {
        let m = target.model.as_str();
        let claude = request::is_claude(m);
        Capabilities {
            json_schema: JsonSchemaSupport::None,
            // Converse's `toolChoice` `any`/`tool` is honoured by Claude, Nova and Mistral Large
            // only (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html);
            // the model database's `supports_tool_choice` says so per model where it knows.
            forced_tool_choice: target
                .info
                .supports_tool_choice
                .unwrap_or(claude || m.contains("amazon.nova") || m.contains("mistral.mistral-large")),
            thinking: if claude { ThinkingStyle::Budget } else { ThinkingStyle::None },
            image_input: claude || m.contains("amazon.nova") || m.contains("llama3-2") || m.contains("llama4"),
        }
    }

    fn route(&self) -> Route<'_> {
        Route::Http(self)
    }

    fn embed(&self) -> Option<&dyn crate::providers::EmbedAdapter> {
        Some(self)
    }
}

impl crate::providers::EmbedAdapter for Bedrock {
    fn limits(&self, req: &crate::embed::EmbeddingRequest, target: &Target) -> crate::providers::EmbedLimits {
        embed::limits(req, target)
    }

    fn build_embed(&self, req: &crate::embed::EmbeddingRequest, items: &[crate::embed::Item<'_>], target: &Target) -> Result<Built> {
        embed::build(req, items, target)
    }

    fn parse_embed(
        &self,
        body: &[u8],
        headers: &reqwest::header::HeaderMap,
        expected: usize,
        _target: &Target,
    ) -> Result<crate::providers::EmbedBatch> {
        embed::parse(body, headers, expected)
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}

impl Adapter for Bedrock {
    fn build_request(&self, req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
        build_request(req, target, stream)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatCompletion> {
        parse_response(body)
    }

    fn stream_decoder(&self, _target: &Target) -> Box<dyn StreamDecoder> {
        Box::new(BedrockStream::default())
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}
