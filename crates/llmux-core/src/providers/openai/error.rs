//! OpenAI error responses -> the llmux error kinds.
//! Envelope: `{"error": {"message", "type", "param", "code"}}`.

use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::providers::retry_after;

#[derive(Deserialize)]
pub(super) struct ErrorEnvelope {
    #[serde(default)]
    pub error: Option<WireError>,
}

#[derive(Deserialize, Default)]
pub(super) struct WireError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    param: Option<String>,
    /// A string on OpenAI, a number on some compatible servers.
    #[serde(default)]
    code: Option<serde_json::Value>,
}

pub fn map_error(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
    let wire = match serde_json::from_slice::<ErrorEnvelope>(body) {
        Ok(ErrorEnvelope { error: Some(e) }) => e,
        _ => WireError {
            message: Some(if body.is_empty() {
                format!("HTTP {status}")
            } else {
                String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
            }),
            ..Default::default()
        },
    };
    from_envelope(status, wire, retry_after(headers)).with_body(body)
}

pub(super) fn from_envelope(status: u16, wire: WireError, retry_after: Option<std::time::Duration>) -> Error {
    let code = match &wire.code {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let message = wire.message.unwrap_or_else(|| format!("HTTP {status}"));
    let tag = code.as_deref().or(wire.kind.as_deref()).unwrap_or("");
    let lower = message.to_ascii_lowercase();
    let mut kind = match tag {
        "context_length_exceeded" => ErrorKind::ContextWindow,
        // One string over OpenAI's per-string limit (10,485,760 characters): the same request
        // fails on any model, so it is a bad request, not a context-window fallback.
        "string_above_max_length" => ErrorKind::BadRequest,
        "content_filter" | "content_policy_violation" => ErrorKind::ContentFilter,
        "invalid_api_key" | "authentication_error" => ErrorKind::Auth,
        "model_not_found" => ErrorKind::NotFound,
        "rate_limit_exceeded" | "insufficient_quota" => ErrorKind::RateLimit,
        "server_error" | "overloaded_error" => ErrorKind::ProviderUnavailable,
        _ if status == 200 => ErrorKind::Provider,
        _ => ErrorKind::from_status(status),
    };
    if kind == ErrorKind::BadRequest && (lower.contains("maximum context length") || lower.contains("context window")) {
        kind = ErrorKind::ContextWindow;
    }
    let mut err = Error::new(kind, message).with_provider("openai").with_retry_after(retry_after);
    if status != 200 {
        err = err.with_status(status);
    }
    // An exhausted quota does not come back by waiting a few seconds.
    if tag == "insufficient_quota" {
        err.retryable = false;
    }
    err.provider_code = code.or(wire.kind).map(Into::into);
    err.param = wire.param.map(Into::into);
    err
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn a_string_over_the_length_limit_is_a_bad_request_not_a_context_window_error() {
        let e = map_error(400, &reqwest::header::HeaderMap::new(), br#"{"error":{"message":"Invalid 'messages[0].content': string too long. Expected a string with maximum length 10485760, but got a string with length 10485761 instead.","type":"invalid_request_error","param":"messages[0].content","code":"string_above_max_length"}}"#);
        assert_eq!(e.kind, ErrorKind::BadRequest);
        let e = map_error(400, &reqwest::header::HeaderMap::new(), br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#);
        assert_eq!(e.kind, ErrorKind::ContextWindow);
    }
}
