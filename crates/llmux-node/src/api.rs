//! The functions the JS wrapper calls: start a call (completion, stream, amplify), set secrets
//! and timeouts. Input errors do not throw: they come back as the call's first and last batch,
//! so every call reports through one path.

use std::collections::HashMap;
use std::time::Duration;

use napi_derive::napi;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::handle::{CallHandle, Mode};
use llmux_core::amplify::{self, lines::datasources_line, AmplifyEncoder};
use llmux_core::call::{self, Call, Event, Outcome, CHANNEL_CAPACITY};
use llmux_core::chat::ChatRequest;
use llmux_core::config;
use llmux_core::error::{Error, Result};

/// Starts a job that ends with exactly one `Event::End`; an input error ends it at once.
pub(crate) fn launch<F, Fut>(prepared: Result<F>, mode: Mode, intro: String) -> CallHandle
where
    F: FnOnce(CancellationToken, mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let cancel = CancellationToken::new();
    match prepared {
        Ok(job) => {
            napi::bindgen_prelude::spawn(job(cancel.clone(), tx));
        }
        Err(e) => {
            let outcome = Outcome::failed(e, None, vec![]);
            // The channel is new and empty: this cannot be full.
            let _ = tx.try_send(Event::End(Box::new(outcome)));
        }
    }
    CallHandle::new(rx, mode, intro, cancel)
}

fn start(prepared: Result<Call>, stream: bool, mode: Mode, intro: String) -> CallHandle {
    launch(prepared.map(|c| move |cancel, tx| call::run(c, stream, cancel, tx)), mode, intro)
}

/// Runs `promptForData` to its one `End`, by any way of running one request.
pub(crate) async fn send_outcome(outcome: impl std::future::Future<Output = Outcome>, tx: mpsc::Sender<Event>) {
    let o = outcome.await;
    let _ = tx.send(Event::End(Box::new(o))).await;
}

/// The request `promptForData` sends: the messages, the prompt, and its options.
pub(crate) fn prompt_request(messages_json: &str, prompt: String, options: Option<PromptForDataOptions>) -> Result<serde_json::Value> {
    let opts = options.unwrap_or(PromptForDataOptions { max_tokens: None, temperature: None, reasoning_level: None });
    let messages: serde_json::Value =
        serde_json::from_str(messages_json).map_err(|e| Error::invalid_request(format!("messages are not JSON-serialisable: {e}")))?;
    let mut request = serde_json::json!({"messages": messages});
    request["messages"]
        .as_array_mut()
        .ok_or_else(|| Error::invalid_request("messages must be an array"))?
        .push(serde_json::json!({"role": "user", "content": prompt}));
    request["max_tokens"] = serde_json::json!(opts.max_tokens.unwrap_or(1000));
    request["temperature"] = serde_json::json!(opts.temperature.unwrap_or(0.1));
    if let Some(level) = opts.reasoning_level.filter(|l| !l.is_empty()) {
        request["reasoning_effort"] = serde_json::json!(level);
    }
    Ok(request)
}

pub(crate) fn parse_schema(schema_json: &str) -> Result<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(schema_json)
        .map_err(|e| Error::invalid_request(format!("schema is not JSON-serialisable: {e}")))
        .and_then(|s| llmux_core::structured::schema_from_properties(&s))
}

pub(crate) fn parse_json(what: &str, json: &str) -> Result<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(json).map_err(|e| Error::invalid_request(format!("{what} is not JSON-serialisable: {e}")))
}

/// Parses a general-API request; an amplify model object, when given, names the model.
fn general_call(request_json: &str, model_json: Option<&str>) -> Result<Call> {
    let mut req = ChatRequest::from_json(request_json)?;
    if let Some(m) = model_json {
        let model = serde_json::from_str::<serde_json::Value>(m)
            .map_err(|e| Error::invalid_request(format!("model is not JSON-serialisable: {e}")))?;
        req.model = amplify::prepare::model_string(&amplify::prepare::parse_model(&model)?)?;
    }
    Call::prepare(req)
}

