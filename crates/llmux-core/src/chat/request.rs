//! The canonical chat request: OpenAI Chat Completions fields, plus whatever else the caller
//! sent (kept in `extra` so OpenAI-compatible servers still get their own parameters).

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::content::Content;
use super::response::{FunctionCall, ToolCall};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    #[serde(default)]
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// minimal | low | medium | high
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<String>,
    /// Legacy function calling; `normalize_legacy_functions` turns these into `tools`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub functions: Option<Vec<FunctionDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<Value>,
    /// Set by the caller's choice of API (`stream()` vs `completion()`), never forwarded as given.
    #[serde(default, skip_serializing)]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing)]
    pub stream_options: Option<Value>,
    /// Everything else the caller sent: provider-specific parameters and llmux call options.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
    Function,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::Developer => "developer",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
            Role::Function => "function",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    #[serde(default)]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    /// Reasoning text of an earlier assistant turn (not sent back to OpenAI).
    #[serde(default, skip_serializing)]
    pub reasoning_content: Option<String>,
    /// Provider reasoning blocks with their signatures (Anthropic, Bedrock), kept for multi-turn tool use.
    #[serde(default, skip_serializing)]
    pub thinking_blocks: Option<Value>,
    /// A prompt-caching marker on the whole message (LiteLLM's form): it applies to the
    /// message's last block. Never sent to OpenAI-shaped servers.
    #[serde(default, skip_serializing)]
    pub cache_control: Option<Value>,
}

impl Message {
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: Some(Content::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            function_call: None,
            reasoning_content: None,
            thinking_blocks: None,
            cache_control: None,
        }
    }

    /// No content and nothing else (tool calls) that would make the message meaningful.
    pub fn is_empty(&self) -> bool {
        let no_content = self.content.as_ref().is_none_or(Content::is_empty);
        no_content && self.tool_calls.as_ref().is_none_or(Vec::is_empty) && self.function_call.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionDef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<Value>,
}

fn function_type() -> String {
    "function".to_owned()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `tool_choice`: a mode, or one named function that must be called.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolChoice {
    None,
    Auto,
    Required,
    Function(String),
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::None => s.serialize_str("none"),
            ToolChoice::Auto => s.serialize_str("auto"),
            ToolChoice::Required => s.serialize_str("required"),
            ToolChoice::Function(name) => serde_json::json!({"type": "function", "function": {"name": name}}).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        ToolChoice::from_value(&v).map_err(de::Error::custom)
    }
}

impl ToolChoice {
    /// Reads `tool_choice` and the legacy `function_call` ("none" | "auto" | {name}).
    pub fn from_value(v: &Value) -> Result<ToolChoice, String> {
        match v {
            Value::String(s) => match s.as_str() {
                "none" => Ok(ToolChoice::None),
                "auto" => Ok(ToolChoice::Auto),
                "required" | "any" => Ok(ToolChoice::Required),
                other => Err(format!("tool_choice must be none, auto, required or a function (got \"{other}\")")),
            },
            Value::Object(o) => {
                let name = o.get("function").and_then(|f| f.get("name")).or_else(|| o.get("name")).and_then(Value::as_str);
                match name {
                    Some(n) if !n.is_empty() => Ok(ToolChoice::Function(n.to_owned())),
                    _ => Err("tool_choice object needs function.name".to_owned()),
                }
            }
            _ => Err("tool_choice must be a string or an object".to_owned()),
        }
    }
}

/// `stop`: one string or up to four; kept as a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop(pub Vec<String>);

impl Serialize for Stop {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(String),
            Many(Vec<String>),
        }
        match OneOrMany::deserialize(d).map_err(|_| de::Error::custom("stop must be a string or an array of strings"))? {
            OneOrMany::One(s) => Ok(Stop(vec![s])),
            OneOrMany::Many(v) => Ok(Stop(v)),
        }
    }
}

