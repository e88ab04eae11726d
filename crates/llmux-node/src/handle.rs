//! `CallHandle`: JS pulls a call's results with `await handle.next()`. Each pull takes every
//! event already waiting (up to a bound), so a fast stream costs one JS callback per batch,
//! and a consumer that stops pulling (Writable backpressure) stops the upstream read.

use std::sync::Arc;

use napi_derive::napi;
use tokio::sync::{mpsc, Mutex};
use tokio_util::sync::CancellationToken;

use crate::convert::{JsErrorData, JsUsage};
use llmux_core::amplify::AmplifyEncoder;
use llmux_core::call::{Event, Outcome};
use llmux_core::error::{Error, ErrorKind};

/// Events taken in one pull at most, so one pull never holds the JS thread long.
const MAX_BATCH: usize = 512;

pub(crate) enum Mode {
    /// `stream()`: a JSON array of `ChatCompletionChunk`s per batch.
    Chunks,
    /// `completion()`: the `ChatCompletion` JSON at the end.
    Completion,
    /// `callLiteLLM`: amplify's stream lines per batch, the text at the end.
    Amplify(AmplifyEncoder),
}

pub(crate) struct Consumer {
    rx: mpsc::Receiver<Event>,
    mode: Mode,
    /// Lines to write before any event (amplify's documents status).
    intro: String,
    finished: bool,
}

#[napi(object)]
pub struct Batch {
    /// Chunks JSON (stream), lines (amplify) or the completion JSON (completion).
    pub data: Option<String>,
    pub done: bool,
    /// The whole answer text, with the last batch of an amplify call.
    pub text: Option<String>,
    /// What to bill, with the last batch; absent when nothing was billed.
    pub usage: Option<JsUsage>,
    pub error: Option<JsErrorData>,
    pub warnings: Option<Vec<String>>,
    /// Where the call went, with the last batch (for logging callbacks and traces).
    pub route: Option<JsRoute>,
}

#[napi(object)]
pub struct JsRoute {
    pub provider: String,
    pub model: String,
    pub group: Option<String>,
    pub deployment: Option<String>,
    pub attempts: u32,
    pub fallbacks: Vec<String>,
    pub cache_hit: bool,
    pub server_address: Option<String>,
    /// `model: "auto"`: the group chosen and why.
    pub auto_group: Option<String>,
    pub auto_reason: Option<String>,
}

impl From<&llmux_core::call::RouteInfo> for JsRoute {
    fn from(r: &llmux_core::call::RouteInfo) -> Self {
        JsRoute {
            provider: r.provider.clone(),
            model: r.model.clone(),
            group: r.group.clone(),
            deployment: r.deployment.clone(),
            attempts: r.attempts,
            fallbacks: r.fallbacks.clone(),
            cache_hit: r.cache_hit,
            server_address: r.server_address.clone(),
            auto_group: r.auto.as_ref().map(|a| a.model_group.clone()),
            auto_reason: r.auto.as_ref().map(|a| a.reason.clone()),
        }
    }
}

#[napi]
pub struct CallHandle {
    consumer: Arc<Mutex<Consumer>>,
    cancel: CancellationToken,
}

impl CallHandle {
    pub(crate) fn new(rx: mpsc::Receiver<Event>, mode: Mode, intro: String, cancel: CancellationToken) -> Self {
        CallHandle { consumer: Arc::new(Mutex::new(Consumer { rx, mode, intro, finished: false })), cancel }
    }
}

#[napi]
impl CallHandle {
    /// The next batch of results; `done` is set on the last one.
    #[napi]
    pub async fn next(&self) -> Batch {
        let mut c = self.consumer.lock().await;
        if c.finished {
            return Batch { data: None, done: true, text: None, usage: None, error: None, warnings: None, route: None };
        }
        let first = c.rx.recv().await;
        let mut events = Vec::with_capacity(8);
        events.push(first);
        while events.len() < MAX_BATCH {
            match c.rx.try_recv() {
                Ok(ev) => events.push(Some(ev)),
                Err(_) => break,
            }
            if matches!(events.last(), Some(Some(Event::End(_)))) {
                break;
            }
        }
        // A panic here would unwind through napi's async machinery: end the call instead.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.batch(events))) {
            Ok(b) => b,
            Err(_) => {
                c.finished = true;
                self.cancel.cancel();
                let e = Error::new(ErrorKind::Internal, "the call's results could not be read (internal error)");
                Batch { data: None, done: true, text: None, usage: None, error: Some(JsErrorData::from(&e)), warnings: None, route: None }
            }
        }
    }

    /// Stops the call: the upstream connection is dropped at once. The last batch still comes,
    /// with the cancellation error and the usage to bill.
    #[napi(catch_unwind)]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for CallHandle {
    // A handle dropped unread (garbage collected) must not leave its upstream running.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Consumer {
    fn batch(&mut self, events: Vec<Option<Event>>) -> Batch {
        let mut data = std::mem::take(&mut self.intro);
        let mut chunks_json: Vec<u8> = Vec::new();
        let mut end: Option<Box<Outcome>> = None;
        for ev in events {
            match ev {
                Some(Event::Chunk(chunk)) => match &mut self.mode {
                    Mode::Chunks => {
                        chunks_json.push(if chunks_json.is_empty() { b'[' } else { b',' });
                        // Serialising our own types into memory cannot fail.
                        let _ = serde_json::to_writer(&mut chunks_json, &chunk);
                    }
                    Mode::Amplify(enc) => enc.chunk(&chunk, &mut data),
                    Mode::Completion => {}
                },
                Some(Event::End(o)) => end = Some(o),
                // Every sender gone without an End: the call's task died (a panic).
                None => {
                    end = Some(Box::new(Outcome::failed(
                        Error::new(ErrorKind::Internal, "the call ended unexpectedly (internal error)"),
                        None,
                        vec![],
                    )))
                }
            }
        }
        let mut batch = Batch { data: None, done: false, text: None, usage: None, error: None, warnings: None, route: None };
        if !chunks_json.is_empty() {
            chunks_json.push(b']');
            batch.data = String::from_utf8(chunks_json).ok();
        }
        match (&mut self.mode, end) {
            (Mode::Amplify(enc), end) => {
                match &end {
                    Some(o) => enc.end(o, &mut data),
                    None => enc.flush(&mut data),
                }
                if !data.is_empty() {
                    batch.data = Some(data);
                }
                if let Some(o) = end {
                    batch.text = Some(o.completion.text().to_owned());
                    self.finish(&mut batch, &o);
                }
            }
            (Mode::Completion, Some(o)) => {
                if o.error.is_none() {
                    batch.data = serde_json::to_string(&o.completion).ok();
                }
                self.finish(&mut batch, &o);
            }
            (_, Some(o)) => self.finish(&mut batch, &o),
            (_, None) => {}
        }
        batch
    }

    fn finish(&mut self, batch: &mut Batch, o: &Outcome) {
        self.finished = true;
        batch.done = true;
        batch.usage = o.usage.as_ref().map(|u| JsUsage::new(u, o.cost.as_ref()));
        batch.error = o.error.as_ref().map(JsErrorData::from);
        if !o.warnings.is_empty() {
            batch.warnings = Some(o.warnings.clone());
        }
        batch.route = o.route.as_deref().map(JsRoute::from);
    }
}
