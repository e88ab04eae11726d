//! llmux: one OpenAI-format interface to many LLM providers, in-process, as a Node addon.
//! The module root declares modules, nothing else.

pub mod amplify;
pub mod cache;
pub mod call;
pub mod chat;
pub mod config;
pub mod error;
pub mod providers;
pub mod router;
pub mod structured;
pub mod transport;
pub mod usage;
pub mod wire;

mod node;
