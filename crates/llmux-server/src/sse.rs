//! A chat stream as OpenAI sends it: `data: <chunk>` events, a last chunk with the usage when
//! the client asked (`stream_options.include_usage`), then `data: [DONE]`; an error after the
//! first chunk is a `data: {"error": ...}` event and no `[DONE]`. Dropped before its end (the
//! client went away, or shutdown's grace ran out), it cancels the upstream request; the router
//! still records its usage.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use llmux_core::call::{Event, Outcome};
use llmux_core::chat::ChatChunk;

use crate::{errors, log, App};

pub(crate) struct SseBody {
    rx: mpsc::Receiver<Event>,
    first: Option<Event>,
    include_usage: bool,
    cancel: CancellationToken,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The id, creation time and model of the stream's chunks (for the usage chunk).
    head: Option<(String, u64, String)>,
    ended: bool,
    app: Arc<App>,
    entry: log::Entry,
    started: Instant,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl SseBody {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rx: mpsc::Receiver<Event>,
        first: Event,
        include_usage: bool,
        cancel: CancellationToken,
        app: Arc<App>,
        entry: log::Entry,
        started: Instant,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> SseBody {
        let stop = Box::pin(app.stop_requests.clone().cancelled_owned());
        SseBody { rx, first: Some(first), include_usage, cancel, stop, head: None, ended: false, app, entry, started, _permit: permit }
    }

    /// An event's bytes; `None` for a chunk that only carried usage (sent at the end instead).
    fn event(&mut self, ev: Event) -> Option<Bytes> {
        match ev {
            Event::Chunk(c) => self.chunk(c),
            Event::End(o) => Some(self.end(*o)),
        }
    }

    fn chunk(&mut self, mut c: ChatChunk) -> Option<Bytes> {
        if self.head.is_none() {
            self.head = Some((c.id.clone(), c.created, c.model.clone()));
        }
        // Usage goes in its own last chunk, only when asked for, as OpenAI sends it.
        if c.usage.take().is_some() && c.choices.is_empty() {
            return None;
        }
        let mut out = BytesMut::with_capacity(256);
        out.put_slice(b"data: ");
        let _ = serde_json::to_writer((&mut out).writer(), &c);
        out.put_slice(b"\n\n");
        Some(out.freeze())
    }

    fn end(&mut self, o: Outcome) -> Bytes {
        self.ended = true;
        let usage = o.usage.or(o.completion.usage);
        self.entry.prompt_tokens = usage.map(|u| u.prompt_tokens);
        self.entry.completion_tokens = usage.map(|u| u.completion_tokens);
        self.entry.cost_usd = o.cost.map(|c| c.total);
        let mut out = BytesMut::new();
        if let Some(e) = &o.error {
            self.entry.error = Some(e.kind.code());
            out.put_slice(b"data: ");
            out.put_slice(&errors::body(e));
            out.put_slice(b"\n\n");
            return out.freeze();
        }
        if self.include_usage {
            let (id, created, model) =
                self.head.clone().unwrap_or((o.completion.id.clone(), o.completion.created, o.completion.model.clone()));
            let last =
                json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [], "usage": usage});
            out.put_slice(b"data: ");
            out.put_slice(last.to_string().as_bytes());
            out.put_slice(b"\n\n");
        }
        out.put_slice(b"data: [DONE]\n\n");
        out.freeze()
    }
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(ev) = self.first.take() {
            if let Some(b) = self.event(ev) {
                return Poll::Ready(Some(Ok(Frame::data(b))));
            }
        }
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            if self.stop.as_mut().poll(cx).is_ready() {
                // Shutdown's grace is over: the stream ends here (the upstream is cancelled on drop).
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(ev)) => {
                    if let Some(b) = self.event(ev) {
                        return Poll::Ready(Some(Ok(Frame::data(b))));
                    }
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended && self.first.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if !self.ended {
            self.entry.disconnected = true;
            self.cancel.cancel();
        }
        let took = self.started.elapsed();
        self.app.http.observe(self.entry.route, self.entry.status, took);
        log::write(self.app.log, &self.entry, took);
    }
}
