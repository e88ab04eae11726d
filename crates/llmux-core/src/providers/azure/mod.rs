//! Azure OpenAI: OpenAI's wire with a deployment URL, an `api-version` and an `api-key` header.
//! Reference: https://learn.microsoft.com/azure/ai-services/openai/reference
//! Decoding is OpenAI's (Azure's empty-`choices` filter chunks are dropped there); a filtered
//! answer ends with `finish_reason: "content_filter"`, a filtered prompt is a 400 `content_filter`.

use super::openai;
use super::{Adapter, Built, Capabilities, HttpRequest, Provider, ProviderKind, Route, StreamDecoder, Target};
use crate::chat::{ChatCompletion, ChatRequest};
use crate::error::{Error, Result};

/// The api-version the old amplify client used when the endpoint named none.
pub const DEFAULT_API_VERSION: &str = "2024-02-15-preview";

pub struct Azure;

impl Provider for Azure {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Azure
    }

    fn capabilities(&self, target: &Target) -> Capabilities {
        openai::capabilities(target)
    }

    fn route(&self) -> Route<'_> {
        Route::Http(self)
    }

    fn embed(&self) -> Option<&dyn crate::providers::EmbedAdapter> {
        Some(self)
    }
}

/// Azure's embeddings: OpenAI's body (without `model`) at the deployment's URL
/// (https://learn.microsoft.com/azure/ai-services/openai/reference#embeddings).
impl crate::providers::EmbedAdapter for Azure {
    fn limits(&self, _req: &crate::embed::EmbeddingRequest, target: &Target) -> crate::providers::EmbedLimits {
        openai::embed::limits(target)
    }

    fn build_embed(&self, req: &crate::embed::EmbeddingRequest, items: &[crate::embed::Item<'_>], target: &Target) -> Result<Built> {
        let version = target.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION);
        let url =
            format!("{}/openai/deployments/{}/embeddings?api-version={}", target.base_url.trim_end_matches('/'), target.model, version);
        let mut headers = vec![("content-type", "application/json".to_owned())];
        if let Some(key) = &target.api_key {
            if target.entra {
                headers.push(("authorization", format!("Bearer {key}")));
            } else {
                headers.push(("api-key", key.clone()));
            }
        }
        let body = openai::embed::body(req, items, None)?;
        Ok(Built { http: HttpRequest { url, headers, body: body.into() }, warnings: Vec::new() })
    }

    fn parse_embed(
        &self,
        body: &[u8],
        _headers: &reqwest::header::HeaderMap,
        expected: usize,
        _target: &Target,
    ) -> Result<crate::providers::EmbedBatch> {
        openai::embed::parse(body, expected, "azure")
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        openai::map_error(status, headers, body).with_provider("azure")
    }
}

/// `stream_options` is accepted from api-version 2024-09-01-preview on; older versions reject it.
pub fn supports_stream_usage(api_version: &str) -> bool {
    !api_version.starts_with("20") || api_version >= "2024-09-01"
}

pub fn build_request(req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
    let version = target.api_version.as_deref().unwrap_or(DEFAULT_API_VERSION);
    let stream_usage = stream && supports_stream_usage(version);
    let mut built = openai::build_request_with(req, target, stream, stream_usage)?;
    built.http.url =
        format!("{}/openai/deployments/{}/chat/completions?api-version={}", target.base_url.trim_end_matches('/'), target.model, version);
    built.http.headers.retain(|(k, _)| *k != "authorization");
    if let Some(key) = &target.api_key {
        // An Entra ID token is a bearer token; a resource key goes in `api-key`
        // (https://learn.microsoft.com/azure/ai-services/openai/reference#authentication).
        if target.entra {
            built.http.headers.push(("authorization", format!("Bearer {key}")));
        } else {
            built.http.headers.push(("api-key", key.clone()));
        }
    }
    if stream && !stream_usage {
        built.warnings.push(format!(
            "api-version {version} cannot report usage in a stream; usage will be estimated (use 2024-09-01-preview or later)"
        ));
    }
    Ok(built)
}

impl Adapter for Azure {
    fn build_request(&self, req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
        build_request(req, target, stream)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ChatCompletion> {
        openai::parse_response(body)
    }

    fn stream_decoder(&self, _target: &Target) -> Box<dyn StreamDecoder> {
        Box::new(openai::OpenAiStream::default())
    }

    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
        openai::map_error(status, headers, body).with_provider("azure")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::target;
    use crate::providers::ProviderKind;

    #[test]
    fn deployment_url_api_key_and_stream_usage_by_version() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        let mut t = target(ProviderKind::Azure, "gpt-4o");
        let built = build_request(&req, &t, true).unwrap();
        assert_eq!(built.http.url, "http://127.0.0.1:1/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21");
        assert!(built.http.headers.contains(&("api-key", "test-key".to_owned())));
        assert!(!built.http.headers.iter().any(|(k, _)| *k == "authorization"));
        let body: serde_json::Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        t.api_version = Some(DEFAULT_API_VERSION.to_owned());
        let built = build_request(&req, &t, true).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&built.http.body).unwrap();
        assert!(body.get("stream_options").is_none());
        assert_eq!(built.warnings.len(), 1);
    }

    #[test]
    fn a_deployment_is_a_reasoning_model_by_its_base_model_not_its_name() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"hi"}],"temperature":0.2,"max_tokens":50}"#).unwrap();
        let mut t = target(ProviderKind::Azure, "prod-chat-7");
        let o = crate::models::ModelInfo { base_model: Some("azure/gpt-5".into()), ..Default::default() };
        t.info = std::sync::Arc::new(crate::models::resolve(ProviderKind::Azure, "prod-chat-7", Some(&o)));
        let built = build_request(&req, &t, false).unwrap();
        let body: serde_json::Value = serde_json::from_slice(&built.http.body).unwrap();
        // GPT-5 takes max_completion_tokens and no temperature (OpenAI reasoning guide).
        assert_eq!(body["max_completion_tokens"], 50);
        assert!(body.get("temperature").is_none() && body.get("max_tokens").is_none(), "{body}");
        assert!(built.warnings.iter().any(|w| w.contains("temperature")));
        // Without the base model, the name says nothing: sent as given.
        let t = target(ProviderKind::Azure, "prod-chat-7");
        let body: serde_json::Value = serde_json::from_slice(&build_request(&req, &t, false).unwrap().http.body).unwrap();
        assert_eq!(body["temperature"], 0.2);
    }

    #[test]
    fn cache_markers_are_dropped_for_openai_shaped_servers_with_a_word() {
        let req = ChatRequest::from_json(
            r#"{"messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}],"cache_control":{"type":"ephemeral"}}],
                "tools":[{"type":"function","function":{"name":"f"},"cache_control":{"type":"ephemeral"}}]}"#,
        )
        .unwrap();
        let built = build_request(&req, &target(ProviderKind::Azure, "gpt-4o"), false).unwrap();
        let text = String::from_utf8(built.http.body.to_vec()).unwrap();
        assert!(!text.contains("cache_control"), "{text}");
        assert_eq!(built.warnings.iter().filter(|w| w.contains("cache_control")).count(), 1);
    }
}
