//! `RouterState` in Redis (or Valkey, ElastiCache, Memorystore), shared by every instance that
//! names the same server and namespace. Each request costs one round trip before its first
//! attempt (`admit.lua`: limits, budgets, cache, deployment and cooldowns at once) and one after
//! its answer has gone (`finish.lua`), off the caller's path.
//!
//! Redis failing is not llmux failing: every command has a deadline (`redis_timeout`), and a
//! failure or a timeout answers from this process's own state (`MemoryState`), says so on the
//! answer, counts `llmux_redis_errors_total`, and leaves Redis alone for half a second before trying
//! again; the connection reconnects by itself. Settlements that could not be written are kept
//! (bounded) and written once Redis answers again. Budgets may fail closed instead.
//!
//! Every key starts with the hash tag `{namespace}`, so the keys one script touches together are
//! in one Redis Cluster slot (no CROSSSLOT).

pub mod config;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisResult, Script, ScriptInvocation, Value as RValue};
use sha2::{Digest, Sha256};

pub use config::{RedisConfig, RedisSpec};

use super::{memory::over_budget, Admission, Admitted, DeploymentLimits, Finish, MemoryState, Refusal, RouterState, Ticket};
use crate::cache::{CacheKey, Cached};
use crate::chat::Usage;
use crate::error::{Error, ErrorKind, Result};
use crate::router::ledger::Record;

/// After a failure, Redis is left alone this long (a hung server costs one request in so many a timeout) (requests use local state meanwhile).
const PAUSE: Duration = Duration::from_millis(500);
/// Failures count toward a cooldown for this long (as in `MemoryState`).
const FAIL_WINDOW_MS: u64 = 60_000;
/// Ledger records kept in Redis (the local ledger keeps as many).
const LEDGER_CAP: u64 = 100_000;
/// Reads for `getUsage` and `metrics` (the whole ledger may be 100,000 records).
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// Settlements kept while Redis is away, to write when it is back.
const BACKLOG_CAP: usize = 10_000;

