//! Every recorded OpenAI (and Azure OpenAI, same wire) response in shared/fixtures decodes to
//! the right text, tool calls, finish reason and usage. One test per fixture file.

mod support;

use llmux_core::chat::FinishReason;
use llmux_core::error::ErrorKind;
use llmux_core::providers::openai::{self, OpenAiStream};
use llmux_core::providers::StreamDecoder;
use reqwest::header::HeaderMap;
use support::*;

fn decode_stream(bytes: &[u8]) -> Vec<llmux_core::chat::ChatChunk> {
    // Whole, and in awkward 7-byte reads: both must give the same chunks.
    let whole = decode_all(&mut OpenAiStream::default(), bytes, usize::MAX).unwrap();
    let split = decode_all(&mut OpenAiStream::default(), bytes, 7).unwrap();
    assert_eq!(serde_json::to_string(&whole).unwrap(), serde_json::to_string(&split).unwrap());
    whole
}

fn openai_chat_completion_stream_text_include_usage_sse() {
    let Some(b) = fixture("openai/chat-completion.stream.text.include-usage.sse") else { return };
    let acc = accumulate(&decode_stream(&b));
    assert_eq!(acc.text(), "The capital of the UK is London.");
    assert_eq!(acc.finish_reason(), Some(&FinishReason::Stop));
    let u = acc.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens), (78, 9, 0, 0));
    assert_eq!(acc.id, "chatcmpl-Dx0Xq5Xx9rHB2ehcHZCRDsnuymUXc");
}

fn openai_chat_completion_stream_tool_calls_include_usage_sse() {
    let Some(b) = fixture("openai/chat-completion.stream.tool-calls.include-usage.sse") else { return };
    let chunks = decode_stream(&b);
    let acc = accumulate(&chunks);
    assert_eq!(acc.finish_reason(), Some(&FinishReason::ToolCalls));
    let done = acc.into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_ZR5UUuTt3pf61kjwAJIYdVMj");
    assert_eq!(calls[0].function.name, "get_capital");
    assert_eq!(calls[0].function.arguments, r#"{"country":"UK"}"#);
    assert_eq!(done.choices[0].message.content, None);
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (53, 15));
}

fn openai_chat_completion_stream_parallel_tool_calls_include_usage_sse() {
    let Some(b) = fixture("openai/chat-completion.stream.parallel-tool-calls.include-usage.sse") else { return };
    let done = accumulate(&decode_stream(&b)).into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    let got: Vec<(&str, &str, &str)> =
        calls.iter().map(|c| (c.id.as_str(), c.function.name.as_str(), c.function.arguments.as_str())).collect();
    assert_eq!(
        got,
        vec![("call_3rqTYrA6H21AYUaRGP4F66oq", "get_country", "{}"), ("call_Xw9XMKBJU48kAAd78WgIswDx", "get_product_name", "{}")]
    );
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (364, 40));
}

fn openai_chat_completion_nonstream_text_json() {
    let Some(b) = fixture("openai/chat-completion.nonstream.text.json") else { return };
    let done = openai::parse_response(&b).unwrap();
    assert!(done.text().starts_with("**Holiday Name:** Galaxy Day"));
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Stop));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens), (16, 363, 0, 0));
}

fn openai_chat_completion_nonstream_cached_tokens_json() {
    let Some(b) = fixture("openai/chat-completion.nonstream.cached-tokens.json") else { return };
    let done = openai::parse_response(&b).unwrap();
    assert_eq!(done.text(), "OK");
    assert_eq!(done.system_fingerprint, None);
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.cache_write_tokens, u.completion_tokens), (4020, 4012, 0, 4));
    assert_eq!(u.billed_input_tokens(), 8);
}

fn openai_chat_completion_nonstream_reasoning_o3_mini_json() {
    let Some(b) = fixture("openai/chat-completion.nonstream.reasoning-o3-mini.json") else { return };
    let done = openai::parse_response(&b).unwrap();
    assert_eq!(done.text(), "Hello there! How can I help you today?");
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.reasoning_tokens), (7, 87, 64));
}

/// The session records keep the response body as a JSON object: re-serialise it to bytes.
fn record_entries(name: &str) -> Option<Vec<(u16, HeaderMap, Vec<u8>)>> {
    let v = fixture_json(name)?;
    let entries = v["Entries"].as_array().unwrap().iter().map(|e| {
        let mut headers = HeaderMap::new();
        for (k, val) in e["ResponseHeaders"].as_object().unwrap() {
            if let (Ok(n), Some(s)) = (reqwest::header::HeaderName::from_bytes(k.as_bytes()), val.as_str()) {
                headers.insert(n, s.parse().unwrap());
            }
        }
        (e["StatusCode"].as_u64().unwrap() as u16, headers, serde_json::to_vec(&e["ResponseBody"]).unwrap())
    });
    Some(entries.collect())
}

fn openai_chat_completion_reasoning_o3_mini_session_record_json() {
    let Some(entries) = record_entries("openai/chat-completion.reasoning-o3-mini.session-record.json") else { return };
    let (status, _, body) = &entries[0];
    assert_eq!(*status, 200);
    let done = openai::parse_response(body).unwrap();
    assert_eq!(done.text().chars().count(), 3609);
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens, u.reasoning_tokens), (34, 863, 128));
}

fn openai_chat_completion_parallel_tool_calls_session_record_json() {
    let Some(entries) = record_entries("openai/chat-completion.parallel-tool-calls.session-record.json") else { return };
    let first = openai::parse_response(&entries[0].2).unwrap();
    let calls = first.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].function.arguments, r#"{"city_name": "Karachi"}"#);
    assert_eq!(first.choices[0].message.content, None);
    assert_eq!(first.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    let second = openai::parse_response(&entries[1].2).unwrap();
    assert!(second.text().contains("Santiago: Rainy"));
    assert_eq!(second.usage.unwrap().prompt_tokens, 151);
}

