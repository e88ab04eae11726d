//! Google Gemini: the Gemini API (AI Studio, API key) and Vertex AI (bearer token).
//! Reference: https://ai.google.dev/api/generate-content
//! Vertex: https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent

mod error;
mod request;
mod response;
mod stream;

pub use error::map_error;
pub use request::{build_request, sanitize_schema, THOUGHT_SEPARATOR};
pub use response::{decode_response, map_finish_reason, parse_response, ResponseState};
pub use stream::{GeminiJsonArrayStream, GeminiStream};

use super::{Adapter, Built, StreamDecoder, Target};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

pub struct Gemini;

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
