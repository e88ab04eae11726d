//! Structured output: asking a provider for a JSON object that matches a schema by the strongest
//! means it has, checking the answer with a JSON Schema validator, and amplify's
//! `promptForData` (one retry with the validation error, then extraction from the text).
//!
//! Strategies: OpenAI / Azure models that support it get `response_format: json_schema`
//! (strict when the schema allows it); Gemini gets `responseSchema`; Anthropic, Bedrock, older
//! OpenAI models and the mock get one forced tool whose arguments are the object.

use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::call::{self, Call, Outcome};
use crate::chat::{ChatCompletion, ChatRequest, FinishReason, FunctionDef, Message, Role, Tool, ToolChoice, Usage};
use crate::error::{Error, ErrorKind, Result};
use crate::providers::{ProviderKind, Target};

/// The tool (or schema) name used when llmux asks for structured output itself.
pub const TOOL_NAME: &str = "structured_response";

/// A structured-output request attached to a call.
#[derive(Debug, Clone)]
pub struct Structured {
    pub schema: Value,
    pub name: String,
    /// The object arrives as a forced tool call's arguments, not as the message content.
    pub via_tool: bool,
}

/// Compiles a schema; an error names where it is wrong.
pub fn compile(schema: &Value, what: &str) -> Result<jsonschema::Validator> {
    jsonschema::validator_for(schema).map_err(|e| Error::invalid_request(format!("{what} is not a valid JSON schema: {e}")))
}

/// amplify's schema (property name -> JSON-schema fragment, all required) as a JSON schema.
pub fn schema_from_properties(props: &Value) -> Result<Value> {
    let map = props
        .as_object()
        .ok_or_else(|| Error::invalid_request("schema must be an object mapping property names to JSON-schema fragments"))?;
    if map.is_empty() {
        return Err(Error::invalid_request("schema must name at least one property"));
    }
    for (k, v) in map {
        if !v.is_object() {
            return Err(Error::invalid_request(format!("schema.{k} must be a JSON-schema object such as {{\"type\": \"string\"}}")));
        }
    }
    let schema = json!({
        "type": "object",
        "properties": props,
        "required": map.keys().collect::<Vec<_>>(),
        "additionalProperties": false,
    });
    compile(&schema, "schema")?;
    Ok(schema)
}

/// The schema made acceptable to OpenAI's strict mode (every object closed, every property
/// required), or `None` where that would change its meaning (an object with no properties).
pub fn strict_schema(schema: &Value) -> Option<Value> {
    match schema {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let v = match k.as_str() {
                    "properties" => {
                        let props = v.as_object()?;
                        Value::Object(props.iter().map(|(pk, pv)| Some((pk.clone(), strict_schema(pv)?))).collect::<Option<_>>()?)
                    }
                    "items" | "anyOf" | "oneOf" | "allOf" | "$defs" | "definitions" | "not" => strict_schema(v)?,
                    _ => v.clone(),
                };
                out.insert(k.clone(), v);
            }
            if out.get("type").and_then(Value::as_str) == Some("object") {
                let props = out.get("properties").and_then(Value::as_object)?;
                let keys: Vec<Value> = props.keys().map(|k| Value::String(k.clone())).collect();
                let required = out.get("required").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
                // Making an optional property required changes the schema: not ours to do.
                if required != keys.len() {
                    return None;
                }
                out.insert("additionalProperties".into(), json!(false));
            }
            Some(Value::Object(out))
        }
        Value::Array(a) => Some(Value::Array(a.iter().map(strict_schema).collect::<Option<_>>()?)),
        other => Some(other.clone()),
    }
}

/// OpenAI models that take `response_format: json_schema` (2024-08 and later families).
fn openai_supports_json_schema(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"].iter().any(|p| m.starts_with(p))
        && !m.starts_with("o1-mini")
        && !m.starts_with("o1-preview")
        && m != "gpt-4o-2024-05-13"
}

/// Points the request at the schema by the provider's strongest means.
pub fn apply(req: &mut ChatRequest, target: &Target, schema: &Value, name: &str) -> Structured {
    let native = match target.provider {
        ProviderKind::OpenAi | ProviderKind::Azure => openai_supports_json_schema(&target.model),
        ProviderKind::Gemini | ProviderKind::Vertex => true,
        ProviderKind::Anthropic | ProviderKind::Bedrock | ProviderKind::Mock => false,
    };
    if native {
        let (schema_out, strict) = match target.provider {
            ProviderKind::OpenAi | ProviderKind::Azure => match strict_schema(schema) {
                Some(s) => (s, true),
                None => (schema.clone(), false),
            },
            _ => (schema.clone(), false),
        };
        req.response_format = Some(json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema_out, "strict": strict}}));
        return Structured { schema: schema.clone(), name: name.to_owned(), via_tool: false };
    }
    req.response_format = None;
    let tool = Tool {
        kind: "function".into(),
        function: FunctionDef {
            name: name.to_owned(),
            description: Some("Respond with an object that matches this schema.".into()),
            parameters: Some(schema.clone()),
            strict: None,
        },
        cache_control: None,
    };
    req.tools.get_or_insert_with(Vec::new).push(tool);
    req.tool_choice = Some(ToolChoice::Function(name.to_owned()));
    Structured { schema: schema.clone(), name: name.to_owned(), via_tool: true }
}

