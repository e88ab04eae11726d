//! Google API errors -> llmux kinds: `{"error": {"code", "message", "status"}}` (Vertex may wrap
//! it in an array).

use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::providers::retry_after;

#[derive(Deserialize, Default)]
pub(super) struct WireError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Deserialize)]
struct Envelope {
    error: WireError,
}

pub(super) fn from_wire(http: Option<u16>, e: WireError) -> Error {
    let lower = e.message.to_ascii_lowercase();
    let kind = match e.status.as_str() {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE"
            if lower.contains("exceeds the maximum number of tokens") || lower.contains("too long") =>
        {
            ErrorKind::ContextWindow
        }
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => ErrorKind::BadRequest,
        "UNAUTHENTICATED" => ErrorKind::Auth,
        "PERMISSION_DENIED" => ErrorKind::PermissionDenied,
        "NOT_FOUND" => ErrorKind::NotFound,
        "RESOURCE_EXHAUSTED" => ErrorKind::RateLimit,
        "UNAVAILABLE" | "INTERNAL" | "UNKNOWN" => ErrorKind::ProviderUnavailable,
        "DEADLINE_EXCEEDED" => ErrorKind::Timeout,
        _ => http.map(ErrorKind::from_status).unwrap_or(ErrorKind::ProviderUnavailable),
    };
    let mut err =
        Error::new(kind, if e.message.is_empty() { format!("Gemini error {}", e.status) } else { e.message }).with_provider("gemini");
    err.status = http;
    err.provider_code = (!e.status.is_empty()).then_some(e.status.into());
    err
}

pub fn map_error(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
    // Gemini sends one envelope, or (when streaming) a one-element array of them. An empty
    // array is no envelope at all: found by the response_decoders fuzz target (`[ ]` panicked).
    // (Tried in that order by the body's first byte: serde would read an array as the struct's
    // fields in sequence, and lose the error.)
    let array = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let wire = if array {
        serde_json::from_slice::<Vec<Envelope>>(body).ok().and_then(|v| v.into_iter().next())
    } else {
        serde_json::from_slice::<Envelope>(body).ok()
    }
    .map(|e| e.error)
    .unwrap_or_else(|| WireError { message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(), status: String::new() });
    from_wire(Some(status), wire).with_retry_after(retry_after(headers)).with_body(body)
}

#[cfg(test)]
mod fuzz_found {
    use super::*;

    #[test]
    fn an_empty_array_body_is_an_error_not_a_panic() {
        // fuzz/artifacts: response_decoders, input "\n[ ]".
        let e = map_error(429, &reqwest::header::HeaderMap::new(), b"[ ]");
        assert_eq!(e.kind, crate::error::ErrorKind::RateLimit);
        let e =
            map_error(400, &reqwest::header::HeaderMap::new(), br#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#);
        assert_eq!(e.message, "bad");
    }
}
