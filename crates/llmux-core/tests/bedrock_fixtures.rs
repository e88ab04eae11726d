//! Every recorded Bedrock response in shared/fixtures decodes: raw event-stream bytes (CRC
//! checked by aws-smithy-eventstream) and Converse bodies. One test per fixture file.

mod support;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use llmux_core::chat::{ChatChunk, FinishReason};
use llmux_core::error::ErrorKind;
use llmux_core::providers::bedrock::{self, BedrockStream};
use reqwest::header::{HeaderMap, HeaderValue as HttpValue};
use support::*;

fn decode(bytes: &[u8]) -> Vec<ChatChunk> {
    let whole = decode_all(&mut BedrockStream::default(), bytes, usize::MAX).unwrap();
    let split = decode_all(&mut BedrockStream::default(), bytes, 13).unwrap();
    assert!(comparable(&whole) == comparable(&split), "split reads decode differently");
    whole
}

fn usage_of(acc: &llmux_core::chat::StreamAccumulator) -> (u64, u64, u64, u64) {
    let u = acc.usage.expect("usage");
    (u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.cache_write_tokens)
}

fn bedrock_converse_stream_text_bin() {
    let Some(b) = fixture("bedrock/converse-stream.text.bin") else { return };
    let acc = accumulate(&decode(&b));
    assert!(acc.text().starts_with("The capital of France is Paris. Paris is not only "));
    assert_eq!(acc.text().chars().count(), 375);
    assert_eq!(acc.finish_reason(), Some(&FinishReason::Stop));
    assert_eq!(usage_of(&acc), (13, 82, 0, 0));
}

fn bedrock_converse_stream_reasoning_bin() {
    let Some(b) = fixture("bedrock/converse-stream.reasoning.bin") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.reasoning().chars().count(), 193);
    assert!(acc.text().starts_with("Hello! It's nice to meet you."));
    assert_eq!(usage_of(&acc), (36, 73, 0, 0));
    let done = acc.into_completion();
    let block = &done.choices[0].message.thinking_blocks.as_ref().unwrap()[0];
    assert_eq!(block["type"], "thinking");
    assert!(!block["signature"].as_str().unwrap().is_empty());
}

fn bedrock_converse_stream_reasoning_redacted_bin() {
    let Some(b) = fixture("bedrock/converse-stream.reasoning-redacted.bin") else { return };
    let acc = accumulate(&decode(&b));
    assert_eq!(acc.text().chars().count(), 359);
    let done = acc.into_completion();
    let blocks = done.choices[0].message.thinking_blocks.as_ref().unwrap();
    assert_eq!(blocks.iter().filter(|b| b["type"] == "redacted_thinking").count(), 2);
    assert_eq!(done.usage.unwrap().completion_tokens, 253);
}

