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
use llmux_core::error::{Error, Result};
use llmux_core::prompt::{PromptForData, PromptOptions};
use llmux_core::structured;

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

pub(crate) fn parse_json(what: &str, json: &str) -> Result<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(json).map_err(|e| Error::invalid_request(format!("{what} is not JSON-serialisable: {e}")))
}

/// The model string a general-API call names: its own, or the amplify model object's.
fn model_string(request: &ChatRequest, model_json: Option<&str>) -> Result<String> {
    match model_json {
        Some(m) => amplify::prepare::model_string(&amplify::prepare::parse_model(&parse_json("model", m)?)?),
        None => Ok(request.model.clone()),
    }
}

/// Parses a general-API request; an amplify model object, when given, names the model.
fn general_call(request_json: &str, model_json: Option<&str>) -> Result<Call> {
    let mut req = ChatRequest::from_json(request_json)?;
    req.model = model_string(&req, model_json)?;
    Call::prepare(crate::engine(), req)
}

/// amplify's promptForData arguments, parsed by the core.
pub(crate) fn prompt_for_data_request(
    messages_json: &str,
    model: String,
    prompt: String,
    schema_json: &str,
    options: Option<PromptForDataOptions>,
) -> Result<PromptForData> {
    let o = options.unwrap_or(PromptForDataOptions { max_tokens: None, temperature: None, reasoning_level: None });
    let opts = PromptOptions { max_tokens: o.max_tokens, temperature: o.temperature, reasoning_level: o.reasoning_level };
    PromptForData::new(parse_json("messages", messages_json)?, prompt, &parse_json("schema", schema_json)?, model, opts)
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
        .and_then(|(m, ds)| amplify::prepare(crate::engine(), &chat_request_json, &m, &ds));
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
        let model = amplify::prepare::model_string(&amplify::prepare::parse_model(&parse_json("model", &model_json)?)?)?;
        let p = prompt_for_data_request(&messages_json, model, prompt, &schema_json, options)?;
        let mut call = Call::prepare(crate::engine(), p.request)?;
        let st = structured::apply(&mut call.request, &call.target, &p.schema, structured::TOOL_NAME);
        Ok((call, st))
    })();
    let job = prepared.map(|(call, st)| move |cancel, tx| send_outcome(llmux_core::prompt::prompt_for_data(call, st, cancel), tx));
    launch(job, Mode::Completion, String::new())
}

/// Replaces the secrets the caller's provider returned (looked up before the environment).
#[napi(catch_unwind)]
pub fn set_secrets(secrets: HashMap<String, String>) {
    crate::engine().set_secrets(secrets);
}

/// Sets default timeouts in milliseconds; an absent one keeps its value. A value no clock can
/// hold is refused (a typed error in JS), never a panic.
#[napi(catch_unwind)]
pub fn set_timeouts(connect_ms: Option<f64>, first_byte_ms: Option<f64>, total_ms: Option<f64>, idle_ms: Option<f64>) -> napi::Result<()> {
    let engine = crate::engine();
    let mut t = engine.timeouts();
    let ms = |name: &str, v: Option<f64>, cur: Duration| -> napi::Result<Duration> {
        match v {
            None => Ok(cur),
            Some(v) => llmux_core::options::seconds(&format!("timeouts.{name}"), v / 1000.0)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| napi::Error::from_reason(format!("timeouts.{name} must be a number of milliseconds from 1 to 30 days"))),
        }
    };
    t.connect = ms("connectMs", connect_ms, t.connect)?;
    t.first_byte = ms("firstByteMs", first_byte_ms, t.first_byte)?;
    t.total = ms("totalMs", total_ms, t.total)?;
    t.idle = ms("idleMs", idle_ms, t.idle)?;
    engine.set_timeouts(t);
    Ok(())
}

/// Sets the bounds on what an upstream can make llmux hold; an absent one keeps its value.
#[napi(catch_unwind)]
pub fn set_limits(max_response_bytes: Option<f64>, max_event_bytes: Option<f64>) {
    let engine = crate::engine();
    let mut l = engine.limits();
    // The JS layer checked they are finite and at least 1024; `as` saturates what is left.
    if let Some(n) = max_response_bytes {
        l.max_response_bytes = n as usize;
    }
    if let Some(n) = max_event_bytes {
        l.max_event_bytes = n as usize;
    }
    engine.set_limits(l);
}

/// Lets requests name the offline `mock` provider (`configure({ mock: true })`).
#[napi(catch_unwind)]
pub fn set_mock_enabled(on: bool) {
    crate::engine().set_mock_enabled(on);
}

/// Tasks alive on the addon's runtime (for soak tests: back to idle when every call ended).
#[napi]
pub async fn live_tasks() -> u32 {
    u32::try_from(tokio::runtime::Handle::current().metrics().num_alive_tasks()).unwrap_or(u32::MAX)
}
