//! `embedding()`: start a call, hand back one result. The vectors cross to JS as one
//! `Float32Array` over the Rust buffer (no copy, no JSON number): JS takes a view per row, or
//! `Array.from` of it for plain arrays.

use napi::bindgen_prelude::Float32Array;
use napi_derive::napi;
use tokio::sync::{oneshot, Mutex};
use tokio_util::sync::CancellationToken;

use crate::convert::{JsErrorData, JsUsage};
use llmux_core::embed::{self, EmbedOutcome};
use llmux_core::error::{Error, ErrorKind};

#[napi(object)]
pub struct EmbedResult {
    /// Every row, one after another (`count` rows of `dims` floats).
    pub vectors: Option<Float32Array>,
    pub dims: u32,
    pub count: u32,
    /// The model as the provider names it.
    pub model: String,
    pub usage: Option<JsUsage>,
    /// What the call cost in USD, for a priced model.
    pub cost: Option<f64>,
    pub error: Option<JsErrorData>,
    pub warnings: Option<Vec<String>>,
}

impl EmbedResult {
    pub(crate) fn from_outcome(o: EmbedOutcome) -> EmbedResult {
        let usage = o.usage.as_ref().map(|u| JsUsage::new(u, o.cost.as_ref()));
        let (vectors, dims, count) = match o.vectors {
            Some(v) if o.error.is_none() => {
                let (dims, count) = (v.dims as u32, v.rows() as u32);
                (Some(Float32Array::new(v.data)), dims, count)
            }
            _ => (None, 0, 0),
        };
        EmbedResult {
            vectors,
            dims,
            count,
            model: o.model,
            usage,
            cost: o.cost.map(|c| c.total),
            error: o.error.as_ref().map(JsErrorData::from),
            warnings: (!o.warnings.is_empty()).then_some(o.warnings),
        }
    }
}

#[napi]
pub struct EmbedHandle {
    rx: Mutex<Option<oneshot::Receiver<EmbedOutcome>>>,
    cancel: CancellationToken,
}

impl EmbedHandle {
    /// Runs `job` (which ends with one outcome) and returns the handle that reads it.
    pub(crate) fn launch<F, Fut>(job: llmux_core::error::Result<F>) -> EmbedHandle
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: std::future::Future<Output = EmbedOutcome> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let cancel = CancellationToken::new();
        match job {
            Ok(job) => {
                let fut = job(cancel.clone());
                napi::bindgen_prelude::spawn(async move {
                    let _ = tx.send(fut.await);
                });
            }
            Err(e) => {
                let _ = tx.send(EmbedOutcome { error: Some(e), ..Default::default() });
            }
        }
        EmbedHandle { rx: Mutex::new(Some(rx)), cancel }
    }
}

#[napi]
impl EmbedHandle {
    /// The call's one result (a second read gets an error).
    #[napi]
    pub async fn result(&self) -> EmbedResult {
        let rx = self.rx.lock().await.take();
        let outcome = match rx {
            Some(rx) => rx.await.unwrap_or_else(|_| EmbedOutcome {
                error: Some(Error::new(ErrorKind::Internal, "the embedding call ended unexpectedly (internal error)")),
                ..Default::default()
            }),
            None => EmbedOutcome { error: Some(Error::new(ErrorKind::Internal, "the result was already read")), ..Default::default() },
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| EmbedResult::from_outcome(outcome))) {
            Ok(r) => r,
            Err(_) => EmbedResult::from_outcome(EmbedOutcome {
                error: Some(Error::new(ErrorKind::Internal, "the embedding's result could not be read (internal error)")),
                ..Default::default()
            }),
        }
    }

    /// Stops the call: requests in flight are dropped at once; the result says `cancelled` and
    /// carries the usage of the batches already answered.
    #[napi(catch_unwind)]
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

impl Drop for EmbedHandle {
    // Collected unread: nothing keeps running for nobody.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Starts `embedding()` on the default engine.
#[napi(catch_unwind)]
pub fn start_embedding(request_json: String, _user: Option<String>) -> EmbedHandle {
    let prepared = crate::api::parse_json("request", &request_json).and_then(|v| embed::prepare(crate::engine(), v));
    EmbedHandle::launch(prepared.map(|call| move |cancel| embed::run(call, cancel)))
}
