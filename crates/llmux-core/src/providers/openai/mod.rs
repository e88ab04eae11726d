//! OpenAI Chat Completions, and any server that speaks it (vLLM, Ollama, Together, Groq...).
//! API reference: https://platform.openai.com/docs/api-reference/chat
//! Streaming: https://platform.openai.com/docs/api-reference/chat-streaming

pub mod embed;
mod error;
mod request;
mod response;
mod stream;

pub use error::map_error;
pub use request::{build_request, build_request_with, has_cache_marks, is_reasoning_model};
pub use response::parse_response;
pub use stream::{decode_event, OpenAiStream, StreamState};

use super::{Adapter, Built, Capabilities, JsonSchemaSupport, Provider, ProviderKind, Route, StreamDecoder, Target, ThinkingStyle};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAi;

/// OpenAI models that take `response_format: json_schema` (2024-08 and later families).
fn supports_json_schema(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"].iter().any(|p| m.starts_with(p))
        && !m.starts_with("o1-mini")
        && !m.starts_with("o1-preview")
        && m != "gpt-4o-2024-05-13"
}

/// What an OpenAI model (or an Azure deployment of one) can do: the model database's flags
/// where it knows the model (through `base_model` for an Azure deployment name), the name
/// rules where it does not.
pub fn capabilities(target: &Target) -> Capabilities {
    let (model, info) = (target.model.as_str(), &target.info);
    let json_schema = info.supports_response_schema.unwrap_or_else(|| supports_json_schema(model));
    let reasoning = info.supports_reasoning.unwrap_or_else(|| is_reasoning_model(model));
    Capabilities {
        json_schema: if json_schema { JsonSchemaSupport::Strict } else { JsonSchemaSupport::None },
        forced_tool_choice: info.supports_tool_choice.unwrap_or(true),
        thinking: if reasoning { ThinkingStyle::Effort } else { ThinkingStyle::None },
        image_input: info.supports_vision.unwrap_or(true),
    }
}

impl Provider for OpenAi {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenAi
    }

    fn capabilities(&self, target: &Target) -> Capabilities {
        capabilities(target)
    }

    fn route(&self) -> Route<'_> {
        Route::Http(self)
    }

    fn embed(&self) -> Option<&dyn crate::providers::EmbedAdapter> {
        Some(self)
    }
}

impl crate::providers::EmbedAdapter for OpenAi {
    fn limits(&self, _req: &crate::embed::EmbeddingRequest, target: &Target) -> crate::providers::EmbedLimits {
        embed::limits(target)
    }

    fn build_embed(&self, req: &crate::embed::EmbeddingRequest, items: &[crate::embed::Item<'_>], target: &Target) -> Result<Built> {
        embed::build(req, items, target)
    }

    fn parse_embed(
        &self,
        body: &[u8],
        _headers: &reqwest::header::HeaderMap,
        expected: usize,
        _target: &Target,
    ) -> Result<crate::providers::EmbedBatch> {
        embed::parse(body, expected, "openai")
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}

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
