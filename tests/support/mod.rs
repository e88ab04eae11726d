//! Shared helpers for the Rust integration tests: fixture loading and stream decoding.
#![allow(dead_code)]

use std::path::PathBuf;

use llmux::chat::{ChatChunk, StreamAccumulator};
use llmux::error::Result;
use llmux::providers::StreamDecoder;

/// `../shared/fixtures` beside the repository, or `LLMUX_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("LLMUX_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"))
}

/// The bytes of a fixture, or `None` (with a note on stderr) where the fixtures are absent.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = fixtures_dir().join(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) => {
            eprintln!("SKIP: fixture {} not found (shared fixtures absent)", path.display());
            None
        }
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
