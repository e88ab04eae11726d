//! What the gateway says about each request: one JSON access-log line (no secrets, no
//! content: who, what, how it ended, how long, what it cost), and HTTP metrics per route and
//! status for `/metrics`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Where access-log lines go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    Stdout,
}

/// One request, as the log and the metrics see it.
#[derive(Default, Debug)]
pub struct Entry {
    pub request_id: String,
    pub method: String,
    pub route: &'static str,
    pub status: u16,
    pub user: Option<String>,
    pub model: Option<String>,
    pub stream: bool,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub error: Option<&'static str>,
    /// The client went away before the answer ended.
    pub disconnected: bool,
}

/// Requests and seconds spent, by route and status.
type ByRoute = BTreeMap<(&'static str, u16), (u64, f64)>;

#[derive(Default)]
pub struct HttpMetrics {
    counts: Mutex<ByRoute>,
}

impl HttpMetrics {
    pub fn observe(&self, route: &'static str, status: u16, took: Duration) {
        let mut m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let e = m.entry((route, status)).or_default();
        e.0 += 1;
        e.1 += took.as_secs_f64();
    }

    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let m = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP llmux_http_requests_total Gateway requests by route and status.\n# TYPE llmux_http_requests_total counter"
        );
        for ((r, s), (n, _)) in m.iter() {
            let _ = writeln!(out, "llmux_http_requests_total{{route=\"{r}\",status=\"{s}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP llmux_http_request_seconds_total Time spent answering, by route and status.\n# TYPE llmux_http_request_seconds_total counter");
        for ((r, s), (_, t)) in m.iter() {
            let _ = writeln!(out, "llmux_http_request_seconds_total{{route=\"{r}\",status=\"{s}\"}} {t}");
        }
    }
}

fn now() -> String {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

impl Entry {
    pub fn json(&self, took: Duration) -> Value {
        let mut v = json!({
            "ts": now(), "request_id": self.request_id, "method": self.method, "route": self.route, "status": self.status,
            "ms": (took.as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        });
        let m = v.as_object_mut().expect("an object");
        if let Some(u) = &self.user {
            m.insert("user".into(), json!(u));
        }
        if let Some(x) = &self.model {
            m.insert("model".into(), json!(x));
        }
        if self.stream {
            m.insert("stream".into(), json!(true));
        }
        for (k, x) in [("prompt_tokens", self.prompt_tokens), ("completion_tokens", self.completion_tokens)] {
            if let Some(n) = x {
                m.insert(k.into(), json!(n));
            }
        }
        if let Some(c) = self.cost_usd {
            m.insert("cost_usd".into(), json!(c));
        }
        if let Some(e) = self.error {
            m.insert("error".into(), json!(e));
        }
        if self.disconnected {
            m.insert("client_disconnected".into(), json!(true));
        }
        v
    }
}

pub fn write(log: AccessLog, entry: &Entry, took: Duration) {
    if log == AccessLog::Stdout {
        let mut line = entry.json(took).to_string();
        line.push('\n');
        // One write a line, so lines from concurrent requests never interleave.
        let _ = std::io::stdout().lock().write_all(line.as_bytes());
    }
}
