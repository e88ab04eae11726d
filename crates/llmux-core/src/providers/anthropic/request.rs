//! Canonical request -> Anthropic Messages request body.
//! System messages go to the top-level `system`; tool results become `tool_result` blocks in a
//! user turn; consecutive turns of one role are merged, as the API requires alternation.

use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, Content, ContentPart, Message, Role, ToolChoice};
use crate::error::Result;
use crate::providers::media::{parse_file, FilePart};
use crate::providers::media::{parse_image_url, Image};
use crate::providers::tool_ids;
use crate::providers::turns::push_merged;
use crate::providers::{Built, HttpRequest, Target};

/// Output budget when the caller sets none (the API requires `max_tokens`).
const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Fields of the Messages API that a caller may pass through as given.
const PASSTHROUGH: &[&str] =
    &["top_k", "metadata", "thinking", "output_config", "service_tier", "container", "context_management", "mcp_servers"];
/// Passed-through fields the Claude rules decide on (`claude::settings`), placed from there.
const DECIDED: &[&str] = &["thinking", "output_config", "top_k"];

fn text_block(text: &str, cache_control: Option<&Value>) -> Value {
    with_cache(json!({"type": "text", "text": text}), cache_control)
}

/// Puts a prompt-caching marker on a block. Text, image, document, tool_use and tool_result
/// blocks all take one (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching,
/// "What can be cached").
fn with_cache(mut block: Value, cache_control: Option<&Value>) -> Value {
    if let Some(cc) = cache_control {
        block["cache_control"] = cc.clone();
    }
    block
}

/// A message-level marker (LiteLLM's form) goes on the message's last block.
fn mark_last(mut blocks: Vec<Value>, m: &Message) -> Vec<Value> {
    if let (Some(cc), Some(last)) = (&m.cache_control, blocks.last_mut()) {
        last["cache_control"] = cc.clone();
    }
    blocks
}

