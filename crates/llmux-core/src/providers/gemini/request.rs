//! Canonical request -> Gemini `generateContent` body. Roles become user/model, system messages
//! `systemInstruction`, tool results `functionResponse` parts (named after the call they answer),
//! and `reasoning_effort` a `thinkingConfig` budget with thoughts included. Schemas go as full
//! JSON Schema (`parametersJsonSchema`, `responseJsonSchema`): Gemini's own `Schema` subset
//! rejects `$ref`, `$defs`, `const`, `additionalProperties`, type arrays..., which callers'
//! schemas (Pydantic, Zod) are full of.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::chat::{ChatRequest, Content, ContentPart, Role, ToolChoice};
use crate::error::{Error, Result};
use crate::providers::media::{media_type_from_url, parse_file, parse_image_url, FilePart, Image};
use crate::providers::reasoning::effort_budget;
use crate::providers::turns::push_merged;
use crate::providers::{Built, HttpRequest, ProviderKind, Target};

/// Gemini function calls have no ids; ours carry the call's thought signature after this
/// separator, so a caller that echoes the id back returns the signature Gemini requires.
pub const THOUGHT_SEPARATOR: &str = "__thought__";

fn parts_of(content: &Content) -> Result<Vec<Value>> {
    match content {
        Content::Text(t) if t.is_empty() => Ok(vec![]),
        Content::Text(t) => Ok(vec![json!({"text": t})]),
        Content::Parts(parts) => parts
            .iter()
            .filter(|p| !matches!(p, ContentPart::Text { text, .. } if text.is_empty()))
            .map(|p| match p {
                ContentPart::Text { text, .. } => Ok(json!({"text": text})),
                ContentPart::ImageUrl { image_url, .. } => Ok(match parse_image_url(&image_url.url)? {
                    Image::Inline { media_type, data } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
                    // fileData needs its mimeType (googleapis/js-genai `FileData`).
                    Image::Url(url) => json!({"fileData": {"fileUri": url, "mimeType": media_type_from_url(url).unwrap_or("image/jpeg")}}),
                }),
                ContentPart::InputAudio { input_audio } => Ok(json!({"inlineData": {
                    "mimeType": format!("audio/{}", input_audio.get("format").and_then(Value::as_str).unwrap_or("wav")),
                    "data": input_audio.get("data").cloned().unwrap_or(Value::Null)}})),
                ContentPart::File { file, .. } => Ok(match parse_file(file)? {
                    FilePart::Inline { media_type, data, .. } => json!({"inlineData": {"mimeType": media_type, "data": data}}),
                    FilePart::Link { url, media_type } => {
                        json!({"fileData": {"fileUri": url, "mimeType": media_type.unwrap_or("application/pdf")}})
                    }
                    FilePart::Id(id) => json!({"fileData": {"fileUri": id, "mimeType": "application/pdf"}}),
                }),
            })
            .collect(),
    }
}

/// A tool result's text, its inline images and files (as `FunctionResponsePart`s,
/// `{"inlineData": {"mimeType", "data"}}`), and its linked ones (as `fileData` parts: inside a
/// function response only Vertex takes links, so they always travel beside it).
fn tool_result_parts(content: Option<&Content>) -> Result<(String, Vec<Value>, Vec<Value>)> {
    let Some(Content::Parts(parts)) = content else {
        return Ok((content.map(|c| c.text().into_owned()).unwrap_or_default(), Vec::new(), Vec::new()));
    };
    let mut text = String::new();
    let mut inline = Vec::new();
    let mut linked = Vec::new();
    for p in parts {
        match p {
            ContentPart::Text { text: t, .. } => text.push_str(t),
            ContentPart::ImageUrl { image_url, .. } => match parse_image_url(&image_url.url)? {
                Image::Inline { media_type, data } => inline.push(json!({"inlineData": {"mimeType": media_type, "data": data}})),
                Image::Url(url) => {
                    linked.push(json!({"fileData": {"fileUri": url, "mimeType": media_type_from_url(url).unwrap_or("image/jpeg")}}))
                }
            },
            ContentPart::File { file, .. } => match parse_file(file)? {
                FilePart::Inline { media_type, data, .. } => inline.push(json!({"inlineData": {"mimeType": media_type, "data": data}})),
                FilePart::Link { url, media_type } => {
                    linked.push(json!({"fileData": {"fileUri": url, "mimeType": media_type.unwrap_or("application/pdf")}}))
                }
                FilePart::Id(id) => linked.push(json!({"fileData": {"fileUri": id, "mimeType": "application/pdf"}})),
            },
            ContentPart::InputAudio { input_audio } => inline.push(json!({"inlineData": {
                "mimeType": format!("audio/{}", input_audio.get("format").and_then(Value::as_str).unwrap_or("wav")),
                "data": input_audio.get("data").cloned().unwrap_or(Value::Null)}})),
        }
    }
    Ok((text, inline, linked))
}

