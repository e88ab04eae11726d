//! Bedrock errors -> llmux kinds: HTTP errors name the exception in `x-amzn-ErrorType`
//! (body `{"message"}`); stream exceptions arrive as frames with `:exception-type`.

use crate::error::{Error, ErrorKind};
use crate::providers::retry_after;

fn kind_of(exception: &str, message: &str, status: Option<u16>) -> ErrorKind {
    let e = exception.to_ascii_lowercase();
    let lower = message.to_ascii_lowercase();
    match e.trim_end_matches("exception") {
        "validation" if lower.contains("too long") || lower.contains("context") && lower.contains("exceed") => ErrorKind::ContextWindow,
        "validation" => ErrorKind::BadRequest,
        "accessdenied" => ErrorKind::PermissionDenied,
        "unrecognizedclient" | "expiredtoken" | "invalidsignature" | "missingauthenticationtoken" => ErrorKind::Auth,
        "resourcenotfound" => ErrorKind::NotFound,
        "throttling" | "toomanyrequests" | "servicequotaexceeded" => ErrorKind::RateLimit,
        "modeltimeout" => ErrorKind::Timeout,
        "serviceunavailable" | "internalserver" | "modelstreamerror" | "modelnotready" | "modelerror" => ErrorKind::ProviderUnavailable,
        _ => status.map(ErrorKind::from_status).unwrap_or(ErrorKind::ProviderUnavailable),
    }
}

fn message_of(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")).and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned())
}

pub fn map_error(status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error {
    // "ValidationException:http://internal.amazon.com/coral/..." -> "ValidationException"
    let exception = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(':').next().unwrap_or(s).to_owned())
        .unwrap_or_default();
    let message = message_of(body);
    let kind = if exception.is_empty() { ErrorKind::from_status(status) } else { kind_of(&exception, &message, Some(status)) };
    let mut err =
        Error::new(kind, message).with_provider("bedrock").with_status(status).with_retry_after(retry_after(headers)).with_body(body);
    err.provider_code = (!exception.is_empty()).then_some(exception.into());
    err
}

/// A stream frame with `:message-type: exception`.
pub fn map_exception(exception_type: &str, payload: &[u8]) -> Error {
    let message = message_of(payload);
    let mut err = Error::new(kind_of(exception_type, &message, None), message).with_provider("bedrock").with_body(payload);
    err.provider_code = Some(exception_type.into());
    err
}