#[derive(Clone)]
enum Conn {
    One(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn invoke<T: FromRedisValue>(&mut self, inv: &ScriptInvocation<'_>) -> RedisResult<T> {
        match self {
            Conn::One(c) => inv.invoke_async(c).await,
            Conn::Cluster(c) => inv.invoke_async(c).await,
        }
    }

    async fn query<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            Conn::One(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }

    async fn pipe(&mut self, p: &redis::Pipeline) -> RedisResult<()> {
        match self {
            Conn::One(c) => p.query_async(c).await,
            Conn::Cluster(c) => p.query_async(c).await,
        }
    }
}

pub struct RedisState {
    cfg: RedisConfig,
    /// What the instance uses while Redis cannot be reached, and the mirror of cooldowns.
    local: MemoryState,
    conn: tokio::sync::OnceCell<Conn>,
    paused_until: Mutex<Option<Instant>>,
    /// Errors by operation (for `llmux_redis_errors_total`).
    errors: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    last_error: Mutex<String>,
    backlog: Mutex<VecDeque<Finish>>,
    admit: Script,
    fail: Script,
    finish: Script,
    /// Makes ticket ids unique across instances.
    instance: String,
    seq: AtomicU64,
    /// `{namespace}:`, the start of every key.
    prefix: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A Redis error in a few words (never a URL or a credential).
fn short(e: &redis::RedisError) -> String {
    let s = e.to_string();
    let s = s.split(" - ").next().unwrap_or(&s);
    s.chars().take(120).collect()
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A float from a reply element sent as a string (or an integer).
fn num(v: &RValue) -> f64 {
    match v {
        RValue::Int(n) => *n as f64,
        RValue::BulkString(b) => std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0),
        RValue::SimpleString(s) => s.parse().unwrap_or(0.0),
        RValue::Double(d) => *d,
        _ => 0.0,
    }
}

fn text(v: &RValue) -> Option<String> {
    match v {
        RValue::BulkString(b) => String::from_utf8(b.clone()).ok(),
        RValue::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

fn wait(v: &RValue) -> Duration {
    Duration::from_secs_f64((num(v) / 1000.0).clamp(0.0, 86_400.0))
}

impl RedisState {
    /// A state in Redis; nothing is connected until the first request needs it.
    pub fn new(cfg: RedisConfig, cache_bytes: u64) -> RedisState {
        let prefix = format!("{{{}}}:", cfg.namespace);
        RedisState {
            cfg,
            local: MemoryState::new(cache_bytes),
            conn: tokio::sync::OnceCell::new(),
            paused_until: Mutex::new(None),
            errors: Mutex::default(),
            last_error: Mutex::default(),
            backlog: Mutex::default(),
            admit: Script::new(include_str!("admit.lua")),
            fail: Script::new(include_str!("fail.lua")),
            finish: Script::new(include_str!("finish.lua")),
            instance: format!("{:016x}", fastrand::u64(..)),
            seq: AtomicU64::new(0),
            prefix,
        }
    }

    /// A subject's part of a key: long ids (a request's `user` may be anything) are hashed.
    fn subject(&self, kind: &str, subject: &str) -> String {
        if subject.len() <= 96 {
            format!("{}{kind}:{subject}", self.prefix)
        } else {
            format!("{}{kind}:#{}", self.prefix, hex(&Sha256::digest(subject.as_bytes())))
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn cache_key(&self, k: &CacheKey) -> String {
        format!("{}c:{}", self.prefix, hex(k))
    }

    fn vector_key(&self, k: &CacheKey) -> String {
        format!("{}v:{}", self.prefix, hex(k))
    }

    async fn connect(&self) -> RedisResult<Conn> {
        let mut info: Vec<redis::ConnectionInfo> = Vec::new();
        for n in &self.cfg.nodes {
            // valkey:// is redis:// by another name.
            let url = n.replacen("valkeys://", "rediss://", 1).replacen("valkey://", "redis://", 1);
            let mut i = redis::IntoConnectionInfo::into_connection_info(url.as_str())?;
            let mut r = i.redis_settings().clone();
            if let Some(u) = &self.cfg.username {
                r = r.set_username(u);
            }
            if let Some(p) = &self.cfg.password {
                r = r.set_password(p);
            }
            i = i.set_redis_settings(r);
            info.push(i);
        }
        let certs = || redis::TlsCertificates { client_tls: None, root_cert: self.cfg.ca_certs.clone() };
        if self.cfg.cluster {
            let mut b =
                redis::cluster::ClusterClient::builder(info).connection_timeout(self.cfg.connect_timeout).response_timeout(REPORT_TIMEOUT);
            if self.cfg.ca_certs.is_some() {
                b = b.certs(certs());
            }
            Ok(Conn::Cluster(b.build()?.get_async_connection().await?))
        } else {
            let client = match self.cfg.ca_certs {
                Some(_) => redis::Client::build_with_tls(info.remove(0), certs())?,
                None => redis::Client::open(info.remove(0))?,
            };
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.cfg.connect_timeout))
                .set_response_timeout(Some(REPORT_TIMEOUT))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            Ok(Conn::One(ConnectionManager::new_with_config(client, config).await?))
        }
    }

    fn paused(&self) -> bool {
        let mut p = lock(&self.paused_until);
        match *p {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *p = None;
                false
            }
            None => false,
        }
    }

    fn failed(&self, op: &'static str, why: String) {
        *lock(&self.errors).entry(op).or_default() += 1;
        *lock(&self.paused_until) = Some(Instant::now() + PAUSE);
        *lock(&self.last_error) = why;
    }

    fn unavailable(&self) -> String {
        let why = lock(&self.last_error).clone();
        format!(
            "the shared state (Redis at {}) is unavailable ({why}): limits, budgets, cooldowns and the cache are this instance's own until it is back",
            self.cfg.nodes.iter().map(|n| config::redact(n)).collect::<Vec<_>>().join(", ")
        )
    }

    /// Runs `op` on the connection within the deadline; `None` (and the failure counted) when
    /// Redis cannot answer now.
    async fn with<T, Fut>(&self, what: &'static str, op: impl FnOnce(Conn) -> Fut) -> Option<T>
    where
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        self.within(what, self.cfg.timeout, op).await
    }

    /// `with` under another deadline (reads for reports, which may be large).
    async fn within<T, Fut>(&self, what: &'static str, deadline: Duration, op: impl FnOnce(Conn) -> Fut) -> Option<T>
    where
        Fut: std::future::Future<Output = RedisResult<T>>,
    {
        if self.paused() {
            return None;
        }
        let conn = match tokio::time::timeout(self.cfg.connect_timeout, self.conn.get_or_try_init(|| self.connect())).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                self.failed(what, format!("cannot connect: {}", short(&e)));
                return None;
            }
            Err(_) => {
                self.failed(what, "connecting timed out".into());
                return None;
            }
        };
        match tokio::time::timeout(deadline, op(conn.clone())).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.failed(what, short(&e).to_owned());
                None
            }
            Err(_) => {
                self.failed(what, format!("no answer within {} ms", deadline.as_millis()));
                None
            }
        }
    }

