//! The JS boundary: converts arguments, starts calls, hands batches of results back. No
//! provider or routing logic lives here. The JS wrapper (`index.js`) builds the public API
//! (Writable sinks, AbortSignal, async iterators, the error class) on these few functions.

// napi-derive registers exports only in the addon build, so a test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

mod api;
mod convert;
mod handle;
mod router;
