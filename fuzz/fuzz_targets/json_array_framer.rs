//! The streamed-JSON-array framer on arbitrary bytes in arbitrary reads: no panic, bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::wire::JsonArrayFramer;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut f = JsonArrayFramer::new();
    f.set_limit(4096);
    for piece in rest.chunks(usize::from(split).max(1)) {
        if f.push(piece, |el| {
            assert!(el.len() <= 4096 + 4096);
            Ok(())
        })
        .is_err()
        {
            return;
        }
    }
    let _ = f.finish();
});
