//! Claude on Vertex AI: Anthropic's Messages body and event stream at Google's endpoint.
//! `POST .../publishers/anthropic/models/{model}:rawPredict` (`:streamRawPredict` to stream),
//! with no `model` in the body and `anthropic_version: "vertex-2023-10-16"`, a Google bearer
//! token. Source: anthropic-sdk-typescript `packages/vertex-sdk/src/client.ts`; LiteLLM
//! `vertex_ai_partner_models/anthropic/transformation.py`.

use serde_json::json;

use super::{map_error, parse_response, AnthropicStream};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};
use crate::providers::{Adapter, Built, Capabilities, HttpRequest, Provider, ProviderKind, Route, StreamDecoder, Target};

pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

pub struct VertexAnthropic;

pub fn build_request(req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
    let mut warnings = Vec::new();
    let mut body = super::build_body(req, Some(&target.model), &mut warnings)?;
    // The model is in the URL; Vertex refuses it in the body.
    body.remove("model");
    body.insert("anthropic_version".into(), json!(VERTEX_ANTHROPIC_VERSION));
    if stream {
        body.insert("stream".into(), json!(true));
    }
    let method = if stream { "streamRawPredict" } else { "rawPredict" };
    let url = format!("{}/{}:{}", target.base_url.trim_end_matches('/'), target.model, method);
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(token) = &target.api_key {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_request(e.to_string()))?;
    Ok(Built { http: HttpRequest { url, headers, body: body.into() }, warnings })
}

impl Adapter for VertexAnthropic {
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
        let mut e = map_error(status, headers, body);
        e.provider = Some("vertex_ai");
        e
    }
}

impl Provider for VertexAnthropic {
    fn kind(&self) -> ProviderKind {
        ProviderKind::VertexAnthropic
    }

    fn capabilities(&self, target: &Target) -> Capabilities {
        super::Anthropic.capabilities(target)
    }

    fn route(&self) -> Route<'_> {
        Route::Http(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::target;

    #[test]
    fn claude_on_vertex_is_a_messages_body_at_raw_predict() {
        let mut t = target(ProviderKind::VertexAnthropic, "claude-sonnet-4-5@20250929");
        t.base_url = "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models".into();
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"hi"}],"max_tokens":10}"#).unwrap();
        let b = build_request(&req, &t, true).unwrap();
        assert_eq!(
            b.http.url,
            "https://us-east5-aiplatform.googleapis.com/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
        );
        let body: serde_json::Value = serde_json::from_slice(&b.http.body).unwrap();
        assert!(body.get("model").is_none(), "no model in the body");
        assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
        assert_eq!(body["stream"], true);
        assert_eq!(body["messages"][0]["role"], "user");
        assert!(b.http.headers.iter().any(|(k, v)| *k == "authorization" && v == "Bearer test-key"));
        assert!(build_request(&req, &t, false).unwrap().http.url.ends_with(":rawPredict"));
    }
}