fn content_blocks(content: &Content) -> Result<Vec<Value>> {
    match content {
        Content::Text(t) if t.is_empty() => Ok(vec![]),
        Content::Text(t) => Ok(vec![text_block(t, None)]),
        Content::Parts(parts) => {
            let mut out = Vec::with_capacity(parts.len());
            for p in parts {
                match p {
                    ContentPart::Text { text, cache_control } => {
                        if !text.is_empty() {
                            out.push(text_block(text, cache_control.as_ref()));
                        }
                    }
                    ContentPart::ImageUrl { image_url, cache_control } => out.push(with_cache(
                        match parse_image_url(&image_url.url)? {
                            Image::Inline { media_type, data } => {
                                json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
                            }
                            Image::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
                        },
                        cache_control.as_ref(),
                    )),
                    // Documents (https://docs.anthropic.com/en/docs/build-with-claude/pdf-support):
                    // base64 PDFs, plain text, links, or a Files API id.
                    ContentPart::File { file, cache_control } => out.push(with_cache(
                        match parse_file(file)? {
                            FilePart::Inline { media_type: "application/pdf", data, .. } => {
                                json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}})
                            }
                            FilePart::Inline { media_type: "text/plain", data, .. } => {
                                use base64::Engine;
                                let text = base64::engine::general_purpose::STANDARD
                                    .decode(data)
                                    .ok()
                                    .and_then(|b| String::from_utf8(b).ok())
                                    .ok_or_else(|| crate::error::Error::invalid_request("a text/plain file part is not base64 UTF-8"))?;
                                json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}})
                            }
                            FilePart::Inline { media_type, .. } => {
                                return Err(crate::error::Error::invalid_request(format!(
                                    "Anthropic documents are PDF or plain text, not \"{media_type}\""
                                )))
                            }
                            FilePart::Link { url, .. } => json!({"type": "document", "source": {"type": "url", "url": url}}),
                            FilePart::Id(id) => json!({"type": "document", "source": {"type": "file", "file_id": id}}),
                        },
                        cache_control.as_ref(),
                    )),
                    ContentPart::InputAudio { .. } => {
                        return Err(crate::error::Error::invalid_request("Anthropic does not accept audio input"))
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Appends blocks as a turn of `role`, merging into the previous turn of the same role.
fn assistant_blocks(m: &Message) -> Result<Vec<Value>> {
    let mut blocks = Vec::new();
    // Thinking blocks go first and unchanged: the API checks their signatures.
    if let Some(Value::Array(tb)) = &m.thinking_blocks {
        blocks.extend(tb.iter().filter(|b| b.get("type").is_some()).cloned());
    }
    if let Some(c) = &m.content {
        blocks.extend(content_blocks(c)?);
    }
    for t in m.tool_calls.iter().flatten() {
        let input = match serde_json::from_str::<Value>(&t.function.arguments) {
            Ok(v @ Value::Object(_)) => v,
            _ if t.function.arguments.trim().is_empty() => json!({}),
            _ => json!({}),
        };
        blocks.push(json!({"type": "tool_use", "id": tool_ids::portable(&t.id), "name": t.function.name, "input": input}));
    }
    Ok(blocks)
}

/// The Messages body (without `stream`); also used by Claude on Vertex and Bedrock-invoke.
pub fn build_body(req: &ChatRequest, model: Option<&str>, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let mut system: Vec<Value> = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    for m in &req.messages {
        match m.role {
            Role::System | Role::Developer => {
                if let Some(c) = &m.content {
                    system.extend(mark_last(content_blocks(c)?, m));
                }
            }
            Role::User => push_merged(
                &mut messages,
                "user",
                "content",
                mark_last(m.content.as_ref().map(content_blocks).transpose()?.unwrap_or_default(), m),
            ),
            Role::Assistant => push_merged(&mut messages, "assistant", "content", mark_last(assistant_blocks(m)?, m)),
            Role::Tool | Role::Function => {
                let content = match &m.content {
                    Some(Content::Text(t)) => Value::String(t.clone()),
                    Some(c @ Content::Parts(_)) => Value::Array(content_blocks(c)?),
                    None => Value::String(String::new()),
                };
                let id = tool_ids::portable(m.tool_call_id.as_deref().or(m.name.as_deref()).unwrap_or_default()).into_owned();
                let block = with_cache(json!({"type": "tool_result", "tool_use_id": id, "content": content}), m.cache_control.as_ref());
                push_merged(&mut messages, "user", "content", vec![block]);
            }
        }
    }
    let mut body = Map::new();
    if let Some(model) = model {
        body.insert("model".into(), json!(model));
    }
    let claude = crate::providers::claude::settings(req, model.unwrap_or(""), DEFAULT_MAX_TOKENS, warnings);
    if !system.is_empty() {
        let plain = system.iter().all(|b| b.get("cache_control").is_none() && b["type"] == "text");
        let value = if plain {
            Value::String(system.iter().filter_map(|b| b["text"].as_str()).collect::<Vec<_>>().join("\n\n"))
        } else {
            Value::Array(system)
        };
        body.insert("system".into(), value);
    }
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = claude.thinking {
        body.insert("thinking".into(), t);
    }
    if let Some(o) = claude.output_config {
        body.insert("output_config".into(), o);
    }
    if claude.keep_top_k {
        if let Some(k) = req.extra.get("top_k") {
            body.insert("top_k".into(), k.clone());
        }
    }
    body.insert("max_tokens".into(), json!(claude.max_tokens));
    if let Some(t) = claude.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = claude.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(stop) = &req.stop {
        body.insert("stop_sequences".into(), json!(stop.0));
    }
    if let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut v = json!({
                    "name": t.function.name,
                    "input_schema": t.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                });
                if let Some(d) = &t.function.description {
                    v["description"] = json!(d);
                }
                if let Some(cc) = &t.cache_control {
                    v["cache_control"] = cc.clone();
                }
                v
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        let mut choice = match &req.tool_choice {
            None | Some(ToolChoice::Auto) => json!({"type": "auto"}),
            Some(ToolChoice::None) => json!({"type": "none"}),
            Some(ToolChoice::Required) => json!({"type": "any"}),
            Some(ToolChoice::Function(name)) => json!({"type": "tool", "name": name}),
        };
        if req.parallel_tool_calls == Some(false) {
            choice["disable_parallel_tool_use"] = json!(true);
        }
        body.insert("tool_choice".into(), choice);
    }
    if let Some(user) = &req.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    for (k, v) in &req.extra {
        if DECIDED.contains(&k.as_str()) {
            continue;
        }
        if PASSTHROUGH.contains(&k.as_str()) {
            body.insert(k.clone(), v.clone());
        } else {
            warnings.push(format!("{k} is not a Messages API parameter and was dropped"));
        }
    }
    crate::providers::drop_unsupported(
        req,
        "Anthropic",
        &["n", "seed", "presence_penalty", "frequency_penalty", "response_format"],
        warnings,
    );
    Ok(body)
}

