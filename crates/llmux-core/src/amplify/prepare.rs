//! Turns amplify's `(chatRequest, model, dataSources)` into a canonical call, as its
//! `callLiteLLM` did: system prompts where the model cannot take them, the model's own system
//! prompt, legacy functions, empty messages dropped, attached documents, defaults, reasoning,
//! and the provider chosen from the model id.

use serde::Deserialize;
use serde_json::Value;

use crate::call::Call;
use crate::chat::{ChatRequest, Content, Message, Role};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::providers::openai::is_reasoning_model;

/// The fields of amplify's model object that shape a request (`/available_models`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AmplifyModel {
    pub id: String,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub supports_system_prompts: Option<bool>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    #[serde(default)]
    pub supports_reasoning: Option<bool>,
    #[serde(default)]
    pub output_token_limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmplifyOptions {
    #[serde(default)]
    request_id: Option<Value>,
    #[serde(default)]
    reasoning_level: Option<String>,
    #[serde(default)]
    disable_reasoning: Option<bool>,
}

/// The prepared request before a provider is chosen (a router chooses per deployment).
#[derive(Debug)]
pub struct AmplifyRequest {
    pub request: ChatRequest,
    pub request_id: Option<String>,
    pub data_source_count: usize,
    /// amplify's model id, which names a router model group.
    pub model_id: String,
    /// Set when the id routes to no provider by the old client's rules (a router may still know it).
    pub unsupported: Option<Error>,
}

#[derive(Debug)]
pub struct AmplifyCall {
    pub call: Call,
    /// `chatRequest.options.requestId`, the id usage is recorded under.
    pub request_id: Option<String>,
    /// How many attached documents were added to the conversation.
    pub data_source_count: usize,
}

const DEFAULT_MAX_TOKENS: u32 = 1000;
const DEFAULT_TEMPERATURE: f64 = 1.0;

const BEDROCK_MARKERS: &[&str] = &["anthropic", "claude", "amazon", "titan", "ai21", "cohere", "meta", "mistral", "deepseek"];
const PROVIDER_PREFIXES: &[&str] = &["openai/", "azure/", "bedrock/", "anthropic/", "gemini/", "vertex_ai/", "mock/"];

fn is_openai_id(id: &str) -> bool {
    let b = id.as_bytes();
    id.starts_with("gpt") || (b.len() >= 2 && b[0] == b'o' && b[1].is_ascii_digit())
}

/// The LiteLLM-style model string for an amplify model, by the rules of the old client.
pub fn model_string(model: &AmplifyModel) -> Result<String> {
    let id = model.id.trim();
    if PROVIDER_PREFIXES.iter().any(|p| id.starts_with(p)) {
        return Ok(id.to_owned());
    }
    let provider = model.provider.as_deref().unwrap_or("");
    if is_openai_id(id) {
        if provider.contains("Azure") {
            return Ok(format!("azure/{id}"));
        }
        // Names amplify lists that OpenAI knows under another name.
        let id = match id {
            "gpt-4-1106-Preview" | "gpt-4-1106-preview" => "gpt-4-turbo",
            "gpt-35-turbo" => "gpt-3.5-turbo",
            other => other,
        };
        return Ok(format!("openai/{id}"));
    }
    let lower = id.to_ascii_lowercase();
    if BEDROCK_MARKERS.iter().any(|m| lower.contains(m)) {
        return Ok(format!("bedrock/{id}"));
    }
    if lower.contains("gemini") {
        return Ok(format!("gemini/{id}"));
    }
    Err(Error::invalid_request(format!("Unsupported model: {id}")))
}

pub fn parse_model(model: &Value) -> Result<AmplifyModel> {
    match model {
        Value::String(s) => Ok(AmplifyModel { id: s.clone(), ..Default::default() }),
        Value::Object(_) => {
            let m: AmplifyModel = serde_path_to_error::deserialize(model)
                .map_err(|e| Error::invalid_request(format!("model: {}: {}", e.path(), e.inner())))?;
            if m.id.trim().is_empty() {
                return Err(Error::invalid_request("model.id must be a non-empty string"));
            }
            Ok(m)
        }
        _ => Err(Error::invalid_request("model must be an amplify model object or a model string")),
    }
}

/// Attached documents as one message: `--- name ---\ncontent` each, as the old sidecar wrote them.
fn documents_text(data_sources: &Value) -> Result<(String, usize)> {
    let list = match data_sources {
        Value::Null => return Ok((String::new(), 0)),
        Value::Array(a) => a,
        _ => return Err(Error::invalid_request("dataSources must be an array")),
    };
    let mut parts = Vec::new();
    for ds in list {
        let (name, content) = match ds {
            Value::String(s) => ("Document".to_owned(), Some(s.clone())),
            Value::Object(o) => {
                let content = o.get("content").or_else(|| o.get("text")).and_then(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                });
                let name =
                    o.get("name").and_then(Value::as_str).or_else(|| o.get("id").and_then(Value::as_str)).unwrap_or("Document").to_owned();
                (name, content)
            }
            _ => continue,
        };
        if let Some(c) = content.filter(|c| !c.trim().is_empty()) {
            parts.push(format!("--- {name} ---\n{c}"));
        }
    }
    if parts.is_empty() {
        return Ok((String::new(), 0));
    }
    let n = parts.len();
    Ok((format!("Here are the attached documents to reference:\n\n{}", parts.join("\n\n")), n))
}