    fn ticket_id(&self) -> String {
        format!("{}-{}", self.instance, self.seq.fetch_add(1, Ordering::Relaxed))
    }

    /// Refusals of candidates, as the script lists them.
    fn refusals(list: &[RValue]) -> Vec<Refusal> {
        list.chunks(2)
            .map(|p| match p.first().and_then(text).as_deref() {
                Some("c") => Refusal::Cooling(wait(&p[1])),
                _ => Refusal::OverLimit(p.get(1).map(wait).unwrap_or_default()),
            })
            .collect()
    }

    /// Mirrors the cooldowns Redis reported, for `cooling_for` (health reports).
    fn mirror(&self, list: &[RValue]) {
        let now = Instant::now();
        let cooling: Vec<(String, Instant)> = list.chunks(2).filter_map(|p| Some((text(p.first()?)?, now + wait(p.get(1)?)))).collect();
        self.local.mirror_cooling(&cooling);
    }

    /// The admission script's keys and arguments.
    fn admission(&self, a: &Admission<'_>, ticket: &str) -> ScriptInvocation<'_> {
        let mut inv = self.admit.prepare_invoke();
        inv.key(self.key("cool"));
        inv.key(a.cache.map(|k| self.cache_key(k)).unwrap_or_else(|| self.key("c:-")));
        for s in a.subjects {
            inv.key(self.subject("r", &s.key)).key(self.subject("t", &s.key)).key(self.subject("b", &s.key)).key(self.subject("z", &s.key));
        }
        for (id, _) in a.candidates {
            inv.key(self.subject("dr", id)).key(self.subject("dt", id));
        }
        let life = ms(self.reservation_life());
        inv.arg(a.subjects.len())
            .arg(a.candidates.len())
            .arg(a.tokens)
            .arg(a.reserve)
            .arg(ticket)
            .arg(life)
            .arg(u8::from(a.cache.is_some()));
        for s in a.subjects {
            let l = &s.limits;
            inv.arg(l.rpm.unwrap_or(0))
                .arg(l.tpm.unwrap_or(0))
                .arg(l.budget_usd.unwrap_or(-1.0))
                .arg(l.budget_duration.map(ms).unwrap_or(0));
        }
        for (id, l) in a.candidates {
            inv.arg(*id).arg(l.rpm.unwrap_or(0)).arg(l.tpm.unwrap_or(0));
        }
        inv
    }

    /// A reservation outlives any request (the router's longest deadline) and then lapses, so
    /// an instance that died mid-request holds no budget for ever.
    fn reservation_life(&self) -> Duration {
        self.cfg.reservation_life.max(Duration::from_secs(1))
    }

    async fn admit_shared(&self, a: &Admission<'_>) -> Option<Result<Admitted>> {
        let ticket = self.ticket_id();
        let inv = self.admission(a, &ticket);
        let reply: Vec<RValue> = self.with("admit", |mut c| async move { c.invoke(&inv).await }).await?;
        let int = |i: usize| match reply.get(i) {
            Some(RValue::Int(n)) => *n,
            _ => -1,
        };
        if int(0) == 1 {
            let i = usize::try_from(int(1)).unwrap_or(0);
            let key = a.subjects.get(i).map(|s| s.key.as_str()).unwrap_or("");
            let what = reply.get(2).and_then(text).unwrap_or_default();
            return Some(Err(if what == "budget" {
                over_budget(key, num(&reply[3]), reply.get(4).map(num).unwrap_or(0.0), reply.get(5).map(num).unwrap_or(0.0))
            } else {
                let w = reply.get(3).map(wait).unwrap_or_default();
                let what = if what == "rpm" { "requests-per-minute" } else { "tokens-per-minute" };
                super::memory::refused(what, key, w)
            }));
        }
        let mut out = Admitted::default();
        if let Some(RValue::BulkString(bytes)) = reply.get(1) {
            let ttl = Duration::from_secs(600);
            if let Some(c) = Cached::decode(bytes, ttl) {
                out.cached = Some(Arc::new(c));
                return Some(Ok(out));
            }
        }
        if a.reserve > 0.0 {
            out.ticket = Ticket {
                id: ticket,
                reserved: a.reserve,
                keys: a.subjects.iter().filter(|s| s.limits.budget_usd.is_some()).map(|s| s.key.clone()).collect(),
                shared: true,
            };
        }
        if let Some(RValue::Array(cool)) = reply.get(4) {
            self.mirror(cool);
        }
        if !a.candidates.is_empty() {
            let chosen = int(2);
            let refusals = match reply.get(3) {
                Some(RValue::Array(r)) => Self::refusals(r),
                _ => Vec::new(),
            };
            out.deployment = Some(if chosen >= 1 { Ok((chosen - 1) as usize) } else { Err(refusals) });
        }
        Some(Ok(out))
    }

    /// The settlement script's keys and arguments.
    fn settlement(&self, f: &Finish) -> ScriptInvocation<'_> {
        let mut inv = self.finish.prepare_invoke();
        let cached = f.cache.as_ref().map(|(k, c)| (k, c.encode())).filter(|(_, b)| b.len() <= self.cfg.max_item_bytes);
        inv.key(self.key("ledger")).key(self.key("metrics"));
        inv.key(cached.as_ref().map(|(k, _)| self.cache_key(k)).unwrap_or_else(|| self.key("c:-")));
        for (s, _) in &f.spend {
            inv.key(self.subject("b", s)).key(self.subject("z", s));
        }
        let ticket = if f.ticket.shared { f.ticket.id.as_str() } else { "" };
        inv.arg(ticket).arg(f.cost).arg(f.spend.len()).arg(LEDGER_CAP);
        match (&cached, &f.cache) {
            (Some((_, bytes)), Some((_, c))) => inv.arg(ms(c.ttl()).max(1)).arg(bytes.as_slice()),
            _ => inv.arg(0).arg(""),
        };
        match &f.record {
            Some(r) => {
                let u = &r.usage;
                let mut fields: Vec<(&str, String)> = vec![("g", r.group.clone())];
                if let Some(user) = &r.user {
                    fields.push(("u", user.clone()));
                }
                fields.extend([
                    ("p", u.prompt_tokens.to_string()),
                    ("c", u.completion_tokens.to_string()),
                    ("k", u.cached_tokens.to_string()),
                    ("$", r.cost.to_string()),
                ]);
                inv.arg(fields.len() * 2);
                for (k, v) in fields {
                    inv.arg(k).arg(v);
                }
            }
            None => {
                inv.arg(0);
            }
        }
        for (_, w) in &f.spend {
            inv.arg(w.map(ms).unwrap_or(0));
        }
        for (k, v) in &f.metrics {
            inv.arg(k.as_str()).arg(*v);
        }
        inv
    }

