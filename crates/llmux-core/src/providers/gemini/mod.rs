//! Google Gemini: the Gemini API (AI Studio, API key) and Vertex AI (bearer token).
//! Reference: https://ai.google.dev/api/generate-content
//! Vertex: https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent

pub mod embed;
mod error;
mod request;
mod response;
mod stream;

pub use error::map_error;
pub use request::{build_request, THOUGHT_SEPARATOR};
pub use response::{decode_response, map_finish_reason, parse_response, ResponseState};
pub use stream::{GeminiJsonArrayStream, GeminiStream};

use super::{Adapter, Built, Capabilities, JsonSchemaSupport, Provider, ProviderKind, Route, StreamDecoder, Target, ThinkingStyle};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Gemini through Google AI Studio.
pub struct Gemini;
/// Gemini through Vertex AI: the same wire at another endpoint.
pub struct Vertex;

fn gemini_capabilities() -> Capabilities {
    Capabilities { json_schema: JsonSchemaSupport::Native, forced_tool_choice: true, thinking: ThinkingStyle::Budget, image_input: true }
}

impl Provider for Gemini {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    fn capabilities(&self, _target: &Target) -> Capabilities {
        gemini_capabilities()
    }

    fn route(&self) -> Route<'_> {
        Route::Http(self)
    }

    fn embed(&self) -> Option<&dyn crate::providers::EmbedAdapter> {
        Some(&GoogleEmbed)
    }
}

impl Provider for Vertex {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vertex
    }

    fn capabilities(&self, _target: &Target) -> Capabilities {
        gemini_capabilities()
    }

    fn route(&self) -> Route<'_> {
        Route::Http(&Gemini)
    }

    fn embed(&self) -> Option<&dyn crate::providers::EmbedAdapter> {
        Some(&GoogleEmbed)
    }
}

/// Embeddings on the Gemini API and Vertex AI (`embed.rs`).
struct GoogleEmbed;

impl crate::providers::EmbedAdapter for GoogleEmbed {
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
        target: &Target,
    ) -> Result<crate::providers::EmbedBatch> {
        embed::parse(body, expected, target.provider == ProviderKind::Vertex)
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}

impl Adapter for Gemini {
    fn build_request(&self, req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
        build_request(req, target, stream)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatCompletion> {
        parse_response(body)
    }

    fn stream_decoder(&self, _target: &Target) -> Box<dyn StreamDecoder> {
        Box::new(GeminiStream::default())
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        map_error(status, headers, body)
    }
}
