//! Providers: pure translation between the canonical chat model and each provider's wire
//! format. Each provider declares what its models can do (`Capabilities`) and how it answers
//! (`Route`: an HTTP adapter that builds requests and decodes bodies or streams, or an in-process
//! answer for the mock). Transport, retries and cancellation are shared (`transport.rs`, `call.rs`).
//!
//! Operations are separate traits: chat is `Adapter` (HTTP) or `InProcess`; a new operation
//! (embeddings) adds its own trait and a method on `Provider` that returns it where supported.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod claude;
pub mod gemini;
pub mod media;
pub mod mock;
pub mod openai;
pub mod reasoning;
pub mod resolve;
#[cfg(test)]
pub(crate) mod testing;
pub mod tool_ids;
pub mod turns;

use std::time::Duration;

use crate::chat::{ChatChunk, ChatCompletion, ChatRequest};
use crate::engine::Timeouts;
use crate::error::{Error, Result};
pub use crate::transport::HttpRequest;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    OpenAi,
    Azure,
    Anthropic,
    Bedrock,
    Gemini,
    Vertex,
    /// Claude (and other Anthropic-shaped partner models) on Vertex AI.
    VertexAnthropic,
    Mock,
}

impl ProviderKind {
    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Azure => "azure",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::Gemini => "gemini",
            ProviderKind::Vertex | ProviderKind::VertexAnthropic => "vertex_ai",
            ProviderKind::Mock => "mock",
        }
    }
}

/// How a model asks for a JSON object that matches a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonSchemaSupport {
    /// No native support: a forced tool (or instructions) must stand in.
    None,
    /// A native schema parameter, without OpenAI's strict mode.
    Native,
    /// `response_format: json_schema` with `strict: true` (every object closed).
    Strict,
}

/// How a model takes `reasoning_effort`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThinkingStyle {
    None,
    /// An effort level, sent as given (OpenAI reasoning models).
    Effort,
    /// A token budget (the Claude family, Gemini 2.5).
    Budget,
}

/// What one model of a provider can do: shared code asks this instead of matching on the
/// provider or on model names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    pub json_schema: JsonSchemaSupport,
    /// `tool_choice` naming one function (or `required`) is honoured.
    pub forced_tool_choice: bool,
    pub thinking: ThinkingStyle,
    pub image_input: bool,
}

/// A chat provider: its capabilities per model, and how it answers.
pub trait Provider: Sync {
    fn kind(&self) -> ProviderKind;
    fn capabilities(&self, target: &Target) -> Capabilities;
    fn route(&self) -> Route<'_>;
    /// How it embeds, where it does.
    fn embed(&self) -> Option<&dyn EmbedAdapter> {
        None
    }
}

/// What one embedding request to a provider may carry, and how many may be in flight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EmbedLimits {
    /// Inputs in one request (1 for single-input APIs, which are then fanned out).
    pub max_inputs: usize,
    /// Tokens in one request, all inputs together.
    pub max_request_tokens: Option<u64>,
    /// Tokens in one input: over it is an error naming the input (or a cut, when asked).
    /// `None` where the provider truncates by itself.
    pub max_input_tokens: Option<u64>,
    /// Requests of one call in flight at once.
    pub concurrency: usize,
    /// Token-id inputs are taken (OpenAI's shape); elsewhere they are refused.
    pub takes_tokens: bool,
}

/// One embedding request's answer: its vectors in input order, and the tokens billed when the
/// provider says (Gemini's API does not: they are then counted here).
#[derive(Debug)]
pub struct EmbedBatch {
    pub vectors: crate::embed::Vectors,
    pub prompt_tokens: Option<u64>,
}

