//! Every provider's stream decoder on arbitrary bytes in arbitrary reads; the chunks they make
//! go through the accumulator, as in a call.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::chat::StreamAccumulator;
use llmux_core::providers::anthropic::AnthropicStream;
use llmux_core::providers::gemini::{GeminiJsonArrayStream, GeminiStream};
use llmux_core::providers::openai::OpenAiStream;
use llmux_core::providers::StreamDecoder;

fuzz_target!(|data: &[u8]| {
    let [which, split, rest @ ..] = data else { return };
    let mut d: Box<dyn StreamDecoder> = match which % 4 {
        0 => Box::new(OpenAiStream::default()),
        1 => Box::new(AnthropicStream::default()),
        2 => Box::new(GeminiStream::default()),
        _ => Box::new(GeminiJsonArrayStream::default()),
    };
    d.limit_event(1 << 16);
    let mut out = Vec::new();
    let mut acc = StreamAccumulator::default();
    for piece in rest.chunks(usize::from(*split).max(1)) {
        let r = d.feed(piece, &mut out);
        out.drain(..).for_each(|c| acc.push(&c));
        if r.is_err() {
            return;
        }
    }
    let _ = d.finish(&mut out);
    out.drain(..).for_each(|c| acc.push(&c));
    let _ = acc.into_completion();
});
