//! amplify's `promptForData`: ask for an object with a schema's keys, check it, retry once with
//! the validation error, then extract it from the text; the usage of every attempt is summed
//! into the one outcome. One orchestration for every way of running a request (a direct call or
//! a router), so no front door writes it again.

use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::call::{self, Call, Outcome};
use crate::chat::{ChatCompletion, ChatRequest, Message, Role, Usage};
use crate::error::{Error, ErrorKind, Result};
use crate::models::Cost;
use crate::structured::{check, compile, extract_json, move_tool_output_to_content, schema_from_properties, Structured};

/// amplify's options for `promptForData`.
#[derive(Clone, Debug, Default)]
pub struct PromptOptions {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub reasoning_level: Option<String>,
}

/// A `promptForData` call before its model is resolved: the request to send and the schema the
/// answer must match.
pub struct PromptForData {
    pub request: ChatRequest,
    pub schema: Value,
}

impl PromptForData {
    /// The messages, the prompt as the last user message, amplify's defaults (1000 tokens,
    /// temperature 0.1), and the schema from amplify's property map.
    pub fn new(messages: Value, prompt: String, properties: &Value, model: String, opts: PromptOptions) -> Result<PromptForData> {
        let schema = schema_from_properties(properties)?;
        let Value::Array(mut messages) = messages else { return Err(Error::invalid_request("messages must be an array")) };
        messages.push(json!({"role": "user", "content": prompt}));
        let mut request = json!({
            "model": model,
            "messages": messages,
            "max_tokens": opts.max_tokens.unwrap_or(1000),
            "temperature": opts.temperature.unwrap_or(0.1),
        });
        if let Some(level) = opts.reasoning_level.filter(|l| !l.is_empty()) {
            request["reasoning_effort"] = json!(level);
        }
        Ok(PromptForData { request: ChatRequest::from_value(request)?, schema })
    }
}

/// Runs a prepared call as `promptForData` (a direct call, no router).
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
        Err(e) => return failed(e, None, None, vec![]),
    };
    let mut usage = None;
    let mut cost = None;
    let mut warnings = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut last_error = String::new();
    for attempt in 0..2 {
        let mut outcome = run(request.clone()).await;
        Usage::add_to(&mut usage, outcome.usage);
        crate::models::Cost::add_to(&mut cost, outcome.cost);
        warnings.append(&mut outcome.warnings);
        if let Some(e) = outcome.error {
            return failed(e, usage, cost, warnings);
        }
        move_tool_output_to_content(&mut outcome.completion, &st);
        let text = outcome.completion.text().to_owned();
        match serde_json::from_str::<Value>(text.trim()).map_err(|e| format!("the answer is not JSON: {e}")).and_then(|v| {
            check(&validator, &v)?;
            Ok(v)
        }) {
            Ok(v) => return parsed(outcome.completion, v, usage, cost, warnings),
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
                return parsed(done, v, usage, cost, warnings);
            }
        }
    }
    let raw = texts.last().cloned().unwrap_or_default();
    let mut e = Error::new(ErrorKind::InvalidOutput, format!("the model's answer does not match the schema: {last_error}"));
    e.body = Some(raw.into());
    failed(e, usage, cost, warnings)
}

fn parsed(mut done: ChatCompletion, v: Value, usage: Option<Usage>, cost: Option<Cost>, warnings: Vec<String>) -> Outcome {
    if let Some(c) = done.choices.first_mut() {
        c.message.parsed = Some(v);
    }
    done.warnings.clone_from(&warnings);
    done.llmux = cost.map(|c| crate::chat::Extension { cost: Some(c), auto: None });
    Outcome { completion: done, usage, cost, error: None, warnings, route: None }
}

fn failed(e: Error, usage: Option<Usage>, cost: Option<Cost>, warnings: Vec<String>) -> Outcome {
    Outcome { cost, ..Outcome::failed(e, usage, warnings) }
}