pub fn prepare(engine: &Engine, chat_request_json: &str, model: &Value, data_sources: &Value) -> Result<AmplifyCall> {
    let a = prepare_request(chat_request_json, model, data_sources)?;
    if let Some(e) = a.unsupported {
        return Err(e);
    }
    let call = Call::prepare(engine, a.request)?;
    Ok(AmplifyCall { call, request_id: a.request_id, data_source_count: a.data_source_count })
}

pub fn prepare_request(chat_request_json: &str, model: &Value, data_sources: &Value) -> Result<AmplifyRequest> {
    let model = parse_model(model)?;
    let mut req = ChatRequest::from_json(chat_request_json)?;
    let options: AmplifyOptions = match req.extra.remove("options") {
        Some(v @ Value::Object(_)) => serde_path_to_error::deserialize(&v)
            .map_err(|e| Error::invalid_request(format!("chatRequest.options: {}: {}", e.path(), e.inner())))?,
        _ => AmplifyOptions::default(),
    };
    // amplify's request carries its own bookkeeping (options, imageSources, ...): none of it is
    // for a provider. The mock provider's own options stay, so amplify callers can test offline.
    req.extra.retain(|k, _| k.starts_with("mock_"));
    req.normalize_legacy_functions()?;
    let system_ok = model.supports_system_prompts != Some(false);

    if let Some(sp) = model.system_prompt.as_deref().filter(|s| !s.trim().is_empty()) {
        match req.messages.first_mut() {
            Some(first) if first.role == Role::System => {
                let merged = format!("{}\n{sp}", first.content.as_ref().map(|c| c.text().into_owned()).unwrap_or_default());
                first.content = Some(Content::Text(merged));
            }
            _ => req.messages.insert(0, Message::new(Role::System, sp)),
        }
    }
    if !system_ok {
        for m in &mut req.messages {
            if matches!(m.role, Role::System | Role::Developer) {
                m.role = Role::User;
            }
        }
    }
    req.messages.retain(|m| !m.is_empty());
    if req.messages.is_empty() {
        return Err(Error::invalid_request("chatRequest.messages has no message with content"));
    }
    let (docs, data_source_count) = documents_text(data_sources)?;
    if data_source_count > 0 {
        let role = if system_ok { Role::System } else { Role::User };
        let at = req.messages.len() - 1;
        req.messages.insert(at, Message::new(role, docs));
    }
    if req.max_tokens.is_none() && req.max_completion_tokens.is_none() {
        req.max_tokens = Some(DEFAULT_MAX_TOKENS);
    }
    req.temperature.get_or_insert(DEFAULT_TEMPERATURE);

    let unsupported = match model_string(&model) {
        Ok(m) => {
            req.model = m;
            None
        }
        Err(e) => {
            req.model = model.id.clone();
            Some(e)
        }
    };
    if model.supports_reasoning == Some(true) && options.disable_reasoning != Some(true) {
        let level = options.reasoning_level.clone().filter(|l| !l.is_empty()).unwrap_or_else(|| "low".to_owned());
        req.reasoning_effort = Some(level);
        let openai_family = req.model.starts_with("openai/") || req.model.starts_with("azure/");
        if openai_family || is_reasoning_model(&req.model) {
            if let Some(limit) = model.output_token_limit {
                req.max_completion_tokens = Some(limit);
                req.max_tokens = None;
            }
        }
    }
    let request_id = match options.request_id {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(AmplifyRequest { request: req, request_id, data_source_count, model_id: model.id.clone(), unsupported })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An engine that lets requests name the mock (as the tests and the demo turn it on).
    fn mock_engine() -> Engine {
        let e = Engine::new();
        e.set_mock_enabled(true);
        e
    }
    use serde_json::json;

    fn model(v: Value) -> AmplifyModel {
        parse_model(&v).unwrap()
    }

    #[test]
    fn routes_model_ids_as_the_old_client() {
        let cases = [
            (json!({"id":"gpt-4o","provider":"OpenAI"}), "openai/gpt-4o"),
            (json!({"id":"gpt-4o","provider":"Azure"}), "azure/gpt-4o"),
            (json!({"id":"o3-mini","provider":"OpenAI"}), "openai/o3-mini"),
            (json!({"id":"gpt-35-turbo"}), "openai/gpt-3.5-turbo"),
            (
                json!({"id":"us.anthropic.claude-3-7-sonnet-20250219-v1:0","provider":"Bedrock"}),
                "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
            ),
            (json!({"id":"mistral.mistral-large-2402-v1:0"}), "bedrock/mistral.mistral-large-2402-v1:0"),
            (json!({"id":"gemini-2.5-flash","provider":"Gemini"}), "gemini/gemini-2.5-flash"),
            (json!({"id":"mock/echo"}), "mock/echo"),
        ];
        for (m, want) in cases {
            assert_eq!(model_string(&model(m.clone())).unwrap(), want, "{m}");
        }
        assert!(model_string(&model(json!({"id":"llama-local"}))).unwrap_err().message.contains("Unsupported model"));
    }

    #[test]
    fn prepares_the_request_as_the_old_client() {
        let chat = json!({
            "messages": [
                {"role":"system","content":"You are helpful."},
                {"role":"user","content":"first"},
                {"role":"assistant","content":"  "},
                {"role":"user","content":"second"}
            ],
            "options": {"requestId":"req-1","model":{"id":"ignored"}},
            "imageSources": [],
            "functions": [{"name":"lookup","parameters":{"type":"object","properties":{}}}],
            "function_call": "auto"
        });
        let m = json!({"id":"mock/echo","supportsSystemPrompts":false,"systemPrompt":"Be brief."});
        let docs = json!([{"name":"a.txt","content":"alpha"},{"id":"s3://x","text":"beta"},{"name":"empty","content":""}]);
        let out = prepare(&mock_engine(), &chat.to_string(), &m, &docs).unwrap();
        let r = &out.call.request;
        assert_eq!(out.request_id.as_deref(), Some("req-1"));
        assert_eq!(out.data_source_count, 2);
        let roles: Vec<&str> = r.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["user", "user", "user", "user"], "system became user; blank assistant dropped; docs added");
        assert_eq!(r.messages[0].content.as_ref().unwrap().text(), "You are helpful.\nBe brief.");
        assert_eq!(
            r.messages[2].content.as_ref().unwrap().text(),
            "Here are the attached documents to reference:\n\n--- a.txt ---\nalpha\n\n--- s3://x ---\nbeta"
        );
        assert_eq!(r.messages[3].content.as_ref().unwrap().text(), "second");
        assert_eq!(r.max_tokens, Some(1000));
        assert_eq!(r.temperature, Some(1.0));
        assert_eq!(r.tools.as_ref().unwrap()[0].function.name, "lookup");
        assert!(r.extra.is_empty(), "amplify bookkeeping is not forwarded: {:?}", r.extra);
    }

    #[test]
    fn system_prompt_is_prepended_when_the_first_message_is_not_system() {
        let chat = json!({"messages":[{"role":"user","content":"hi"}]});
        let out = prepare(&mock_engine(), &chat.to_string(), &json!({"id":"mock/echo","systemPrompt":"Rules."}), &Value::Null).unwrap();
        let r = &out.call.request;
        assert_eq!(r.messages[0].role, Role::System);
        assert_eq!(r.messages[0].content.as_ref().unwrap().text(), "Rules.");
    }

    #[test]
    fn reasoning_models_get_effort_and_completion_budget() {
        std::env::set_var("OPENAI_API_KEY", "sk-test");
        let chat = json!({"messages":[{"role":"user","content":"hi"}],"max_tokens":300,"options":{"reasoningLevel":"high"}});
        let m = json!({"id":"o3-mini","provider":"OpenAI","supportsReasoning":true,"outputTokenLimit":100000});
        let r = prepare(&mock_engine(), &chat.to_string(), &m, &Value::Null).unwrap().call.request;
        assert_eq!(r.reasoning_effort.as_deref(), Some("high"));
        assert_eq!(r.max_completion_tokens, Some(100000));
        assert_eq!(r.max_tokens, None);
        let chat = json!({"messages":[{"role":"user","content":"hi"}],"options":{"disableReasoning":true}});
        let r = prepare(&mock_engine(), &chat.to_string(), &m, &Value::Null).unwrap().call.request;
        assert_eq!(r.reasoning_effort, None);
        let chat = json!({"messages":[{"role":"user","content":"hi"}]});
        let r = prepare(&mock_engine(), &chat.to_string(), &m, &Value::Null).unwrap().call.request;
        assert_eq!(r.reasoning_effort.as_deref(), Some("low"));
    }

    #[test]
    fn bad_input_is_named() {
        let e = prepare(&mock_engine(), "{\"messages\":[]}", &json!({"id":"mock/echo"}), &Value::Null).unwrap_err();
        assert!(e.message.contains("messages"));
        let e = prepare(&mock_engine(), "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", &json!(42), &Value::Null).unwrap_err();
        assert!(e.message.contains("model"));
        let e = prepare(&mock_engine(), "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}]}", &json!({"id":"mock/echo"}), &json!("x"))
            .unwrap_err();
        assert!(e.message.contains("dataSources"));
    }
}
