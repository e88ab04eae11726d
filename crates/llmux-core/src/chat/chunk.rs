//! The canonical stream chunk: an OpenAI `ChatCompletionChunk`.

use serde::{Deserialize, Serialize};

use super::response::FinishReason;
use super::usage::Usage;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatChunk {
    #[serde(default)]
    pub id: String,
    #[serde(default = "chunk_object")]
    pub object: String,
    #[serde(default)]
    pub created: u64,
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_fingerprint: Option<String>,
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

fn chunk_object() -> String {
    "chat.completion.chunk".to_owned()
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChunkChoice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<FinishReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    /// Whole reasoning blocks with their signatures (Anthropic, Bedrock), as LiteLLM names them:
    /// `{type: "thinking", thinking, signature}` or `{type: "redacted_thinking", data}`.
    /// Send them back in the assistant message for multi-turn tool use with reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_blocks: Option<Vec<serde_json::Value>>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionDelta>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FunctionDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

impl Delta {
    /// A fragment of the arguments of the tool call at `index` (its id and name came before).
    pub fn tool_arguments(index: u32, arguments: String) -> Delta {
        Delta {
            tool_calls: Some(vec![ToolCallDelta {
                index,
                id: None,
                kind: None,
                function: Some(FunctionDelta { name: None, arguments: Some(arguments) }),
            }]),
            ..Default::default()
        }
    }
}

impl ChatChunk {
    /// A chunk of one choice with the given delta; ids are filled in by the stream's state.
    pub fn with_delta(id: &str, model: &str, created: u64, delta: Delta, finish: Option<FinishReason>) -> Self {
        ChatChunk {
            id: id.to_owned(),
            object: chunk_object(),
            created,
            model: model.to_owned(),
            system_fingerprint: None,
            choices: vec![ChunkChoice { index: 0, delta, finish_reason: finish, logprobs: None }],
            usage: None,
        }
    }
}
