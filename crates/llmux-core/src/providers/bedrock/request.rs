//! Canonical request -> Bedrock Converse body, URL and signature.
//! Blank text blocks are left out (Bedrock rejects them); consecutive turns of one role are
//! merged; tool results go in a user turn; a history with tool blocks carries a `toolConfig`.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, Content, ContentPart, Message, Role, ToolChoice};
use crate::error::{Error, Result};
use crate::providers::media::{image_format, parse_file, parse_image_url, FilePart, Image};
use crate::providers::tool_ids;
use crate::providers::turns::push_merged;
use crate::providers::{Built, HttpRequest, Target};

const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Percent-encodes a model id or ARN for the URL path (everything but unreserved characters).
pub fn encode_model_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len() + 8);
    crate::transport::percent_encode_into(&mut out, id);
    out
}

fn blocks_of(content: &Content) -> Result<Vec<Value>> {
    match content {
        Content::Text(t) if t.trim().is_empty() => Ok(vec![]),
        Content::Text(t) => Ok(vec![json!({"text": t})]),
        Content::Parts(parts) => {
            let mut out = Vec::new();
            for p in parts {
                match p {
                    ContentPart::Text { text, cache_control } => {
                        if !text.trim().is_empty() {
                            out.push(json!({"text": text}));
                        }
                        push_cache_point(&mut out, cache_control.as_ref());
                    }
                    ContentPart::ImageUrl { image_url, cache_control } => {
                        out.push(image_block(&image_url.url)?);
                        push_cache_point(&mut out, cache_control.as_ref());
                    }
                    ContentPart::File { file, cache_control } => {
                        out.push(document_block(file)?);
                        push_cache_point(&mut out, cache_control.as_ref());
                    }
                    ContentPart::InputAudio { .. } => {
                        return Err(Error::invalid_request("Bedrock Converse: audio parts are not supported"))
                    }
                }
            }
            Ok(out)
        }
    }
}

fn image_block(url: &str) -> Result<Value> {
    match parse_image_url(url)? {
        Image::Inline { media_type, data } => Ok(json!({"image": {"format": image_format(media_type)?, "source": {"bytes": data}}})),
        Image::Url(_) => Err(Error::invalid_request("Bedrock takes images as data URLs (base64), not links")),
    }
}

/// A Converse `cachePoint` after the block a caller marked: the same place Anthropic's
/// `cache_control` names, with its TTL (`{"type": "default", "ttl": "5m" | "1h"}`,
/// https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CachePointBlock.html).
fn push_cache_point(out: &mut Vec<Value>, cache_control: Option<&Value>) {
    let Some(cc) = cache_control else { return };
    let mut point = json!({"type": "default"});
    if let Some(ttl @ ("5m" | "1h")) = cc.get("ttl").and_then(Value::as_str) {
        point["ttl"] = json!(ttl);
    }
    out.push(json!({ "cachePoint": point }));
}

fn document_block(file: &Value) -> Result<Value> {
    // Converse documents: a format, a name, the bytes
    // (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html).
    match parse_file(file)? {
        FilePart::Inline { media_type, data, filename } => {
            let format = match media_type {
                "application/pdf" => "pdf",
                "text/csv" => "csv",
                "text/html" => "html",
                "text/plain" => "txt",
                "text/markdown" => "md",
                "application/msword" => "doc",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
                "application/vnd.ms-excel" => "xls",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
                other => return Err(Error::invalid_request(format!("Bedrock documents cannot be \"{other}\""))),
            };
            // A name of letters, digits, spaces (one at a time), hyphens, parentheses and brackets.
            let name: String = filename
                .unwrap_or("document")
                .rsplit_once('.')
                .map_or(filename.unwrap_or("document"), |(stem, _)| stem)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']') { c } else { ' ' })
                .collect::<String>()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let name = if name.is_empty() { "document".to_owned() } else { name };
            Ok(json!({"document": {"format": format, "name": name, "source": {"bytes": data}}}))
        }
        _ => Err(Error::invalid_request("Bedrock takes documents as file_data (base64), not links or file ids")),
    }
}

