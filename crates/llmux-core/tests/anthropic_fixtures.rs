//! Every recorded Anthropic response in shared/fixtures decodes to the right text, reasoning,
//! tool calls, finish reason and usage. One test per fixture file.

mod support;

use llmux_core::chat::{ChatChunk, FinishReason};
use llmux_core::error::ErrorKind;
use llmux_core::providers::anthropic::{self, AnthropicStream};
use reqwest::header::HeaderMap;
use support::*;

fn decode(bytes: &[u8]) -> Vec<ChatChunk> {
    let whole = decode_all(&mut AnthropicStream::default(), bytes, usize::MAX).unwrap();
    let split = decode_all(&mut AnthropicStream::default(), bytes, 5).unwrap();
    assert_eq!(serde_json::to_string(&whole).unwrap(), serde_json::to_string(&split).unwrap());
    whole
}

fn usage_of(acc: &llmux_core::chat::StreamAccumulator) -> (u64, u64, u64, u64, u64) {
    let u = acc.usage.expect("usage");
    (u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cache_write_tokens, u.reasoning_tokens)
}

fn anthropic_messages_stream_text_sse() {
    let Some(b) = fixture("anthropic/messages.stream.text.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.text(), "- Captain\n- Scoop");
    assert_eq!(acc.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(usage_of(&acc), (17, 10, 0, 0, 0));
    assert_eq!(acc.id, "msg_017A4s3HAsrqf5d2WvBmrpLr");
}

fn anthropic_messages_stream_cache_read_sse() {
    let Some(b) = fixture("anthropic/messages.stream.cache-read.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.text(), "Hello! 👋");
    // Compaction: the top-level usage covers only the last step; the bill is every iteration's.
    assert_eq!(usage_of(&acc), (100 + 55096 + 181, 83 + 8, 55096, 0, 0));
}

fn anthropic_messages_stream_cache_creation_and_read_chunks_txt() {
    let Some(b) = fixture("anthropic/messages.stream.cache-creation-and-read.chunks.txt") else { return };
    let acc = accumulate(&decode(&chunks_txt_as_sse(&b)));
    assert!(acc.text().starts_with("The sum of the squares of the numbers 1 through 12 is **650"));
    // message_delta's cumulative figures replace message_start's, never add to them.
    assert_eq!(usage_of(&acc), (6 + 3337 + 6289, 198, 6289, 3337, 0));
    let done = acc.into_completion();
    assert!(done.choices[0].message.tool_calls.is_none(), "server tool use is not a client tool call");
}

fn anthropic_messages_stream_parallel_tool_use_sse() {
    let Some(b) = fixture("anthropic/messages.stream.parallel-tool-use.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(usage_of(&acc), (542, 62, 0, 0, 0));
    let done = acc.into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.function.name == "pelican_name_generator" && c.function.arguments == "{}"));
    assert_ne!(calls[0].id, calls[1].id);
}

fn anthropic_messages_stream_redacted_thinking_sse() {
    let Some(b) = fixture("anthropic/messages.stream.redacted-thinking.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.text().chars().count(), 359);
    let done = acc.into_completion();
    let blocks = done.choices[0].message.thinking_blocks.as_ref().unwrap();
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|b| b["type"] == "redacted_thinking" && b["data"].as_str().is_some_and(|d| !d.is_empty())));
    assert_eq!(done.usage.unwrap().completion_tokens, 189);
}

fn anthropic_messages_stream_thinking_signature_sse() {
    let Some(b) = fixture("anthropic/messages.stream.thinking-signature.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.reasoning().chars().count(), 202);
    assert_eq!(acc.text().chars().count(), 1021);
    assert_eq!(usage_of(&acc), (43, 282, 0, 0, 0));
    let done = acc.into_completion();
    let blocks = done.choices[0].message.thinking_blocks.as_ref().unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0]["thinking"].as_str().unwrap(), done.choices[0].message.reasoning_content.as_deref().unwrap());
    assert!(blocks[0]["signature"].as_str().unwrap().len() > 20);
}