fn bedrock_converse_stream_text_then_tool_use_bin() {
    let Some(b) = fixture("bedrock/converse-stream.text-then-tool-use.bin") else { return };
    let acc = accumulate(&decode(&b));
    assert!(acc.text().starts_with("<thinking> To find the temperature"));
    assert_eq!(acc.finish_reason(), Some(&FinishReason::ToolCalls));
    assert_eq!(usage_of(&acc), (471, 91, 0, 0));
    let done = acc.into_completion();
    let call = &done.choices[0].message.tool_calls.as_ref().unwrap()[0];
    assert_eq!(call.id, "tooluse_lAG_zP8QRHmSYOwZzzaCqA");
    assert_eq!((call.function.name.as_str(), call.function.arguments.as_str()), ("get_temperature", r#"{"city":"Paris"}"#));
}

fn bedrock_converse_stream_server_tool_result_bin() {
    let Some(b) = fixture("bedrock/converse-stream.server-tool-result.bin") else { return };
    let done = accumulate(&decode(&b)).into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(calls.len(), 1, "the server's code interpreter call is not the caller's");
    assert_eq!((calls[0].function.name.as_str(), calls[0].function.arguments.as_str()), ("final_result", r#"{"result":7006652.0}"#));
    assert_eq!(done.usage.unwrap().prompt_tokens, 1002);
}

/// The `.events.jsonl` files are the same frames decoded: re-encode them and decode again.
fn events_jsonl_as_frames(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).unwrap();
        let mut m = Message::new(serde_json::to_vec(&v["payload"]).unwrap());
        for (k, val) in v["headers"].as_object().unwrap() {
            m = m.add_header(Header::new(k.clone(), HeaderValue::String(val.as_str().unwrap().to_owned().into())));
        }
        write_message_to(&m, &mut out).unwrap();
    }
    out
}

/// A tool call with no arguments streams no input delta: its arguments are `{}`, as the
/// non-streamed answer's `"input": {}` says, never "".
fn a_streamed_tool_call_without_arguments_is_the_empty_object() {
    let ev = |t: &str, p: serde_json::Value| {
        serde_json::json!({"headers": {":event-type": t, ":content-type": "application/json", ":message-type": "event"}, "payload": p})
            .to_string()
    };
    let jsonl = [
        ev("messageStart", serde_json::json!({"role": "assistant"})),
        ev(
            "contentBlockStart",
            serde_json::json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_time"}}}),
        ),
        ev("contentBlockStop", serde_json::json!({"contentBlockIndex": 0})),
        ev("messageStop", serde_json::json!({"stopReason": "tool_use"})),
        ev("metadata", serde_json::json!({"usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7}, "metrics": {"latencyMs": 1}})),
    ]
    .join("\n");
    let done = accumulate(&decode(&events_jsonl_as_frames(jsonl.as_bytes()))).into_completion();
    let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!((calls[0].function.name.as_str(), calls[0].function.arguments.as_str()), ("get_time", "{}"));
    assert!(!calls[0].malformed_arguments);
}

macro_rules! events_jsonl_matches_bin {
    ($name:ident, $stem:literal) => {
        fn $name() {
            let (Some(jsonl), Some(bin)) =
                (fixture(concat!("bedrock/", $stem, ".events.jsonl")), fixture(concat!("bedrock/", $stem, ".bin")))
            else {
                return;
            };
            let a = accumulate(&decode(&events_jsonl_as_frames(&jsonl))).into_completion();
            let b = accumulate(&decode(&bin)).into_completion();
            assert_eq!(a.choices[0].message.content, b.choices[0].message.content);
            assert_eq!(a.choices[0].message.reasoning_content, b.choices[0].message.reasoning_content);
            assert_eq!(a.usage, b.usage);
        }
    };
}
events_jsonl_matches_bin!(bedrock_converse_stream_text_events_jsonl, "converse-stream.text");
events_jsonl_matches_bin!(bedrock_converse_stream_reasoning_events_jsonl, "converse-stream.reasoning");
events_jsonl_matches_bin!(bedrock_converse_stream_reasoning_redacted_events_jsonl, "converse-stream.reasoning-redacted");
events_jsonl_matches_bin!(bedrock_converse_stream_text_then_tool_use_events_jsonl, "converse-stream.text-then-tool-use");
events_jsonl_matches_bin!(bedrock_converse_stream_server_tool_result_events_jsonl, "converse-stream.server-tool-result");

fn bedrock_converse_text_json() {
    let Some(b) = fixture("bedrock/converse.text.json") else { return };
    let done = bedrock::parse_response(&b).unwrap();
    assert!(done.text().starts_with("Let me count the \"r\"s in \"strawberry\":"));
    let u = done.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (22, 57));
}

fn bedrock_converse_cache_read_json() {
    let Some(b) = fixture("bedrock/converse.cache-read.json") else { return };
    let u = bedrock::parse_response(&b).unwrap().usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.cache_write_tokens, u.completion_tokens), (1324, 1322, 0, 5));
    assert_eq!(u.billed_input_tokens(), 2);
}

fn bedrock_converse_cache_write_json() {
    let Some(b) = fixture("bedrock/converse.cache-write.json") else { return };
    let u = bedrock::parse_response(&b).unwrap().usage.unwrap();
    assert_eq!((u.prompt_tokens, u.cached_tokens, u.cache_write_tokens), (1324, 0, 1322));
    assert_eq!(u.billed_input_tokens(), 1324, "cache writes are billed as input");
}

fn bedrock_converse_reasoning_json() {
    let Some(b) = fixture("bedrock/converse.reasoning.json") else { return };
    let done = bedrock::parse_response(&b).unwrap();
    let m = &done.choices[0].message;
    assert!(!m.reasoning_content.as_deref().unwrap().is_empty());
    assert!(m.content.as_deref().unwrap().starts_with("There are **3** r's"));
    assert_eq!(done.usage.unwrap().completion_tokens, 78);
}

fn bedrock_converse_tool_use_with_reasoning_json() {
    let Some(b) = fixture("bedrock/converse.tool-use-with-reasoning.json") else { return };
    let done = bedrock::parse_response(&b).unwrap();
    let m = &done.choices[0].message;
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    assert!(m.content.as_deref().unwrap().starts_with("I'll need to check"));
    let call = &m.tool_calls.as_ref().unwrap()[0];
    assert_eq!(
        (call.id.as_str(), call.function.name.as_str(), call.function.arguments.as_str()),
        ("tooluse_W9DaUFg4Tj2cRPpndqxWSg", "get_user_country", "{}")
    );
    assert!(m.thinking_blocks.as_ref().unwrap()[0]["signature"].as_str().unwrap().starts_with("ErcB"));
}

fn bedrock_error_400_invalid_model_converse_json() {
    let Some(b) = fixture("bedrock/error.400.invalid-model.converse.json") else { return };
    let mut h = HeaderMap::new();
    h.insert("x-amzn-errortype", HttpValue::from_static("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"));
    let e = bedrock::map_error(400, &h, &b);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.provider_code.as_deref(), Some("ValidationException"));
    assert_eq!(e.message, "The provided model identifier is invalid.");
}

fn bedrock_error_400_invalid_model_converse_stream_json() {
    let Some(b) = fixture("bedrock/error.400.invalid-model.converse-stream.json") else { return };
    // The recorder stripped x-amzn-ErrorType: the status alone must still classify it.
    let e = bedrock::map_error(400, &HeaderMap::new(), &b);
    assert_eq!(e.kind, ErrorKind::BadRequest);
    assert_eq!(e.message, "The provided model identifier is invalid.");
}

fn frame(message_type: &str, type_header: (&str, &str), payload: &[u8]) -> Vec<u8> {
    let m = Message::new(payload.to_vec())
        .add_header(Header::new(":message-type", HeaderValue::String(message_type.to_owned().into())))
        .add_header(Header::new(type_header.0.to_owned(), HeaderValue::String(type_header.1.to_owned().into())))
        .add_header(Header::new(":content-type", HeaderValue::String("application/json".into())));
    let mut out = Vec::new();
    write_message_to(&m, &mut out).unwrap();
    out
}

fn exception_frames_are_typed_errors() {
    for (exception, kind) in [
        ("throttlingException", ErrorKind::RateLimit),
        ("modelStreamErrorException", ErrorKind::ProviderUnavailable),
        ("validationException", ErrorKind::BadRequest),
        ("serviceUnavailableException", ErrorKind::ProviderUnavailable),
        ("internalServerException", ErrorKind::ProviderUnavailable),
    ] {
        let mut bytes = frame("event", (":event-type", "messageStart"), br#"{"role":"assistant","p":"ab"}"#);
        bytes.extend(frame("exception", (":exception-type", exception), br#"{"message":"went wrong"}"#));
        let e = decode_all(&mut BedrockStream::default(), &bytes, 7).unwrap_err();
        assert_eq!(e.kind, kind, "{exception}");
        assert_eq!(e.message, "went wrong");
        assert_eq!(e.provider_code.as_deref(), Some(exception));
    }
}

fn bad_crc_and_truncation_are_clear_errors_not_hangs() {
    let Some(b) = fixture("bedrock/converse-stream.text.bin") else { return };
    let mut bad = b.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let e = decode_all(&mut BedrockStream::default(), &bad, 64).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Decode);
    assert!(e.message.contains("checksum"), "{}", e.message);
    let e = decode_all(&mut BedrockStream::default(), &b[..b.len() - 10], 64).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Network);
}

fn main() {
    run(
        &[
            fixture_test!(bedrock_converse_stream_text_events_jsonl),
            fixture_test!(bedrock_converse_stream_reasoning_events_jsonl),
            fixture_test!(bedrock_converse_stream_reasoning_redacted_events_jsonl),
            fixture_test!(bedrock_converse_stream_text_then_tool_use_events_jsonl),
            fixture_test!(bedrock_converse_stream_server_tool_result_events_jsonl),
            fixture_test!(bedrock_converse_stream_text_bin),
            fixture_test!(bedrock_converse_stream_reasoning_bin),
            fixture_test!(bedrock_converse_stream_reasoning_redacted_bin),
            fixture_test!(bedrock_converse_stream_text_then_tool_use_bin),
            fixture_test!(bedrock_converse_stream_server_tool_result_bin),
            fixture_test!(bedrock_converse_text_json),
            fixture_test!(bedrock_converse_cache_read_json),
            fixture_test!(bedrock_converse_cache_write_json),
            fixture_test!(bedrock_converse_reasoning_json),
            fixture_test!(bedrock_converse_tool_use_with_reasoning_json),
            fixture_test!(bedrock_error_400_invalid_model_converse_json),
            fixture_test!(bedrock_error_400_invalid_model_converse_stream_json),
            fixture_test!(bad_crc_and_truncation_are_clear_errors_not_hangs),
        ],
        &[test!(exception_frames_are_typed_errors), test!(a_streamed_tool_call_without_arguments_is_the_empty_object)],
    );
}
