//! The JS boundary: converts arguments, starts calls, hands batches of results back. No
//! provider or routing logic lives here. The JS wrapper (`index.js`) builds the public API
//! (Writable sinks, AbortSignal, async iterators, the error class) on these few functions.

// napi-derive registers exports only in the addon build, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod api;
mod convert;
mod embed;
mod gateway;
mod handle;
mod router;

use std::sync::{Arc, OnceLock};

use llmux_core::engine::Engine;

/// The engine behind the module-level functions; `configure()` updates it.
pub(crate) fn engine() -> &'static Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| Arc::new(Engine::new()))
}