/// Starts `completion()`: one batch with the `ChatCompletion` JSON.
#[napi(catch_unwind)]
pub fn start_completion(request_json: String, model_json: Option<String>, _user: Option<String>) -> CallHandle {
    start(general_call(&request_json, model_json.as_deref()), false, Mode::Completion, String::new())
}

/// Starts `stream()`: batches of `ChatCompletionChunk` JSON arrays.
#[napi(catch_unwind)]
pub fn start_stream(request_json: String, model_json: Option<String>, _user: Option<String>) -> CallHandle {
    start(general_call(&request_json, model_json.as_deref()), true, Mode::Chunks, String::new())
}

/// Starts amplify's `callLiteLLM`: batches of stream lines, the text at the end.
#[napi(catch_unwind)]
pub fn start_amplify(
    chat_request_json: String,
    model_json: String,
    data_sources_json: String,
    stream_to_user: bool,
    _user: Option<String>,
) -> CallHandle {
    let prepared = parse_json("model", &model_json)
        .and_then(|m| Ok((m, parse_json("dataSources", &data_sources_json)?)))
        .and_then(|(m, ds)| amplify::prepare(&chat_request_json, &m, &ds));
    let (prepared, intro) = match prepared {
        Ok(a) => (Ok(a.call), amplify_intro(stream_to_user, a.data_source_count)),
        Err(e) => (Err(e), String::new()),
    };
    start(prepared, true, Mode::Amplify(AmplifyEncoder::new(stream_to_user)), intro)
}

/// The status line written before the answer (amplify's documents status).
pub(crate) fn amplify_intro(stream_to_user: bool, data_source_count: usize) -> String {
    if stream_to_user && data_source_count > 0 {
        datasources_line(data_source_count)
    } else {
        String::new()
    }
}

#[napi(object)]
pub struct PromptForDataOptions {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub reasoning_level: Option<String>,
}

/// Starts amplify's `promptForData`: the last batch carries the completion with `message.parsed`.
#[napi(catch_unwind)]
pub fn start_prompt_for_data(
    messages_json: String,
    model_json: String,
    prompt: String,
    schema_json: String,
    options: Option<PromptForDataOptions>,
    _user: Option<String>,
) -> CallHandle {
    let prepared = (|| {
        let schema = parse_schema(&schema_json)?;
        let request = prompt_request(&messages_json, prompt, options)?;
        let mut call = general_call(&request.to_string(), Some(&model_json))?;
        let st = llmux_core::structured::apply(&mut call.request, &call.target, &schema, llmux_core::structured::TOOL_NAME);
        Ok((call, st))
    })();
    let job = prepared.map(|(call, st)| move |cancel, tx| send_outcome(llmux_core::structured::prompt_for_data(call, st, cancel), tx));
    launch(job, Mode::Completion, String::new())
}

/// Replaces the secrets the caller's provider returned (looked up before the environment).
#[napi]
pub fn set_secrets(secrets: HashMap<String, String>) {
    config::set_secrets(secrets);
}

/// Sets default timeouts in milliseconds; an absent one keeps its value.
#[napi]
pub fn set_timeouts(connect_ms: Option<f64>, first_byte_ms: Option<f64>, total_ms: Option<f64>, idle_ms: Option<f64>) {
    let mut t = config::timeouts();
    let ms =
        |v: Option<f64>, cur: Duration| v.filter(|v| v.is_finite() && *v > 0.0).map(|v| Duration::from_secs_f64(v / 1000.0)).unwrap_or(cur);
    t.connect = ms(connect_ms, t.connect);
    t.first_byte = ms(first_byte_ms, t.first_byte);
    t.total = ms(total_ms, t.total);
    t.idle = ms(idle_ms, t.idle);
    config::set_timeouts(t);
}
