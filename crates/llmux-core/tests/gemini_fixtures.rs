//! Every recorded Gemini / Vertex response in shared/fixtures decodes: SSE streams, the plain
//! JSON-array stream, non-streamed bodies and errors. One test per fixture file.

mod support;

use llmux_core::chat::{ChatChunk, FinishReason};
use llmux_core::error::ErrorKind;
use llmux_core::providers::gemini::{self, GeminiJsonArrayStream, GeminiStream, THOUGHT_SEPARATOR};
use llmux_core::providers::StreamDecoder;
use reqwest::header::HeaderMap;
use support::*;

fn decode_with(make: fn() -> Box<dyn StreamDecoder>, bytes: &[u8]) -> Vec<ChatChunk> {
    let whole = decode_all(make().as_mut(), bytes, usize::MAX).unwrap();
    let split = decode_all(make().as_mut(), bytes, 9).unwrap();
    assert!(comparable(&whole) == comparable(&split), "split reads decode differently");
    whole
}

fn sse(bytes: &[u8]) -> Vec<ChatChunk> {
    decode_with(|| Box::new(GeminiStream::default()), bytes)
}

fn json_array(bytes: &[u8]) -> Vec<ChatChunk> {
    decode_with(|| Box::new(GeminiJsonArrayStream::default()), bytes)
}

fn usage_of(acc: &llmux_core::chat::StreamAccumulator) -> (u64, u64, u64, u64) {
    let u = acc.usage.expect("usage");
    (u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens)
}

fn gemini_stream_generate_content_sse_text_sse() {
    let Some(b) = fixture("gemini/streamGenerateContent.sse.text.sse") else { return };
    let acc = accumulate(&sse(&b));
    assert_eq!(acc.text(), "The capital of Mexico is Mexico City.");
    assert_eq!(acc.finish_reason(), Some(&FinishReason::Stop));
    // The last chunk's promptTokenCount (257) is authoritative, not the earlier 55.
    assert_eq!(usage_of(&acc), (257, 8, 0, 0));
}

fn gemini_stream_generate_content_sse_thoughts_sse() {
    let Some(b) = fixture("gemini/streamGenerateContent.sse.thoughts.sse") else { return };
    let acc = accumulate(&sse(&b));
    assert!(acc.text().starts_with("This is a great question! Safely crossing the stre"));
    assert_eq!(acc.text().chars().count(), 1938);
    assert_eq!(acc.reasoning().chars().count(), 1575);
    assert_eq!(usage_of(&acc), (34, 469 + 787, 0, 787));
}

fn gemini_stream_generate_content_sse_function_call_sse() {
    let Some(b) = fixture("gemini/streamGenerateContent.sse.function-call.sse") else { return };
    let acc = accumulate(&sse(&b));
    assert_eq!(acc.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(usage_of(&acc), (29, 10 + 202, 0, 202));
    let done = acc.into_completion();
    let call = &done.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!((call.function.name.as_str(), call.function.arguments.as_str()), ("get_country", "{}"));
    assert!(call.id.contains(THOUGHT_SEPARATOR), "the thought signature rides in the id");
}

fn gemini_stream_generate_content_json_array_function_call_json() {
    let Some(b) = fixture("gemini/streamGenerateContent.json-array.function-call.json") else { return };
    let done = accumulate(&json_array(&b)).into_completion();
    let call = &done.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.function.name, "multiply");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&call.function.arguments).unwrap(), serde_json::json!({"x": 5, "y": 3}));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.reasoning_tokens), (60, 16 + 32, 32));
}

fn gemini_stream_generate_content_json_array_thoughts_json() {
    let Some(b) = fixture("gemini/streamGenerateContent.json-array.thoughts.json") else { return };
    let acc = accumulate(&json_array(&b));
    assert_eq!(acc.text(), "Scoop");
    assert_eq!(acc.reasoning().chars().count(), 275);
    assert_eq!(usage_of(&acc), (11, 2 + 291, 0, 291));
}

