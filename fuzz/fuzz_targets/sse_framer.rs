//! The SSE framer on arbitrary bytes in arbitrary reads: no panic, and no event over its bound.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::wire::SseFramer;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut f = SseFramer::with_limit(4096);
    let step = usize::from(split).max(1);
    for piece in rest.chunks(step) {
        if f.push(piece, |ev| {
            assert!(ev.data.len() <= 4096);
            Ok(())
        })
        .is_err()
        {
            return;
        }
    }
    let _ = f.finish(|_| Ok(()));
});