fn openai_error_400_unsupported_parameter_json() {
    let Some(b) = fixture("openai/error.400.unsupported-parameter.json") else { return };
    let e = openai::map_error(400, &HeaderMap::new(), &b);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.status, Some(400));
    assert_eq!(e.provider_code.as_deref(), Some("unsupported_parameter"));
    assert_eq!(e.param.as_deref(), Some("max_tokens"));
    assert!(e.message.starts_with("Unsupported parameter: 'max_tokens'"));
    assert!(!e.retryable);
}

fn openai_error_400_unsupported_value_json() {
    let Some(b) = fixture("openai/error.400.unsupported-value.json") else { return };
    let e = openai::map_error(400, &HeaderMap::new(), &b);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.param.as_deref(), Some("messages[0].role"));
    assert_eq!(e.provider_code.as_deref(), Some("unsupported_value"));
}

fn openai_error_400_invalid_function_schema_session_record_json() {
    let Some(entries) = record_entries("openai/error.400.invalid-function-schema.session-record.json") else { return };
    let (status, headers, body) = &entries[0];
    let e = openai::map_error(*status, headers, body);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.provider_code.as_deref(), Some("invalid_function_parameters"));
    assert_eq!(e.param.as_deref(), Some("tools[0].function.parameters"));
}

fn openai_error_401_invalid_api_key_session_record_json() {
    let Some(entries) = record_entries("openai/error.401.invalid-api-key.session-record.json") else { return };
    let (status, headers, body) = &entries[0];
    let e = openai::map_error(*status, headers, body);
    assert_eq!(e.kind, ErrorKind::Auth);
    assert_eq!(e.status, Some(401));
    assert_eq!(e.provider_code.as_deref(), Some("invalid_api_key"));
    assert!(!e.retryable);
}

// Azure OpenAI speaks the same wire; its quirks (empty-choices filter chunks) go through the same decoder.

fn azure_chat_completion_stream_content_filter_sse() {
    let Some(b) = fixture("azure/chat-completion.stream.content-filter.sse") else { return };
    let chunks = decode_stream(&b);
    assert!(chunks.iter().all(|c| !c.choices.is_empty() || c.usage.is_some()), "empty filter chunks are dropped");
    let acc = accumulate(&chunks);
    assert!(!acc.text().is_empty());
    assert_eq!(acc.finish_reason(), Some(&FinishReason::Stop));
    assert!(acc.usage.is_none(), "this recording predates include_usage");
}

fn azure_chat_completion_stream_model_router_chunks_txt() {
    let Some(b) = fixture("azure/chat-completion.stream.model-router.chunks.txt") else { return };
    let acc = accumulate(&decode_stream(&chunks_txt_as_sse(&b)));
    assert!(!acc.text().is_empty());
    let u = acc.usage.unwrap();
    assert_eq!(u.reasoning_tokens, 64);
}

fn azure_chat_completion_nonstream_content_filter_json() {
    let Some(b) = fixture("azure/chat-completion.nonstream.content-filter.json") else { return };
    let done = openai::parse_response(&b).unwrap();
    assert!(!done.text().is_empty());
    assert!(done.usage.unwrap().prompt_tokens > 0);
}

fn malformed_chunk_is_a_decode_error() {
    let mut d = OpenAiStream::default();
    let mut out = Vec::new();
    let e = d.feed(b"data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {not json\n\n", &mut out).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Decode);
    assert_eq!(out.len(), 1, "the chunk before the bad one is kept");
}

fn stream_cut_before_finish_is_an_error_but_done_without_finish_is_not() {
    let mut d = OpenAiStream::default();
    let e = decode_all(&mut d, b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n", 5).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
    let ok = decode_all(
        &mut OpenAiStream::default(),
        b"data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}\n\n",
        5,
    );
    assert!(ok.is_ok(), "a finished stream without [DONE] is complete");
}

fn error_event_mid_stream_is_typed() {
    let mut d = OpenAiStream::default();
    let mut out = Vec::new();
    let e = d
        .feed(
            b"data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}\n\n",
            &mut out,
        )
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::RateLimit);
    assert!(e.retryable);
}

fn main() {
    run(
        &[
            fixture_test!(openai_chat_completion_stream_text_include_usage_sse),
            fixture_test!(openai_chat_completion_stream_tool_calls_include_usage_sse),
            fixture_test!(openai_chat_completion_stream_parallel_tool_calls_include_usage_sse),
            fixture_test!(openai_chat_completion_nonstream_text_json),
            fixture_test!(openai_chat_completion_nonstream_cached_tokens_json),
            fixture_test!(openai_chat_completion_nonstream_reasoning_o3_mini_json),
            fixture_test!(openai_chat_completion_reasoning_o3_mini_session_record_json),
            fixture_test!(openai_chat_completion_parallel_tool_calls_session_record_json),
            fixture_test!(openai_error_400_unsupported_parameter_json),
            fixture_test!(openai_error_400_unsupported_value_json),
            fixture_test!(openai_error_400_invalid_function_schema_session_record_json),
            fixture_test!(openai_error_401_invalid_api_key_session_record_json),
            fixture_test!(azure_chat_completion_stream_content_filter_sse),
            fixture_test!(azure_chat_completion_stream_model_router_chunks_txt),
            fixture_test!(azure_chat_completion_nonstream_content_filter_json),
        ],
        &[
            test!(malformed_chunk_is_a_decode_error),
            test!(stream_cut_before_finish_is_an_error_but_done_without_finish_is_not),
            test!(error_event_mid_stream_is_typed),
        ],
    );
}
