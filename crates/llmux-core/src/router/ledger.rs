//! What the router served: a bounded ledger of usage and cost (for `getUsage`), and counters
//! and histograms rendered as Prometheus text (for `metrics`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::chat::Usage;

/// Records kept for `getUsage`; older ones fall off.
const LEDGER_CAP: usize = 100_000;

struct Record {
    at: f64,
    group: String,
    user: Option<String>,
    usage: Usage,
    cost: f64,
}

#[derive(Default)]
pub struct Ledger {
    records: Mutex<VecDeque<Record>>,
}

fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

#[derive(Default)]
struct Totals {
    requests: u64,
    prompt: u64,
    completion: u64,
    cached: u64,
    cost: f64,
}

impl Totals {
    fn add(&mut self, r: &Record) {
        self.requests += 1;
        self.prompt = self.prompt.saturating_add(r.usage.prompt_tokens);
        self.completion = self.completion.saturating_add(r.usage.completion_tokens);
        self.cached = self.cached.saturating_add(r.usage.cached_tokens);
        self.cost += r.cost;
    }

    fn json(&self) -> Value {
        json!({"requests": self.requests, "prompt_tokens": self.prompt, "completion_tokens": self.completion,
               "cached_tokens": self.cached, "cost_usd": self.cost})
    }
}

impl Ledger {
    pub fn record(&self, group: &str, user: Option<&str>, usage: Usage, cost: f64) {
        let mut r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= LEDGER_CAP {
            r.pop_front();
        }
        r.push_back(Record { at: now_secs(), group: group.to_owned(), user: user.map(str::to_owned), usage, cost });
    }

    /// Spend of one user since `since` (unix seconds).
    pub fn spent_by(&self, user: &str, since: f64) -> f64 {
        let r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        r.iter().filter(|x| x.at >= since && x.user.as_deref() == Some(user)).map(|x| x.cost).sum()
    }

    /// Tokens and cost since `since` (unix seconds): in all, per model group, per user.
    pub fn usage_since(&self, since: f64) -> Value {
        let r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let (mut total, mut by_model, mut by_user) = (Totals::default(), BTreeMap::<&str, Totals>::new(), BTreeMap::<&str, Totals>::new());
        for x in r.iter().filter(|x| x.at >= since) {
            total.add(x);
            by_model.entry(&x.group).or_default().add(x);
            if let Some(u) = &x.user {
                by_user.entry(u).or_default().add(x);
            }
        }
        json!({
            "since": since,
            "total": total.json(),
            "by_model": by_model.iter().map(|(k, v)| (k.to_string(), v.json())).collect::<serde_json::Map<_, _>>(),
            "by_user": by_user.iter().map(|(k, v)| (k.to_string(), v.json())).collect::<serde_json::Map<_, _>>(),
        })
    }
}

const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, le) in BUCKETS.iter().enumerate() {
            if s <= *le {
                self.counts[i] += 1;
            }
        }
        self.sum += s;
        self.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String), u64>,
    errors: BTreeMap<(String, String, &'static str), u64>,
    latency: BTreeMap<String, Histogram>,
    ttft: BTreeMap<String, Histogram>,
    tokens: BTreeMap<(String, &'static str), u64>,
    cost: BTreeMap<String, f64>,
    cache: HashMap<&'static str, u64>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn request(&self, group: &str, deployment: &str) {
        self.with(|m| *m.requests.entry((group.to_owned(), deployment.to_owned())).or_default() += 1);
    }

    pub fn error(&self, group: &str, deployment: &str, kind: &'static str) {
        self.with(|m| *m.errors.entry((group.to_owned(), deployment.to_owned(), kind)).or_default() += 1);
    }

    pub fn success(&self, group: &str, latency: Duration, ttft: Duration, u: &Usage, cost: f64) {
        self.with(|m| {
            m.latency.entry(group.to_owned()).or_default().observe(latency);
            m.ttft.entry(group.to_owned()).or_default().observe(ttft);
            for (kind, n) in [("prompt", u.prompt_tokens), ("completion", u.completion_tokens), ("cached", u.cached_tokens)] {
                let t = m.tokens.entry((group.to_owned(), kind)).or_default();
                *t = t.saturating_add(n);
            }
            *m.cost.entry(group.to_owned()).or_default() += cost;
        });
    }

    pub fn cache(&self, hit: bool) {
        self.with(|m| *m.cache.entry(if hit { "hit" } else { "miss" }).or_default() += 1);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        self.with(|m| {
            let mut o = String::new();
            let _ = writeln!(o, "# HELP llmux_requests_total Requests sent to a deployment.\n# TYPE llmux_requests_total counter");
            for ((g, d), n) in &m.requests {
                let _ = writeln!(o, "llmux_requests_total{{model_group=\"{}\",deployment=\"{}\"}} {n}", esc(g), esc(d));
            }
            let _ = writeln!(o, "# HELP llmux_errors_total Failed requests by error kind.\n# TYPE llmux_errors_total counter");
            for ((g, d, k), n) in &m.errors {
                let _ = writeln!(o, "llmux_errors_total{{model_group=\"{}\",deployment=\"{}\",kind=\"{k}\"}} {n}", esc(g), esc(d));
            }
            for (name, help, hists) in [
                ("llmux_request_duration_seconds", "Time to the whole answer.", &m.latency),
                ("llmux_time_to_first_token_seconds", "Time to the first streamed chunk (or the answer).", &m.ttft),
            ] {
                let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} histogram");
                for (g, h) in hists {
                    for (i, le) in BUCKETS.iter().enumerate() {
                        let _ = writeln!(o, "{name}_bucket{{model_group=\"{}\",le=\"{le}\"}} {}", esc(g), h.counts[i]);
                    }
                    let _ = writeln!(o, "{name}_bucket{{model_group=\"{}\",le=\"+Inf\"}} {}", esc(g), h.count);
                    let _ = writeln!(o, "{name}_sum{{model_group=\"{}\"}} {}", esc(g), h.sum);
                    let _ = writeln!(o, "{name}_count{{model_group=\"{}\"}} {}", esc(g), h.count);
                }
            }
            let _ = writeln!(o, "# HELP llmux_tokens_total Tokens by kind.\n# TYPE llmux_tokens_total counter");
            for ((g, k), n) in &m.tokens {
                let _ = writeln!(o, "llmux_tokens_total{{model_group=\"{}\",type=\"{k}\"}} {n}", esc(g));
            }
            let _ = writeln!(o, "# HELP llmux_cost_usd_total Spend by model group.\n# TYPE llmux_cost_usd_total counter");
            for (g, c) in &m.cost {
                let _ = writeln!(o, "llmux_cost_usd_total{{model_group=\"{}\"}} {c}", esc(g));
            }
            let _ = writeln!(o, "# HELP llmux_cache_requests_total Response cache lookups.\n# TYPE llmux_cache_requests_total counter");
            for k in ["hit", "miss"] {
                let _ = writeln!(o, "llmux_cache_requests_total{{result=\"{k}\"}} {}", m.cache.get(k).copied().unwrap_or(0));
            }
            o
        })
    }
}
