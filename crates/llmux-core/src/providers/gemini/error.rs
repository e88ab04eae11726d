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
    let wire = serde_json::from_slice::<Envelope>(body)
        .map(|e| e.error)
        .or_else(|_| serde_json::from_slice::<Vec<Envelope>>(body).map(|mut v| v.swap_remove(0).error))
        .unwrap_or_else(|_| WireError {
            message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            status: String::new(),
        });
    from_wire(Some(status), wire).with_retry_after(retry_after(headers)).with_body(body)
}
