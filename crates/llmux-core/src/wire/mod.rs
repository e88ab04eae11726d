//! Byte framing of streamed responses. Knows no provider: it turns bytes into events.

pub mod json_array;
pub mod sse;

pub use json_array::JsonArrayFramer;
pub use sse::{SseEvent, SseFramer, DEFAULT_MAX_EVENT};
