//! Shared helpers for the fixture tests: a libtest-mimic runner that counts a test whose
//! fixtures are absent as ignored (so a skip shows in the closing line), fixture loading and
//! stream decoding.
#![allow(dead_code)]

use std::path::PathBuf;

use libtest_mimic::{Arguments, Trial};

use llmux_core::chat::{ChatChunk, StreamAccumulator};
use llmux_core::error::Result;
use llmux_core::providers::StreamDecoder;

/// `../shared/fixtures` beside the repository (the workspace root is two folders up), or
/// `LLMUX_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("LLMUX_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

/// A test as the runner takes it: its name, whether it reads fixtures, and its body.
pub type Case = (&'static str, bool, fn());

#[macro_export]
macro_rules! fixture_test {
    ($f:ident) => {
        (stringify!($f), true, $f as fn())
    };
}

#[macro_export]
macro_rules! test {
    ($f:ident) => {
        (stringify!($f), false, $f as fn())
    };
}

/// Runs the tests with libtest's arguments and output. Where the fixtures folder is absent the
/// fixture tests are ignored, loudly: the closing line counts them as ignored, and a note says
/// why. `LLMUX_REQUIRE_FIXTURES=1` (set by CI when the folder exists) turns that into a failure.
pub fn run(fixture_cases: &[Case], plain_cases: &[Case]) {
    let args = Arguments::from_args();
    let present = fixtures_dir().is_dir();
    let required = std::env::var("LLMUX_REQUIRE_FIXTURES").is_ok_and(|v| v == "1");
    if !present {
        if required {
            eprintln!("FAIL: LLMUX_REQUIRE_FIXTURES=1 but {} is not a folder", fixtures_dir().display());
            std::process::exit(101);
        }
        eprintln!("SKIP: {} fixture tests ignored: {} is absent", fixture_cases.len(), fixtures_dir().display());
    }
    let trials = fixture_cases
        .iter()
        .chain(plain_cases)
        .map(|&(name, needs_fixtures, body)| {
            Trial::test(name, move || {
                body();
                Ok(())
            })
            .with_ignored_flag(needs_fixtures && !present)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// The bytes of a fixture. The runner only calls a fixture test when the folder exists, so a
/// file missing from it is a failure, not a skip.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = fixtures_dir().join(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(e) => panic!("fixture {} cannot be read: {e}", path.display()),
    }
}

/// A fixture's JSON, or `None` where absent.
pub fn fixture_json(name: &str) -> Option<serde_json::Value> {
    fixture(name).map(|b| serde_json::from_slice(&b).expect("fixture is JSON"))
}

/// Feeds `bytes` to a decoder in reads of `read_size`, returning every chunk.
pub fn decode_all(decoder: &mut dyn StreamDecoder, bytes: &[u8], read_size: usize) -> Result<Vec<ChatChunk>> {
    let mut out = Vec::new();
    for piece in bytes.chunks(read_size.max(1)) {
        decoder.feed(piece, &mut out)?;
    }
    decoder.finish(&mut out)?;
    Ok(out)
}

pub fn accumulate(chunks: &[ChatChunk]) -> StreamAccumulator {
    let mut acc = StreamAccumulator::default();
    for c in chunks {
        acc.push(c);
    }
    acc
}

/// Wraps one JSON chunk per line (vercel `.chunks.txt`) as SSE, our framing, for the decoder.
pub fn chunks_txt_as_sse(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n\n");
    }
    out
}

/// The chunks as JSON with generated ids blanked, to compare two decodes of the same bytes.
pub fn comparable(chunks: &[ChatChunk]) -> String {
    let mut v = serde_json::to_value(chunks).unwrap();
    for c in v.as_array_mut().unwrap() {
        c["id"] = serde_json::Value::Null;
        for ch in c["choices"].as_array_mut().unwrap() {
            for t in ch["delta"]["tool_calls"].as_array_mut().into_iter().flatten() {
                if t.get("id").is_some() {
                    t["id"] = serde_json::Value::Null;
                }
            }
        }
    }
    v.to_string()
}