fn gemini_vertex_stream_generate_content_partial_args_chunks_txt() {
    let Some(b) = fixture("gemini/vertex.streamGenerateContent.partial-args.chunks.txt") else { return };
    let acc = accumulate(&sse(&chunks_txt_as_sse(&b)));
    assert_eq!(acc.finish_reason(), Some(&FinishReason::ToolCalls));
    let done = acc.into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    let got: Vec<(&str, serde_json::Value)> =
        calls.iter().map(|c| (c.function.name.as_str(), serde_json::from_str(&c.function.arguments).unwrap())).collect();
    assert_eq!(
        got,
        vec![("getWeather", serde_json::json!({"location": "Boston"})), ("getWeather", serde_json::json!({"location": "San Francisco"}))]
    );
    assert!(calls[0].id.contains(THOUGHT_SEPARATOR));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.reasoning_tokens), (26, 23 + 132, 132));
}

fn gemini_generate_content_cached_content_json() {
    let Some(b) = fixture("gemini/generateContent.cached-content.json") else { return };
    let done = gemini::parse_response(&b).unwrap();
    assert_eq!(done.text(), "Paris.");
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.completion_tokens, u.reasoning_tokens), (3520, 3512, 2 + 42, 42));
    assert_eq!(u.billed_input_tokens(), 8);
}

fn gemini_generate_content_function_call_json() {
    let Some(b) = fixture("gemini/generateContent.function-call.json") else { return };
    let done = gemini::parse_response(&b).unwrap();
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let call = &done.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!((call.function.name.as_str(), call.function.arguments.as_str()), ("get_weather", r#"{"city":"Paris"}"#));
    assert_eq!(done.usage.unwrap().completion_tokens, 15 + 48);
}

fn gemini_error_400_vertex_invalid_argument_json() {
    let Some(b) = fixture("gemini/error.400.vertex-invalid-argument.json") else { return };
    let e = gemini::map_error(400, &HeaderMap::new(), &b);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.provider_code.as_deref(), Some("INVALID_ARGUMENT"));
    assert!(e.message.starts_with("Cannot fetch content from the provided URL"));
}

fn gemini_error_404_model_not_found_json() {
    let Some(b) = fixture("gemini/error.404.model-not-found.json") else { return };
    let e = gemini::map_error(404, &HeaderMap::new(), &b);
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert!(!e.retryable);
}

fn safety_blocks_are_content_filter() {
    let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":7}}"#;
    let done = gemini::parse_response(blocked).unwrap();
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::ContentFilter));
    let cut = br#"{"candidates":[{"content":{"parts":[{"text":"a"}]},"finishReason":"SAFETY"}]}"#;
    assert_eq!(gemini::parse_response(cut).unwrap().choices[0].finish_reason, Some(FinishReason::ContentFilter));
    let e = gemini::map_error(429, &HeaderMap::new(), br#"{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}"#);
    assert_eq!(e.kind, ErrorKind::RateLimit);
}

fn main() {
    run(
        &[
            fixture_test!(gemini_stream_generate_content_sse_text_sse),
            fixture_test!(gemini_stream_generate_content_sse_thoughts_sse),
            fixture_test!(gemini_stream_generate_content_sse_function_call_sse),
            fixture_test!(gemini_stream_generate_content_json_array_function_call_json),
            fixture_test!(gemini_stream_generate_content_json_array_thoughts_json),
            fixture_test!(gemini_vertex_stream_generate_content_partial_args_chunks_txt),
            fixture_test!(gemini_generate_content_cached_content_json),
            fixture_test!(gemini_generate_content_function_call_json),
            fixture_test!(gemini_error_400_vertex_invalid_argument_json),
            fixture_test!(gemini_error_404_model_not_found_json),
        ],
        &[test!(safety_blocks_are_content_filter)],
    );
}