pub fn build_request(req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
    let mut warnings = Vec::new();
    let mut body = build_body(req, Some(&target.model), &mut warnings)?;
    if stream {
        body.insert("stream".into(), json!(true));
    }
    let mut headers = vec![("content-type", "application/json".to_owned()), ("anthropic-version", super::API_VERSION.to_owned())];
    if let Some(key) = &target.api_key {
        headers.push(("x-api-key", key.clone()));
    }
    let body = serde_json::to_vec(&body).map_err(|e| crate::error::Error::invalid_request(e.to_string()))?;
    Ok(Built {
        http: HttpRequest { url: format!("{}/v1/messages", target.base_url.trim_end_matches('/')), headers, body: body.into() },
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::target;
    use crate::providers::ProviderKind;

    #[test]
    fn translation_of_a_full_request() {
        let req = ChatRequest::from_json(&crate::providers::testing::FULL_REQUEST.to_string()).unwrap();
        let built = build_request(&req, &target(ProviderKind::Anthropic, "claude-sonnet-4-5"), true).unwrap();
        assert_eq!(built.http.url, "http://127.0.0.1:1/v1/messages");
        assert!(built.http.headers.contains(&("anthropic-version", "2023-06-01".to_owned())));
        assert!(built.http.headers.contains(&("x-api-key", "test-key".to_owned())));
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body,
            json!({
                "model": "claude-sonnet-4-5",
                "system": "You are terse.",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is in this image, and what's the weather in Paris?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "thinking", "thinking": "Need weather.", "signature": "sig-1"},
                        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "{\"temp\":21}"}
                    ]}
                ],
                "thinking": {"type": "enabled", "budget_tokens": 2048},
                "max_tokens": 2548,
                "stop_sequences": ["END"],
                "tools": [
                    {"name": "get_weather", "description": "Weather by city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                    {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
                ],
                "tool_choice": {"type": "auto"},
                "stream": true
            })
        );
        assert!(built.warnings.iter().any(|w| w.contains("temperature")), "{:?}", built.warnings);
    }

    #[test]
    fn consecutive_tool_results_share_one_user_turn_and_forced_tools_skip_thinking() {
        let req = ChatRequest::from_json(r#"{"messages":[
            {"role":"user","content":"hi"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"b","type":"function","function":{"name":"g","arguments":""}}]},
            {"role":"tool","tool_call_id":"a","content":"1"},{"role":"tool","tool_call_id":"b","content":"2"}],
            "tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}],
            "tool_choice":{"type":"function","function":{"name":"f"}},"reasoning_effort":"low","parallel_tool_calls":false}"#).unwrap();
        let mut warnings = vec![];
        let body = build_body(&req, None, &mut warnings).unwrap();
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[2]["content"].as_array().unwrap().len(), 2);
        assert_eq!(msgs[1]["content"][1]["input"], json!({}));
        assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true}));
        assert!(body.get("thinking").is_none());
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn legacy_function_call_history_becomes_tool_use_and_tool_result() {
        let mut req = ChatRequest::from_json(
            r#"{"messages":[{"role":"user","content":"time?"},
               {"role":"assistant","content":null,"function_call":{"name":"get_time","arguments":"{}"}},
               {"role":"function","name":"get_time","content":"12:00"}],
               "functions":[{"name":"get_time","parameters":{"type":"object","properties":{}}}]}"#,
        )
        .unwrap();
        req.normalize_legacy_functions().unwrap();
        let body = build_body(&req, Some("claude-sonnet-4-5"), &mut vec![]).unwrap();
        let msgs = body["messages"].as_array().unwrap();
        assert_eq!(msgs[1]["content"][0]["type"], "tool_use");
        assert_eq!(msgs[1]["content"][0]["name"], "get_time");
        assert_eq!(msgs[2]["content"][0]["type"], "tool_result");
        assert_eq!(msgs[2]["content"][0]["tool_use_id"], msgs[1]["content"][0]["id"], "paired");
        assert_eq!(body["tools"][0]["name"], "get_time");
    }

    #[test]
    fn pdf_file_parts_become_documents() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":[{"type":"text","text":"summarise"},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"Q3 report.v2.pdf"}},{"type":"image_url","image_url":{"url":"https://x.example/chart.png"}}]}]}"#).unwrap();
        let body = build_body(&req, Some("claude-sonnet-4-5"), &mut vec![]).unwrap();
        let parts = &body["messages"][0]["content"];
        assert_eq!(
            parts[1],
            json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}})
        );
        assert_eq!(parts[2]["source"], json!({"type": "url", "url": "https://x.example/chart.png"}));
    }

    #[test]
    fn cache_markers_stay_on_images_documents_tool_results_and_messages() {
        let req = ChatRequest::from_json(
            r#"{"messages":[
                {"role":"user","content":[
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="},"cache_control":{"type":"ephemeral"}},
                    {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0="},"cache_control":{"type":"ephemeral","ttl":"1h"}}]},
                {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"42","cache_control":{"type":"ephemeral"}},
                {"role":"user","content":"and now?","cache_control":{"type":"ephemeral"}}]}"#,
        )
        .unwrap();
        let body = build_body(&req, Some("claude-sonnet-4-6"), &mut vec![]).unwrap();
        let m = &body["messages"];
        assert_eq!(m[0]["content"][0]["cache_control"], json!({"type": "ephemeral"}));
        assert_eq!(m[0]["content"][1]["type"], "document");
        assert_eq!(m[0]["content"][1]["cache_control"], json!({"type": "ephemeral", "ttl": "1h"}));
        // The tool result and the user's text merge into one user turn; each keeps its marker.
        assert_eq!(m[2]["content"][0]["type"], "tool_result");
        assert_eq!(m[2]["content"][0]["cache_control"], json!({"type": "ephemeral"}));
        assert_eq!(m[2]["content"][1], json!({"type": "text", "text": "and now?", "cache_control": {"type": "ephemeral"}}));
    }
}