/// Reads `response_format: {type: "json_schema"}` off a general-API request and, where the
/// provider has no native support, turns it into a forced tool.
pub fn from_response_format(req: &mut ChatRequest, target: &Target) -> Result<Option<Structured>> {
    let Some(rf) = req.response_format.as_ref() else { return Ok(None) };
    if rf.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Ok(None);
    }
    let js = rf.get("json_schema").ok_or_else(|| Error::invalid_request("response_format.json_schema is required"))?;
    let schema = js.get("schema").cloned().ok_or_else(|| Error::invalid_request("response_format.json_schema.schema is required"))?;
    compile(&schema, "response_format.json_schema.schema")?;
    let name = js.get("name").and_then(Value::as_str).unwrap_or(TOOL_NAME).to_owned();
    let native = matches!(target.provider, ProviderKind::Gemini | ProviderKind::Vertex)
        || (matches!(target.provider, ProviderKind::OpenAi | ProviderKind::Azure) && openai_supports_json_schema(&target.model));
    if native {
        return Ok(Some(Structured { schema, name, via_tool: false }));
    }
    Ok(Some(apply(req, target, &schema, &name)))
}

/// The tool-call route's answer becomes the message content, as if the model had written it.
pub fn move_tool_output_to_content(done: &mut ChatCompletion, st: &Structured) {
    if !st.via_tool {
        return;
    }
    for c in &mut done.choices {
        let Some(calls) = c.message.tool_calls.as_mut() else { continue };
        if let Some(i) = calls.iter().position(|t| t.function.name == st.name) {
            let call = calls.remove(i);
            c.message.content = Some(call.function.arguments);
            if calls.is_empty() {
                c.message.tool_calls = None;
            }
            if c.finish_reason == Some(FinishReason::ToolCalls) {
                c.finish_reason = Some(FinishReason::Stop);
            }
        }
    }
}

/// Checks a value against a compiled schema; the error lists every violation with its path.
pub fn check(validator: &jsonschema::Validator, value: &Value) -> std::result::Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .take(8)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// A JSON object out of free text: the whole text, a fenced ```json block, or the first
/// balanced `{...}`.
pub fn extract_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    let mut rest = t;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map(|i| i + 1).unwrap_or(0);
        let lang = after[..body_start].trim();
        let Some(end) = after[body_start..].find("```") else { break };
        let body = &after[body_start..body_start + end];
        if lang.is_empty() || lang.eq_ignore_ascii_case("json") {
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(body.trim()) {
                return Some(v);
            }
        }
        rest = &after[body_start + end + 3..];
    }
    first_balanced_object(t)
}

fn first_balanced_object(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(off) = text[from..].find('{') {
        let start = from + off;
        let (mut depth, mut in_str, mut esc) = (0i32, false, false);
        for (i, &b) in bytes.iter().enumerate().skip(start) {
            if in_str {
                match (esc, b) {
                    (true, _) => esc = false,
                    (false, b'\\') => esc = true,
                    (false, b'"') => in_str = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_str = true,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&text[start..=i]) {
                            return Some(v);
                        }
                        break;
                    }
                }
                _ => {}
            }
        }
        from = start + 1;
    }
    None
}

/// amplify's `promptForData`: ask, check, retry once with the validation error, then extract
/// from the text; the usage of every attempt is summed into the one outcome.
pub async fn prompt_for_data(call: Call, st: Structured, cancel: CancellationToken) -> Outcome {
    let run = |request: ChatRequest| {
        let call = Call { request, ..call.clone() };
        let cancel = cancel.clone();
        async move { call::run_to_end(call, false, cancel).await.1 }
    };
    prompt_for_data_with(call.request.clone(), st, run).await
}