/// Whether a model takes images inside a tool result: "only supported by Amazon Nova and
/// Anthropic Claude 3 and 4 models" (API_runtime_ToolResultContentBlock). Others get them
/// beside the result, in the same turn.
fn takes_tool_result_images(model: &str) -> bool {
    is_claude(model) || model.contains("amazon.nova")
}

/// A tool message as a Converse `toolResult` (text, a JSON object, images, documents), and
/// the blocks that must travel beside it.
fn tool_result(m: &Message, model: &str) -> Result<(Value, Vec<Value>)> {
    let id = tool_ids::portable(m.tool_call_id.as_deref().unwrap_or_default()).into_owned();
    let mut content = Vec::new();
    let mut beside = Vec::new();
    let mut text = String::new();
    match &m.content {
        Some(Content::Parts(parts)) => {
            for p in parts {
                match p {
                    ContentPart::Text { text: t, .. } => text.push_str(t),
                    ContentPart::ImageUrl { image_url, .. } => {
                        let b = image_block(&image_url.url)?;
                        if takes_tool_result_images(model) {
                            content.push(b)
                        } else {
                            beside.push(b)
                        }
                    }
                    ContentPart::File { file, .. } => content.push(document_block(file)?),
                    ContentPart::InputAudio { .. } => {
                        return Err(Error::invalid_request("Bedrock Converse: audio parts are not supported"))
                    }
                }
            }
        }
        Some(c) => text = c.text().into_owned(),
        None => {}
    }
    let first = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => Some(json!({ "json": v })),
        _ if text.is_empty() && !content.is_empty() => None,
        // A tool result needs some content; an empty answer is a blank text.
        _ => Some(json!({"text": if text.is_empty() { " ".to_owned() } else { text }})),
    };
    content.splice(0..0, first);
    Ok((json!({"toolResult": {"toolUseId": id, "content": content, "status": "success"}}), beside))
}

fn assistant_blocks(m: &Message, used_tools: &mut BTreeSet<String>) -> Result<Vec<Value>> {
    let mut blocks = Vec::new();
    if let Some(Value::Array(tb)) = &m.thinking_blocks {
        for b in tb {
            match b.get("type").and_then(Value::as_str) {
                Some("thinking") => blocks.push(json!({"reasoningContent": {"reasoningText": {
                    "text": b.get("thinking").cloned().unwrap_or(Value::Null),
                    "signature": b.get("signature").cloned().unwrap_or(Value::Null)}}})),
                Some("redacted_thinking") => {
                    blocks.push(json!({"reasoningContent": {"redactedContent": b.get("data").cloned().unwrap_or(Value::Null)}}))
                }
                _ => {}
            }
        }
    }
    if let Some(c) = &m.content {
        blocks.extend(blocks_of(c)?);
    }
    for t in m.tool_calls.iter().flatten() {
        let input = serde_json::from_str::<Value>(&t.function.arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}));
        used_tools.insert(t.function.name.clone());
        blocks.push(json!({"toolUse": {"toolUseId": tool_ids::portable(&t.id), "name": t.function.name, "input": input}}));
    }
    Ok(blocks)
}

pub(crate) fn is_claude(model: &str) -> bool {
    model.contains("anthropic") || model.contains("claude")
}

