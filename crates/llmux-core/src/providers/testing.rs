//! Test helpers shared by the providers' translation tests.

use serde_json::{json, Value};
use std::sync::LazyLock;

use super::{AwsCredentials, ProviderKind, Target};

pub fn target(provider: ProviderKind, model: &str) -> Target {
    Target {
        provider,
        model: model.to_owned(),
        base_url: "http://127.0.0.1:1".to_owned(),
        api_key: Some("test-key".to_owned()),
        extra_headers: vec![],
        timeouts: crate::engine::Timeouts::DEFAULT,
        max_retries: 0,
        api_version: Some("2024-10-21".to_owned()),
        region: Some("us-east-1".to_owned()),
        aws: Some(AwsCredentials {
            access_key_id: "AKIDEXAMPLE".to_owned(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned(),
            session_token: Some("session-token".to_owned()),
        }),
        info: std::sync::Arc::new(crate::models::resolve(provider, model, None)),
        cloud: None,
        entra: false,
    }
}

/// The canonical request every provider's translation test checks field by field: a system
/// prompt, an image, two tools, an earlier tool call with its thinking block, a tool result,
/// reasoning on, a stop sequence.
pub static FULL_REQUEST: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "model": "x",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image, and what's the weather in Paris?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "content": null,
             "thinking_blocks": [{"type": "thinking", "thinking": "Need weather.", "signature": "sig-1"}],
             "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\":21}"}
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "get_time"}}
        ],
        "tool_choice": "auto",
        "reasoning_effort": "medium",
        "max_tokens": 500,
        "temperature": 0.5,
        "stop": "END"
    })
});