/// A provider's embedding wire: pure translation and decoding, as `Adapter` is for chat.
pub trait EmbedAdapter: Sync {
    fn limits(&self, req: &crate::embed::EmbeddingRequest, target: &Target) -> EmbedLimits;
    fn build_embed(&self, req: &crate::embed::EmbeddingRequest, items: &[crate::embed::Item<'_>], target: &Target) -> Result<Built>;
    /// `expected` is how many vectors the request asked for: any other count is a decode error.
    fn parse_embed(&self, body: &[u8], headers: &reqwest::header::HeaderMap, expected: usize, target: &Target) -> Result<EmbedBatch>;
    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error;
}

/// How a provider answers a chat request.
pub enum Route<'a> {
    Http(&'a dyn Adapter),
    InProcess(&'a dyn InProcess),
}

/// A provider answered in-process (the mock): the chunks of its answer and their pacing.
pub trait InProcess: Sync {
    fn plan(&self, req: &mut ChatRequest, target: &Target) -> Result<mock::MockPlan>;
}

/// Every provider, by kind.
pub fn provider(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::OpenAi => &openai::OpenAi,
        ProviderKind::Azure => &azure::Azure,
        ProviderKind::Anthropic => &anthropic::Anthropic,
        ProviderKind::Bedrock => &bedrock::Bedrock,
        ProviderKind::Gemini => &gemini::Gemini,
        ProviderKind::Vertex => &gemini::Vertex,
        ProviderKind::VertexAnthropic => &anthropic::vertex::VertexAnthropic,
        ProviderKind::Mock => &mock::Mock,
    }
}

/// AWS credentials for SigV4; `Debug` never shows the secrets.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Where and how one request is sent: the resolved deployment.
#[derive(Clone)]
pub struct Target {
    pub provider: ProviderKind,
    /// The model id as the provider knows it (no `openai/` prefix).
    pub model: String,
    pub base_url: String,
    pub api_key: Option<String>,
    /// Headers the caller asked for (`extra_headers`), sent as given.
    pub extra_headers: Vec<(String, String)>,
    pub timeouts: Timeouts,
    /// Retries of a retryable failure before any response byte was used.
    pub max_retries: u32,
    /// Azure OpenAI `api-version`.
    pub api_version: Option<String>,
    /// AWS region (Bedrock).
    pub region: Option<String>,
    /// SigV4 credentials (Bedrock); absent when a Bedrock API key is used instead.
    pub aws: Option<AwsCredentials>,
    /// What the model database knows of this model (under the call's `model_info`).
    pub info: std::sync::Arc<crate::models::ModelInfo>,
    /// Where the credential comes from when none was given: filled in just before sending.
    pub cloud: Option<crate::credentials::CloudAuth>,
    /// Azure: `api_key` holds an Entra ID token (sent as a bearer token, not `api-key`).
    pub entra: bool,
}

impl std::fmt::Debug for Target {
    // Keys never reach a log: the key shows only whether it is set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("base_url", &crate::transport::redact_url(&self.base_url))
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("extra_headers", &self.extra_headers.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("timeouts", &self.timeouts)
            .field("max_retries", &self.max_retries)
            .field("api_version", &self.api_version)
            .field("region", &self.region)
            .field("aws", &self.aws)
            .finish_non_exhaustive()
    }
}

/// Says which of the OpenAI parameters set on `req` a provider has no place for: each is
/// dropped, and the caller is told (`warnings` on the answer, `onWarning`).
pub fn drop_unsupported(req: &ChatRequest, provider: &str, names: &[&str], warnings: &mut Vec<String>) {
    for name in names {
        let set = match *name {
            "n" => req.n.is_some_and(|n| n != 1),
            "seed" => req.seed.is_some(),
            "presence_penalty" => req.presence_penalty.is_some(),
            "frequency_penalty" => req.frequency_penalty.is_some(),
            "user" => req.user.is_some(),
            "parallel_tool_calls" => req.parallel_tool_calls.is_some(),
            "response_format" => req.response_format.is_some(),
            _ => false,
        };
        if set {
            warnings.push(format!("{name} is not supported by {provider} and was dropped"));
        }
    }
}

/// What `build_request` returns: the request and the settings it had to drop, said aloud.
#[derive(Debug)]
pub struct Built {
    pub http: HttpRequest,
    pub warnings: Vec<String>,
}

/// Incremental decoder of one streamed response: bytes in, canonical chunks out.
pub trait StreamDecoder: Send {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<()>;
    /// The body ended; an error if the stream was cut short.
    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<()>;
    /// Bounds one framed event (an SSE event, a JSON array element); a larger one is a `decode`
    /// error. Framings with their own bound (AWS event-stream: 16 MiB a frame) ignore it.
    fn limit_event(&mut self, _max_bytes: usize) {}
}

/// A provider's decoding step for one server-sent event, with the state it keeps between events.
pub trait SseEvents: Default + Send {
    fn decode(&mut self, ev: crate::wire::SseEvent<'_>, out: &mut Vec<ChatChunk>) -> Result<()>;
    /// The body ended: last chunks, or an error when the stream was cut short.
    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<()>;
}

/// Any SSE provider's stream decoder: our framer feeding the provider's per-event step.
#[derive(Default)]
pub struct SseStream<S> {
    framer: crate::wire::SseFramer,
    state: S,
}

impl<S: SseEvents> StreamDecoder for SseStream<S> {
    fn feed(&mut self, bytes: &[u8], out: &mut Vec<ChatChunk>) -> Result<()> {
        let st = &mut self.state;
        self.framer.push(bytes, |ev| st.decode(ev, out))
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<()> {
        let st = &mut self.state;
        self.framer.finish(|ev| st.decode(ev, out))?;
        self.state.end(out)
    }

    fn limit_event(&mut self, max_bytes: usize) {
        self.framer.set_limit(max_bytes);
    }
}

/// The verbs every HTTP provider implements.
pub trait Adapter: Sync {
    fn build_request(&self, req: &ChatRequest, target: &Target, stream: bool) -> Result<Built>;
    fn parse_response(&self, body: &[u8]) -> Result<ChatCompletion>;
    fn stream_decoder(&self, target: &Target) -> Box<dyn StreamDecoder>;
    fn map_error(&self, status: u16, headers: &reqwest::header::HeaderMap, body: &[u8]) -> Error;
}

/// The longest wait a server can ask for; more is read as this (and is past any retry).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// `retry-after-ms` (OpenAI) or `retry-after` (seconds or an HTTP date), whichever is present,
/// at most a day: a header is untrusted input, and an instant plus an absurd wait overflows.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs = |s: f64| (s.is_finite() && s >= 0.0).then(|| Duration::try_from_secs_f64(s).unwrap_or(MAX_RETRY_AFTER).min(MAX_RETRY_AFTER));
    if let Some(ms) = headers.get("retry-after-ms").and_then(|v| v.to_str().ok()).and_then(|s| s.trim().parse::<f64>().ok()) {
        if let Some(d) = secs(ms / 1000.0) {
            return Some(d);
        }
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(s) = v.parse::<f64>() {
        return secs(s);
    }
    let when = httpdate_to_unix(v)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(when.saturating_sub(now)).min(MAX_RETRY_AFTER))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only form servers send now.
fn httpdate_to_unix(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let day: u64 = parts[1].parse().ok()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].iter().position(|m| *m == parts[2])?
        as u64
        + 1;
    let year: u64 = parts[3].parse().ok()?;
    let hms: Vec<u64> = parts[4].split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    // Out of range values would underflow or overflow the arithmetic below.
    if hms.len() != 3 || !(1970..=9999).contains(&year) || !(1..=31).contains(&day) || hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
        return None;
    }
    // Days from civil date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_reads_ms_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("150.5"));
        assert_eq!(retry_after(&h), Some(Duration::from_micros(150_500)));
        assert_eq!(httpdate_to_unix("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        for bad in [
            "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 0 08:49:37 GMT",
            "Sun, 06 Nov 99999999999999 08:49:37 GMT",
            "Sun, 06 Nov 1994 99:49:37 GMT",
        ] {
            assert_eq!(httpdate_to_unix(bad), None, "{bad}");
        }
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"));
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        for absurd in ["1e20", "1e300", "99999999999999999999"] {
            let mut h = HeaderMap::new();
            h.insert("retry-after", HeaderValue::from_str(absurd).unwrap());
            assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER), "{absurd}");
            let _ = std::time::Instant::now() + retry_after(&h).unwrap();
        }
    }
}