pub fn build_body(req: &ChatRequest, model: &str, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let mut system = Vec::new();
    let mut messages = Vec::new();
    let mut used_tools = BTreeSet::new();
    for m in &req.messages {
        match m.role {
            Role::System | Role::Developer => {
                if let Some(c) = &m.content {
                    system.extend(blocks_of(c)?);
                    push_cache_point(&mut system, m.cache_control.as_ref());
                }
            }
            Role::User => {
                let mut blocks = m.content.as_ref().map(blocks_of).transpose()?.unwrap_or_default();
                push_cache_point(&mut blocks, m.cache_control.as_ref());
                push_merged(&mut messages, "user", "content", blocks)
            }
            Role::Assistant => {
                let mut blocks = assistant_blocks(m, &mut used_tools)?;
                push_cache_point(&mut blocks, m.cache_control.as_ref());
                push_merged(&mut messages, "assistant", "content", blocks)
            }
            Role::Tool | Role::Function => {
                let (result, beside) = tool_result(m, model)?;
                let mut blocks = vec![result];
                blocks.extend(beside);
                push_cache_point(&mut blocks, m.cache_control.as_ref());
                push_merged(&mut messages, "user", "content", blocks);
            }
        }
    }
    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if is_claude(model) {
        let claude = crate::providers::claude::settings(req, model, DEFAULT_MAX_TOKENS, warnings);
        // Claude's own fields go in additionalModelRequestFields, as Bedrock's Converse API
        // wants them (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html).
        let mut extra = Map::new();
        if let Some(t) = claude.thinking {
            extra.insert("thinking".into(), t);
        }
        if let Some(o) = claude.output_config {
            extra.insert("output_config".into(), o);
        }
        if claude.keep_top_k {
            if let Some(k) = req.extra.get("top_k") {
                extra.insert("top_k".into(), k.clone());
            }
        }
        if !extra.is_empty() {
            body.insert("additionalModelRequestFields".into(), Value::Object(extra));
        }
        inference.insert("maxTokens".into(), json!(claude.max_tokens));
        if let Some(t) = claude.temperature {
            inference.insert("temperature".into(), json!(t));
        }
        if let Some(p) = claude.top_p {
            inference.insert("topP".into(), json!(p));
        }
    } else {
        if req.reasoning_effort.is_some() {
            warnings.push(format!("reasoning_effort is only mapped for Claude on Bedrock; ignored for {model}"));
        }
        inference.insert("maxTokens".into(), json!(req.max_completion_tokens.or(req.max_tokens).unwrap_or(DEFAULT_MAX_TOKENS)));
        if let Some(t) = req.temperature {
            inference.insert("temperature".into(), json!(t));
        }
        if let Some(p) = req.top_p {
            inference.insert("topP".into(), json!(p));
        }
    }
    if let Some(s) = &req.stop {
        inference.insert("stopSequences".into(), json!(s.0));
    }
    body.insert("inferenceConfig".into(), Value::Object(inference));
    let declared: Vec<Value> = req
        .tools
        .iter()
        .flatten()
        .map(|t| {
            let mut spec = json!({
                "name": t.function.name,
                "inputSchema": {"json": t.function.parameters.clone().unwrap_or_else(|| json!({"type": "object", "properties": {}}))},
            });
            if let Some(d) = &t.function.description {
                spec["description"] = json!(d);
            }
            json!({"toolSpec": spec})
        })
        .collect();
    let has_tool_history = req.messages.iter().any(|m| m.role == Role::Tool || m.tool_calls.as_ref().is_some_and(|t| !t.is_empty()));
    if !declared.is_empty() && req.tool_choice != Some(ToolChoice::None) {
        let mut config = json!({"tools": declared});
        match &req.tool_choice {
            Some(ToolChoice::Required) => config["toolChoice"] = json!({"any": {}}),
            Some(ToolChoice::Function(n)) => config["toolChoice"] = json!({"tool": {"name": n}}),
            _ => config["toolChoice"] = json!({"auto": {}}),
        }
        body.insert("toolConfig".into(), config);
    } else if has_tool_history {
        // Bedrock refuses tool blocks in the history without a toolConfig: declare the tools
        // the history used (or were declared) with a permissive schema.
        let tools: Vec<Value> = if declared.is_empty() {
            used_tools
                .iter()
                .map(|n| json!({"toolSpec": {"name": n, "inputSchema": {"json": {"type": "object", "properties": {}}}}}))
                .collect()
        } else {
            declared
        };
        if !tools.is_empty() {
            body.insert("toolConfig".into(), json!({"tools": tools}));
        }
    }
    // Converse has no place for these (ConverseRequest: inferenceConfig holds maxTokens,
    // temperature, topP, stopSequences only); a json_schema format was made a forced tool before.
    crate::providers::drop_unsupported(
        req,
        "Bedrock Converse",
        &["n", "seed", "presence_penalty", "frequency_penalty", "user", "parallel_tool_calls", "response_format"],
        warnings,
    );
    for k in req.extra.keys() {
        // Claude's own fields were placed above.
        if is_claude(model) && matches!(k.as_str(), "thinking" | "output_config" | "top_k") {
            continue;
        }
        warnings.push(format!("{k} is not a Converse parameter and was dropped"));
    }
    Ok(body)
}

