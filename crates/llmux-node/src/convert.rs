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

/// What to bill: amplify's `recordUsage` arguments, computed by the core.
#[napi(object)]
pub struct JsUsage {
    /// Input billed at the full rate (prompt less cache reads).
    pub input_tokens: f64,
    pub output_tokens: f64,
    pub cached_tokens: f64,
    /// `recordUsage`'s details object, as JSON.
    pub details: String,
    pub estimated: bool,
    /// The provider's whole prompt (cache reads and writes included), and the cost in USD for a
    /// priced model: read by logging and tracing without parsing `details`.
    pub prompt_tokens: f64,
    pub cost_usd: Option<f64>,
}

impl JsUsage {
    pub fn new(u: &Usage, cost: Option<&llmux_core::models::Cost>) -> Self {
        let r = llmux_core::amplify::billing::record_priced(u, cost);
        JsUsage {
            input_tokens: r.input_tokens as f64,
            output_tokens: r.output_tokens as f64,
            cached_tokens: r.cached_tokens as f64,
            // Serialising our own plain struct cannot fail.
            details: serde_json::to_string(&r.details).unwrap_or_else(|_| "{}".into()),
            estimated: u.estimated,
            prompt_tokens: u.prompt_tokens as f64,
            cost_usd: r.details.cost_usd,
        }
    }
}