/// Multimodal function responses came with Gemini 3 (vercel/ai packages/google
/// `supportsFunctionResponseParts`: any gemini model past 1.x and 2.x).
fn takes_function_response_parts(model: &str) -> bool {
    takes_thinking_level(model)
}

/// Gemini 3 and later take a thinking *level*; 2.x takes a token budget, and the two together
/// are a 400 (googleapis/js-genai `ThinkingConfig`, `ThinkingLevel`: MINIMAL | LOW | MEDIUM |
/// HIGH; LiteLLM counts every model past gemini-1.x/2.x as level-based).
fn takes_thinking_level(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    match m.strip_prefix("gemini-") {
        Some(rest) => !(rest.starts_with("1.") || rest.starts_with("2.") || rest.starts_with("1-") || rest.starts_with("2-")),
        None => false,
    }
}

/// `reasoning_effort` -> `thinkingConfig` for the model, or `None` to send none.
fn thinking_config(model: &str, effort: &str, warnings: &mut Vec<String>) -> Option<Value> {
    if takes_thinking_level(model) {
        let flash = model.contains("flash");
        let level = match effort {
            // Thinking cannot be turned off on Gemini 3: the least there is, thoughts hidden.
            "none" => return Some(json!({"thinkingLevel": if flash { "MINIMAL" } else { "LOW" }, "includeThoughts": false})),
            "minimal" if flash => "MINIMAL",
            "minimal" | "low" => "LOW",
            "medium" => "MEDIUM",
            "high" => "HIGH",
            "xhigh" | "max" => {
                warnings.push(format!("reasoning_effort \"{effort}\" is sent as HIGH, Gemini's highest thinking level"));
                "HIGH"
            }
            other => {
                warnings.push(format!("reasoning_effort \"{other}\" is not a level Gemini knows and was dropped"));
                return None;
            }
        };
        return Some(json!({"thinkingLevel": level, "includeThoughts": true}));
    }
    let budget = match effort {
        "none" => return Some(json!({"thinkingBudget": 0})),
        "minimal" => 512,
        "xhigh" => 8192,
        "max" => 16384,
        e => match effort_budget(e) {
            Some(b) => b,
            None => {
                warnings.push(format!("reasoning_effort \"{e}\" is not a level Gemini knows and was dropped"));
                return None;
            }
        },
    };
    Some(json!({"thinkingBudget": budget, "includeThoughts": true}))
}