pub fn build_request(req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
    use crate::providers::Provider;
    let mut warnings = Vec::new();
    // A forced choice the model does not take is a 400 ("This model doesn't support the
    // toolConfig.toolChoice.any field"): it is asked as `auto`, said aloud.
    let relaxed;
    let req = match &req.tool_choice {
        Some(c @ (ToolChoice::Required | ToolChoice::Function(_))) if !super::Bedrock.capabilities(target).forced_tool_choice => {
            warnings.push(format!(
                "tool_choice {} is not supported by {} on Bedrock and was sent as auto",
                if matches!(c, ToolChoice::Required) { "\"required\"".to_owned() } else { "naming a function".to_owned() },
                target.model
            ));
            let mut r = req.clone();
            r.tool_choice = Some(ToolChoice::Auto);
            relaxed = r;
            &relaxed
        }
        _ => req,
    };
    let body = build_body(req, &target.model, &mut warnings)?;
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_request(e.to_string()))?;
    let op = if stream { "converse-stream" } else { "converse" };
    let url = format!("{}/model/{}/{}", target.base_url.trim_end_matches('/'), encode_model_id(&target.model), op);
    let headers = auth_headers(&url, &body, target)?;
    Ok(Built { http: HttpRequest { url, headers, body: body.into() }, warnings })
}

