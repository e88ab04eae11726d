//! Errors as the OpenAI API sends them: `{"error": {"message", "type", "param", "code"}}` with
//! the status the provider gave (or the one the error's kind means), and `retry-after` on 429.

use bytes::Bytes;
use serde_json::json;

use llmux_core::error::{Error, ErrorKind};

/// The HTTP status an error answers with.
pub fn status(e: &Error) -> u16 {
    let by_kind = match e.kind {
        ErrorKind::InvalidRequest | ErrorKind::BadRequest | ErrorKind::ContextWindow | ErrorKind::ContentFilter => 400,
        ErrorKind::Auth => 401,
        ErrorKind::PermissionDenied => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::RateLimit => 429,
        ErrorKind::Timeout => 408,
        ErrorKind::ProviderUnavailable => 503,
        ErrorKind::Network | ErrorKind::Decode => 502,
        ErrorKind::Cancelled => 499,
        ErrorKind::Provider | ErrorKind::InvalidOutput | ErrorKind::Config | ErrorKind::Internal => 500,
    };
    // A provider's own 4xx/5xx is passed on as it was (a 413, a 422, a 529); a 401 or 407 only
    // when the error is an auth error, so it never reads as a verdict on something else.
    match e.status.filter(|s| (400..600).contains(s)) {
        Some(401 | 407) if e.kind != ErrorKind::Auth => by_kind,
        Some(s) => s,
        None => by_kind,
    }
}

/// OpenAI's `type` for an error.
pub fn kind(e: &Error) -> &'static str {
    match e.kind {
        ErrorKind::InvalidRequest | ErrorKind::BadRequest | ErrorKind::ContextWindow | ErrorKind::ContentFilter | ErrorKind::NotFound => {
            "invalid_request_error"
        }
        ErrorKind::Auth => "authentication_error",
        ErrorKind::PermissionDenied => "permission_error",
        ErrorKind::RateLimit => "rate_limit_error",
        ErrorKind::Timeout => "timeout_error",
        _ => "server_error",
    }
}

/// The error's JSON body.
pub fn body(e: &Error) -> Bytes {
    let code = e.provider_code.as_deref().map(str::to_owned).unwrap_or_else(|| e.kind.code().to_owned());
    Bytes::from(json!({"error": {"message": e.message, "type": kind(e), "param": e.param.as_deref(), "code": code}}).to_string())
}

/// A gateway-made error (auth, limits of the server itself, bad bodies).
pub fn gateway(kind: ErrorKind, status: u16, message: impl Into<String>) -> Error {
    Error::new(kind, message).with_status(status)
}