fn anthropic_messages_stream_thinking_tool_use_sse() {
    let Some(b) = fixture("anthropic/messages.stream.thinking-tool-use.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.reasoning().chars().count(), 180);
    assert_eq!(acc.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(usage_of(&acc), (598, 92, 0, 0, 53));
    let done = acc.into_completion();
    let call = &done.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!((call.function.name.as_str(), call.function.arguments.as_str()), ("fixed_version", "{}"));
}

fn anthropic_messages_stream_tool_use_input_json_delta_sse() {
    let Some(b) = fixture("anthropic/messages.stream.tool-use-input-json-delta.sse") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.text().chars().count(), 158);
    assert_eq!(usage_of(&acc), (1591, 175, 0, 0, 0));
    let done = acc.into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1, "the server tool search is not a client call");
    assert_eq!(calls[0].function.name, "get_exchange_rate");
    assert_eq!(calls[0].function.arguments, r#"{"from_currency": "USD", "to_currency": "EUR"}"#);
}

fn anthropic_stream_error_event_overloaded_documented_example_sse() {
    let Some(b) = fixture("anthropic/stream-error-event.overloaded.documented-example.sse") else { return };
    let e = decode_all(&mut AnthropicStream::default(), &b, 3).unwrap_err();
    assert_eq!(e.kind, ErrorKind::ProviderUnavailable);
    assert!(e.retryable);
    assert_eq!(e.provider_code.as_deref(), Some("overloaded_error"));
    assert_eq!(e.message, "Overloaded");
}

fn anthropic_messages_nonstream_text_json() {
    let Some(b) = fixture("anthropic/messages.nonstream.text.json") else { return };
    let done = anthropic::parse_response(&b).unwrap();
    assert!(!done.text().is_empty());
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Stop));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (12, 29));
}

fn anthropic_messages_nonstream_thinking_json() {
    let Some(b) = fixture("anthropic/messages.nonstream.thinking.json") else { return };
    let done = anthropic::parse_response(&b).unwrap();
    let m = &done.choices[0].message;
    assert!(m.reasoning_content.as_deref().unwrap().starts_with("I need to find all roots"));
    assert!(m.content.as_deref().unwrap().starts_with("## Step 1"));
    assert!(m.thinking_blocks.as_ref().unwrap()[0]["signature"].as_str().unwrap().starts_with("CAIS"));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.reasoning_tokens), (51, 1699, 139));
}

fn anthropic_messages_nonstream_cache_creation_and_read_json() {
    let Some(b) = fixture("anthropic/messages.nonstream.cache-creation-and-read.json") else { return };
    let u = anthropic::parse_response(&b).unwrap().usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.cache_write_tokens, u.completion_tokens), (3 + 418 + 1111, 1111, 418, 33));
    assert_eq!(u.billed_input_tokens(), 3 + 418);
}

fn anthropic_error_400_invalid_request_json() {
    let Some(b) = fixture("anthropic/error.400.invalid-request.json") else { return };
    let e = anthropic::map_error(400, &HeaderMap::new(), &b);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.provider_code.as_deref(), Some("invalid_request_error"));
    assert!(e.message.starts_with("This model does not support effort level"));
    assert!(!e.retryable);
}

fn overloaded_529_is_retryable() {
    let e = anthropic::map_error(529, &HeaderMap::new(), br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
    assert_eq!(e.kind, ErrorKind::ProviderUnavailable);
    assert!(e.retryable);
}

fn stream_cut_before_message_stop_is_an_error() {
    let e = decode_all(&mut AnthropicStream::default(), b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n", 4).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
}

fn main() {
    run(
        &[
            fixture_test!(anthropic_messages_stream_text_sse),
            fixture_test!(anthropic_messages_stream_cache_read_sse),
            fixture_test!(anthropic_messages_stream_cache_creation_and_read_chunks_txt),
            fixture_test!(anthropic_messages_stream_parallel_tool_use_sse),
            fixture_test!(anthropic_messages_stream_redacted_thinking_sse),
            fixture_test!(anthropic_messages_stream_thinking_signature_sse),
            fixture_test!(anthropic_messages_stream_thinking_tool_use_sse),
            fixture_test!(anthropic_messages_stream_tool_use_input_json_delta_sse),
            fixture_test!(anthropic_stream_error_event_overloaded_documented_example_sse),
            fixture_test!(anthropic_messages_nonstream_text_json),
            fixture_test!(anthropic_messages_nonstream_thinking_json),
            fixture_test!(anthropic_messages_nonstream_cache_creation_and_read_json),
            fixture_test!(anthropic_error_400_invalid_request_json),
        ],
        &[test!(overloaded_529_is_retryable), test!(stream_cut_before_message_stop_is_an_error)],
    );
}