/// The headers of a Bedrock runtime request: SigV4 over the URL and body, or a Bedrock API key.
pub fn auth_headers(url: &str, body: &[u8], target: &Target) -> Result<Vec<(&'static str, String)>> {
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(creds) = &target.aws {
        let region = target.region.as_deref().unwrap_or("us-east-1");
        for (k, v) in super::sign::sigv4_headers(url, body, "application/json", creds, region, SystemTime::now())? {
            let name = match k.as_str() {
                "authorization" => "authorization",
                "x-amz-date" => "x-amz-date",
                "x-amz-security-token" => "x-amz-security-token",
                "x-amz-content-sha256" => "x-amz-content-sha256",
                _ => continue,
            };
            headers.push((name, v));
        }
    } else if let Some(key) = &target.api_key {
        headers.push(("authorization", format!("Bearer {key}")));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{target, FULL_REQUEST};
    use crate::providers::ProviderKind;

    #[test]
    fn translation_of_a_full_request() {
        let req = ChatRequest::from_json(&FULL_REQUEST.to_string()).unwrap();
        let t = target(ProviderKind::Bedrock, "us.anthropic.claude-3-7-sonnet-20250219-v1:0");
        let built = build_request(&req, &t, true).unwrap();
        assert_eq!(built.http.url, "http://127.0.0.1:1/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream");
        let names: Vec<&str> = built.http.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["content-type", "x-amz-date", "authorization", "x-amz-security-token"]);
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body,
            json!({
                "messages": [
                    {"role": "user", "content": [
                        {"text": "What is in this image, and what's the weather in Paris?"},
                        {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}}
                    ]},
                    {"role": "assistant", "content": [
                        {"reasoningContent": {"reasoningText": {"text": "Need weather.", "signature": "sig-1"}}},
                        {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}
                    ]},
                    {"role": "user", "content": [
                        {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp": 21}}], "status": "success"}}
                    ]}
                ],
                "system": [{"text": "You are terse."}],
                "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
                "inferenceConfig": {"maxTokens": 2548, "stopSequences": ["END"]},
                "toolConfig": {"tools": [
                    {"toolSpec": {"name": "get_weather", "description": "Weather by city",
                      "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}},
                    {"toolSpec": {"name": "get_time", "inputSchema": {"json": {"type": "object", "properties": {}}}}}
                ], "toolChoice": {"auto": {}}}
            })
        );
    }

    #[test]
    fn tool_history_without_tools_still_gets_a_tool_config_and_blank_text_is_dropped() {
        let req = ChatRequest::from_json(
            r#"{"messages":[{"role":"user","content":"  "},{"role":"user","content":"hi"},
            {"role":"assistant","content":"","tool_calls":[{"id":"t1","type":"function","function":{"name":"lookup","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"t1","content":"42"}]}"#,
        )
        .unwrap();
        let body = build_body(&req, "amazon.nova-pro-v1:0", &mut vec![]).unwrap();
        assert_eq!(body["messages"][0]["content"], json!([{"text": "hi"}]));
        assert_eq!(body["toolConfig"]["tools"][0]["toolSpec"]["name"], "lookup");
        assert_eq!(body["messages"][2]["content"][0]["toolResult"]["content"], json!([{"text": "42"}]));
        assert_eq!(
            encode_model_id("arn:aws:bedrock:us-east-1:1:inference-profile/x"),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx"
        );
    }

    #[test]
    fn pdf_file_parts_become_converse_documents_with_a_valid_name() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":[{"type":"text","text":"summarise"},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"Q3 report.v2.pdf"}}]}]}"#).unwrap();
        let body = build_body(&req, "anthropic.claude-sonnet-4-5", &mut vec![]).unwrap();
        assert_eq!(
            body["messages"][0]["content"][1],
            json!({"document": {"format": "pdf", "name": "Q3 report v2", "source": {"bytes": "JVBERi0="}}})
        );
    }

    fn body_of(json: &str, model: &str) -> (Value, Vec<String>) {
        let req = ChatRequest::from_json(json).unwrap();
        let built = build_request(&req, &target(ProviderKind::Bedrock, model), false).unwrap();
        (serde_json::from_slice(&built.http.body).unwrap(), built.warnings)
    }

    #[test]
    fn a_forced_tool_choice_goes_only_to_models_that_take_it() {
        let req = r#"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"}"#;
        // Llama 4 on Bedrock refuses toolChoice any/tool (the model map: supports_tool_choice false).
        let (body, warnings) = body_of(req, "us.meta.llama4-maverick-17b-instruct-v1:0");
        assert_eq!(body["toolConfig"]["toolChoice"], json!({"auto": {}}));
        assert!(warnings.iter().any(|w| w.contains("tool_choice")), "{warnings:?}");
        // Nova and Claude take it.
        for m in ["amazon.nova-pro-v1:0", "us.anthropic.claude-sonnet-4-6"] {
            let (body, warnings) = body_of(req, m);
            assert_eq!(body["toolConfig"]["toolChoice"], json!({"any": {}}), "{m}");
            assert!(warnings.iter().all(|w| !w.contains("tool_choice")), "{m}: {warnings:?}");
        }
    }

    #[test]
    fn cache_points_follow_every_marked_block_with_their_ttl() {
        let (body, _) = body_of(
            r#"{"messages":[
                {"role":"system","content":"rules","cache_control":{"type":"ephemeral","ttl":"1h"}},
                {"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="},"cache_control":{"type":"ephemeral"}},{"type":"text","text":"what?"}]},
                {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"42","cache_control":{"type":"ephemeral"}}]}"#,
            "us.anthropic.claude-sonnet-4-6",
        );
        assert_eq!(body["system"], json!([{"text": "rules"}, {"cachePoint": {"type": "default", "ttl": "1h"}}]));
        assert_eq!(body["messages"][0]["content"][1], json!({"cachePoint": {"type": "default"}}));
        let last = body["messages"][2]["content"].as_array().unwrap();
        assert_eq!(last[0]["toolResult"]["content"], json!([{"text": "42"}]));
        assert_eq!(last[1], json!({"cachePoint": {"type": "default"}}));
    }

    #[test]
    fn tool_results_keep_their_images() {
        let req = r#"{"messages":[{"role":"user","content":"look"},
            {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"snap","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"here"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}]}"#;
        let image = json!({"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}});
        // Claude and Nova take images inside a tool result (ToolResultContentBlock.image).
        let (body, _) = body_of(req, "us.anthropic.claude-sonnet-4-6");
        assert_eq!(body["messages"][2]["content"][0]["toolResult"]["content"], json!([{"text": "here"}, image.clone()]));
        // Others see it beside the result, in the same turn.
        let (body, _) = body_of(req, "us.meta.llama4-maverick-17b-instruct-v1:0");
        assert_eq!(body["messages"][2]["content"][0]["toolResult"]["content"], json!([{"text": "here"}]));
        assert_eq!(body["messages"][2]["content"][1], image);
    }
}
