//! Rust values -> the plain objects JS receives.

use napi_derive::napi;

use llmux_core::chat::Usage;
use llmux_core::error::Error;

/// An error as data; the JS wrapper makes the `LlmuxError` from it, once.
#[napi(object)]
pub struct JsErrorData {
    pub code: String,
    pub message: String,
    pub status: Option<u32>,
    pub provider: Option<String>,
    pub retryable: bool,
    pub provider_code: Option<String>,
    pub param: Option<String>,
    pub retry_after_ms: Option<f64>,
    pub body: Option<String>,
}

impl From<&Error> for JsErrorData {
    fn from(e: &Error) -> Self {
        JsErrorData {
            code: e.kind.code().to_owned(),
            message: e.to_string(),
            status: e.status.map(u32::from),
            provider: e.provider.map(str::to_owned),
            retryable: e.retryable,
            provider_code: e.provider_code.as_deref().map(str::to_owned),
            param: e.param.as_deref().map(str::to_owned),
            retry_after_ms: e.retry_after.map(|d| d.as_secs_f64() * 1000.0),
            body: e.body.as_deref().map(str::to_owned),
        }
    }
}

/// Token counts in the OpenAI sense; the wrapper derives amplify's billing figures from them.
#[napi(object)]
pub struct JsUsage {
    pub prompt_tokens: f64,
    pub completion_tokens: f64,
    pub cached_tokens: f64,
    pub cache_write_tokens: f64,
    pub reasoning_tokens: f64,
    pub estimated: bool,
}

impl From<&Usage> for JsUsage {
    fn from(u: &Usage) -> Self {
        JsUsage {
            prompt_tokens: u.prompt_tokens as f64,
            completion_tokens: u.completion_tokens as f64,
            cached_tokens: u.cached_tokens as f64,
            cache_write_tokens: u.cache_write_tokens as f64,
            reasoning_tokens: u.reasoning_tokens as f64,
            estimated: u.estimated,
        }
    }
}
