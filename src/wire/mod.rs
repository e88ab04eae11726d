//! Byte framing of streamed responses. Knows no provider: it turns bytes into events.

pub mod sse;

pub use sse::{SseEvent, SseFramer};
