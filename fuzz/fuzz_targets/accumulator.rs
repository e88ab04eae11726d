//! The stream accumulator on arbitrary chunk JSON (what an OpenAI-compatible server may send):
//! no panic and no allocation sized by an index.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::chat::{ChatChunk, StreamAccumulator};

fuzz_target!(|data: &[u8]| {
    let mut acc = StreamAccumulator::default();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(c) = serde_json::from_slice::<ChatChunk>(line) {
            acc.push(&c);
        }
    }
    let _ = acc.generated_text();
    let _ = acc.into_completion();
});
