//! Structured output: asking a model for a JSON object that matches a schema by the strongest
//! means its capabilities offer, and checking the answer with a JSON Schema validator.
//!
//! Strategies, by capability: a strict `json_schema` (OpenAI's strict mode, when the schema
//! allows it), a native schema (Gemini's `responseSchema`), one forced tool whose arguments are
//! the object (Claude, older OpenAI models, the mock), else instructions and a check after.

use serde_json::{json, Map, Value};

use crate::chat::{ChatCompletion, ChatRequest, FinishReason, FunctionDef, Message, Role, Tool, ToolChoice};
use crate::error::{Error, Result};
use crate::providers::{self, JsonSchemaSupport, Target};

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

/// Every tool's parameters must be a valid JSON schema (a provider would refuse the request).
pub fn check_tool_schemas(req: &ChatRequest) -> Result<()> {
    for (i, t) in req.tools.iter().flatten().enumerate() {
        if let Some(p) = &t.function.parameters {
            compile(p, &format!("tools[{i}].function.parameters"))?;
        }
    }
    Ok(())
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

/// Points the request at the schema by the strongest means the model has (its capabilities):
/// a strict or native schema, else one forced tool, else instructions and a check afterwards.
pub fn apply(req: &mut ChatRequest, target: &Target, schema: &Value, name: &str) -> Structured {
    let caps = providers::provider(target.provider).capabilities(target);
    let native = |schema_out: Value, strict: bool| json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema_out, "strict": strict}});
    match caps.json_schema {
        JsonSchemaSupport::Strict => {
            req.response_format = Some(match strict_schema(schema) {
                Some(s) => native(s, true),
                None => native(schema.clone(), false),
            });
            return Structured { schema: schema.clone(), name: name.to_owned(), via_tool: false };
        }
        JsonSchemaSupport::Native => {
            req.response_format = Some(native(schema.clone(), false));
            return Structured { schema: schema.clone(), name: name.to_owned(), via_tool: false };
        }
        JsonSchemaSupport::None => {}
    }
    req.response_format = None;
    if !caps.forced_tool_choice {
        // No schema parameter and no forced tool: ask in words; the answer is checked after.
        let instruction = format!("Respond with only a JSON object, no other text, that matches this JSON schema: {schema}");
        req.messages.push(Message::new(Role::System, instruction));
        return Structured { schema: schema.clone(), name: name.to_owned(), via_tool: false };
    }
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
/// model has no native support, asks for the object by the next strongest means.
pub fn from_response_format(req: &mut ChatRequest, target: &Target) -> Result<Option<Structured>> {
    let Some(rf) = req.response_format.as_ref() else { return Ok(None) };
    if rf.get("type").and_then(Value::as_str) != Some("json_schema") {
        return Ok(None);
    }
    let js = rf.get("json_schema").ok_or_else(|| Error::invalid_request("response_format.json_schema is required"))?;
    let schema = js.get("schema").cloned().ok_or_else(|| Error::invalid_request("response_format.json_schema.schema is required"))?;
    compile(&schema, "response_format.json_schema.schema")?;
    let name = js.get("name").and_then(Value::as_str).unwrap_or(TOOL_NAME).to_owned();
    if providers::provider(target.provider).capabilities(target).json_schema != JsonSchemaSupport::None {
        // The caller's own response_format goes as given.
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