    async fn finish_shared(&self, f: &Finish) -> bool {
        let inv = self.settlement(f);
        self.with("finish", |mut c| async move { c.invoke::<RValue>(&inv).await }).await.is_some()
    }

    /// Writes settlements kept while Redis was away, oldest first, until one fails.
    async fn drain_backlog(&self) {
        for _ in 0..256 {
            let Some(f) = lock(&self.backlog).pop_front() else { return };
            if !self.finish_shared(&f).await {
                lock(&self.backlog).push_front(f);
                return;
            }
        }
    }

    /// Settlements waiting for Redis (for tests).
    pub fn backlog_len(&self) -> usize {
        lock(&self.backlog).len()
    }
}

fn record_of(fields: &[(String, String)], at_ms: f64) -> Option<Record> {
    let get = |k: &str| fields.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    let n = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Some(Record {
        at: at_ms / 1000.0,
        group: get("g")?.to_owned(),
        user: get("u").map(str::to_owned),
        usage: Usage { prompt_tokens: n("p"), completion_tokens: n("c"), cached_tokens: n("k"), ..Default::default() },
        cost: get("$").and_then(|v| v.parse().ok()).unwrap_or(0.0),
    })
}

impl RouterState for RedisState {
    fn admit<'a>(&'a self, a: Admission<'a>) -> BoxFuture<'a, Result<Admitted>> {
        Box::pin(async move {
            if let Some(r) = self.admit_shared(&a).await {
                return r;
            }
            if self.cfg.fail_closed && a.subjects.iter().any(|s| s.limits.budget_usd.is_some()) {
                let mut e = Error::new(
                    ErrorKind::ProviderUnavailable,
                    format!("{}; budgets fail closed (redis_fail_closed), so this request is refused", self.unavailable()),
                );
                e.retryable = true;
                return Err(e.with_retry_after(Some(PAUSE)));
            }
            let mut out = self.local.admit_now(&a)?;
            out.warning = Some(self.unavailable());
            Ok(out)
        })
    }