/// `prompt_for_data` over any way of running one request to its outcome (direct or routed).
pub async fn prompt_for_data_with<F, Fut>(mut request: ChatRequest, st: Structured, run: F) -> Outcome
where
    F: Fn(ChatRequest) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let validator = match compile(&st.schema, "schema") {
        Ok(v) => v,
        Err(e) => return failed(e, None, vec![]),
    };
    let mut usage = None;
    let mut warnings = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut last_error = String::new();
    for attempt in 0..2 {
        let mut outcome = run(request.clone()).await;
        Usage::add_to(&mut usage, outcome.usage);
        warnings.append(&mut outcome.warnings);
        if let Some(e) = outcome.error {
            return failed(e, usage, warnings);
        }
        move_tool_output_to_content(&mut outcome.completion, &st);
        let text = outcome.completion.text().to_owned();
        match serde_json::from_str::<Value>(text.trim()).map_err(|e| format!("the answer is not JSON: {e}")).and_then(|v| {
            check(&validator, &v)?;
            Ok(v)
        }) {
            Ok(v) => return parsed(outcome.completion, v, usage, warnings),
            Err(why) => last_error = why,
        }
        texts.push(text.clone());
        if attempt == 0 {
            // Show the model its answer and what was wrong with it, once.
            request.messages.push(Message::new(Role::Assistant, text));
            request.messages.push(Message::new(
                Role::User,
                format!(
                    "Your answer did not match the required JSON schema: {last_error}. Answer again with only a JSON object that matches the schema exactly."
                ),
            ));
        }
    }
    for text in texts.iter().rev() {
        if let Some(v) = extract_json(text) {
            if check(&validator, &v).is_ok() {
                warnings.push("structured output was extracted from the model's text".into());
                let mut done = crate::chat::StreamAccumulator::default().into_completion();
                done.choices[0].message.content = Some(text.clone());
                return parsed(done, v, usage, warnings);
            }
        }
    }
    let raw = texts.last().cloned().unwrap_or_default();
    let mut e = Error::new(ErrorKind::InvalidOutput, format!("the model's answer does not match the schema: {last_error}"));
    e.body = Some(raw.into());
    failed(e, usage, warnings)
}

fn parsed(mut done: ChatCompletion, v: Value, usage: Option<Usage>, warnings: Vec<String>) -> Outcome {
    if let Some(c) = done.choices.first_mut() {
        c.message.parsed = Some(v);
    }
    Outcome { completion: done, usage, error: None, warnings }
}

fn failed(e: Error, usage: Option<Usage>, warnings: Vec<String>) -> Outcome {
    Outcome::failed(e, usage, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amplify_schemas_become_closed_objects_and_bad_ones_are_named() {
        let s = schema_from_properties(&json!({"name": {"type": "string"}, "n": {"type": "integer"}})).unwrap();
        assert_eq!(s["required"], json!(["n", "name"]));
        assert_eq!(s["additionalProperties"], json!(false));
        assert!(schema_from_properties(&json!([])).unwrap_err().message.contains("schema must be an object"));
        assert!(schema_from_properties(&json!({})).unwrap_err().message.contains("at least one property"));
        assert!(schema_from_properties(&json!({"a": "string"})).unwrap_err().message.contains("schema.a"));
        assert!(schema_from_properties(&json!({"a": {"type": 5}})).unwrap_err().message.contains("not a valid JSON schema"));
    }

    #[test]
    fn strict_mode_only_where_it_keeps_the_meaning() {
        let closed = json!({"type": "object", "properties": {"a": {"type": "object", "properties": {"b": {"type": "string"}}, "required": ["b"]}}, "required": ["a"]});
        let s = strict_schema(&closed).unwrap();
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(s["properties"]["a"]["additionalProperties"], json!(false));
        let optional = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        assert!(strict_schema(&optional).is_none());
    }

    #[test]
    fn json_is_found_in_text() {
        assert_eq!(extract_json("{\"a\":1}"), Some(json!({"a": 1})));
        assert_eq!(extract_json("Sure:\n```json\n{\"a\": \"}\"}\n```\nDone"), Some(json!({"a": "}"})));
        assert_eq!(extract_json("The answer is {\"a\": {\"b\": [1, 2]}} as asked {x}"), Some(json!({"a": {"b": [1, 2]}})));
        assert_eq!(extract_json("{not json} then {\"ok\": true}"), Some(json!({"ok": true})));
        assert_eq!(extract_json("no json here"), None);
    }

    #[test]
    fn validation_errors_name_the_path() {
        let v = compile(&json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}), "s").unwrap();
        assert!(check(&v, &json!({"n": 3})).is_ok());
        let e = check(&v, &json!({"n": "x"})).unwrap_err();
        assert!(e.contains("/n"), "{e}");
        assert!(check(&v, &json!({})).unwrap_err().contains("required"));
    }
}
