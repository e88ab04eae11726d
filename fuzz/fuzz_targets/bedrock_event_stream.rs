//! Bedrock's ConverseStream path (AWS event-stream frames, then the event JSON) on arbitrary
//! bytes in arbitrary reads.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::providers::bedrock::BedrockStream;
use llmux_core::providers::StreamDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut d = BedrockStream::default();
    let mut out = Vec::new();
    for piece in rest.chunks(usize::from(split).max(1)) {
        if d.feed(piece, &mut out).is_err() {
            return;
        }
    }
    let _ = d.finish(&mut out);
});