impl ChatRequest {
    /// Parses a request, naming the path of the field at fault (`messages[2].role: ...`).
    pub fn from_json(json: &str) -> crate::error::Result<ChatRequest> {
        let de = &mut serde_json::Deserializer::from_str(json);
        let req: ChatRequest = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            crate::error::Error::invalid_request(if path == "." || path.is_empty() {
                format!("invalid request: {inner}")
            } else {
                format!("invalid request: {path}: {inner}")
            })
        })?;
        req.validate()?;
        Ok(req)
    }

    /// As `from_json`, from a JSON value already parsed.
    pub fn from_value(v: Value) -> crate::error::Result<ChatRequest> {
        ChatRequest::from_json(&v.to_string())
    }

    /// Checks what serde cannot: rules that span fields.
    pub fn validate(&self) -> crate::error::Result<()> {
        use crate::error::Error;
        if self.messages.is_empty() {
            return Err(Error::invalid_request("messages must be a non-empty array"));
        }
        for (i, m) in self.messages.iter().enumerate() {
            if m.role == Role::Tool && m.tool_call_id.is_none() {
                return Err(Error::invalid_request(format!("messages[{i}]: a tool message needs tool_call_id")));
            }
        }
        if let Some(tools) = &self.tools {
            for (i, t) in tools.iter().enumerate() {
                if t.function.name.trim().is_empty() {
                    return Err(Error::invalid_request(format!("tools[{i}].function.name must not be empty")));
                }
                if let Some(p) = &t.function.parameters {
                    // (Whether it is a valid JSON schema is checked where schemas are known:
                    // `structured::check_tool_schemas`.)
                    if !p.is_object() {
                        return Err(Error::invalid_request(format!("tools[{i}].function.parameters must be a JSON schema object")));
                    }
                }
            }
        }
        Ok(())
    }

    /// Moves legacy function calling into tools: `functions` / `function_call` into `tools` /
    /// `tool_choice`, and in the history an assistant's `function_call` into a tool call and a
    /// `function` message into the tool result that answers it, so every provider's translation
    /// (which knows tool calls only) keeps them. Legacy calls have no ids: each call gets one from
    /// its position, and a result is paired with the latest call of its function's name.
    pub fn normalize_legacy_functions(&mut self) -> crate::error::Result<()> {
        let mut latest: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for (i, m) in self.messages.iter_mut().enumerate() {
            if m.role == Role::Assistant && m.tool_calls.is_none() {
                if let Some(fc) = m.function_call.take() {
                    let id = format!("call_legacy_{i}");
                    latest.insert(fc.name.clone(), id.clone());
                    m.tool_calls = Some(vec![ToolCall { id, kind: function_type(), function: fc, malformed_arguments: false }]);
                }
            }
            if m.role == Role::Function {
                let name = m.name.clone().unwrap_or_default();
                m.role = Role::Tool;
                if m.tool_call_id.is_none() {
                    m.tool_call_id = Some(latest.get(&name).cloned().unwrap_or(name));
                }
            }
        }
        if let Some(functions) = self.functions.take() {
            if self.tools.is_none() {
                self.tools =
                    Some(functions.into_iter().map(|f| Tool { kind: function_type(), function: f, cache_control: None }).collect());
            }
        }
        if let Some(fc) = self.function_call.take() {
            if self.tool_choice.is_none() {
                self.tool_choice = Some(ToolChoice::from_value(&fc).map_err(crate::error::Error::invalid_request)?);
            }
        }
        Ok(())
    }

    /// Takes an llmux call option (`api_key`, `timeout`, ...) out of `extra`, so it is never forwarded.
    pub fn take_option(&mut self, key: &str) -> Option<Value> {
        self.extra.remove(key).filter(|v| !v.is_null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_role_names_the_field() {
        let e = ChatRequest::from_json(r#"{"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}"#)
            .unwrap_err();
        assert!(e.message.contains("messages[1].role"), "{}", e.message);
        assert!(e.message.contains("robot"), "{}", e.message);
    }

    #[test]
    fn messages_must_be_a_non_empty_array() {
        let e = ChatRequest::from_json(r#"{"model":"m","messages":"hi"}"#).unwrap_err();
        assert!(e.message.contains("messages"), "{}", e.message);
        let e = ChatRequest::from_json(r#"{"model":"m","messages":[]}"#).unwrap_err();
        assert!(e.message.contains("non-empty"), "{}", e.message);
        let e = ChatRequest::from_json(r#"{"model":"m"}"#).unwrap_err();
        assert!(e.message.contains("messages"), "{}", e.message);
    }

    #[test]
    fn legacy_functions_become_tools() {
        let mut r = ChatRequest::from_json(
            r#"{"messages":[{"role":"user","content":"a"}],"functions":[{"name":"f","parameters":{"type":"object"}}],"function_call":{"name":"f"}}"#,
        )
        .unwrap();
        r.normalize_legacy_functions().unwrap();
        assert_eq!(r.tools.as_ref().unwrap()[0].function.name, "f");
        assert_eq!(r.tool_choice, Some(ToolChoice::Function("f".into())));
        assert!(r.functions.is_none());
    }

    #[test]
    fn extra_fields_are_kept_and_options_taken() {
        let mut r =
            ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"a"}],"top_k":5,"api_key":"k","stream":true}"#).unwrap();
        assert_eq!(r.take_option("api_key"), Some(Value::String("k".into())));
        let out = serde_json::to_value(&r).unwrap();
        assert_eq!(out["top_k"], 5);
        assert!(out.get("api_key").is_none());
        assert!(out.get("stream").is_none());
    }

    #[test]
    fn tool_without_name_is_rejected() {
        let e =
            ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"a"}],"tools":[{"type":"function","function":{"name":""}}]}"#)
                .unwrap_err();
        assert!(e.message.contains("tools[0].function.name"), "{}", e.message);
    }
}
