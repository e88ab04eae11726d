//! llmux-core: the engine of llmux, one OpenAI-format interface to many LLM providers. It knows
//! nothing of Node or HTTP servers; the front doors (the napi addon, the gateway) sit on top.
//! The module root declares modules, nothing else.

pub mod amplify;
pub mod cache;
pub mod call;
pub mod chat;
pub mod credentials;
pub mod embed;
pub mod engine;
pub mod error;
pub mod models;
pub mod options;
pub mod prompt;
pub mod providers;
pub mod router;
pub mod state;
pub mod structured;
pub mod transport;
pub mod usage;
pub mod wire;