pub fn build_body_for(req: &ChatRequest, model: &str, warnings: &mut Vec<String>) -> Result<Map<String, Value>> {
    let mut system = Vec::new();
    let mut contents = Vec::new();
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for m in &req.messages {
        match m.role {
            Role::System | Role::Developer => {
                if let Some(c) = &m.content {
                    system.extend(parts_of(c)?);
                }
            }
            Role::User => push_merged(&mut contents, "user", "parts", m.content.as_ref().map(parts_of).transpose()?.unwrap_or_default()),
            Role::Assistant => {
                let mut parts = m.content.as_ref().map(parts_of).transpose()?.unwrap_or_default();
                for t in m.tool_calls.iter().flatten() {
                    call_names.insert(&t.id, &t.function.name);
                    let args =
                        serde_json::from_str::<Value>(&t.function.arguments).ok().filter(Value::is_object).unwrap_or_else(|| json!({}));
                    let mut part = json!({"functionCall": {"name": t.function.name, "args": args}});
                    if let Some((_, sig)) = t.id.split_once(THOUGHT_SEPARATOR) {
                        part["thoughtSignature"] = json!(sig);
                    }
                    parts.push(part);
                }
                push_merged(&mut contents, "model", "parts", parts);
            }
            Role::Tool | Role::Function => {
                let id = m.tool_call_id.as_deref().unwrap_or("");
                let name = call_names
                    .get(id)
                    .copied()
                    .or(m.name.as_deref())
                    .ok_or_else(|| Error::invalid_request(format!("tool message for \"{id}\" answers no earlier tool call")))?;
                let (text, inline, linked) = tool_result_parts(m.content.as_ref())?;
                // `response` must be an object: a JSON object answer is used as is, anything else wrapped.
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => json!({"content": text}),
                };
                let mut fr = json!({"name": name, "response": response});
                let mut parts = Vec::with_capacity(1 + inline.len() + linked.len());
                if !inline.is_empty() && takes_function_response_parts(model) {
                    // Gemini 3 takes images and files inside the response (`FunctionResponse.parts`).
                    fr["parts"] = Value::Array(inline);
                    parts.push(json!({ "functionResponse": fr }));
                } else {
                    // Earlier models take none there: the media follow the response in the
                    // same turn, where the model still sees them.
                    parts.push(json!({ "functionResponse": fr }));
                    parts.extend(inline);
                }
                parts.extend(linked);
                push_merged(&mut contents, "user", "parts", parts);
            }
        }
    }
    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(contents));
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    if let Some(tools) = req.tools.as_ref().filter(|t| !t.is_empty()) {
        let decls: Vec<Value> = tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.function.name});
                if let Some(desc) = &t.function.description {
                    d["description"] = json!(desc);
                }
                // googleapis/js-genai `FunctionDeclaration.parametersJsonSchema`: "Describes the
                // parameters to the function in JSON Schema format", exclusive with `parameters`.
                if let Some(p) = &t.function.parameters {
                    d["parametersJsonSchema"] = p.clone();
                }
                d
            })
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
        let config = match &req.tool_choice {
            None | Some(ToolChoice::Auto) => None,
            Some(ToolChoice::None) => Some(json!({"mode": "NONE"})),
            Some(ToolChoice::Required) => Some(json!({"mode": "ANY"})),
            Some(ToolChoice::Function(n)) => Some(json!({"mode": "ANY", "allowedFunctionNames": [n]})),
        };
        if let Some(c) = config {
            body.insert("toolConfig".into(), json!({"functionCallingConfig": c}));
        }
    }
    let mut gen = Map::new();
    if let Some(m) = req.max_completion_tokens.or(req.max_tokens) {
        gen.insert("maxOutputTokens".into(), json!(m));
    }
    if let Some(t) = req.temperature {
        gen.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        gen.insert("topP".into(), json!(p));
    }
    if let Some(s) = &req.stop {
        gen.insert("stopSequences".into(), json!(s.0));
    }
    if let Some(seed) = req.seed {
        gen.insert("seed".into(), json!(seed));
    }
    // GenerationConfig.presencePenalty / frequencyPenalty (googleapis/js-genai types.ts).
    if let Some(p) = req.presence_penalty {
        gen.insert("presencePenalty".into(), json!(p));
    }
    if let Some(p) = req.frequency_penalty {
        gen.insert("frequencyPenalty".into(), json!(p));
    }
    crate::providers::drop_unsupported(req, "Gemini", &["user", "parallel_tool_calls"], warnings);
    if let Some(n) = req.n {
        gen.insert("candidateCount".into(), json!(n));
    }
    if let Some(rf) = &req.response_format {
        match rf.get("type").and_then(Value::as_str) {
            Some("json_object") => {
                gen.insert("responseMimeType".into(), json!("application/json"));
            }
            Some("json_schema") => {
                gen.insert("responseMimeType".into(), json!("application/json"));
                // `responseJsonSchema`: "If set, `response_schema` must be omitted, but
                // `response_mime_type` is required" (js-genai `GenerateContentConfig`).
                if let Some(schema) = rf.get("json_schema").and_then(|j| j.get("schema")) {
                    gen.insert("responseJsonSchema".into(), schema.clone());
                }
            }
            _ => {}
        }
    }
    if let Some(tc) = req.reasoning_effort.as_deref().and_then(|e| thinking_config(model, e, warnings)) {
        gen.insert("thinkingConfig".into(), tc);
    }
    if !gen.is_empty() {
        body.insert("generationConfig".into(), Value::Object(gen));
    }
    for k in req.extra.keys() {
        warnings.push(format!("{k} is not a Gemini parameter and was dropped"));
    }
    if req.messages.iter().any(crate::providers::openai::has_cache_marks) || req.tools.iter().flatten().any(|t| t.cache_control.is_some()) {
        // Gemini caches implicitly, or through a cachedContents resource made beforehand.
        warnings.push("cache_control markers were dropped: Gemini has no per-block cache markers".into());
    }
    Ok(body)
}

