//! Active health checks (`router.health({ probe: true })`, LiteLLM's `/health`): a minimal
//! request to every deployment, a few at a time and each within a time limit, reporting whether
//! it answered and how fast. A probe is a real request: a chat probe asks for one token, an
//! embedding probe embeds one word, and both are billed as such by the provider.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use super::deployment::Deployment;
use super::Router;
use crate::chat::ChatRequest;

/// Probes in flight at once, and the time each may take.
const CONCURRENCY: usize = 4;
const TIMEOUT: Duration = Duration::from_secs(10);

impl Router {
    /// Probes every deployment; one entry per deployment, in config order.
    pub async fn probe(self: Arc<Self>, cancel: CancellationToken) -> Value {
        let all: Vec<(String, Arc<Deployment>)> =
            self.order.iter().flat_map(|g| self.groups[g].iter().map(move |d| (g.clone(), d.clone()))).collect();
        let results: Vec<Value> = stream::iter(all)
            .map(|(group, d)| {
                let router = self.clone();
                let cancel = cancel.clone();
                async move { router.probe_one(&group, &d, cancel).await }
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        Value::Array(results)
    }

    /// A probe is a billed request: its usage goes into the ledger (as the router's own, no
    /// user) and the token and cost metrics.
    async fn bill_probe(&self, group: &str, d: &Deployment, usage: Option<crate::chat::Usage>, took: Duration) {
        if let Some(u) = usage {
            let cost = d.cfg.info.cost(&u).total;
            let record = self.ledger.record(group, None, u, cost);
            self.metrics.success(group, took, took, &u, cost);
            self.settling.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.settle(crate::state::Finish { record: Some(record), ..Default::default() }).await;
        }
    }

    async fn probe_one(&self, group: &str, d: &Deployment, cancel: CancellationToken) -> Value {
        let start = Instant::now();
        let embedding = d.cfg.info.mode.as_deref() == Some("embedding");
        let result: Result<(), crate::error::Error> = if embedding {
            let req = crate::embed::EmbeddingRequest::from_value(json!({"model": group, "input": "ping"})).map(|(r, _)| r);
            match req.and_then(|r| self.embed_call_for(d, &r, TIMEOUT)) {
                Ok(call) => {
                    let o = crate::embed::run(call, cancel.child_token()).await;
                    self.bill_probe(group, d, o.usage, start.elapsed()).await;
                    o.error.map_or(Ok(()), Err)
                }
                Err(e) => Err(e),
            }
        } else {
            let probe = ChatRequest {
                model: group.to_owned(),
                messages: vec![crate::chat::Message::new(crate::chat::Role::User, "ping")],
                max_tokens: Some(1),
                ..Default::default()
            };
            match self.call_for(d, &probe, TIMEOUT, Some(true)) {
                Ok(call) => {
                    let o = crate::call::run_to_end(call, false, cancel.child_token()).await.1;
                    self.bill_probe(group, d, o.usage, start.elapsed()).await;
                    o.error.map_or(Ok(()), Err)
                }
                Err(e) => Err(e),
            }
        };
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(()) => json!({"model_group": group, "deployment": d.cfg.id, "model": d.cfg.model, "healthy": true, "latency_ms": ms,
                             "mode": if embedding { "embedding" } else { "chat" }}),
            Err(e) => {
                d.record_error(&e);
                json!({"model_group": group, "deployment": d.cfg.id, "model": d.cfg.model, "healthy": false, "latency_ms": ms,
                       "mode": if embedding { "embedding" } else { "chat" },
                       "error": {"code": e.kind.code(), "message": e.message, "status": e.status}})
            }
        }
    }
}
