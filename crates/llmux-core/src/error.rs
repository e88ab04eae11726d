//! The one error type of llmux: a kind, the HTTP status, the provider and whether a retry may help.
//! Every provider maps its failures into this; `node/` turns it into a JS `Error` once.

use std::fmt;
use std::time::Duration;

/// What went wrong, in terms a caller can act on. `code()` is the string JS sees as `err.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was rejected before any request was sent (bad request shape, unknown model...).
    InvalidRequest,
    /// The provider rejected the request as malformed (HTTP 400 / validation).
    BadRequest,
    Auth,
    PermissionDenied,
    NotFound,
    RateLimit,
    ContextWindow,
    ContentFilter,
    Timeout,
    /// 5xx, 529, overloaded: the provider could not serve now.
    ProviderUnavailable,
    /// Any other provider answer we cannot classify more precisely.
    Provider,
    /// The connection failed or broke (reset, refused, DNS).
    Network,
    /// The provider sent bytes we could not decode (malformed JSON, bad frame).
    Decode,
    Cancelled,
    InvalidOutput,
    Config,
    Internal,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 17] = [
        ErrorKind::InvalidRequest,
        ErrorKind::BadRequest,
        ErrorKind::Auth,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::RateLimit,
        ErrorKind::ContextWindow,
        ErrorKind::ContentFilter,
        ErrorKind::Timeout,
        ErrorKind::ProviderUnavailable,
        ErrorKind::Provider,
        ErrorKind::Network,
        ErrorKind::Decode,
        ErrorKind::Cancelled,
        ErrorKind::InvalidOutput,
        ErrorKind::Config,
        ErrorKind::Internal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Auth => "auth",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimit => "rate_limit",
            ErrorKind::ContextWindow => "context_window",
            ErrorKind::ContentFilter => "content_filter",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ProviderUnavailable => "provider_unavailable",
            ErrorKind::Provider => "provider",
            ErrorKind::Network => "network",
            ErrorKind::Decode => "decode",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::InvalidOutput => "invalid_output",
            ErrorKind::Config => "config",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether trying the same request again may succeed.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorKind::RateLimit | ErrorKind::Timeout | ErrorKind::ProviderUnavailable | ErrorKind::Network)
    }

    /// The kind an HTTP status means when the body says nothing more precise.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 | 422 => ErrorKind::BadRequest,
            401 => ErrorKind::Auth,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            408 | 504 => ErrorKind::Timeout,
            // Payload too large: the body, not the model's window, so no fallback helps.
            413 => ErrorKind::BadRequest,
            429 => ErrorKind::RateLimit,
            500..=599 => ErrorKind::ProviderUnavailable,
            _ => ErrorKind::Provider,
        }
    }
}

/// Error bodies are kept for diagnosis, but never whole: they can be large and may echo input.
const BODY_LIMIT: usize = 2048;

#[derive(Clone, Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub status: Option<u16>,
    pub provider: Option<&'static str>,
    pub retryable: bool,
    /// The provider's own error code or type (`invalid_api_key`, `overloaded_error`...).
    pub provider_code: Option<Box<str>>,
    pub param: Option<Box<str>>,
    pub retry_after: Option<Duration>,
    /// The start of the provider's response body. (The rarely set strings are boxed so the
    /// error, which every `Result` carries, stays small.)
    pub body: Option<Box<str>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            provider: None,
            retryable: kind.retryable(),
            provider_code: None,
            param: None,
            retry_after: None,
            body: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidRequest, message)
    }

    pub fn decode(provider: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode, message).with_provider(provider)
    }

    pub fn cancelled() -> Self {
        Error::new(ErrorKind::Cancelled, "Request cancelled by user")
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.provider = Some(provider);
        self
    }

    pub fn with_body(mut self, body: &[u8]) -> Self {
        let end = body.len().min(BODY_LIMIT);
        self.body = Some(String::from_utf8_lossy(&body[..end]).into());
        self
    }

    /// Names the request field at fault (`input[3]`).
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into().into_boxed_str());
        self
    }

    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.provider, self.status) {
            (Some(p), Some(s)) => write!(f, "{p} {s}: {}", self.message),
            (Some(p), None) => write!(f, "{p}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_maps_to_kind_and_retryability() {
        assert_eq!(ErrorKind::from_status(429), ErrorKind::RateLimit);
        assert!(ErrorKind::from_status(429).retryable());
        assert_eq!(ErrorKind::from_status(503), ErrorKind::ProviderUnavailable);
        assert!(ErrorKind::from_status(529).retryable());
        assert!(!ErrorKind::from_status(401).retryable());
        assert_eq!(ErrorKind::from_status(401).code(), "auth");
    }

    #[test]
    fn body_is_truncated() {
        let e = Error::new(ErrorKind::Provider, "x").with_body(&[b'a'; 5000]);
        assert_eq!(e.body.unwrap().len(), BODY_LIMIT);
    }
}
