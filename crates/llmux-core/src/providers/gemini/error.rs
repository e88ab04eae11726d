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
    /// `google.rpc` detail messages; a `RetryInfo` among them says when to come back.
    /// Read loosely: a detail of an unexpected shape must not cost us the error itself.
    #[serde(default)]
    pub details: serde_json::Value,
}

/// `RetryInfo.retryDelay`, a protobuf Duration in JSON: decimal seconds and an `s` (`"34.4s"`,
/// `"47s"`). Gemini sends no `Retry-After` header on a 429; this is where the wait is
/// (https://ai.google.dev/gemini-api/docs/rate-limits; vercel/ai's google-429-retry-info.json).
fn retry_delay(details: &serde_json::Value) -> Option<std::time::Duration> {
    let d = details
        .as_array()?
        .iter()
        .find(|d| d.get("@type").and_then(|t| t.as_str()).is_some_and(|t| t.ends_with("google.rpc.RetryInfo")))?;
    let secs: f64 = d.get("retryDelay")?.as_str()?.strip_suffix('s')?.parse().ok()?;
    // A day is more than any quota window; anything else is a bad value, not a wait.
    std::time::Duration::try_from_secs_f64(secs).ok().filter(|d| *d <= std::time::Duration::from_secs(86_400))
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
    let delay = retry_delay(&e.details);
    let mut err =
        Error::new(kind, if e.message.is_empty() { format!("Gemini error {}", e.status) } else { e.message }).with_provider("gemini");
    if delay.is_some() {
        err = err.with_retry_after(delay);
    }
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
    .unwrap_or_else(|| WireError {
        message: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        status: String::new(),
        details: serde_json::Value::Null,
    });
    let e = from_wire(Some(status), wire);
    // A header, where a proxy in front adds one, wins over the body's hint.
    let header = retry_after(headers);
    if header.is_some() { e.with_retry_after(header) } else { e }.with_body(body)
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

    #[test]
    fn a_429_says_when_to_retry_in_its_body() {
        // vercel/ai packages/google/src/__fixtures__/google-429-retry-info.json
        let body = br#"{"error":{"code":429,"message":"You exceeded your current quota, please check your plan.","status":"RESOURCE_EXHAUSTED",
          "details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
                     {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"34.4s"}]}}"#;
        let e = map_error(429, &reqwest::header::HeaderMap::new(), body);
        assert_eq!(e.kind, crate::error::ErrorKind::RateLimit);
        assert_eq!(e.retry_after, Some(std::time::Duration::from_millis(34_400)));
        for bad in ["\"-1s\"", "\"1e300s\"", "\"soon\"", "7"] {
            let body = format!(
                r#"{{"error":{{"status":"RESOURCE_EXHAUSTED","details":[{{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":{bad}}}]}}}}"#
            );
            let e = map_error(429, &reqwest::header::HeaderMap::new(), body.as_bytes());
            assert_eq!(e.retry_after, None, "{bad}");
        }
    }
}