pub fn build_request(req: &ChatRequest, target: &Target, stream: bool) -> Result<Built> {
    let mut warnings = Vec::new();
    let body = build_body_for(req, &target.model, &mut warnings)?;
    let method = if stream { "streamGenerateContent?alt=sse" } else { "generateContent" };
    let url = format!("{}/{}:{}", target.base_url.trim_end_matches('/'), target.model, method);
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(key) = &target.api_key {
        match target.provider {
            ProviderKind::Vertex => headers.push(("authorization", format!("Bearer {key}"))),
            _ => headers.push(("x-goog-api-key", key.clone())),
        }
    }
    let body = serde_json::to_vec(&body).map_err(|e| Error::invalid_request(e.to_string()))?;
    Ok(Built { http: HttpRequest { url, headers, body: body.into() }, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testing::{target, FULL_REQUEST};

    #[test]
    fn translation_of_a_full_request() {
        let req = ChatRequest::from_json(&FULL_REQUEST.to_string()).unwrap();
        let mut t = target(ProviderKind::Gemini, "gemini-2.5-flash");
        t.base_url = "http://127.0.0.1:1/v1beta/models".into();
        let built = build_request(&req, &t, true).unwrap();
        assert_eq!(built.http.url, "http://127.0.0.1:1/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
        assert!(built.http.headers.contains(&("x-goog-api-key", "test-key".to_owned())));
        let body: Value = serde_json::from_slice(&built.http.body).unwrap();
        assert_eq!(
            body,
            json!({
                "contents": [
                    {"role": "user", "parts": [
                        {"text": "What is in this image, and what's the weather in Paris?"},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
                    ]},
                    {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 21}}}]}
                ],
                "systemInstruction": {"parts": [{"text": "You are terse."}]},
                "tools": [{"functionDeclarations": [
                    {"name": "get_weather", "description": "Weather by city",
                     "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                    {"name": "get_time"}
                ]}],
                "generationConfig": {
                    "maxOutputTokens": 500, "temperature": 0.5, "stopSequences": ["END"],
                    "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true}
                }
            })
        );
        t.provider = ProviderKind::Vertex;
        let built = build_request(&req, &t, false).unwrap();
        assert!(built.http.url.ends_with("/gemini-2.5-flash:generateContent"));
        assert!(built.http.headers.contains(&("authorization", "Bearer test-key".to_owned())));
    }

    #[test]
    fn thought_signatures_ride_in_tool_call_ids_and_schemas_go_as_json_schema() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":"x"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1__thought__SIG","type":"function","function":{"name":"f","arguments":"{}"}}]},
            {"role":"tool","tool_call_id":"call_1__thought__SIG","content":"plain text"}],
            "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","additionalProperties":false,
              "properties":{"additionalProperties":{"type":"string","additionalProperties":false}}}}}],
            "tool_choice":"required"}"#).unwrap();
        let body = build_body_for(&req, "", &mut vec![]).unwrap();
        assert_eq!(body["contents"][1]["parts"][0]["thoughtSignature"], "SIG");
        assert_eq!(body["contents"][2]["parts"][0]["functionResponse"]["response"], json!({"content": "plain text"}));
        // Full JSON Schema, as the caller wrote it: `parametersJsonSchema` takes what `parameters`
        // (Gemini's Schema subset) refuses.
        assert_eq!(
            body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"],
            json!({"type": "object", "additionalProperties": false,
                   "properties": {"additionalProperties": {"type": "string", "additionalProperties": false}}})
        );
        assert!(body["tools"][0]["functionDeclarations"][0].get("parameters").is_none(), "the two are exclusive");
        assert_eq!(body["toolConfig"], json!({"functionCallingConfig": {"mode": "ANY"}}));
    }

    #[test]
    fn gemini_3_takes_a_thinking_level_and_2_5_a_budget() {
        let r = |e: &str| {
            ChatRequest::from_json(&format!(r#"{{"messages":[{{"role":"user","content":"x"}}],"reasoning_effort":"{e}"}}"#)).unwrap()
        };
        let tc = |model: &str, e: &str| build_body_for(&r(e), model, &mut vec![]).unwrap()["generationConfig"]["thinkingConfig"].clone();
        assert_eq!(tc("gemini-3-pro-preview", "high"), json!({"thinkingLevel": "HIGH", "includeThoughts": true}));
        assert_eq!(tc("gemini-3-flash", "minimal"), json!({"thinkingLevel": "MINIMAL", "includeThoughts": true}));
        assert_eq!(tc("gemini-3-pro-preview", "none"), json!({"thinkingLevel": "LOW", "includeThoughts": false}));
        assert_eq!(tc("gemini-2.5-pro", "medium"), json!({"thinkingBudget": 2048, "includeThoughts": true}));
        assert_eq!(tc("gemini-2.5-flash", "none"), json!({"thinkingBudget": 0}));
        assert!(tc("gemini-3-pro-preview", "high").get("thinkingBudget").is_none(), "never both: a 400");
    }

    #[test]
    fn files_and_image_links_carry_their_mime_type() {
        let req = ChatRequest::from_json(r#"{"messages":[{"role":"user","content":[{"type":"text","text":"summarise"},{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"Q3 report.v2.pdf"}},{"type":"image_url","image_url":{"url":"https://x.example/chart.png"}}]}]}"#).unwrap();
        let body = build_body_for(&req, "gemini-2.5-pro", &mut vec![]).unwrap();
        let parts = &body["contents"][0]["parts"];
        assert_eq!(parts[1], json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}}));
        assert_eq!(parts[2], json!({"fileData": {"fileUri": "https://x.example/chart.png", "mimeType": "image/png"}}));
    }

    #[test]
    fn response_schemas_go_whole_with_their_mime_type() {
        let req = ChatRequest::from_json(r##"{"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{"name":"p","schema":
            {"$defs":{"Pet":{"type":"object","properties":{"kind":{"const":"cat"}}}},"type":"object","properties":{"pet":{"$ref":"#/$defs/Pet"},"age":{"type":["integer","null"]}},"required":["pet","age"]}}}}"##).unwrap();
        let body = build_body_for(&req, "gemini-2.5-pro", &mut vec![]).unwrap();
        let g = &body["generationConfig"];
        assert_eq!(g["responseMimeType"], "application/json");
        assert_eq!(g["responseJsonSchema"]["properties"]["pet"]["$ref"], "#/$defs/Pet");
        assert!(g.get("responseSchema").is_none(), "exclusive with responseJsonSchema");
    }

    #[test]
    fn tool_results_keep_their_images() {
        let req = |model: &str| {
            let r = ChatRequest::from_json(
                r#"{"messages":[{"role":"user","content":"look"},
                {"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"snap","arguments":"{}"}}]},
                {"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"here"},
                    {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
                    {"type":"image_url","image_url":{"url":"https://x.example/a.jpg"}}]}]}"#,
            )
            .unwrap();
            build_body_for(&r, model, &mut vec![]).unwrap()["contents"][2]["parts"].clone()
        };
        // Gemini 3: inside the function response (FunctionResponse.parts); the link beside it.
        assert_eq!(
            req("gemini-3-pro-preview"),
            json!([{"functionResponse": {"name": "snap", "response": {"content": "here"},
                                         "parts": [{"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}]}},
                   {"fileData": {"fileUri": "https://x.example/a.jpg", "mimeType": "image/jpeg"}}])
        );
        // Gemini 2.5 takes no parts there: the image follows the response in the same turn.
        assert_eq!(
            req("gemini-2.5-flash"),
            json!([{"functionResponse": {"name": "snap", "response": {"content": "here"}}},
                   {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                   {"fileData": {"fileUri": "https://x.example/a.jpg", "mimeType": "image/jpeg"}}])
        );
    }
}
