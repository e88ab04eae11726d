//! What the router served: a bounded ledger of usage and cost (for `getUsage`), and counters
//! and histograms rendered as Prometheus text (for `metrics`).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::chat::Usage;

/// Records kept for `getUsage`; older ones fall off.
const LEDGER_CAP: usize = 100_000;

/// One request's bill, as `getUsage` sums it.
#[derive(Clone, Debug)]
pub struct Record {
    /// Unix seconds.
    pub at: f64,
    pub group: String,
    pub user: Option<String>,
    pub usage: Usage,
    pub cost: f64,
}

impl Record {
    pub fn new(group: &str, user: Option<&str>, usage: Usage, cost: f64) -> Record {
        Record { at: now_secs(), group: group.to_owned(), user: user.map(str::to_owned), usage, cost }
    }
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
    /// Keeps a record; returns it (a shared state keeps it too).
    pub fn record(&self, group: &str, user: Option<&str>, usage: Usage, cost: f64) -> Record {
        let rec = Record::new(group, user, usage, cost);
        let mut r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= LEDGER_CAP {
            r.pop_front();
        }
        r.push_back(rec.clone());
        rec
    }

    /// Spend of one user since `since` (unix seconds).
    pub fn spent_by(&self, user: &str, since: f64) -> f64 {
        let r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        r.iter().filter(|x| x.at >= since && x.user.as_deref() == Some(user)).map(|x| x.cost).sum()
    }

    /// Tokens and cost since `since` (unix seconds): in all, per model group, per user.
    pub fn usage_since(&self, since: f64) -> Value {
        let r = self.records.lock().unwrap_or_else(|p| p.into_inner());
        summarise(r.iter(), since)
    }
}

/// The records at or after `since` summed: in all, per model group, per user.
pub fn summarise<'a>(records: impl Iterator<Item = &'a Record>, since: f64) -> Value {
    {
        let (mut total, mut by_model, mut by_user) = (Totals::default(), BTreeMap::<&str, Totals>::new(), BTreeMap::<&str, Totals>::new());
        for x in records.filter(|x| x.at >= since) {
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
    /// What changed since the last `drain` (kept only when the state is shared: the changes go
    /// to the shared totals with each request's `finish`).
    pending: Option<Mutex<Inner>>,
}

/// Field names of the shared metrics hash: the metric and its labels, joined by a separator no
/// label holds.
const SEP: char = '\u{1f}';

impl Inner {
    fn fields(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        let f = |parts: &[&str]| parts.join(&SEP.to_string());
        for ((g, d), n) in &self.requests {
            out.push((f(&["req", g, d]), *n as f64));
        }
        for ((g, d, k), n) in &self.errors {
            out.push((f(&["err", g, d, k]), *n as f64));
        }
        for (name, hists) in [("lat", &self.latency), ("ttft", &self.ttft)] {
            for (g, h) in hists {
                for (i, c) in h.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                    out.push((f(&[name, g, &i.to_string()]), *c as f64));
                }
                out.push((f(&[name, g, "sum"]), h.sum));
                out.push((f(&[name, g, "count"]), h.count as f64));
            }
        }
        for ((g, k), n) in &self.tokens {
            out.push((f(&["tok", g, k]), *n as f64));
        }
        for (g, c) in &self.cost {
            out.push((f(&["cost", g]), *c));
        }
        for (k, n) in &self.cache {
            out.push((f(&["cache", k]), *n as f64));
        }
        out
    }

    /// Totals read back from fields (unknown or malformed ones are skipped: another version's).
    fn from_fields(fields: &[(String, f64)]) -> Inner {
        let mut m = Inner::default();
        let kind = |k: &str| -> Option<&'static str> {
            crate::error::ErrorKind::ALL.iter().map(|e| e.code()).chain(["prompt", "completion", "cached", "hit", "miss"]).find(|c| *c == k)
        };
        for (name, v) in fields {
            let n = v.max(0.0) as u64;
            let p: Vec<&str> = name.split(SEP).collect();
            match p[..] {
                ["req", g, d] => *m.requests.entry((g.to_owned(), d.to_owned())).or_default() += n,
                ["err", g, d, k] => {
                    if let Some(k) = kind(k) {
                        *m.errors.entry((g.to_owned(), d.to_owned(), k)).or_default() += n;
                    }
                }
                [h @ ("lat" | "ttft"), g, part] => {
                    let hist = if h == "lat" { &mut m.latency } else { &mut m.ttft };
                    let e = hist.entry(g.to_owned()).or_default();
                    match part {
                        "sum" => e.sum += v,
                        "count" => e.count += n,
                        i => {
                            if let Some(c) = i.parse::<usize>().ok().and_then(|i| e.counts.get_mut(i)) {
                                *c += n;
                            }
                        }
                    }
                }
                ["tok", g, k] => {
                    if let Some(k) = kind(k) {
                        *m.tokens.entry((g.to_owned(), k)).or_default() += n;
                    }
                }
                ["cost", g] => *m.cost.entry(g.to_owned()).or_default() += v,
                ["cache", k] => {
                    if let Some(k) = kind(k) {
                        *m.cache.entry(k).or_default() += n;
                    }
                }
                _ => {}
            }
        }
        m
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Metrics whose changes are also kept for a shared state.
    pub fn shared() -> Metrics {
        Metrics { inner: Mutex::default(), pending: Some(Mutex::default()) }
    }

    fn with(&self, f: impl Fn(&mut Inner)) {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
        if let Some(p) = &self.pending {
            f(&mut p.lock().unwrap_or_else(|p| p.into_inner()));
        }
    }

    /// The changes since the last drain, as fields to add to the shared totals.
    pub fn drain(&self) -> Vec<(String, f64)> {
        match &self.pending {
            Some(p) => std::mem::take(&mut *p.lock().unwrap_or_else(|p| p.into_inner())).fields(),
            None => Vec::new(),
        }
    }

    /// The changes not yet drained (counted in no shared total yet).
    pub fn pending_fields(&self) -> Vec<(String, f64)> {
        self.pending.as_ref().map(|p| p.lock().unwrap_or_else(|p| p.into_inner()).fields()).unwrap_or_default()
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

    /// The Prometheus text exposition format, of this instance's metrics.
    pub fn render(&self) -> String {
        render(&self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The same, of totals read back from a shared state.
    pub fn render_fields(fields: &[(String, f64)]) -> String {
        render(&Inner::from_fields(fields))
    }
}

fn render(m: &Inner) -> String {
    use std::fmt::Write;
    {
        {
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
        }
    }
}