    fn admit_deployment<'a>(
        &'a self,
        candidates: &'a [(&'a str, DeploymentLimits)],
        tokens: u32,
    ) -> BoxFuture<'a, std::result::Result<usize, Vec<Refusal>>> {
        Box::pin(async move {
            let a = Admission { subjects: &[], tokens, reserve: 0.0, cache: None, candidates };
            match self.admit_shared(&a).await {
                Some(Ok(Admitted { deployment: Some(d), .. })) => d,
                _ => self.local.admit_deployment(candidates, tokens).await,
            }
        })
    }

    fn record_failure<'a>(&'a self, id: &'a str, allowed_fails: u32, cooldown: Duration) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let mut inv = self.fail.prepare_invoke();
            inv.key(self.key("cool")).key(self.subject("f", id));
            inv.arg(id).arg(allowed_fails.max(1)).arg(ms(cooldown)).arg(FAIL_WINDOW_MS).arg(self.ticket_id());
            match self.with("record_failure", |mut c| async move { c.invoke::<i64>(&inv).await }).await {
                Some(cooling) => {
                    if cooling == 1 {
                        self.local.set_cooling(id, Instant::now().checked_add(cooldown));
                    }
                    cooling == 1
                }
                None => self.local.record_failure_now(id, allowed_fails, cooldown),
            }
        })
    }

    fn cooling_for(&self, id: &str) -> Option<Duration> {
        self.local.cooling_for(id)
    }

    fn finish(&self, f: Finish) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if !f.ticket.shared {
                // Reserved here while Redis was away: released here.
                self.local.release_ticket(&f.ticket);
            }
            if self.finish_shared(&f).await {
                self.drain_backlog().await;
                return;
            }
            // Redis is away: this instance's budgets count the spend now, Redis's once it is
            // back (a reservation made in Redis stays there until then, or lapses).
            for (key, window) in &f.spend {
                self.local.record_spend_now(key, f.cost, *window);
            }
            let Finish { ticket, cost, spend, record, cache, metrics } = f;
            if let Some((k, c)) = cache {
                self.local.cache_insert(k, c);
            }
            let mut b = lock(&self.backlog);
            if b.len() < BACKLOG_CAP {
                b.push_back(Finish { ticket, cost, spend, record, cache: None, metrics });
            }
        })
    }

    fn vectors_get<'a>(&'a self, keys: &'a [CacheKey]) -> BoxFuture<'a, Vec<Option<Arc<[f32]>>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("MGET");
            for k in keys {
                cmd.arg(self.vector_key(k));
            }
            let cmd = &cmd;
            match self.with("vectors_get", |mut c| async move { c.query::<Vec<Option<Vec<u8>>>>(cmd).await }).await {
                Some(rows) if rows.len() == keys.len() => rows
                    .into_iter()
                    .map(|r| {
                        let b = r.filter(|b| b.len() % 4 == 0 && !b.is_empty())?;
                        Some(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Arc<[f32]>>())
                    })
                    .collect(),
                _ => keys.iter().map(|k| self.local.vectors().get(k)).collect(),
            }
        })
    }

    fn vectors_put(&self, entries: Vec<(CacheKey, Arc<[f32]>)>, ttl: Duration) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut p = redis::pipe();
            for (k, v) in &entries {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                if bytes.len() <= self.cfg.max_item_bytes {
                    p.cmd("SET").arg(self.vector_key(k)).arg(bytes).arg("PX").arg(ms(ttl).max(1)).ignore();
                }
            }
            let p = &p;
            if self.with("vectors_put", |mut c| async move { c.pipe(p).await }).await.is_none() {
                for (k, v) in entries {
                    self.local.vectors().put(k, v, ttl);
                }
            }
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn records_since(&self, since: f64) -> BoxFuture<'_, Option<Vec<Record>>> {
        Box::pin(async move {
            let start = format!("{}", (since.max(0.0) * 1000.0) as u64);
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(self.key("ledger")).arg(start).arg("+");
            let cmd = &cmd;
            type Entry = (String, Vec<(String, String)>);
            // A read of the whole ledger may take longer than one request's deadline.
            let rows: Vec<Entry> = self
                .within("records", REPORT_TIMEOUT, |mut c| async move {
                    let v: RValue = c.query(cmd).await?;
                    Ok(parse_entries(&v))
                })
                .await?;
            Some(
                rows.iter()
                    .filter_map(|(id, fields)| {
                        let at = id.split('-').next().and_then(|t| t.parse::<f64>().ok())?;
                        record_of(fields, at)
                    })
                    .collect(),
            )
        })
    }

    fn metric_fields(&self) -> BoxFuture<'_, Option<Vec<(String, f64)>>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("HGETALL");
            cmd.arg(self.key("metrics"));
            let cmd = &cmd;
            let pairs: Vec<(String, String)> = self.within("metrics", REPORT_TIMEOUT, |mut c| async move { c.query(cmd).await }).await?;
            Some(pairs.into_iter().filter_map(|(k, v)| Some((k, v.parse::<f64>().ok()?))).collect())
        })
    }

    fn flush(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.drain_backlog().await;
            self.backlog_len() == 0
        })
    }

    fn render_own_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(out, "# HELP llmux_redis_errors_total Redis commands that failed or timed out (answered from local state).");
        let _ = writeln!(out, "# TYPE llmux_redis_errors_total counter");
        let errors = lock(&self.errors);
        for op in ["admit", "finish", "record_failure", "vectors_get", "vectors_put", "records", "metrics"] {
            let _ = writeln!(out, "llmux_redis_errors_total{{op=\"{op}\"}} {}", errors.get(op).copied().unwrap_or(0));
        }
        let _ = writeln!(out, "# HELP llmux_redis_backlog Settlements waiting for Redis to come back.");
        let _ = writeln!(out, "# TYPE llmux_redis_backlog gauge");
        let _ = writeln!(out, "llmux_redis_backlog {}", lock(&self.backlog).len());
    }
}

/// XRANGE's reply: `[[id, [field, value, ...]], ...]`.
fn parse_entries(v: &RValue) -> Vec<(String, Vec<(String, String)>)> {
    let RValue::Array(items) = v else { return Vec::new() };
    items
        .iter()
        .filter_map(|e| {
            let RValue::Array(parts) = e else { return None };
            let id = text(parts.first()?)?;
            let RValue::Array(kv) = parts.get(1)? else { return None };
            let fields = kv.chunks(2).filter_map(|p| Some((text(p.first()?)?, text(p.get(1)?)?))).collect();
            Some((id, fields))
        })
        .collect()
}

/// Unix milliseconds now (for tests that compare with the server's clock).
pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
