//! Anthropic errors -> llmux kinds. Envelope: `{"type":"error","error":{"type","message"}}`,
//! also sent mid-stream as an `error` event (e.g. `overloaded_error`, HTTP status still 200).

use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::providers::retry_after;

#[derive(Deserialize, Default)]
pub(super) struct WireError {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct Envelope {
    error: WireError,
}

pub(super) fn from_wire(status: Option<u16>, e: WireError) -> Error {
    let lower = e.message.to_ascii_lowercase();
    let kind = match e.kind.as_str() {
        "invalid_request_error" if lower.contains("prompt is too long") || lower.contains("context window") => ErrorKind::ContextWindow,
        "invalid_request_error" => ErrorKind::BadRequest,
        "authentication_error" => ErrorKind::Auth,
        "permission_error" | "billing_error" => ErrorKind::PermissionDenied,
        "not_found_error" => ErrorKind::NotFound,
        // 413: the HTTP body is over the API's size limit (32 MB). A model with a larger context
        // window would refuse it the same way, so this is no reason to fall back.
        // https://docs.anthropic.com/en/api/errors
        "request_too_large" => ErrorKind::BadRequest,
        "rate_limit_error" => ErrorKind::RateLimit,
        "api_error" | "overloaded_error" => ErrorKind::ProviderUnavailable,
        "timeout_error" => ErrorKind::Timeout,
        _ => status.map(ErrorKind::from_status).unwrap_or(ErrorKind::ProviderUnavailable),
    };
    let message = if e.message.is_empty() { format!("Anthropic error {}", e.kind) } else { e.message };
    let mut err = Error::new(kind, message).with_provider("anthropic");
    err.status = status;
    err.provider_code = (!e.kind.is_empty()).then_some(e.kind.into());
    err
}

pub fn map_error(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
    let wire = serde_json::from_slice::<Envelope>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| WireError { kind: String::new(), message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned() });
    let mut err = from_wire(Some(status), wire).with_retry_after(retry_after(headers)).with_body(body);
    if err.provider_code.is_none() {
        err.kind = ErrorKind::from_status(status);
        err.retryable = err.kind.retryable();
    }
    // 529: overloaded, whatever the body says.
    if status == 529 {
        err.kind = ErrorKind::ProviderUnavailable;
        err.retryable = true;
    }
    err
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn a_body_over_the_size_limit_is_not_a_context_window_error() {
        let e = map_error(
            413,
            &reqwest::header::HeaderMap::new(),
            br#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#,
        );
        assert_eq!(e.kind, ErrorKind::BadRequest);
        let e = map_error(
            400,
            &reqwest::header::HeaderMap::new(),
            br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 250000 tokens > 200000 maximum"}}"#,
        );
        assert_eq!(e.kind, ErrorKind::ContextWindow);
    }
}
