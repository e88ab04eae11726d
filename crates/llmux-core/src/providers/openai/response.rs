//! OpenAI non-streamed response body -> canonical `ChatCompletion`.

use serde::Deserialize;

use super::error::{from_envelope, ErrorEnvelope};
use crate::chat::ChatCompletion;
use crate::error::{Error, Result};

pub fn parse_response(body: &[u8]) -> Result<ChatCompletion> {
    // Some OpenAI-compatible servers answer 200 with an error envelope.
    if let Ok(ErrorEnvelope { error: Some(err) }) = serde_json::from_slice::<ErrorEnvelope>(body) {
        return Err(from_envelope(200, err, None).with_body(body));
    }
    #[derive(Deserialize)]
    struct Probe {}
    serde_json::from_slice::<ChatCompletion>(body).map_err(|e| {
        let what = if serde_json::from_slice::<Probe>(body).is_ok() {
            format!("response is not a chat completion: {e}")
        } else {
            format!("response is not valid JSON: {e}")
        };
        Error::decode("openai", what).with_body(body)
    })
}
