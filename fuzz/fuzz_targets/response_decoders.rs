//! Every provider's whole-response decoder and error mapping on arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use llmux_core::providers::{anthropic, bedrock, gemini, openai};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let headers = reqwest::header::HeaderMap::new();
    match which % 4 {
        0 => {
            let _ = openai::parse_response(body);
            let _ = openai::map_error(400, &headers, body);
        }
        1 => {
            let _ = anthropic::parse_response(body);
            let _ = anthropic::map_error(529, &headers, body);
        }
        2 => {
            let _ = gemini::parse_response(body);
            let _ = gemini::map_error(429, &headers, body);
        }
        _ => {
            let _ = bedrock::parse_response(body);
            let _ = bedrock::map_error(400, &headers, body);
        }
    }
});
