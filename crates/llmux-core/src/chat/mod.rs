//! The canonical chat model, in the OpenAI Chat Completions shape. Every provider translates to
//! and from these types; nothing outside `providers/` knows a provider's wire format.

pub mod accumulate;
pub mod chunk;
pub mod content;
pub mod request;
pub mod response;
pub mod usage;

pub use accumulate::StreamAccumulator;
pub use chunk::{ChatChunk, ChunkChoice, Delta, FunctionDelta, ToolCallDelta};
pub use content::{Content, ContentPart, ImageUrl};
pub use request::{ChatRequest, FunctionDef, Message, Role, Stop, Tool, ToolChoice};
pub use response::{AssistantMessage, ChatCompletion, Choice, Extension, FinishReason, FunctionCall, ToolCall};
pub use usage::Usage;

/// Seconds since the Unix epoch, for the `created` field.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
