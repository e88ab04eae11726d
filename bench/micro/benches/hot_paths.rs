//! Micro-benchmarks of the hot paths: SSE framing, chunk decoding per provider, amplify line
//! encoding, cache key hashing. `cargo bench --bench hot_paths` (or `npm run bench:micro`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

use llmux_core::amplify::AmplifyEncoder;
use llmux_core::chat::{ChatChunk, ChatRequest, Delta};
use llmux_core::providers::anthropic::AnthropicStream;
use llmux_core::providers::bedrock::BedrockStream;
use llmux_core::providers::gemini::GeminiStream;
use llmux_core::providers::openai::OpenAiStream;
use llmux_core::providers::StreamDecoder;
use llmux_core::wire::SseFramer;

fn fixture(name: &str) -> Option<Vec<u8>> {
    std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures").join(name)).ok()
}

/// A synthetic OpenAI stream of `n` small chunks, when the recorded fixtures are absent too.
fn openai_stream(n: usize) -> Vec<u8> {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"tok{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    s.into_bytes()
}

fn sse_framing(c: &mut Criterion) {
    let bytes = openai_stream(1000);
    let mut g = c.benchmark_group("sse_framing");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("1000 events in 4 KiB reads", |b| {
        b.iter(|| {
            let mut f = SseFramer::new();
            let mut n = 0;
            for piece in bytes.chunks(4096) {
                f.push(piece, |_| {
                    n += 1;
                    Ok(())
                })
                .unwrap();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_stream");
    let mut case = |name: &str, bytes: Vec<u8>, make: fn() -> Box<dyn StreamDecoder>| {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut d = make();
                let mut out = Vec::with_capacity(64);
                d.feed(&bytes, &mut out).unwrap();
                d.finish(&mut out).unwrap();
                black_box(out.len())
            })
        });
    };
    case("openai 1000 chunks", openai_stream(1000), || Box::new(OpenAiStream::default()));
    if let Some(b) = fixture("anthropic/messages.stream.thinking-signature.sse") {
        case("anthropic thinking fixture", b, || Box::new(AnthropicStream::default()));
    }
    if let Some(b) = fixture("bedrock/converse-stream.text.bin") {
        case("bedrock event-stream fixture", b, || Box::new(BedrockStream::default()));
    }
    if let Some(b) = fixture("gemini/streamGenerateContent.sse.thoughts.sse") {
        case("gemini thoughts fixture", b, || Box::new(GeminiStream::default()));
    }
    g.finish();
}

fn amplify_lines(c: &mut Criterion) {
    let chunks: Vec<ChatChunk> = (0..100)
        .map(|i| ChatChunk::with_delta("c", "m", 1, Delta { content: Some(format!("word{i} \"q\" ")), ..Default::default() }, None))
        .collect();
    c.bench_function("amplify_lines 100 deltas", |b| {
        b.iter(|| {
            let mut enc = AmplifyEncoder::new(true);
            let mut out = String::with_capacity(4096);
            for ch in &chunks {
                enc.chunk(ch, &mut out);
            }
            enc.flush(&mut out);
            black_box(out.len())
        })
    });
}

fn cache_key(c: &mut Criterion) {
    let req = ChatRequest::from_json(
        &serde_json::json!({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "You are helpful.".repeat(20)},
            {"role": "user", "content": "What is the capital of France?"}
        ], "temperature": 0.2})
        .to_string(),
    )
    .unwrap();
    c.bench_function("cache_key sha256", |b| b.iter(|| black_box(llmux_core::cache::key(Some("alice"), &req))));
}

criterion_group!(hot_paths, sse_framing, decode, amplify_lines, cache_key);
criterion_main!(hot_paths);
